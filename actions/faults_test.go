//go:build linux

package actions_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
)

// The faults of issue 8: each with the outcome the kit promises.

func TestResponderTerminated(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	pid := n.pidOf("t1")
	// An admin's stray kill: the responder exits cleanly, which is still a
	// failure of the resource, repaired locally.
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testenv.WaitDead(t, pid)
	n.want("quickCheck", ocf.ErrGeneric, a...)
	n.want("recover", ocf.Success, a...)
	n.want("quickCheck", ocf.Success, a...)
	n.want("remove", ocf.Success, a...)
}

func TestInterfaceDown(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	n.ns.MustRun(t, "ip", "link", "set", "eth1", "down")
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "eth1 is down") {
		t.Errorf("quickCheck with eth1 down: %v", r)
	}
	// Nothing local can fix a link that is down: recover fails, the
	// cluster manager fails over; recover leaves the VIP it did not add.
	n.want("recover", ocf.ErrGeneric, a...)
	if !n.hasAddr("eth1", "10.10.5.200/32") {
		t.Error("recover deleted a VIP it had not added")
	}
	n.want("remove", ocf.Success, a...)
	n.ns.MustRun(t, "ip", "link", "set", "eth1", "up")
	n.want("restore", ocf.Success, a...)
	n.want("remove", ocf.Success, a...)
}

func TestInterfaceGone(t *testing.T) {
	for _, how := range []string{"renamed", "deleted"} {
		t.Run(how, func(t *testing.T) {
			n := newNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
			n.want("restore", ocf.Success, a...)
			if how == "renamed" {
				n.ns.MustRun(t, "ip", "link", "set", "eth1", "down")
				n.ns.MustRun(t, "ip", "link", "set", "eth1", "name", "eth9")
				n.ns.MustRun(t, "ip", "link", "set", "eth9", "up")
			} else {
				n.ns.MustRun(t, "ip", "link", "del", "eth1")
			}
			if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, `interface "eth1" not found`) {
				t.Errorf("quickCheck: %v", r)
			}
			n.want("recover", ocf.ErrInstalled, a...) // node-local piece missing: fail over
			n.want("remove", ocf.Success, a...)
			if p := daemonPids(n, "t1"); len(p) != 0 {
				t.Errorf("responder left: %v", p)
			}
			n.want("quickCheck", ocf.NotRunning, a...) // stopped, and the interface is absent here
		})
	}
}

func TestStateDirWipedWhileStopped(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	n.want("remove", ocf.Success, a...)
	n.wipeState()
	n.want("quickCheck", ocf.NotRunning, a...)
	if _, err := os.Stat(n.sd); err == nil {
		t.Error("quickCheck created the state directory")
	}
	n.want("remove", ocf.Success, a...)
	n.want("restore", ocf.Success, a...)
	n.want("quickCheck", ocf.Success, a...)
	n.want("remove", ocf.Success, a...)
}

func TestCorruptPidFile(t *testing.T) {
	for _, content := range []string{"", "garbage\n", "pid=notanumber\nstart=1\ntag=t1\n"} {
		t.Run(strconv.Quote(content), func(t *testing.T) {
			n := newNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
			n.want("restore", ocf.Success, a...)
			pid := n.pidOf("t1")
			if err := os.WriteFile(filepath.Join(n.sd, "t1.pid"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "corrupt") {
				t.Errorf("quickCheck: %v", r)
			}
			// The responder is still found by its command line and stopped.
			n.want("remove", ocf.Success, a...)
			testenv.WaitDead(t, pid)
			n.want("quickCheck", ocf.NotRunning, a...)
			// And restore over a corrupt file works too.
			if err := os.WriteFile(filepath.Join(n.sd, "t1.pid"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			n.want("restore", ocf.Success, a...)
			n.want("quickCheck", ocf.Success, a...)
			n.want("remove", ocf.Success, a...)
		})
	}
}

func TestPidFileSymlinkRefused(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345)
	if err := os.MkdirAll(n.sd, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(n.sd, "t1.lock")); err != nil {
		t.Fatal(err)
	}
	n.want("restore", ocf.ErrGeneric, a...)
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("file behind the symlink changed: %q", b)
	}
	if p := daemonPids(n, "t1"); len(p) != 0 {
		t.Errorf("responder started: %v", p)
	}
}

func TestStateDirSymlinkRefused(t *testing.T) {
	n := newNode(t)
	real := t.TempDir()
	if err := os.Symlink(real, n.sd); err != nil {
		t.Fatal(err)
	}
	if r := n.want("restore", ocf.ErrGeneric, n.args("t1", 12345)...); !strings.Contains(r.stderr, "symlink") {
		t.Errorf("restore: %v", r)
	}
	if ents, _ := os.ReadDir(real); len(ents) != 0 {
		t.Errorf("files written through the symlink: %v", ents)
	}
}

func TestConcurrentRecoverAndRemove(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.raceRemove("recover", a, func() {
		n.want("remove", ocf.Success, a...)
		n.want("restore", ocf.Success, a...)
		_ = syscall.Kill(n.pidOf("t1"), syscall.SIGKILL)
	})
	n.want("remove", ocf.Success, a...)
}

// TestManyCycles runs 50 restore/remove cycles and checks that nothing
// leaks: no address, no process, no file, no listening socket.
func TestManyCycles(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1", "--protocol", "http")
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	before := fds()
	for i := 0; i < 50; i++ {
		n.want("restore", ocf.Success, a...)
		n.want("remove", ocf.Success, a...)
	}
	if n.hasAddr("eth1", "10.10.5.200/32") {
		t.Error("vip left")
	}
	if p := daemonPids(n, "t1"); len(p) != 0 {
		t.Errorf("responders left: %v", p)
	}
	if f := n.stateFiles(); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
	if out := n.ns.MustRun(t, "ss", "-Hltn"); out != "" {
		t.Errorf("listening sockets left in the node:\n%s", out)
	}
	if after := fds(); after > before+2 {
		t.Errorf("test process fds grew from %d to %d", before, after)
	}
	// The log records 50 starts and 50 clean exits, and nothing else bad.
	b, _ := os.ReadFile(filepath.Join(n.sd, "t1.log"))
	if got := strings.Count(string(b), "listener closed, exiting"); got != 50 {
		t.Errorf("log has %d clean exits, want 50", got)
	}
	if strings.Contains(string(b), "level=error") {
		t.Errorf("errors in the responder log:\n%s", b)
	}
}

// A host firewall that rejects or drops loopback traffic to the port:
// restore fails within seconds (the self-probe cannot connect although
// the responder listens), says that a firewall is the likely cause and
// how it treats the connection, stops the responder within its budget,
// and leaves nothing behind.
func TestFirewallBlocksSelfProbe(t *testing.T) {
	for _, tc := range []struct{ name, how, rule string }{
		{"tcp reset", "rejects", "tcp dport 12345 reject with tcp reset"},
		{"admin-prohibited (firewalld's)", "rejects", "tcp dport 12345 reject with icmpx type admin-prohibited"},
		{"drop", "drops", "iif lo tcp dport 12345 drop"},
	} {
		how, rule := tc.how, tc.rule
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1", "--action-timeout", "8s")
			f := filepath.Join(t.TempDir(), "rules.nft")
			rules := "table inet f {\n\tchain in {\n\t\ttype filter hook input priority 0;\n\t\t" + rule + "\n\t}\n}\n"
			if err := os.WriteFile(f, []byte(rules), 0o600); err != nil {
				t.Fatal(err)
			}
			n.ns.MustRun(t, "nft", "-f", f)
			start := time.Now()
			r := n.want("restore", ocf.ErrGeneric, a...)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("restore took %s", took)
			}
			if !strings.Contains(r.stderr, "the responder is listening, so something "+how+" connections to 127.0.0.1:12345") ||
				!strings.Contains(r.stderr, "iif lo accept") || strings.Contains(r.stderr, "still alive") {
				t.Errorf("restore: %v", r)
			}
			if n.hasAddr("eth1", "10.10.5.200/32") {
				t.Error("the VIP was left behind")
			}
			ents, _ := os.ReadDir(n.sd)
			for _, e := range ents {
				if !strings.HasSuffix(e.Name(), ".log") {
					t.Errorf("state file left: %s", e.Name())
				}
			}
			n.want("quickCheck", ocf.NotRunning, a...)
		})
	}
}
