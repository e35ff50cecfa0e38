//go:build linux

// Package ocf_test runs the OCF resource agent kit/ocf/ilbvip as Pacemaker
// would: Debian's ocf-tester against it, every failure path with its exit
// code, and a real one-node Pacemaker cluster. Each test works in network
// namespaces it creates (and, for the cluster, private mount and UTS
// namespaces), against ilbvip's executables built for the test.
package ocf_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// binDir holds the four executables, built for this run; agentSrc is the
// agent as committed.
var binDir, agentSrc string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := testenv.BuildKit()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	if agentSrc, err = filepath.Abs("ilbvip"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// installedAgent copies the agent, keeping its mode, into a directory that
// user nobody can enter (ocf-tester runs meta-data as nobody, and the
// checkout may sit in a private home).
func installedAgent(t *testing.T) string {
	t.Helper()
	fi, err := os.Stat(agentSrc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(agentSrc)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ilbvip-ocf-agent-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "ilbvip")
	if err := os.WriteFile(p, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, fi.Mode().Perm()); err != nil { // WriteFile's mode is subject to umask
		t.Fatal(err)
	}
	return p
}

func TestAgentFile(t *testing.T) {
	fi, err := os.Stat(agentSrc)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("kit/ocf/ilbvip has mode %04o, want 0755", fi.Mode().Perm())
	}
	b, err := os.ReadFile(agentSrc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "#!/bin/sh\n") {
		t.Error("the agent is not a /bin/sh script")
	}
	if strings.Contains(string(b), "ocf-shellfuncs") || strings.Contains(string(b), "OCF_FUNCTIONS_DIR") {
		t.Error("the agent uses resource-agents' shell functions; it must need nothing from resource-agents")
	}
}

func TestMetadata(t *testing.T) {
	testenv.RequireTools(t, "xmllint", "dash")
	agent := installedAgent(t)
	// dash: the agent is POSIX sh, whatever /bin/sh is here.
	cmd := exec.Command("dash", agent, "meta-data")
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no OCF_* at all: meta-data needs nothing
	md, err := cmd.Output()
	if err != nil {
		t.Fatalf("meta-data: %v", err)
	}
	// As ocf-tester validates it: against Debian's ra-api-1.dtd.
	lint := exec.Command("xmllint", "--noout", "--valid", "-")
	lint.Dir = "/usr/share/resource-agents"
	lint.Stdin = strings.NewReader(string(md))
	if out, err := lint.CombinedOutput(); err != nil {
		t.Fatalf("meta-data does not validate against ra-api-1.dtd: %v\n%s", err, out)
	}
	for _, want := range []string{
		`<parameter name="port" required="1" unique="1">`,
		`<parameter name="bindir" required="0" unique="0">`,
		`<content type="string" default="/usr/libexec/ilbvip"/>`,
		`<action name="monitor" timeout="20s" interval="10s"/>`,
		`<action name="recover" timeout="20s"/>`,
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("meta-data lacks %s", want)
		}
	}
}

// ocfHost is one test's node: a network namespace with eth1 (a veth), a
// private state directory and the agent.
type ocfHost struct {
	t     *testing.T
	ns    *testenv.NS
	sd    string
	agent string
	base  map[string]string // OCF_* environment for every call
}

func newHost(t *testing.T, params map[string]string) *ocfHost {
	t.Helper()
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "eth1", "eth1p")
	h := &ocfHost{t: t, ns: ns, sd: filepath.Join(t.TempDir(), "state"), agent: installedAgent(t)}
	h.base = map[string]string{
		"OCF_ROOT":                    "/usr/lib/ocf",
		"OCF_RESOURCE_INSTANCE":       "vip",
		"OCF_RESKEY_CRM_meta_timeout": "20000",
		"OCF_RESKEY_bindir":           binDir,
		"OCF_RESKEY_state_dir":        h.sd,
		"OCF_RESKEY_port":             "62500",
	}
	for k, v := range params {
		h.base["OCF_RESKEY_"+k] = v
	}
	t.Cleanup(func() {
		// Whatever a failed test leaves running goes before its namespace.
		for _, tag := range []string{"vip", "vip-1", "other"} {
			for _, pid := range h.responders(tag) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return h
}

type agentResult struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r agentResult) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// reasons lists the ocf-exit-reason lines.
func (r agentResult) reasons() []string {
	var out []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if s, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			out = append(out, s)
		}
	}
	return out
}

// run runs the agent inside the namespace with the base environment plus
// env ("" deletes a variable), as pacemaker-execd would: a clean
// environment, nothing else.
func (h *ocfHost) run(action string, env map[string]string) agentResult {
	h.t.Helper()
	vars := map[string]string{"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
	for k, v := range h.base {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := h.ns.Command(h.agent, action)
	for k, v := range vars {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	t0 := time.Now()
	err := cmd.Run()
	r := agentResult{stdout: so.String(), stderr: se.String(), took: time.Since(t0)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("run agent %s: %v", action, err)
	}
	return r
}

// want runs action and checks its exit code, and that a failure gives
// exactly one exit reason containing reason.
func (h *ocfHost) want(action string, env map[string]string, code int, reason string) agentResult {
	h.t.Helper()
	r := h.run(action, env)
	if r.code != code {
		h.t.Fatalf("%s %v: %v, want exit %d", action, env, r, code)
	}
	rs := r.reasons()
	switch {
	case code == ocf.Success || code == ocf.NotRunning:
		if len(rs) != 0 {
			h.t.Errorf("%s: exit %d with an exit reason: %q", action, code, rs)
		}
	case len(rs) != 1:
		h.t.Errorf("%s: exit %d with %d exit reasons, want one: %v", action, code, len(rs), r)
	case !strings.Contains(rs[0], reason):
		h.t.Errorf("%s: exit reason %q, want it to contain %q", action, rs[0], reason)
	}
	return r
}

var probe = map[string]string{"OCF_RESKEY_CRM_meta_interval": "0"}

func (h *ocfHost) responders(tag string) []int {
	var pids []int
	h.ns.Do(h.t, func() { pids = daemon.FindResponders(tag, h.sd) })
	return pids
}

func (h *ocfHost) hasVIP() bool {
	return strings.Contains(h.ns.MustRun(h.t, "ip", "-o", "-4", "addr", "show", "dev", "eth1"), " 10.10.5.200/32 ")
}

func (h *ocfHost) answers(port int) error {
	var err error
	h.ns.Do(h.t, func() {
		err = responder.Probe("tcp", netip.MustParseAddrPort("127.0.0.1:"+strconv.Itoa(port)), "", nil, time.Second)
	})
	return err
}

func (h *ocfHost) pid(tag string) int {
	h.t.Helper()
	rec, err := daemon.ReadRecord(h.sd, tag)
	if err != nil {
		h.t.Fatalf("pid file: %v", err)
	}
	return rec.Pid
}

// nothingLeft checks that no VIP, responder or state file (logs aside) of
// tag remains.
func (h *ocfHost) nothingLeft(tag string) {
	h.t.Helper()
	if h.hasVIP() {
		h.t.Error("vip left on eth1")
	}
	if p := h.responders(tag); len(p) != 0 {
		h.t.Errorf("responders left: %v", p)
	}
	ents, _ := os.ReadDir(h.sd)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".log") {
			h.t.Errorf("state file left: %s", e.Name())
		}
	}
}

func TestOCFTester(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ocf-tester", "xmllint")
	for _, tc := range []struct {
		name   string
		params []string
	}{
		{"vip on a veth", []string{"vip=10.10.5.200", "interface=eth1", "allow=168.63.129.16"}},
		{"responder only", []string{"message=hello", "protocol=tcp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t, nil)
			args := []string{"ocf-tester", "-n", "vip", "-o", "port=62500", "-o", "bindir=" + binDir, "-o", "state_dir=" + h.sd}
			for _, p := range tc.params {
				args = append(args, "-o", p)
			}
			cmd := h.ns.Command(args[0], append(args[1:], h.agent)...)
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
			t0 := time.Now()
			out, err := cmd.CombinedOutput()
			took := time.Since(t0)
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester: %v\n%s", err, out)
			}
			t.Logf("ocf-tester passed in %s", took.Round(time.Millisecond))
			h.nothingLeft("vip")
		})
	}
}

func TestFailurePaths(t *testing.T) {
	testenv.RequireRoot(t)
	withVIP := map[string]string{"vip": "10.10.5.200", "interface": "eth1"}
	for _, tc := range []struct {
		name   string
		params map[string]string
		run    func(t *testing.T, h *ocfHost)
	}{
		{"bad parameter", map[string]string{"port": "70000", "vip": "10.10.5.200", "interface": "eth1"}, func(t *testing.T, h *ocfHost) {
			const why = `port (from OCF_RESKEY_port): "70000" is not a port number: use 1-65535`
			for _, a := range []string{"validate-all", "start", "monitor", "recover"} {
				h.want(a, nil, ocf.ErrConfigured, why)
			}
			// Nothing can run with this configuration, so stop succeeds; with
			// the resource running (its configuration broken since), stop
			// stops what the state directory records (responder, port, VIP)
			// and succeeds too, as Pacemaker requires of a stop that can.
			h.want("stop", nil, ocf.Success, "")
			good := map[string]string{"OCF_RESKEY_port": "62500"}
			for _, broken := range []map[string]string{
				nil, // port 70000
				{"OCF_RESKEY_port": "0"},
				{"OCF_RESKEY_port": "62500", "OCF_RESKEY_protocol": "udp"},
				{"OCF_RESKEY_port": "62500", "OCF_RESKEY_drain": "1h"},
			} {
				h.want("start", good, ocf.Success, "")
				h.want("stop", broken, ocf.Success, "")
				h.nothingLeft("vip")
			}
			h.want("stop", good, ocf.Success, "")
			h.want("start", map[string]string{"OCF_RESKEY_port": "62500", "OCF_RESKEY_vip": "10.10.5.0/24"}, ocf.ErrConfigured, `vip (from OCF_RESKEY_vip)`)
			h.want("validate-all", map[string]string{"OCF_RESKEY_port": "62500", "OCF_RESKEY_bindir": "bin"}, ocf.ErrConfigured, `bindir: "bin" is not an absolute path`)
			h.want("monitor", map[string]string{"OCF_RESKEY_port": "62500", "OCF_CHECK_LEVEL": "deep"}, ocf.ErrConfigured, `OCF_CHECK_LEVEL: "deep" is not a number`)
			h.want("start", map[string]string{"OCF_RESKEY_port": "62500", "OCF_RESOURCE_INSTANCE": ""}, ocf.ErrConfigured, "no OCF_RESKEY_tag and no OCF_RESOURCE_INSTANCE")
			h.want("validate-all", map[string]string{"OCF_RESKEY_port": "62500"}, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"drain and the operations' timeouts", map[string]string{"vip": "10.10.5.200", "interface": "eth1", "protocol": "http", "drain": "25s"}, func(t *testing.T, h *ocfHost) {
			// Each operation has its own timeout: a 25 s drain is judged at
			// stop, not against start's or validate-all's timeout.
			op40 := map[string]string{"OCF_RESKEY_CRM_meta_timeout": "40000"}
			h.want("validate-all", op40, ocf.Success, "")
			h.want("start", op40, ocf.Success, "")
			// A 3 s stop cuts the drain short and still succeeds in time.
			r := h.want("stop", map[string]string{"OCF_RESKEY_CRM_meta_timeout": "3000"}, ocf.Success, "")
			if !strings.Contains(r.stderr, "drain cut short") || r.took > 3*time.Second {
				t.Errorf("stop with a 3 s timeout and a 25 s drain: took %s, %v; want the cut said and done within 3 s", r.took, r)
			}
			h.nothingLeft("vip")
			// drain is judged at stop: lowered since the start, it is the
			// lower one that counts (not the drain the responder began with).
			h.want("start", op40, ocf.Success, "")
			r = h.want("stop", map[string]string{"OCF_RESKEY_drain": "0s", "OCF_RESKEY_CRM_meta_timeout": "20000"}, ocf.Success, "")
			if r.took > 5*time.Second {
				t.Errorf("stop with drain lowered to 0s took %s, as if the start's 25 s drain still counted", r.took)
			}
			h.nothingLeft("vip")
		}},
		{"stop with a wrong tag or state_dir", withVIP, func(t *testing.T, h *ocfHost) {
			// Where the record is cannot be told: the stop must not claim
			// success while the resource may still answer.
			h.want("start", nil, ocf.Success, "")
			h.want("stop", map[string]string{"OCF_RESKEY_state_dir": "relative/dir"}, ocf.ErrConfigured, "cannot be told")
			h.want("stop", map[string]string{"OCF_RESKEY_tag": "bad/tag"}, ocf.ErrConfigured, "cannot be told")
			if !h.hasVIP() || len(h.responders("vip")) != 1 {
				t.Error("the resource did not survive the failed stops")
			}
			h.want("stop", nil, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"missing executables", withVIP, func(t *testing.T, h *ocfHost) {
			missing := map[string]string{"OCF_RESKEY_bindir": "/nonexistent/ilbvip"}
			const why = "/nonexistent/ilbvip/"
			h.want("meta-data", missing, ocf.Success, "")
			h.want("validate-all", missing, ocf.ErrInstalled, why)
			h.want("start", missing, ocf.ErrInstalled, why+"restore is missing")
			h.want("monitor", missing, ocf.ErrInstalled, why+"quickCheck is missing")
			probeMissing := map[string]string{"OCF_RESKEY_bindir": "/nonexistent/ilbvip", "OCF_RESKEY_CRM_meta_interval": "0"}
			h.want("monitor", probeMissing, ocf.ErrInstalled, why)
			h.want("recover", missing, ocf.ErrInstalled, why)
			h.want("stop", missing, ocf.Success, "") // no pid file: nothing of it can run here
			// With the resource running, a stop that cannot stop it fails.
			h.want("start", nil, ocf.Success, "")
			h.want("stop", missing, ocf.ErrInstalled, "cannot stop")
			h.want("stop", nil, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"port held by another program", withVIP, func(t *testing.T, h *ocfHost) {
			var ln net.Listener
			h.ns.Do(t, func() {
				var err error
				if ln, err = net.Listen("tcp", ":62500"); err != nil {
					t.Fatal(err)
				}
			})
			defer ln.Close()
			h.want("start", nil, ocf.ErrGeneric, "port 62500 is already in use")
			if h.hasVIP() {
				t.Error("failed start left the vip")
			}
			h.want("monitor", probe, ocf.NotRunning, "")
			ln.Close()
			h.want("start", nil, ocf.Success, "")
			h.want("stop", nil, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"responder killed", withVIP, func(t *testing.T, h *ocfHost) {
			h.want("start", nil, ocf.Success, "")
			pid := h.pid("vip")
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			testenv.WaitDead(t, pid) // SIGKILL is asynchronous
			h.want("monitor", nil, ocf.ErrGeneric, "responder pid "+strconv.Itoa(pid)+" is dead")
			h.want("start", nil, ocf.Success, "")
			if h.pid("vip") == pid {
				t.Error("start did not start a new responder")
			}
			h.want("monitor", nil, ocf.Success, "")
			if err := h.answers(62500); err != nil {
				t.Errorf("port after start: %v", err)
			}
			// recover repairs the same way.
			pid = h.pid("vip")
			_ = syscall.Kill(pid, syscall.SIGKILL)
			testenv.WaitDead(t, pid)
			h.want("recover", nil, ocf.Success, "")
			h.want("monitor", nil, ocf.Success, "")
			h.want("stop", nil, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"stale pid file", withVIP, func(t *testing.T, h *ocfHost) {
			// As after a reboot: the responder and the VIP are gone, the pid
			// file (on a persistent state_dir) names another boot.
			h.want("start", nil, ocf.Success, "")
			pid := h.pid("vip")
			_ = syscall.Kill(pid, syscall.SIGKILL)
			testenv.WaitDead(t, pid)
			// Killed between writing its stats and renaming them (CI saw
			// this once): stop must clear the temporary file too.
			// The same for an action killed while writing the run mark.
			for _, n := range []string{fmt.Sprintf("vip.stats.tmp%d", pid), "vip.run.tmp77"} {
				if err := os.WriteFile(filepath.Join(h.sd, n), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h.ns.MustRun(t, "ip", "addr", "del", "10.10.5.200/32", "dev", "eth1")
			path := filepath.Join(h.sd, "vip.pid")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "boot=") {
					l = "boot=00000000-0000-0000-0000-000000000000"
				}
				lines = append(lines, l)
			}
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
			h.want("monitor", probe, ocf.NotRunning, "")
			h.want("monitor", nil, ocf.NotRunning, "")
			h.want("start", nil, ocf.Success, "")
			h.want("monitor", nil, ocf.Success, "")
			h.want("stop", nil, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"probe where the interface does not exist", map[string]string{"vip": "10.10.5.200", "interface": "eth9"}, func(t *testing.T, h *ocfHost) {
			h.want("monitor", probe, ocf.NotRunning, "")
			h.want("monitor", nil, ocf.NotRunning, "")
			h.want("validate-all", nil, ocf.Success, "")
			h.want("start", nil, ocf.ErrInstalled, "eth9")
			h.want("stop", nil, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"check level", map[string]string{"message": "hello"}, func(t *testing.T, h *ocfHost) {
			// A stopped (SIGSTOP) responder is alive but does not answer:
			// level 0 does not notice, level 10 (the default) does.
			h.want("start", nil, ocf.Success, "")
			pid := h.pid("vip")
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
			h.want("monitor", map[string]string{"OCF_CHECK_LEVEL": "0"}, ocf.Success, "")
			h.want("monitor", nil, ocf.ErrGeneric, "does not answer")
			h.want("monitor", map[string]string{"OCF_CHECK_LEVEL": "10"}, ocf.ErrGeneric, "does not answer")
			_ = syscall.Kill(pid, syscall.SIGCONT)
			h.want("monitor", nil, ocf.Success, "")
			h.want("stop", nil, ocf.Success, "")
			h.nothingLeft("vip")
		}},
		{"tag", nil, func(t *testing.T, h *ocfHost) {
			// A clone instance's ':1' becomes '-1'; the tag parameter wins.
			clone := map[string]string{"OCF_RESOURCE_INSTANCE": "vip:1"}
			h.want("start", clone, ocf.Success, "")
			if h.pid("vip-1") == 0 {
				t.Error("no responder for tag vip-1")
			}
			h.want("monitor", clone, ocf.Success, "")
			h.want("stop", clone, ocf.Success, "")
			named := map[string]string{"OCF_RESKEY_tag": "other"}
			h.want("start", named, ocf.Success, "")
			if h.pid("other") == 0 {
				t.Error("no responder for tag other")
			}
			h.want("monitor", nil, ocf.NotRunning, "")
			h.want("stop", named, ocf.Success, "")
			h.nothingLeft("vip-1")
			h.nothingLeft("other")
		}},
		{"stop keeps to the operation timeout", map[string]string{"protocol": "http", "drain": "15s"}, func(t *testing.T, h *ocfHost) {
			// drain asks for 15s; Pacemaker gives stop 3s: stop ends in time.
			h.want("start", nil, ocf.Success, "")
			r := h.want("stop", map[string]string{"OCF_RESKEY_CRM_meta_timeout": "3000"}, ocf.Success, "")
			if r.took >= 15*time.Second {
				t.Errorf("stop took %s: the 3s operation timeout was not its budget", r.took)
			}
			t.Logf("stop with drain 15s and a 3s timeout took %s", r.took.Round(time.Millisecond))
			h.nothingLeft("vip")
		}},
		{"actions", nil, func(t *testing.T, h *ocfHost) {
			for _, a := range []string{"promote", "demote", "notify", "reload", "migrate_to", "status", "bogus"} {
				if r := h.run(a, nil); r.code != ocf.ErrUnimplemented {
					t.Errorf("%s: %v, want exit 3", a, r)
				}
			}
			for _, a := range []string{"usage", "help"} {
				if r := h.run(a, nil); r.code != ocf.Success || !strings.Contains(r.stdout, "validate-all") {
					t.Errorf("%s: %v", a, r)
				}
			}
			cmd := h.ns.Command(h.agent)
			if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != ocf.ErrArgs {
				t.Errorf("no action: %v, want exit 2", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newHost(t, tc.params))
		})
	}
}
