package daemon

import (
	"os/exec"
	"testing"
	"time"
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
		if st, _, _ := procStat(cmd.Process.Pid); st == 'Z' {
			break
		}
		if i == 2000 {
			t.Fatal("child did not become a zombie in 2 s")
		}
		time.Sleep(time.Millisecond)
	}
	_, start, err := procStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	z := &Record{Pid: cmd.Process.Pid, Start: start, Boot: bootID(), Tag: "t"}
	if s := Inspect(z); s != Dead {
		t.Errorf("zombie: %v, want %v", s, Dead)
	}
	if s := Inspect(&Record{Pid: 1 << 30, Start: 1, Tag: "t"}); s != Dead {
		t.Errorf("absent pid: %v, want %v", s, Dead)
	}
}
