package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// A responder's identity on Windows is its pid and its creation time
// (FILETIME, 100 ns resolution), checked on an open process handle: while
// the handle is open the pid cannot be reused, so what was checked is what
// gets signalled. Its command line (read from the process with
// NtQueryInformationProcess, or its PEB) must be a responder's for the tag.

const (
	// queryAccess reads creation time, exit state and command line.
	queryAccess = windows.PROCESS_QUERY_LIMITED_INFORMATION | windows.SYNCHRONIZE
	// stopAccess also terminates.
	stopAccess = queryAccess | windows.PROCESS_TERMINATE
)

func filetime(ft windows.Filetime) uint64 {
	return uint64(ft.HighDateTime)<<32 | uint64(ft.LowDateTime)
}

// openProc opens pid and says what it is. The handle is 0 when the process
// cannot be opened; Exists is still true when that is for lack of access
// (a process that cannot be identified is never taken for ours).
func openProc(pid int, access uint32) (windows.Handle, procObservation) {
	var o procObservation
	if pid <= 0 {
		return 0, o
	}
	h, err := windows.OpenProcess(access, false, uint32(pid))
	if err != nil {
		o.Exists = errors.Is(err, windows.ERROR_ACCESS_DENIED)
		return 0, o
	}
	o.Exists = true
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(h, &created, &exited, &kernel, &user); err == nil {
		o.Created = filetime(created)
	}
	if ev, err := windows.WaitForSingleObject(h, 0); err == nil && ev == windows.WAIT_OBJECT_0 {
		o.Exited = true
	}
	o.CmdLine = cmdLineOf(h, pid)
	return h, o
}

// cmdLineOf reads the command line of pid, open as h: first through
// NtQueryInformationProcess(ProcessCommandLineInformation), which Windows
// 8.1 and later answer on a limited-information handle; else from the
// process's PEB, the older route that Wine also has (Wine answers the
// first call with STATUS_INVALID_INFO_CLASS). "" when neither can.
func cmdLineOf(h windows.Handle, pid int) string {
	if s, ok := cmdLineQuery(h); ok {
		return s
	}
	return cmdLineFromPEB(pid)
}

// cmdLineQuery is the ProcessCommandLineInformation route.
func cmdLineQuery(h windows.Handle) (string, bool) {
	size := uint32(4096)
	for range 3 {
		// uintptr elements keep the UNICODE_STRING header aligned.
		buf := make([]uintptr, (size+7)/8)
		var need uint32
		err := windows.NtQueryInformationProcess(h, windows.ProcessCommandLineInformation,
			unsafe.Pointer(&buf[0]), uint32(len(buf))*uint32(unsafe.Sizeof(buf[0])), &need)
		if err == nil {
			return (*windows.NTUnicodeString)(unsafe.Pointer(&buf[0])).String(), true
		}
		if need <= size || need > 1<<20 {
			return "", false
		}
		size = need
	}
	return "", false
}

// cmdLineFromPEB reads RTL_USER_PROCESS_PARAMETERS.CommandLine through the
// PEB of pid (ProcessBasicInformation, then ReadProcessMemory). It needs a
// second handle with PROCESS_VM_READ; the caller's handle stays open
// meanwhile, so pid is still the process the caller identified. The other
// process's addresses are kept as plain integers, never as Go pointers.
func cmdLineFromPEB(pid int) string {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_INFORMATION|windows.PROCESS_VM_READ, false, uint32(pid))
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	// PROCESS_BASIC_INFORMATION as words: ExitStatus, PebBaseAddress, ...
	var pbi [6]uintptr
	if err := windows.NtQueryInformationProcess(h, windows.ProcessBasicInformation,
		unsafe.Pointer(&pbi[0]), uint32(unsafe.Sizeof(pbi)), nil); err != nil || pbi[1] == 0 {
		return ""
	}
	var params uintptr
	if !readRemote(h, pbi[1]+unsafe.Offsetof(windows.PEB{}.ProcessParameters), unsafe.Pointer(&params), unsafe.Sizeof(params)) || params == 0 {
		return ""
	}
	// UNICODE_STRING as words: Length and MaximumLength (uint16 each) in
	// the first, Buffer in the second.
	var us [2]uintptr
	if !readRemote(h, params+unsafe.Offsetof(windows.RTL_USER_PROCESS_PARAMETERS{}.CommandLine), unsafe.Pointer(&us[0]), unsafe.Sizeof(us)) {
		return ""
	}
	n := uintptr(uint16(us[0]))
	if n == 0 || n%2 != 0 || us[1] == 0 {
		return ""
	}
	u := make([]uint16, n/2)
	if !readRemote(h, us[1], unsafe.Pointer(&u[0]), n) {
		return ""
	}
	return windows.UTF16ToString(u)
}

// readRemote copies exactly size bytes at addr in process h to dst.
func readRemote(h windows.Handle, addr uintptr, dst unsafe.Pointer, size uintptr) bool {
	var got uintptr
	err := windows.ReadProcessMemory(h, addr, (*byte)(dst), size, &got)
	return err == nil && got == size
}

var procGetTickCount64 = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetTickCount64")

// bootFiletime is when this boot began (FILETIME): now less the
// milliseconds since boot. It moves with the wall clock; judge only uses
// it for records whose process is gone, with a second of slack. 0 when
// unknown.
func bootFiletime() uint64 {
	if procGetTickCount64.Find() != nil {
		return 0
	}
	r1, r2, _ := procGetTickCount64.Call()
	ms := uint64(r1)
	if unsafe.Sizeof(uintptr(0)) == 4 {
		ms |= uint64(r2) << 32 // ULONGLONG in EDX:EAX on 386
	}
	var now windows.Filetime
	windows.GetSystemTimeAsFileTime(&now)
	return filetime(now) - ms*10_000
}

// BootToken names this boot by the moment it is taken (FILETIME, decimal):
// Windows has no boot id, but anything written after the boot began
// belongs to it (SameBoot).
func BootToken() string {
	var now windows.Filetime
	windows.GetSystemTimeAsFileTime(&now)
	return strconv.FormatUint(filetime(now), 10)
}

// SameBoot reports whether token (from BootToken) was taken during this
// boot, with judge's second of slack; an unknown boot or an unreadable
// token counts as the same.
func SameBoot(token string) bool {
	t, err := strconv.ParseUint(token, 10, 64)
	b := bootFiletime()
	return err != nil || b == 0 || t+10_000_000 >= b
}

// Inspect tells whether the recorded responder is still that process and
// alive: same pid, same creation time, not exited, a responder's command
// line for the tag. A record from before the last boot is PreviousBoot: on
// Windows the state directory survives a reboot.
func Inspect(r *Record) State {
	h, o := openProc(r.Pid, queryAccess)
	if h != 0 {
		defer windows.CloseHandle(h)
	}
	return judge(r, o, bootFiletime())
}

// FindResponders lists live responders for tag and stateDir, found by
// their exact command line among all processes (a process snapshot, then
// each process's command line). It is how remove still stops a responder
// whose pid file was lost. Processes that cannot be opened are skipped.
func FindResponders(tag, stateDir string) []int {
	want := responderCmdLine(tag, stateDir)
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil
	}
	defer windows.CloseHandle(snap)
	var e windows.ProcessEntry32
	e.Size = uint32(unsafe.Sizeof(e))
	var out []int
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		pid := int(e.ProcessID)
		if pid <= 4 || pid == os.Getpid() { // 0 idle, 4 System
			continue
		}
		h, o := openProc(pid, queryAccess)
		if h == 0 {
			continue
		}
		windows.CloseHandle(h)
		if !o.Exited && o.CmdLine == want {
			out = append(out, pid)
		}
	}
	return out
}

// recordSelf builds the identity of the calling process. Boot is the boot
// time, for the admin reading the pid file; Inspect does not compare it.
func recordSelf() (*Record, error) {
	var created, exited, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &created, &exited, &kernel, &user); err != nil {
		return nil, fmt.Errorf("read own creation time: %w", err)
	}
	r := &Record{Pid: os.Getpid(), Start: filetime(created)}
	if b := bootFiletime(); b != 0 {
		r.Boot = filetimeTime(b).Truncate(time.Second).Format(time.RFC3339)
	}
	return r, nil
}

// Responders is not looked up on Windows (another process's environment
// is not readable there): the state directory's records are used instead.
func Responders() []Responder { return nil }
