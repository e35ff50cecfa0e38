package doctor

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/daemon"
)

// The end-to-end tests run the real quickCheck --diagnose (and restore,
// remove) inside a namespace, as an admin would: there the port holder is
// looked up in the namespace's own /proc/net/tcp.

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func bin(t *testing.T, action string) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = testenv.BuildKit()
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, action)
}

type run struct {
	code           int
	stdout, stderr string
}

func runIn(t *testing.T, ns *testenv.NS, action string, args ...string) run {
	t.Helper()
	cmd := ns.Command(bin(t, action), args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := run{stdout: so.String(), stderr: se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", action, err)
	}
	return r
}

// diagnose runs quickCheck --diagnose --json and returns the report.
func diagnose(t *testing.T, ns *testenv.NS, wantCode int, args []string) *Report {
	t.Helper()
	r := runIn(t, ns, "quickCheck", append(args, "--diagnose", "--json")...)
	if r.code != wantCode {
		t.Fatalf("quickCheck --diagnose: exit %d, want %d\nstdout %s\nstderr %s", r.code, wantCode, r.stdout, r.stderr)
	}
	var rep Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	return &rep
}

func (r *Report) check(t *testing.T, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

func TestDiagnoseEndToEnd(t *testing.T) {
	needTool(t, "nft")
	node, lb := testenv.NewNS(t), testenv.NewNS(t)
	node.Veth(t, "eth1", "10.0.0.2/24", lb, "eth1", "10.0.0.3/24")
	sd := filepath.Join(t.TempDir(), "state")
	// The binary reads the host's DMI strings: allow covers the Azure and
	// Google probe sources too, so the exit codes do not depend on where
	// the tests run.
	args := []string{"-t", "lbhc-12345", "--port", "12345", "--state-dir", sd, "--vip", "10.10.5.200",
		"--interface", "eth1", "--allow", "10.0.0.3,168.63.129.16,35.191.0.0/16,130.211.0.0/22"}
	t.Cleanup(func() {
		node.Do(t, func() {
			for _, pid := range daemon.FindResponders("lbhc-12345", sd) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	})

	// Stopped, port free: nothing fails.
	rep := diagnose(t, node, 0, args)
	if rep.State != "stopped" {
		t.Errorf("state %q", rep.State)
	}
	expect(t, rep.check(t, "port"), OK, "tcp port 12345 is free")
	expect(t, rep.check(t, "firewall"), OK, "nothing filters")

	// Stopped, another program on the port: fail, naming it.
	var l net.Listener
	var err error
	node.Do(t, func() { l, err = net.Listen("tcp", ":12345") })
	if err != nil {
		t.Fatal(err)
	}
	rep = diagnose(t, node, 1, args)
	expect(t, rep.check(t, "port"), Fail, fmt.Sprintf("held by %s (pid %d)", procName(), os.Getpid()))
	human := runIn(t, node, "quickCheck", append(args, "--diagnose")...)
	if human.code != 1 || !strings.Contains(human.stdout, "\nfail  port ") || !strings.Contains(human.stderr, "diagnose: 1 of") {
		t.Errorf("human output: exit %d\n%s%s", human.code, human.stdout, human.stderr)
	}
	l.Close()

	// Running: the port is our responder's; too early to judge the probes.
	if r := runIn(t, node, "restore", args...); r.code != 0 {
		t.Fatalf("restore: %+v", r)
	}
	rep = diagnose(t, node, 0, args)
	if rep.State != "running" {
		t.Errorf("state %q", rep.State)
	}
	expect(t, rep.check(t, "port"), OK, "held by our responder ilbvip:")
	expect(t, rep.check(t, "vip"), OK, "where this resource put it")
	expect(t, rep.check(t, "lb_probes"), OK, "too early to tell")

	// The load balancer (the other namespace) probes: its source shows.
	var dialErr error
	lb.Do(t, func() {
		var c net.Conn
		if c, dialErr = net.DialTimeout("tcp", "10.0.0.2:12345", 2*time.Second); dialErr == nil {
			c.Close()
		}
	})
	if dialErr != nil {
		t.Fatalf("probe from the load balancer: %v", dialErr)
	}
	var ck Check
	for i := 0; i < 50; i++ { // the stats file is refreshed once a second
		ck = diagnose(t, node, 0, args).check(t, "lb_probes")
		if strings.Contains(ck.Found, "from 10.0.0.3") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	expect(t, ck, OK, "ago from 10.0.0.3, 1 answered")

	// A firewall rule that drops the probes fails the diagnosis.
	f := filepath.Join(t.TempDir(), "drop.nft")
	if err := os.WriteFile(f, []byte("table inet f {\nchain in {\ntype filter hook input priority 0; tcp dport 12345 drop;\n}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node.MustRun(t, "nft", "-f", f)
	rep = diagnose(t, node, 1, args)
	expect(t, rep.check(t, "firewall"), Fail, "blocks tcp/12345 from 10.0.0.3")

	// A dead responder: the report says so and checks as stopped.
	rec, err := daemon.ReadRecord(sd, "lbhc-12345")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(rec.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && daemon.Inspect(rec) == daemon.Running; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	rep = diagnose(t, node, 1, args)
	if want := fmt.Sprintf("failed: responder pid %d is dead", rec.Pid); rep.State != want {
		t.Errorf("state %q, want %q", rep.State, want)
	}
	expect(t, rep.check(t, "port"), OK, "is free")
	expect(t, rep.check(t, "lb_probes"), Skip, "not running")

	if r := runIn(t, node, "remove", args...); r.code != 0 {
		t.Fatalf("remove: %+v", r)
	}
}

// procName is this test binary's comm, as PortHolder reports it.
func procName() string {
	b, _ := os.ReadFile("/proc/self/comm")
	return strings.TrimSpace(string(b))
}

func TestDiagnoseBadConfig(t *testing.T) {
	ns := testenv.NewNS(t)
	// The doctor needs a valid config: config.Load reports first, exit 6.
	r := runIn(t, ns, "quickCheck", "-t", "lbhc-12345", "--port", "70000", "--diagnose")
	if r.code != 6 || !strings.Contains(r.stderr, "port") || r.stdout != "" {
		t.Errorf("bad config: %+v", r)
	}
}
