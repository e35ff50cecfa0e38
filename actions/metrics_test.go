//go:build linux

package actions_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/ilbvip/ilbvip/internal/promcheck"
	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
)

// The tests of issue 18: quickCheck --metrics of a running resource whose
// counters move with the load balancer's probes, of a stopped one and of
// one silent because its VIP is gone; expfmt parses each output and
// promtool check metrics accepts it.

// metrics runs quickCheck --metrics, wants exit code, and returns the
// parsed, promtool-checked families.
func (n *node) metrics(code int, a []string) map[string]*dto.MetricFamily {
	n.t.Helper()
	r := n.want("quickCheck", code, append(a, "--metrics")...)
	return promcheck.Check(n.t, r.stdout)
}

// value is family name's one sample (extra: labels it must also have,
// "state" for ilbvip_state); ok is false when absent.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, extra ...string) (float64, bool) {
	t.Helper()
	want := map[string]string{}
	for i := 0; i+1 < len(extra); i += 2 {
		want[extra[i]] = extra[i+1]
	}
	return promcheck.Value(t, fams, name, want)
}

// wantValues checks families against want (-1: absent).
func wantValues(t *testing.T, fams map[string]*dto.MetricFamily, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		got, ok := value(t, fams, name)
		switch {
		case w == -1 && ok:
			t.Errorf("%s = %v, want it absent", name, got)
		case w != -1 && (!ok || got != w):
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, w)
		}
	}
}

// wantState checks ilbvip_state's one-hot samples.
func wantState(t *testing.T, fams map[string]*dto.MetricFamily, state string) {
	t.Helper()
	for _, s := range []string{"running", "stopped", "failed", "silent"} {
		v, ok := value(t, fams, "ilbvip_state", "state", s)
		if want := map[bool]float64{true: 1}[s == state]; !ok || v != want {
			t.Errorf("ilbvip_state{state=%q} = %v (present %v), want %v", s, v, ok, want)
		}
	}
}

// TestMetricsRunning: a restored resource's metrics say running, and its
// counters move with the load balancer's probes: five probes from the
// LB's namespace are five answered, and quickCheck's own self-probes are
// counted apart, never as the load balancer's.
func TestMetricsRunning(t *testing.T) {
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			n := newLBNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1", "--protocol", proto)
			n.want("restore", ocf.Success, a...)
			fams := n.metrics(0, a)
			wantState(t, fams, "running")
			wantValues(t, fams, map[string]float64{"ilbvip_up": 1, "ilbvip_probe_answering": 1, "ilbvip_vip_present": 1,
				"ilbvip_probes_answered_total": 0, "ilbvip_probes_rejected_total": 0})
			if v, _ := value(t, fams, "ilbvip_probes_answered_total", "tag", "t1", "port", "12345", "vip", "10.10.5.200"); v != 0 {
				t.Errorf("labels tag, port, vip: answered %v", v)
			}
			start, ok := value(t, fams, "ilbvip_responder_start_time_seconds")
			if !ok || start < 1.7e9 {
				t.Errorf("ilbvip_responder_start_time_seconds = %v (present %v)", start, ok)
			}

			for i := 0; i < 5; i++ {
				if err := n.lbProbe(proto, 12345); err != nil {
					t.Fatalf("LB probe %d: %v", i, err)
				}
			}
			eventually(t, "five answered probes in the metrics", func() (bool, string) {
				fams := n.metrics(0, a)
				answered, _ := value(t, fams, "ilbvip_probes_answered_total")
				self, _ := value(t, fams, "ilbvip_self_probes_total")
				last, _ := value(t, fams, "ilbvip_last_lb_probe_seconds")
				got := fmt.Sprintf("answered %v, self-probes %v, last LB probe %vs ago", answered, self, last)
				return answered == 5 && self >= 2 && last < 15, got
			})
			if s2, _ := value(t, n.metrics(0, a), "ilbvip_responder_start_time_seconds"); s2 != start {
				t.Errorf("the start time moved without a restart: %v -> %v", start, s2)
			}
			n.want("remove", ocf.Success, a...)
		})
	}
}

// TestMetricsStopped: a stopped resource still writes its metrics (state
// stopped, up 0, nothing answers, no VIP) with quickCheck's exit 7 and its
// one line on stderr; no counters without a responder. Without a VIP there
// is no vip label and no ilbvip_vip_present.
func TestMetricsStopped(t *testing.T) {
	n := newNode(t)
	for _, tc := range []struct {
		name  string
		extra []string
		vip   float64
	}{
		{"vip", []string{"--vip", "10.10.5.200", "--interface", "eth1"}, 0},
		{"responder only", nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := n.args("t1", 12345, tc.extra...)
			r := n.want("quickCheck", ocf.NotRunning, append(a, "--metrics")...)
			if !strings.Contains(r.stderr, "stopped") {
				t.Errorf("stderr lacks quickCheck's line: %q", r.stderr)
			}
			fams := promcheck.Check(t, r.stdout)
			wantState(t, fams, "stopped")
			wantValues(t, fams, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 0, "ilbvip_vip_present": tc.vip,
				"ilbvip_probes_answered_total": -1, "ilbvip_self_probes_total": -1, "ilbvip_last_lb_probe_seconds": -1,
				"ilbvip_responder_start_time_seconds": -1})
			if tc.vip == -1 && strings.Contains(r.stdout, "vip=") {
				t.Errorf("a vip label without a VIP:\n%s", r.stdout)
			}
		})
	}
	if f := n.stateFiles(); len(f) != 0 {
		t.Errorf("quickCheck --metrics of a stopped resource left files: %v", f)
	}
}

// TestMetricsStoppedWithStranger: another program on the probe port of a
// stopped resource answers the load balancer all the same: the resource
// stays stopped (7) and up 0, but ilbvip_probe_answering is 1, so "two
// nodes answer at once" sees it.
func TestMetricsStoppedWithStranger(t *testing.T) {
	testenv.RequireTools(t, "socat")
	n := newNode(t)
	n.startStranger("TCP-LISTEN:12345,fork,reuseaddr")
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	fams := n.metrics(7, a)
	wantState(t, fams, "stopped")
	wantValues(t, fams, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 1, "ilbvip_vip_present": 0})
}

// TestMetricsSilentVIPGone: the VIP deleted behind the kit's back makes the
// responder silent; the metrics say silent (up 0, not answering, VIP
// absent) with exit 1, and keep the counters of what it answered before.
// A probe that arrives in the few milliseconds before the responder
// notices the deletion is still answered (the netlink notification is not
// instant), so the count after is at least the count before; once silent,
// refused probes never move it.
func TestMetricsSilentVIPGone(t *testing.T) {
	n := newLBNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	if err := n.lbProbe("tcp", 12345); err != nil {
		t.Fatalf("LB probe after restore: %v", err)
	}
	before := answeredNow(t, n, 0, a, 1)
	n.ns.MustRun(t, "ip", "addr", "del", "10.10.5.200/32", "dev", "eth1")
	n.waitSilent("tcp", 12345)
	eventually(t, "metrics say silent", func() (bool, string) {
		r := n.run("quickCheck", nil, append(a, "--metrics")...)
		v, _ := value(t, promcheck.Parse(t, r.stdout), "ilbvip_state", "state", "silent")
		return r.code == ocf.ErrGeneric && v == 1, r.String()
	})
	fams := n.metrics(1, a)
	wantState(t, fams, "silent")
	wantValues(t, fams, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 0, "ilbvip_vip_present": 0})
	if last, ok := value(t, fams, "ilbvip_last_lb_probe_seconds"); !ok || last < 0 {
		t.Errorf("ilbvip_last_lb_probe_seconds = %v (present %v)", last, ok)
	}
	// A probe answered in the race is written within statsInterval.
	time.Sleep(statsSettle)
	after := answeredNow(t, n, 1, a, -1)
	if after < before {
		t.Fatalf("ilbvip_probes_answered_total went back from %v to %v", before, after)
	}
	for i := 0; i < 5; i++ {
		if err := n.lbProbe("tcp", 12345); !silentProbe("tcp", err) {
			t.Fatalf("LB probe %d while silent: %v, want refused", i, err)
		}
	}
	time.Sleep(statsSettle)
	if got := answeredNow(t, n, 1, a, -1); got != after {
		t.Errorf("ilbvip_probes_answered_total moved from %v to %v while every probe was refused", after, got)
	}
	n.want("remove", ocf.Success, a...)
}

// statsSettle outlasts the responder's stats interval (one second): a
// counter that moved is in the stats file after it.
const statsSettle = 1500 * time.Millisecond

// answeredNow is ilbvip_probes_answered_total (quickCheck exit code); with
// want >= 0 it waits until the metric says want.
func answeredNow(t *testing.T, n *lbNode, code int, a []string, want float64) float64 {
	t.Helper()
	var v float64
	var ok bool
	if want < 0 {
		if v, ok = value(t, n.metrics(code, a), "ilbvip_probes_answered_total"); !ok {
			t.Fatal("ilbvip_probes_answered_total absent")
		}
		return v
	}
	eventually(t, fmt.Sprintf("ilbvip_probes_answered_total = %v", want), func() (bool, string) {
		v, ok = value(t, n.metrics(code, a), "ilbvip_probes_answered_total")
		return ok && v == want, fmt.Sprintf("%v (present %v)", v, ok)
	})
	return v
}

// TestMetricsDeadResponderWithStranger: the resource's responder is gone
// (killed; its pid file lost too; the whole state directory lost, its VIP
// left behind) and another program listens on the probe port: the load
// balancer's probe is answered all the same, so ilbvip_probe_answering is
// 1, and quickCheck's failure names the program (first, unless the
// problem that comes with the state's own fix names it already).
func TestMetricsDeadResponderWithStranger(t *testing.T) {
	testenv.RequireTools(t, "socat")
	for _, tc := range []struct {
		name  string
		after func(n *node) // once the responder is dead
	}{
		{"responder killed", func(*node) {}},
		{"pid file lost", func(n *node) {
			if err := os.Remove(filepath.Join(n.sd, "t1.pid")); err != nil {
				n.t.Fatal(err)
			}
		}},
		{"state directory lost, vip left behind", func(n *node) { n.wipeState() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
			n.want("restore", ocf.Success, a...)
			n.killResponder("t1")
			tc.after(n)
			n.startStranger("TCP-LISTEN:12345,fork,reuseaddr")
			r := n.want("quickCheck", ocf.ErrGeneric, a...)
			if !strings.Contains(r.stderr, "socat (pid") {
				t.Errorf("quickCheck does not name the program on the port: %v", r)
			}
			fams := n.metrics(1, a)
			wantState(t, fams, "failed")
			wantValues(t, fams, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 1, "ilbvip_vip_present": 1})
		})
	}
}

// TestMetricsDraining: while remove drains in http mode the responder
// answers the probe with 503, so the node no longer answers the load
// balancer: ilbvip_probe_answering is 0 as soon as the LB sees a 503.
func TestMetricsDraining(t *testing.T) {
	n := newLBNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1", "--protocol", "http", "--drain", "4s")
	n.want("restore", ocf.Success, a...)
	wantValues(t, n.metrics(0, a), map[string]float64{"ilbvip_probe_answering": 1})
	done := make(chan result, 1)
	go func() { done <- n.run("remove", nil, a...) }()
	eventually(t, "the LB's probe gets 503", func() (bool, string) {
		err := n.lbProbe("http", 12345)
		return silentProbe("http", err), fmtErr(err)
	})
	r := n.run("quickCheck", nil, append(a, "--metrics")...)
	fams := promcheck.Check(t, r.stdout)
	if v, ok := value(t, fams, "ilbvip_probe_answering"); !ok || v != 0 {
		t.Errorf("ilbvip_probe_answering = %v (present %v) while the probe gets 503; quickCheck: %v", v, ok, r)
	}
	if rr := <-done; rr.code != ocf.Success {
		t.Fatalf("remove: %v", rr)
	}
}

// TestMetricsStoppedVIPByHand: a VIP an admin added by hand is not this
// stopped resource's: still stopped (7), ilbvip_vip_present 1, and the one
// line on stderr says the VIP is there but not the resource's doing (it
// said "no vip").
func TestMetricsStoppedVIPByHand(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.ns.MustRun(t, "ip", "addr", "add", "10.10.5.200/32", "dev", "eth1")
	r := n.want("quickCheck", ocf.NotRunning, append(a, "--metrics")...)
	if !strings.Contains(r.stderr, "vip 10.10.5.200/32 is on eth1 but this resource did not add it") || strings.Contains(r.stderr, "no vip") {
		t.Errorf("stderr does not say the VIP is there, added by someone else: %q", r.stderr)
	}
	fams := promcheck.Check(t, r.stdout)
	wantState(t, fams, "stopped")
	wantValues(t, fams, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 0, "ilbvip_vip_present": 1})
	if r := n.want("quickCheck", ocf.NotRunning, a...); !strings.Contains(r.stderr, "did not add it") {
		t.Errorf("plain quickCheck: %v", r)
	}
}
