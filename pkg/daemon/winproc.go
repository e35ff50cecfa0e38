package daemon

// The OS-independent half of the Windows files (start_windows.go,
// proc_windows.go, serve_windows.go): the responder's command line, the
// name of its stop event, the readiness handle's hand-over, FILETIME
// conversion and the judgement of a recorded process. It compiles
// everywhere so that it is unit-tested on Linux.

import (
	"strconv"
	"strings"
	"time"
)

// ReadyHandleEnv carries the readiness pipe's handle value to the responder
// on Windows, where a child inherits handles but not file descriptor
// numbers (os/exec's ExtraFiles is Unix only).
const ReadyHandleEnv = "ILBVIP_READY_HANDLE"

// parseReadyHandle reads ReadyHandleEnv's value; ok is false when it is not
// a plausible handle.
func parseReadyHandle(v string) (h uintptr, ok bool) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 || n == ^uint64(0) { // 0 and INVALID_HANDLE_VALUE
		return 0, false
	}
	return uintptr(n), true
}

// escapeArg quotes one argument so that CommandLineToArgvW (and the Go
// runtime) read it back unchanged: the rules of
// golang.org/x/sys/windows.EscapeArg, kept here so they are tested on every
// OS (a Windows test checks that both agree).
func escapeArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, "\"\\ \t") {
		return s
	}
	quote := strings.ContainsAny(s, " \t")
	var b strings.Builder
	if quote {
		b.WriteByte('"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			slashes++
			b.WriteByte(c)
		case '"':
			// Backslashes before a quote are doubled, and the quote escaped.
			b.WriteString(strings.Repeat(`\`, slashes+1))
			b.WriteByte(c)
			slashes = 0
		default:
			slashes = 0
			b.WriteByte(c)
		}
	}
	if quote {
		// Trailing backslashes would escape the closing quote.
		b.WriteString(strings.Repeat(`\`, slashes))
		b.WriteByte('"')
	}
	return b.String()
}

// composeCmdLine joins args into a Windows command line. args[0] is the
// program name, quoted (never escaped) when it has blanks, as
// CommandLineToArgvW reads it.
func composeCmdLine(args []string) string {
	if len(args) == 0 {
		return ""
	}
	var b strings.Builder
	if prog := args[0]; prog == "" || strings.ContainsAny(prog, " \t") {
		b.WriteString(`"` + strings.ReplaceAll(prog, `"`, "") + `"`)
	} else {
		b.WriteString(prog)
	}
	for _, a := range args[1:] {
		b.WriteByte(' ')
		b.WriteString(escapeArg(a))
	}
	return b.String()
}

// responderCmdLine is the exact command line of tag's responder: Start
// passes it to CreateProcess, and FindResponders compares it byte for byte.
func responderCmdLine(tag, stateDir string) string {
	return composeCmdLine(Args(tag, stateDir))
}

// isResponderCmdLine reports whether a process's command line is the one of
// a responder for tag (any state directory), as Inspect on Linux checks
// argv[0], argv[1] and argv[3]: a pid file forged to name another process
// does not get it stopped.
func isResponderCmdLine(cmdline, tag string) bool {
	return strings.HasPrefix(cmdline, composeCmdLine(Args(tag, "")[:4])+" ")
}

// stopEventName is the named event a Windows responder waits on: Stop sets
// it for a graceful stop (listener closed first), as TERM on Linux. It is
// per process, so setting it can only stop the process that was
// identified, and "Global\" so that an action run from an administrator's
// session reaches a responder a service (session 0) started.
func stopEventName(pid int) string {
	return `Global\ilbvip-responder-` + strconv.Itoa(pid) + `-stop`
}

// FILETIME counts 100 ns intervals since 1601-01-01 UTC; Unix time starts
// 11644473600 s later.
const filetimeUnixOffset = 116444736000000000

// filetimeTime converts a FILETIME (as one uint64) to a time.
func filetimeTime(ft uint64) time.Time {
	return time.Unix(0, (int64(ft)-filetimeUnixOffset)*100).UTC()
}

// procObservation is what Windows says about a recorded pid.
type procObservation struct {
	Exists  bool   // OpenProcess succeeded
	Exited  bool   // the process object is signalled (it ended; handles keep it)
	Created uint64 // creation time (FILETIME)
	CmdLine string // "" when it could not be read
}

// judge decides what became of the recorded responder r from what the OS
// says about its pid, and bootTime (FILETIME of the current boot; 0 when
// unknown). The state directory outlives a reboot on Windows
// (%ProgramData%), so a record from before the boot is PreviousBoot
// (quickCheck: cleanly stopped), not Dead. A live process with exactly the
// recorded creation time is ours whatever the clock did since; its command
// line must still be a responder's for r.Tag, and one that cannot be read
// counts as a stranger (never signal what cannot be identified).
func judge(r *Record, p procObservation, bootTime uint64) State {
	if p.Exists && p.Created == r.Start {
		if p.Exited {
			return Dead
		}
		if !isResponderCmdLine(p.CmdLine, r.Tag) {
			return Stranger
		}
		return Running
	}
	// One second of slack: the boot time is computed and may be off by a
	// few milliseconds, while a responder starts long after boot.
	if bootTime != 0 && r.Start+10_000_000 < bootTime {
		return PreviousBoot
	}
	if !p.Exists || p.Exited {
		return Dead
	}
	return Stranger
}
