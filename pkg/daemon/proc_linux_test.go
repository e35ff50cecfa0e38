package daemon

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/pkg/procfs"
)

func TestInspect(t *testing.T) {
	self, err := recordSelf()
	if err != nil {
		t.Fatal(err)
	}
	self.Tag = "t"
	// This test process is alive with the right start time, but it is not a
	// responder: a forged pid file must not make it a target.
	if s := Inspect(self); s != Stranger {
		t.Errorf("test process: %v, want %v", s, Stranger)
	}
	other := *self
	other.Start++
	if s := Inspect(&other); s != Stranger {
		t.Errorf("wrong start time: %v, want %v", s, Stranger)
	}
	old := *self
	old.Boot = "another-boot"
	if s := Inspect(&old); s != PreviousBoot {
		t.Errorf("other boot: %v, want %v", s, PreviousBoot)
	}
	// A zombie is dead although kill -0 would succeed on it.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	for i := 0; ; i++ {
		if st, _ := procfs.ReadStat(cmd.Process.Pid); st.State == 'Z' {
			break
		}
		if i == 2000 {
			t.Fatal("child did not become a zombie in 2 s")
		}
		time.Sleep(time.Millisecond)
	}
	st, err := procfs.ReadStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	z := &Record{Pid: cmd.Process.Pid, Start: st.Start, Boot: bootID(), Tag: "t"}
	if s := Inspect(z); s != Dead {
		t.Errorf("zombie: %v, want %v", s, Dead)
	}
	if s := Inspect(&Record{Pid: 1 << 30, Start: 1, Tag: "t"}); s != Dead {
		t.Errorf("absent pid: %v, want %v", s, Dead)
	}
}

// TestTarget: a process is held only when ours() says so, and a held one
// is signalled through its pidfd and seen to exit (as a zombie, too).
func TestTarget(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if _, ok := openTarget(pid, func() bool { return false }); ok {
		t.Fatal("held a process that is not ours")
	}
	tg, ok := openTarget(pid, func() bool { return true })
	if !ok {
		t.Fatal("could not hold a live process")
	}
	defer tg.close()
	if !tg.running() {
		t.Fatal("a sleeping process is not running")
	}
	tg.signal(syscall.SIGKILL)
	for i := 0; tg.running(); i++ { // not reaped: it stays a zombie
		if i == 2000 {
			t.Fatal("still running 2 s after SIGKILL")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := openTarget(1<<30, func() bool { return true }); ok {
		t.Error("held a pid that does not exist")
	}
}

// A poll of the pidfd that a signal interrupts says nothing about the
// process: Stop once took the Go runtime's preemption signal (SIGURG) for
// an exit and returned while a draining responder still answered.
func TestTargetRunningUnderSignals(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	tg, ok := openTarget(cmd.Process.Pid, func() bool { return true })
	if !ok {
		t.Fatal("could not hold a live process")
	}
	defer tg.close()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // SIGURG is the runtime's own, harmless to send
		for {
			select {
			case <-stop:
				return
			default:
				_ = syscall.Kill(syscall.Getpid(), syscall.SIGURG)
			}
		}
	}()
	for i := range 200000 {
		if !tg.running() {
			t.Fatalf("call %d: a sleeping process is taken for exited", i)
		}
	}
}
