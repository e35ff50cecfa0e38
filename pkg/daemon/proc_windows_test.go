package daemon

// Windows-only tests: make test runs them under Wine (internal/wine,
// TestWindowsTests).

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"golang.org/x/sys/windows"
)

// TestMain lets the test binary be the responder: Start re-executes it
// with the serve arguments and the spec in SpecEnv.
func TestMain(m *testing.M) {
	if os.Getenv(SpecEnv) != "" && len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(Serve(ReadyFile()))
	}
	os.Exit(m.Run())
}

func TestCmdLineAgreesWithWindows(t *testing.T) {
	for _, s := range []string{"", "serve", `C:\Program Data\ilbvip\`, `a"b`, `a\"b c`, "tab\tx", `\\srv\share`} {
		if got, want := escapeArg(s), windows.EscapeArg(s); got != want {
			t.Errorf("escapeArg(%q) = %q, windows.EscapeArg = %q", s, got, want)
		}
	}
	for _, dir := range []string{`C:\ProgramData\ilbvip`, `D:\Cluster Data\ilbvip\`, `C:\a"b`} {
		args := Args("lbhc-12345", dir)
		line := responderCmdLine("lbhc-12345", dir)
		if want := windows.ComposeCommandLine(args); line != want {
			t.Errorf("responderCmdLine = %q, windows.ComposeCommandLine = %q", line, want)
		}
		back, err := windows.DecomposeCommandLine(line)
		if err != nil || !slices.Equal(back, args) {
			t.Errorf("CommandLineToArgvW(%q) = %q, %v; want %q", line, back, err, args)
		}
	}
}

func TestInspectWindows(t *testing.T) {
	self, err := recordSelf()
	if err != nil {
		t.Fatal(err)
	}
	self.Tag = "t"
	if s := Inspect(self); s != Stranger {
		t.Errorf("test process (not a responder): %v, want %v", s, Stranger)
	}
	other := *self
	other.Start++
	if s := Inspect(&other); s != Stranger {
		t.Errorf("wrong creation time: %v, want %v", s, Stranger)
	}
	cmd := exec.Command(os.Getenv("SystemRoot")+`\System32\cmd.exe`, "/c", "exit")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h, o := openProc(cmd.Process.Pid, queryAccess)
	if h == 0 {
		t.Fatalf("open child: %+v", o)
	}
	defer windows.CloseHandle(h)
	_ = cmd.Wait()
	// The handle keeps the process object: it has exited, and counts dead.
	if s := Inspect(&Record{Pid: cmd.Process.Pid, Start: o.Created, Tag: "t"}); s != Dead {
		t.Errorf("exited child: %v, want %v", s, Dead)
	}
	boot := bootFiletime()
	if boot == 0 {
		t.Fatal("no boot time")
	}
	if s := Inspect(&Record{Pid: cmd.Process.Pid, Start: boot - 3600*10_000_000, Tag: "t"}); s != PreviousBoot {
		t.Errorf("record from before the boot: %v, want %v", s, PreviousBoot)
	}
}

func TestStartStopWindows(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testenv.TempDir(t)
	spec := Spec{Tag: "wintest", StateDir: dir, Protocol: "tcp", Bind: "127.0.0.1", Port: 0,
		ConnTimeout: time.Second, LogLevel: "debug"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec, err := Start(ctx, exe, spec)
	if err != nil {
		t.Fatal(err)
	}
	if s := Inspect(rec); s != Running {
		t.Fatalf("started responder: %v, want %v", s, Running)
	}
	if pids := FindResponders(spec.Tag, dir); !slices.Equal(pids, []int{rec.Pid}) {
		t.Errorf("FindResponders = %v, want [%d]", pids, rec.Pid)
	}
	stopped, err := Stop(ctx, dir, spec.Tag)
	if err != nil || !slices.Equal(stopped, []int{rec.Pid}) {
		t.Fatalf("Stop = %v, %v", stopped, err)
	}
	if s := Inspect(rec); s != Dead {
		t.Errorf("after Stop: %v, want %v", s, Dead)
	}
	if _, err := os.Stat(dir + `\wintest.pid`); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
	// The graceful path was taken: the stop event reached the responder,
	// which closed its listener and logged it.
	log, _ := os.ReadFile(dir + `\wintest.log`)
	if !strings.Contains(string(log), "stop event: listener closed, exiting") {
		t.Errorf("responder log does not show a graceful stop:\n%s", log)
	}
}
