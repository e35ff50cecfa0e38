//go:build linux

package rehearsal_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/lbsim"
	"github.com/ilbvip/ilbvip/internal/rehearsal"
	"github.com/ilbvip/ilbvip/internal/testbed"
	"github.com/ilbvip/ilbvip/internal/testenv"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ilbvip-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, a := range []string{"restore", "remove", "quickCheck", "recover"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, a), "github.com/ilbvip/ilbvip/actions/"+a)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", a, err, out)
			os.Exit(1)
		}
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The LB settings of the scenario tests: slow enough for a loaded 2-core
// machine, fast enough to keep the tests short.
const (
	interval  = 300 * time.Millisecond
	threshold = 2
	port      = 12345
)

// setup builds a bed with the kit and the LB and removes it when the test ends.
func setup(t *testing.T, settings map[string]string, lb lbsim.Config) (*rehearsal.Rehearsal, *testbed.Bed) {
	t.Helper()
	return setupBed(t, testbed.Options{}, settings, lb)
}

// setupBed is setup with the bed's options (an IPv6 VIP).
func setupBed(t *testing.T, o testbed.Options, settings map[string]string, lb lbsim.Config) (*rehearsal.Rehearsal, *testbed.Bed) {
	t.Helper()
	testenv.RequireRoot(t)
	o.Prefix, o.BinDir = "ilbvip-t-bed-", binDir
	bed, err := testbed.New(o)
	if err != nil {
		t.Fatalf("test bed: %v", err)
	}
	t.Cleanup(func() {
		if err := bed.Close(); err != nil {
			t.Errorf("close test bed: %v", err)
		}
		if left := bed.Leftovers(); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
	if settings == nil {
		settings = map[string]string{}
	}
	if settings["port"] == "" {
		settings["port"] = fmt.Sprint(port)
	}
	if err := bed.SetKit(testbed.Kit{Settings: settings}); err != nil {
		t.Fatal(err)
	}
	if lb.Interval == 0 {
		lb.Interval, lb.Threshold = interval, threshold
	}
	r, err := rehearsal.Start(bed, lb, port, &logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bed.StopLB(); err != nil {
			t.Errorf("lb simulator: %v", err)
		}
		if two := r.TwoHealthy(); len(two) > 0 {
			t.Errorf("never two healthy backends at once, but: %v", two)
		}
	})
	return r, bed
}

type logWriter struct{ t *testing.T }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// a) node1 active: the client gets "node1" through the VIP.
func TestActive(t *testing.T) {
	r, bed := setup(t, nil, lbsim.Config{})
	a, err := r.Activate(ctx(t), bed.Node("node1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore %s, LB routes to node1 %s after restore began", a.Restore, a.Routed)
}

// b) switchover: remove on node1, restore on node2: the client gets "node2"
// within interval × threshold + 1 s, in both probe protocols.
func TestSwitchover(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]string
		lb       lbsim.Config
	}{
		{"tcp", nil, lbsim.Config{}},
		{"http", map[string]string{"protocol": "http", "http_path": "/healthz"},
			lbsim.Config{Protocol: "http", Path: "/healthz"}},
		{"http drain", map[string]string{"protocol": "http", "http_path": "/healthz", "drain": "400ms"},
			lbsim.Config{Protocol: "http", Path: "/healthz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, bed := setup(t, tc.settings, tc.lb)
			c := ctx(t)
			if _, err := r.Activate(c, bed.Node("node1")); err != nil {
				t.Fatal(err)
			}
			s, err := r.Switchover(c, bed.Node("node1"), bed.Node("node2"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("switchover %s, gap %s (remove %s, restore %s; LB: node1 down +%s, node2 up +%s; %d requests failed)",
				s.FirstNew, s.Gap, s.Remove, s.Restore, s.Down, s.Up, s.Failed)
			if s.FirstNew > r.Bound() {
				t.Errorf("switchover took %s, more than interval × threshold + 1 s = %s", s.FirstNew, r.Bound())
			}
		})
	}
}

// c) the responder stops while the VIP stays: the LB stops routing and the
// client gets no answer.
func TestProbeLost(t *testing.T) {
	r, bed := setup(t, nil, lbsim.Config{})
	c := ctx(t)
	if _, err := r.Activate(c, bed.Node("node1")); err != nil {
		t.Fatal(err)
	}
	l, err := r.LoseProbe(c, bed.Node("node1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LB marked node1 down %s after its responder stopped", l.Down)
	if l.Down > r.Bound() {
		t.Errorf("marked down after %s, more than interval × threshold + 1 s = %s", l.Down, r.Bound())
	}
}

// d) kill -9 of the active responder: the LB marks it down after interval ×
// threshold; recover brings it back and traffic returns.
func TestCrash(t *testing.T) {
	r, bed := setup(t, nil, lbsim.Config{})
	c := ctx(t)
	if _, err := r.Activate(c, bed.Node("node1")); err != nil {
		t.Fatal(err)
	}
	d, err := r.Crash(c, bed.Node("node1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LB marked node1 down %s after kill -9; recover %s; traffic back %s after recover began", d.Down, d.Recover, d.Back)
	if d.Down > r.Bound() {
		t.Errorf("marked down after %s, more than interval × threshold + 1 s = %s", d.Down, r.Bound())
	}
	if d.Back > r.Bound() {
		t.Errorf("traffic back after %s, more than interval × threshold + 1 s = %s", d.Back, r.Bound())
	}
}

// TestAzureIPv6: an IPv6 VIP behind Azure's load balancer, whose IPv6
// probes come from the link-local fe80::1234:5678:9abc to the node's own
// global IPv6 address. With that source in allow the node turns healthy
// and a switchover works; with an allow of the load balancer's addresses
// alone (as an IPv4 setup's allow of 168.63.129.16 would be) the probes
// never get an answer.
func TestAzureIPv6(t *testing.T) {
	vip := testbed.DefaultVIP6
	t.Run("allow with fe80::1234:5678:9abc", func(t *testing.T) {
		r, bed := setupBed(t, testbed.Options{VIP: vip}, map[string]string{"allow": "fe80::1234:5678:9abc"}, lbsim.Config{})
		c := ctx(t)
		if _, err := r.Activate(c, bed.Node("node1")); err != nil {
			t.Fatal(err)
		}
		s, err := r.Switchover(c, bed.Node("node1"), bed.Node("node2"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("IPv6 switchover %s, gap %s", s.FirstNew, s.Gap)
		if s.FirstNew > r.Bound() {
			t.Errorf("switchover took %s, more than %s", s.FirstNew, r.Bound())
		}
	})
	t.Run("allow without it", func(t *testing.T) {
		r, bed := setupBed(t, testbed.Options{VIP: vip}, map[string]string{"allow": "fd00:1::1,fd00:2::1"}, lbsim.Config{})
		_, err := r.Activate(ctx(t), bed.Node("node1"))
		if err == nil || !strings.Contains(err.Error(), "LB: node1 did not turn healthy") || !strings.Contains(err.Error(), "i/o timeout") {
			t.Fatalf("Activate: %v, want node1 never healthy, its probes timing out (the allow filter drops their SYNs)", err)
		}
	})
}
