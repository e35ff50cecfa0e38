//go:build linux

// Package actions_test runs the four executables as a cluster manager
// would, as root, each test in network namespaces it creates: real
// addresses, real sockets, real processes.
package actions_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/procfs"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := testenv.BuildKit()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one cluster node: a namespace with eth1 (a veth) for the VIP and
// a private state directory.
type node struct {
	t  *testing.T
	ns *testenv.NS
	sd string
}

func newNode(t *testing.T) *node {
	t.Helper()
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "eth1", "eth1p")
	sd := filepath.Join(t.TempDir(), "state")
	n := &node{t: t, ns: ns, sd: sd}
	// Whatever a failed test leaves running is stopped before its
	// namespace goes.
	t.Cleanup(func() {
		for _, tag := range []string{"t1", "t2", "lbhc-12345"} {
			for _, pid := range daemonPids(n, tag) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return n
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// run runs an action inside the node with the given arguments and extra
// environment (a clean one otherwise, as a cluster manager would give).
func (n *node) run(action string, env []string, args ...string) result {
	n.t.Helper()
	return n.runPath(filepath.Join(binDir, action), env, args...)
}

// runPath runs the program at path inside the node.
func (n *node) runPath(path string, env []string, args ...string) result {
	n.t.Helper()
	action := filepath.Base(path)
	cmd := n.ns.Command(path, args...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatalf("run %s: %v", action, err)
	}
	return result{code, so.String(), se.String()}
}

func (n *node) args(tag string, port int, extra ...string) []string {
	return append([]string{"-t", tag, "--port", strconv.Itoa(port), "--state-dir", n.sd}, extra...)
}

func (n *node) want(action string, code int, args ...string) result {
	n.t.Helper()
	r := n.run(action, nil, args...)
	if r.code != code {
		n.t.Fatalf("%s %v: %v, want exit %d", action, args, r, code)
	}
	return r
}

// addrs lists dev's global addresses (link-local ones change by themselves).
func (n *node) addrs(dev string) string {
	return n.ns.MustRun(n.t, "ip", "-o", "addr", "show", "dev", dev, "scope", "global") +
		n.ns.MustRun(n.t, "ip", "-o", "addr", "show", "dev", dev, "scope", "host")
}

func (n *node) hasAddr(dev, cidr string) bool {
	return strings.Contains(n.addrs(dev), " "+cidr+" ")
}

func daemonPids(n *node, tag string) []int {
	var pids []int
	n.ns.Do(n.t, func() { pids = daemon.FindResponders(tag, n.sd) })
	return pids
}

func (n *node) probe(port int, msg string) error {
	var err error
	n.ns.Do(n.t, func() {
		err = responder.Probe("tcp", netip.MustParseAddrPort("127.0.0.1:"+strconv.Itoa(port)), "", []byte(msg), time.Second)
	})
	return err
}

// stateFiles lists the state directory, logs excepted.
func (n *node) stateFiles() []string {
	ents, _ := os.ReadDir(n.sd)
	var out []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".log") {
			out = append(out, e.Name())
		}
	}
	return out
}

func (n *node) pidOf(tag string) int {
	rec, err := daemon.ReadRecord(n.sd, tag)
	if err != nil {
		n.t.Fatalf("read pid file: %v", err)
	}
	return rec.Pid
}

// killResponder SIGKILLs the tag's recorded responder, waits until the
// process is gone (a zombie counts) and returns its pid.
func (n *node) killResponder(tag string) int {
	n.t.Helper()
	pid := n.pidOf(tag)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		n.t.Fatal(err)
	}
	testenv.WaitDead(n.t, pid)
	return pid
}

func TestLifecycle(t *testing.T) {
	for _, tc := range []struct {
		name, vip, cidr string
	}{
		{"ipv4", "10.10.5.200", "10.10.5.200/32"},
		{"ipv6", "fd00:5::200", "fd00:5::200/128"},
		{"responder only", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			a := n.args("lbhc-12345", 12345, "--message", "hello")
			if tc.vip != "" {
				a = append(a, "--vip", tc.vip, "--interface", "eth1")
			}
			if r := n.want("quickCheck", ocf.NotRunning, a...); !strings.Contains(r.stderr, "stopped") {
				t.Errorf("quickCheck of a stopped resource says %q", r.stderr)
			}
			n.want("remove", ocf.Success, a...) // remove of a stopped resource: 0
			n.want("restore", ocf.Success, a...)
			pid := n.pidOf("lbhc-12345")
			if tc.vip != "" && !n.hasAddr("eth1", tc.cidr) {
				t.Fatalf("vip not on eth1: %s", n.addrs("eth1"))
			}
			if err := n.probe(12345, "hello"); err != nil {
				t.Fatalf("probe after restore: %v", err)
			}
			n.want("restore", ocf.Success, a...) // already up: 0 without change
			if got := n.pidOf("lbhc-12345"); got != pid {
				t.Errorf("second restore replaced the responder: pid %d -> %d", pid, got)
			}
			if r := n.want("quickCheck", ocf.Success, a...); r.stdout != "" || r.stderr != "" {
				t.Errorf("healthy quickCheck is not silent: %v", r)
			}
			if r := n.want("quickCheck", ocf.Success, append(a, "--verbose")...); !strings.Contains(r.stdout, "running") || !strings.Contains(r.stdout, "pid "+strconv.Itoa(pid)) {
				t.Errorf("quickCheck --verbose: %q", r.stdout)
			}
			if r := n.want("quickCheck", ocf.Success, append(a, "--json")...); !strings.Contains(r.stdout, `"state": "running"`) {
				t.Errorf("quickCheck --json: %q", r.stdout)
			}
			n.want("recover", ocf.Success, a...) // nothing to repair
			if got := n.pidOf("lbhc-12345"); got != pid {
				t.Errorf("recover of a healthy resource replaced the responder")
			}
			n.want("remove", ocf.Success, a...)
			testenv.WaitDead(t, pid)
			n.want("remove", ocf.Success, a...)
			if tc.vip != "" && n.hasAddr("eth1", tc.cidr) {
				t.Errorf("vip left after remove: %s", n.addrs("eth1"))
			}
			if err := n.probe(12345, "hello"); err == nil {
				t.Error("port still answers after remove")
			}
			if f := n.stateFiles(); len(f) != 0 {
				t.Errorf("files left after remove: %v", f)
			}
			if p := daemonPids(n, "lbhc-12345"); len(p) != 0 {
				t.Errorf("responders left after remove: %v", p)
			}
			n.want("quickCheck", ocf.NotRunning, a...)
		})
	}
}

// TestRestoreAnnounces: with arp_count, restore announces the VIP it adds
// (gratuitous ARPs; IPv6: unsolicited NAs), 200 ms apart, without the
// warning of a failed announcement. (pkg/vip's TestAnnounce checks the
// frames on the wire.)
func TestRestoreAnnounces(t *testing.T) {
	for _, v := range []string{"10.10.5.200", "fd00:5::200"} {
		t.Run(v, func(t *testing.T) {
			n := newNode(t)
			a := n.args("t1", 12345, "--vip", v, "--interface", "eth1", "--arp-count", "2")
			start := time.Now()
			r := n.want("restore", 0, a...)
			if took := time.Since(start); took < 200*time.Millisecond {
				t.Errorf("restore took %v, less than the 200 ms between two announcements", took)
			}
			if strings.Contains(r.stdout+r.stderr, "announce") {
				t.Errorf("restore warns of its announcement: %v", r)
			}
			n.want("remove", 0, a...)
		})
	}
}

func TestKilledResponderIsRecovered(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	// Waited for until it is gone or a zombie (SIGKILL is delivered
	// asynchronously): the zombie may linger (PID 1 reaps late here) and
	// must count as dead.
	pid := n.killResponder("t1")
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "responder pid "+strconv.Itoa(pid)) {
		t.Errorf("quickCheck after kill -9: %v", r)
	}
	n.want("recover", ocf.Success, a...)
	n.want("quickCheck", ocf.Success, a...)
	if n.pidOf("t1") == pid {
		t.Error("recover did not start a new responder")
	}
	n.want("remove", ocf.Success, a...)
}

func TestDeletedVIPIsRecovered(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	pid := n.pidOf("t1")
	n.ns.MustRun(t, "ip", "addr", "del", "10.10.5.200/32", "dev", "eth1")
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "10.10.5.200/32 on eth1 is missing") {
		t.Errorf("quickCheck after deleting the vip: %v", r)
	}
	n.want("recover", ocf.Success, a...)
	n.want("quickCheck", ocf.Success, a...)
	if !n.hasAddr("eth1", "10.10.5.200/32") {
		t.Error("recover did not re-add the vip")
	}
	if n.pidOf("t1") != pid {
		t.Error("recover restarted a healthy responder to fix the vip")
	}
	n.want("remove", ocf.Success, a...)
}

func TestPortHeldByAnotherProgram(t *testing.T) {
	n := newNode(t)
	var ln net.Listener
	n.ns.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp", ":12345"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	r := n.want("restore", ocf.ErrGeneric, a...)
	if !strings.Contains(r.stderr, "port 12345") || !strings.Contains(r.stderr, "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("restore with the port taken: %v; want the port and the holder named", r)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("want one line: %q", r.stderr)
	}
	if n.hasAddr("eth1", "10.10.5.200/32") {
		t.Error("vip left behind by a failed restore")
	}
	if f := n.stateFiles(); len(f) != 0 {
		t.Errorf("files left behind by a failed restore: %v", f)
	}
	if p := daemonPids(n, "t1"); len(p) != 0 {
		t.Errorf("responder left behind: %v", p)
	}
	ln.Close()
	n.want("restore", ocf.Success, a...)
	n.want("remove", ocf.Success, a...)
}

func TestStrangerIsNeverSignalled(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345)
	if err := os.MkdirAll(n.sd, 0o700); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() }()
	pid := sleeper.Process.Pid
	st, err := procfs.ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, start string }{
		{"pid reused", "1"}, // start time differs: another process now
		{"forged identity", strconv.FormatUint(st.Start, 10)}, // pid and start time right, but not a responder
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := fmt.Sprintf("pid=%d\nstart=%s\nboot=\ntag=t1\nport=12345\nprotocol=tcp\nvip=\ninterface=\nconfig=x\n", pid, tc.start)
			if err := os.WriteFile(filepath.Join(n.sd, "t1.pid"), []byte(rec), 0o600); err != nil {
				t.Fatal(err)
			}
			n.want("quickCheck", ocf.ErrGeneric, a...)
			n.want("remove", ocf.Success, a...)
			if err := syscall.Kill(pid, 0); err != nil {
				t.Fatalf("the unrelated process was signalled: %v", err)
			}
			if err := os.WriteFile(filepath.Join(n.sd, "t1.pid"), []byte(rec), 0o600); err != nil {
				t.Fatal(err)
			}
			n.want("restore", ocf.Success, a...)
			n.want("recover", ocf.Success, a...)
			n.want("remove", ocf.Success, a...)
			if err := syscall.Kill(pid, 0); err != nil {
				t.Fatalf("the unrelated process was signalled: %v", err)
			}
		})
	}
}

func TestConcurrentRestores(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	var wg sync.WaitGroup
	results := make([]result, 10)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = n.run("restore", nil, a...) }()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != ocf.Success {
			t.Errorf("restore %d: %v", i, r)
		}
	}
	if p := daemonPids(n, "t1"); len(p) != 1 {
		t.Fatalf("%d responders after 10 concurrent restores, want 1: %v", len(p), p)
	}
	n.want("quickCheck", ocf.Success, a...)
	n.want("remove", ocf.Success, a...)
}

func TestConcurrentRestoreAndRemove(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.raceRemove("restore", a, nil)
	n.want("remove", ocf.Success, a...)
	if f := n.stateFiles(); len(f) != 0 {
		t.Errorf("files left: %v", f)
	}
}

// raceRemove runs action and remove at once, five times, each round after
// prepare (may be nil): both must succeed (recover may find the resource
// already removed: 7), and the tag's lock serialises them, so the state
// afterwards is whole: up (0) or down (7), never half; after recover it is
// always down, as recover never starts a removed resource.
func (n *node) raceRemove(action string, a []string, prepare func()) {
	n.t.Helper()
	for i := 0; i < 5; i++ {
		if prepare != nil {
			prepare()
		}
		var wg sync.WaitGroup
		var r1, r2 result
		wg.Add(2)
		go func() { defer wg.Done(); r1 = n.run(action, nil, a...) }()
		go func() { defer wg.Done(); r2 = n.run("remove", nil, a...) }()
		wg.Wait()
		// recover after remove finds nothing started (7) and starts
		// nothing, so the resource ends stopped whichever won the lock.
		after := []int{0, 7}
		ok1 := r1.code == ocf.Success
		if action == "recover" {
			ok1, after = r1.code == ocf.Success || r1.code == ocf.NotRunning, []int{ocf.NotRunning}
		}
		if !ok1 || r2.code != ocf.Success {
			n.t.Fatalf("%s %v, remove %v", action, r1, r2)
		}
		if r := n.run("quickCheck", nil, a...); !slices.Contains(after, r.code) {
			n.t.Fatalf("after concurrent %s and remove: %v, want exit %v", action, r, after)
		}
	}
}

func TestTwoTagsSideBySide(t *testing.T) {
	n := newNode(t)
	a1 := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	a2 := n.args("t2", 12346, "--vip", "10.10.5.201", "--interface", "eth1", "--protocol", "http")
	n.want("restore", ocf.Success, a1...)
	n.want("restore", ocf.Success, a2...)
	n.want("quickCheck", ocf.Success, a1...)
	n.want("quickCheck", ocf.Success, a2...)
	n.want("remove", ocf.Success, a1...)
	n.want("quickCheck", ocf.NotRunning, a1...)
	n.want("quickCheck", ocf.Success, a2...)
	if !n.hasAddr("eth1", "10.10.5.201/32") || n.hasAddr("eth1", "10.10.5.200/32") {
		t.Errorf("addresses after removing t1: %s", n.addrs("eth1"))
	}
	n.want("remove", ocf.Success, a2...)
}

func TestStateDirWipedWhileRunning(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	pid := n.pidOf("t1")
	n.wipeState()
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "without its pid file") {
		t.Errorf("quickCheck: %v", r)
	}
	n.want("remove", ocf.Success, a...)
	testenv.WaitDead(t, pid)
	if n.hasAddr("eth1", "10.10.5.200/32") {
		t.Error("vip left")
	}
}

// TestBadInputChangesNothing runs restore with every bad config: each
// fails with its error and exit 6, and leaves no address, no process and
// no file.
func TestBadInputChangesNothing(t *testing.T) {
	n := newNode(t)
	before := n.addrs("eth1")
	files, _ := filepath.Glob("../testdata/config/bad/*.yaml")
	if len(files) < 25 {
		t.Fatalf("found %d bad configs", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, action := range []string{"restore", "recover", "remove", "quickCheck"} {
				args := []string{"-t", "t1", "-c", f, "--state-dir", n.sd}
				if b, _ := os.ReadFile(f); strings.Contains(string(b), "state_dir:") {
					args = args[:4] // the flag would win over the bad value
				}
				r := n.run(action, nil, args...)
				if r.code != ocf.ErrConfigured || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("%s: %v, want exit 6 and one line", action, r)
				}
			}
		})
	}
	for _, tc := range []struct {
		args []string
		env  []string
		code int
	}{
		{[]string{"--port", "12345"}, nil, 2},                                                     // no tag
		{[]string{"-t", "t1", "--port", "12345", "--bogus"}, nil, 2},                              // unknown flag
		{[]string{"-t", "t1", "--port", "12345", "stray"}, nil, 2},                                // stray argument
		{[]string{"-t", "../x", "--port", "12345"}, nil, 6},                                       // path in tag
		{[]string{"-t", "t1"}, []string{"OCF_RESKEY_port=0"}, 6},                                  // env
		{[]string{"-t", "t1", "--port", "1", "-c", "/nonexistent.yaml"}, nil, 5},                  // named file missing
		{[]string{"-t", "t1", "--port", "1", "--vip", "10.1.1.1", "--interface", "eth9"}, nil, 5}, // interface absent
	} {
		r := n.run("restore", tc.env, append(tc.args, "--state-dir", n.sd)...)
		if r.code != tc.code {
			t.Errorf("restore %v %v: %v, want exit %d", tc.args, tc.env, r, tc.code)
		}
	}
	if after := n.addrs("eth1"); after != before {
		t.Errorf("addresses changed:\n%s\n%s", before, after)
	}
	if _, err := os.Stat(n.sd); err == nil {
		t.Errorf("state directory created by bad input: %v", n.stateFiles())
	}
	if p := daemonPids(n, "t1"); len(p) != 0 {
		t.Errorf("responder started by bad input: %v", p)
	}
}

func TestVersionAndHelp(t *testing.T) {
	n := newNode(t)
	for _, a := range []string{"restore", "remove", "quickCheck", "recover"} {
		if r := n.want(a, ocf.Success, "--version"); !strings.Contains(r.stdout, "version") {
			t.Errorf("%s --version: %v", a, r)
		}
		if r := n.want(a, ocf.Success, "--help"); !strings.Contains(r.stdout, "--http-path") || !strings.Contains(r.stdout, "--tag") {
			t.Errorf("%s --help lacks the parameters: %v", a, r)
		}
	}
}

// TestRemoveOrderAndDrain checks remove's order: the probe fails first
// (503 in http mode, refused in tcp mode) while the VIP stays for the
// drain time, and only then the VIP goes.
func TestRemoveOrderAndDrain(t *testing.T) {
	for _, proto := range []string{"http", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			n := newNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1", "--protocol", proto, "--drain", "1s")
			n.want("restore", ocf.Success, a...)
			done := make(chan result, 1)
			t0 := time.Now()
			go func() { done <- n.run("remove", nil, a...) }()
			sawSilent, vipDuringSilence := false, false
			addr := netip.MustParseAddrPort("127.0.0.1:12345")
			for i := 0; i < 200 && !sawSilent; i++ {
				var err error
				n.ns.Do(t, func() { err = responder.Probe(proto, addr, "/", nil, 500*time.Millisecond) })
				if err != nil {
					sawSilent = true
					vipDuringSilence = n.hasAddr("eth1", "10.10.5.200/32")
					if proto == "http" && !strings.Contains(err.Error(), "503") {
						t.Errorf("http probe while draining: %v, want 503", err)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			r := <-done
			took := time.Since(t0)
			if r.code != ocf.Success {
				t.Fatalf("remove: %v", r)
			}
			if !sawSilent || !vipDuringSilence {
				t.Errorf("saw the probe fail: %v; vip still there then: %v", sawSilent, vipDuringSilence)
			}
			if took < time.Second {
				t.Errorf("remove took %v, less than the 1s drain", took)
			}
			if n.hasAddr("eth1", "10.10.5.200/32") {
				t.Error("vip left after remove")
			}
		})
	}
}

// wipeState deletes the state directory as an admin's rm -rf would, while
// a responder may be writing its stats file into it (then the directory is
// not empty for a moment: try again, a bounded number of times).
func (n *node) wipeState() {
	n.t.Helper()
	var err error
	for range 100 {
		if err = os.RemoveAll(n.sd); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.t.Fatalf("wipe the state directory: %v", err)
}
