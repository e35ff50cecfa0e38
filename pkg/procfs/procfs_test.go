package procfs

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Stat
		bad        bool
	}{
		{name: "plain", text: "42 (sleep) S 1 42 42 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 123456 2293760 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
			want: Stat{State: 'S', Start: 123456}},
		{name: "command with spaces and parentheses", text: "7 (a) Z (b c) Z 1 7 7 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 99 0 0 18446744073709551615\n",
			want: Stat{State: 'Z', Start: 99}},
		{name: "no closing parenthesis", text: "7 (broken", bad: true},
		{name: "nothing after the name", text: "7 (x)", bad: true},
		{name: "too few fields", text: "7 (x) R 1 2 3\n", bad: true},
		{name: "starttime not a number", text: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 soon 0\n", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.text))
			if tc.bad {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseStat = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestExited(t *testing.T) {
	for _, c := range "ZXx" {
		if !(Stat{State: byte(c)}).Exited() {
			t.Errorf("state %c: not exited", c)
		}
	}
	for _, c := range "RSDTtIW" {
		if (Stat{State: byte(c)}).Exited() {
			t.Errorf("state %c: exited", c)
		}
	}
}

// TestReadStat reads real processes: this one (alive, started before now),
// a child that became a zombie, and a pid that does not exist.
func TestReadStat(t *testing.T) {
	if runtime.GOOS != "linux" {
		if Alive(os.Getpid()) {
			t.Fatal("Alive without /proc")
		}
		return
	}
	self, err := ReadStat(os.Getpid())
	if err != nil || self.Exited() || self.Start == 0 || !Alive(os.Getpid()) {
		t.Fatalf("this process: %+v, %v", self, err)
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	for i := 0; Alive(cmd.Process.Pid); i++ {
		if i == 2000 {
			t.Fatal("child did not become a zombie in 2 s")
		}
		time.Sleep(time.Millisecond)
	}
	z, err := ReadStat(cmd.Process.Pid)
	if err != nil || z.State != 'Z' || z.Start < self.Start {
		t.Fatalf("zombie child: %+v, %v (this process started at %d)", z, err, self.Start)
	}
	if _, err := ReadStat(1 << 30); !os.IsNotExist(err) {
		t.Errorf("absent pid: %v, want not exist", err)
	}
}
