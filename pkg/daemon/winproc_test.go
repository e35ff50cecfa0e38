package daemon

import (
	"testing"
	"time"
)

func TestEscapeArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"serve", "serve"},
		{`C:\ProgramData\ilbvip`, `C:\ProgramData\ilbvip`},
		{`C:\Program Data\ilbvip`, `"C:\Program Data\ilbvip"`},
		{`C:\Program Data\ilbvip\`, `"C:\Program Data\ilbvip\\"`}, // the trailing \ must not escape the quote
		{`a"b`, `a\"b`},
		{`a\"b`, `a\\\"b`},
		{`a b"c\`, `"a b\"c\\"`},
		{"tab\there", "\"tab\there\""},
		{`\\server\share\ilbvip`, `\\server\share\ilbvip`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := escapeArg(tt.in); got != tt.want {
				t.Errorf("escapeArg(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := splitCmdLineArg(escapeArg(tt.in)); got != tt.in {
				t.Errorf("read back as %q", got)
			}
		})
	}
}

// splitCmdLineArg parses one argument by CommandLineToArgvW's rules (2n
// backslashes + quote: n backslashes, and the quote toggles quoting; 2n+1 +
// quote: n and a literal quote; other backslashes literal), to check that
// escapeArg's output reads back unchanged. Quoting only matters for
// splitting at blanks, which one argument never is.
func splitCmdLineArg(s string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				for range n / 2 {
					out = append(out, '\\')
				}
				if n%2 == 1 {
					out = append(out, '"')
				}
			} else {
				for range n {
					out = append(out, '\\')
				}
				i--
			}
		case '"': // toggles quoting: nothing to keep
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

func TestResponderCmdLine(t *testing.T) {
	tests := []struct {
		name, tag, dir, want string
	}{
		{"default state dir", "lbhc-12345", `C:\ProgramData\ilbvip`, `ilbvip-responder serve --tag lbhc-12345 --state-dir C:\ProgramData\ilbvip`},
		{"state dir with a space", "t1", `D:\Cluster Data\ilbvip`, `ilbvip-responder serve --tag t1 --state-dir "D:\Cluster Data\ilbvip"`},
		{"state dir with a trailing backslash and space", "t1", `D:\a b\`, `ilbvip-responder serve --tag t1 --state-dir "D:\a b\\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := responderCmdLine(tt.tag, tt.dir)
			if got != tt.want {
				t.Fatalf("responderCmdLine = %q, want %q", got, tt.want)
			}
			if !isResponderCmdLine(got, tt.tag) {
				t.Errorf("its own command line is not recognised")
			}
		})
	}
	for _, tt := range []struct {
		name, cmdline string
	}{
		{"other tag with the tag as prefix", `ilbvip-responder serve --tag t10 --state-dir C:\x`},
		{"other program", `C:\Windows\system32\svchost.exe -k netsvcs`},
		{"not serve", `ilbvip-responder restore --tag t1 --state-dir C:\x`},
		{"unreadable", ""},
		{"no state dir", `ilbvip-responder serve --tag t1`},
	} {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			if isResponderCmdLine(tt.cmdline, "t1") {
				t.Errorf("%q taken for the responder of t1", tt.cmdline)
			}
		})
	}
	if got := composeCmdLine([]string{"a prog", `x"y`}); got != `"a prog" x\"y` {
		t.Errorf("composeCmdLine quoted program: %q", got)
	}
	if got := composeCmdLine(nil); got != "" {
		t.Errorf("composeCmdLine(nil) = %q", got)
	}
}

func TestStopEventName(t *testing.T) {
	if got := stopEventName(4242); got != `Global\ilbvip-responder-4242-stop` {
		t.Errorf("stopEventName = %q", got)
	}
}

func TestParseReadyHandle(t *testing.T) {
	tests := []struct {
		in   string
		want uintptr
		ok   bool
	}{
		{"1234", 1234, true},
		{"", 0, false},
		{"0", 0, false},
		{"-1", 0, false},
		{"18446744073709551615", 0, false}, // INVALID_HANDLE_VALUE
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, ok := parseReadyHandle(tt.in)
			if h != tt.want || ok != tt.ok {
				t.Errorf("parseReadyHandle(%q) = %d, %t; want %d, %t", tt.in, h, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFiletimeTime(t *testing.T) {
	if got := filetimeTime(filetimeUnixOffset); !got.Equal(time.Unix(0, 0)) {
		t.Errorf("Unix epoch: %v", got)
	}
	// 2024-01-02T03:04:05Z as Windows reports it.
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	ft := uint64(want.Unix())*10_000_000 + filetimeUnixOffset
	if got := filetimeTime(ft); !got.Equal(want) {
		t.Errorf("filetimeTime = %v, want %v", got, want)
	}
}

func TestJudge(t *testing.T) {
	const second = 10_000_000 // FILETIME units
	boot := uint64(133_000_000_000_000_000)
	rec := &Record{Pid: 4242, Start: boot + 600*second, Tag: "t1"}
	ours := responderCmdLine("t1", `C:\ProgramData\ilbvip`)
	tests := []struct {
		name string
		rec  *Record
		p    procObservation
		boot uint64
		want State
	}{
		{"running", rec, procObservation{Exists: true, Created: rec.Start, CmdLine: ours}, boot, Running},
		{"running though the boot time is unknown", rec, procObservation{Exists: true, Created: rec.Start, CmdLine: ours}, 0, Running},
		{"exited, handle still open elsewhere", rec, procObservation{Exists: true, Exited: true, Created: rec.Start, CmdLine: ours}, boot, Dead},
		{"gone", rec, procObservation{}, boot, Dead},
		{"pid reused", rec, procObservation{Exists: true, Created: rec.Start + second, CmdLine: `C:\x\notepad.exe`}, boot, Stranger},
		{"forged pid file naming another process", rec, procObservation{Exists: true, Created: rec.Start, CmdLine: `C:\x\lsass.exe`}, boot, Stranger},
		{"responder of another tag", rec, procObservation{Exists: true, Created: rec.Start, CmdLine: responderCmdLine("t2", `C:\x`)}, boot, Stranger},
		{"command line unreadable", rec, procObservation{Exists: true, Created: rec.Start}, boot, Stranger},
		{"from before the reboot, pid free", &Record{Pid: 4242, Start: boot - 3600*second, Tag: "t1"}, procObservation{}, boot, PreviousBoot},
		{"from before the reboot, pid reused", &Record{Pid: 4242, Start: boot - 3600*second, Tag: "t1"},
			procObservation{Exists: true, Created: boot + 5*second, CmdLine: `C:\x\svchost.exe`}, boot, PreviousBoot},
		{"started just after boot is this boot", &Record{Pid: 4242, Start: boot + second/2, Tag: "t1"}, procObservation{}, boot, Dead},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := judge(tt.rec, tt.p, tt.boot); got != tt.want {
				t.Errorf("judge = %v, want %v", got, tt.want)
			}
		})
	}
}
