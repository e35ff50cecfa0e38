package lbsim

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/pkg/responder"
)

func TestParseBackend(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"node1=10.0.1.2:12345", "node1=10.0.1.2:12345", ""},
		{"n-2.b_x=[fd00:1::2]:80", "n-2.b_x=[fd00:1::2]:80", ""},
		{"10.0.1.2:12345", "", "want name=address:port"},
		{"=10.0.1.2:12345", "", "name \"\""},
		{"node 1=10.0.1.2:1", "", "name \"node 1\""},
		{"node1=10.0.1.2", "", "is not address:port"},
		{"node1=10.0.1.2:0", "", "is not address:port"},
		{"node1=10.0.1.2:70000", "", "is not address:port"},
		{"node1=host:80", "", "is not address:port"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			b, err := ParseBackend(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseBackend(%q) = %v, %v; want error with %q", tc.in, b, err, tc.err)
				}
				return
			}
			if err != nil || b.String() != tc.want {
				t.Fatalf("ParseBackend(%q) = %v, %v; want %s", tc.in, b, err, tc.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	good := func() Config {
		return Config{
			VIP:      netip.MustParseAddr("10.10.5.200"),
			Backends: []Backend{{"node1", netip.MustParseAddrPort("10.0.1.2:12345")}},
			Interval: time.Second,
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		err  string
	}{
		{"no vip", func(c *Config) { c.VIP = netip.Addr{} }, "vip is missing"},
		{"no backends", func(c *Config) { c.Backends = nil }, "backends: give 1 to"},
		{"twice", func(c *Config) { c.Backends = append(c.Backends, c.Backends[0]) }, "used twice"},
		{"families", func(c *Config) { c.VIP = netip.MustParseAddr("fd00::200") }, "different IP families"},
		{"protocol", func(c *Config) { c.Protocol = "udp" }, `protocol "udp": use tcp or http`},
		{"path", func(c *Config) { c.Protocol, c.Path = "http", "healthz" }, "start with '/'"},
		{"interval", func(c *Config) { c.Interval = time.Millisecond }, "interval 1ms: use 10ms to 1h0m0s"},
		{"timeout", func(c *Config) { c.Timeout = 2 * time.Second }, "timeout 2s: use more than 0 and at most the interval 1s"},
		{"threshold", func(c *Config) { c.Threshold = -1 }, "threshold -1: use 1 to 100"},
		{"healthy threshold", func(c *Config) { c.HealthyThreshold = 101 }, "healthy threshold 101: use 1 to 100"},
		{"unhealthy threshold", func(c *Config) { c.UnhealthyThreshold = -2 }, "unhealthy threshold -2: use 1 to 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			if _, err := New(c); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("New: %v, want error with %q", err, tc.err)
			}
		})
	}
	s, err := New(good())
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.Protocol != "tcp" || c.Path != "/" || c.Timeout != time.Second || c.Threshold != 2 {
		t.Errorf("defaults: %+v", c)
	}
}

// recorder is a Router that remembers its decisions: the route itself is
// tested for real (netlink, as root) in TestNetlinkRoute.
type recorder struct {
	mu     sync.Mutex
	routes []string // backend name, or "drop"
	closed bool
}

func (r *recorder) Route(to []Backend) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch len(to) {
	case 0:
		r.routes = append(r.routes, "drop")
	case 1:
		r.routes = append(r.routes, to[0].Name)
	default:
		r.routes = append(r.routes, "all")
	}
	return nil
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.routes...)
}

// summary renders events compactly: "up n1", "down n1", "routed n1", "dropped", "two-healthy".
func summary(evs []Event) string {
	var out []string
	for _, e := range evs {
		s := string(e.Kind)
		if e.Backend != "" {
			s += " " + e.Backend
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// TestDefaults: each cloud's documented probe defaults fill what Config
// leaves unset; Threshold stands for both directions, and a direction's
// own threshold overrides it.
func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		cfg                      Config
		interval                 time.Duration
		healthy, unhealthy, both int
	}{
		{"azure", Config{Cloud: Azure}, 5 * time.Second, 2, 2, 2},
		{"gcp", Config{Cloud: GCP}, 5 * time.Second, 2, 2, 2},
		{"aws: 30 s, healthy 5, unhealthy 2", Config{Cloud: AWS, Listeners: []uint16{80}}, 30 * time.Second, 5, 2, 0},
		{"threshold for both", Config{Cloud: AWS, Listeners: []uint16{80}, Threshold: 3}, 30 * time.Second, 3, 3, 3},
		{"one direction overrides", Config{Cloud: GCP, Threshold: 3, UnhealthyThreshold: 1, Interval: time.Second}, time.Second, 3, 1, 3},
		{"both directions set", Config{Cloud: Azure, HealthyThreshold: 4, UnhealthyThreshold: 1}, 5 * time.Second, 4, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.VIP = netip.MustParseAddr("10.10.5.200")
			c.Backends = []Backend{{"n1", netip.MustParseAddrPort("10.0.1.2:1")}}
			s, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Config()
			if got.Interval != tc.interval || got.HealthyThreshold != tc.healthy || got.UnhealthyThreshold != tc.unhealthy || got.Threshold != tc.both {
				t.Errorf("interval %s, healthy %d, unhealthy %d, threshold %d; want %s, %d, %d, %d",
					got.Interval, got.HealthyThreshold, got.UnhealthyThreshold, got.Threshold, tc.interval, tc.healthy, tc.unhealthy, tc.both)
			}
		})
	}
}

// TestSeparateThresholds: a backend comes up after HealthyThreshold
// successes and goes down after UnhealthyThreshold failures, each counted
// on its own (AWS's default: 5 up, 2 down).
func TestSeparateThresholds(t *testing.T) {
	fail := errors.New("connect: connection refused")
	s, err := New(Config{VIP: netip.MustParseAddr("10.10.5.200"), Backends: []Backend{{"n1", netip.MustParseAddrPort("10.0.1.2:1")}},
		Interval: time.Second, HealthyThreshold: 3, UnhealthyThreshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	if err := s.reroute(&rec, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "", "up n1, routed n1", "up n1, routed n1, down n1, dropped"} {
		var res error
		if i == 3 {
			res = fail
		}
		if err := s.apply(&rec, []error{res}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimPrefix(strings.TrimPrefix(summary(s.Events()), "dropped"), ", "); got != want {
			t.Errorf("after round %d: %q, want %q", i+1, got, want)
		}
	}
}

// TestRounds feeds probe rounds straight into the state machine: threshold
// in both directions, stickiness, drops, and the two-healthy report.
func TestRounds(t *testing.T) {
	fail := errors.New("connect: connection refused")
	const o, x = 1, 0 // a round's result for one backend: answered, failed
	for _, tc := range []struct {
		name      string
		threshold int
		rounds    [][]int // per round, per backend
		want      string  // events after the initial "dropped"
	}{
		{"one success is not enough", 2, [][]int{{o, x}, {x, x}, {o, x}}, ""},
		{"threshold successes flip up", 2, [][]int{{o, x}, {o, x}}, "up n1, routed n1"},
		{"threshold 1", 1, [][]int{{o, x}, {x, x}}, "up n1, routed n1, down n1, dropped"},
		{"one failure is not enough", 2, [][]int{{o, x}, {o, x}, {x, x}, {o, x}, {x, x}}, "up n1, routed n1"},
		{"threshold failures flip down", 3, [][]int{{o, x}, {o, x}, {o, x}, {x, x}, {x, x}, {x, x}}, "up n1, routed n1, down n1, dropped"},
		{"switchover in one round", 2, [][]int{{o, x}, {o, x}, {x, o}, {x, o}}, "up n1, routed n1, down n1, up n2, routed n2"},
		{"sticky: the active backend keeps the traffic", 2,
			[][]int{{x, o}, {o, o}, {o, o}, {o, o}},
			"up n2, routed n2, up n1, two-healthy"},
		{"two healthy reported once per episode", 1,
			[][]int{{o, o}, {o, o}, {o, x}, {o, o}},
			"up n1, up n2, two-healthy, routed n1, down n2, up n2, two-healthy"},
		{"the other takes over when the active goes down", 1,
			[][]int{{o, x}, {o, o}, {x, o}, {o, o}},
			"up n1, routed n1, up n2, two-healthy, down n1, routed n2, up n1, two-healthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{
				VIP: netip.MustParseAddr("10.10.5.200"),
				Backends: []Backend{
					{"n1", netip.MustParseAddrPort("10.0.1.2:1")},
					{"n2", netip.MustParseAddrPort("10.0.2.2:1")},
				},
				Interval:  time.Second,
				Threshold: tc.threshold,
			})
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			if err := s.reroute(&rec, time.Now()); err != nil {
				t.Fatal(err)
			}
			for _, round := range tc.rounds {
				res := make([]error, len(round))
				for i, r := range round {
					if r == x {
						res[i] = fail
					}
				}
				if err := s.apply(&rec, res, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			got := strings.TrimPrefix(strings.TrimPrefix(summary(s.Events()), "dropped"), ", ")
			if got != tc.want {
				t.Errorf("events:\n got %s\nwant %s", got, tc.want)
			}
			for _, e := range s.Events() {
				if e.Kind == Down && !strings.Contains(e.Detail, "connection refused") {
					t.Errorf("down event without the probe's error: %+v", e)
				}
			}
		})
	}
}

// TestRun probes real responders on loopback: TCP and HTTP, a refused
// connection and an HTTP 503 are failures, and Run stops on cancel and
// removes its route.
func TestRun(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			var srv [2]*responder.Server
			var backends []Backend
			for i := range srv {
				s, err := responder.Listen(responder.Options{Protocol: proto, Addr: netip.AddrPortFrom(lo, 0), HTTPPath: "/healthz"})
				if err != nil {
					t.Fatal(err)
				}
				go func() { _ = s.Serve() }()
				t.Cleanup(func() { _ = s.Close() })
				srv[i] = s
				backends = append(backends, Backend{[]string{"n1", "n2"}[i], s.Addr()})
			}
			var rec recorder
			events := make(chan Event, 100)
			sim, err := New(Config{
				VIP: netip.MustParseAddr("10.10.5.200"), Backends: backends,
				Protocol: proto, Path: "/healthz",
				Interval: 20 * time.Millisecond, Threshold: 2,
				Router:  &rec,
				OnEvent: func(e Event) { events <- e },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- sim.Run(ctx) }()
			defer func() { cancel(); <-done }()

			wait := func(kind Kind, backend string) Event {
				t.Helper()
				timeout := time.After(10 * time.Second)
				for {
					select {
					case e := <-events:
						if e.Kind == kind && e.Backend == backend {
							return e
						}
					case <-timeout:
						t.Fatalf("no %s %s; events: %s", kind, backend, summary(sim.Events()))
					}
				}
			}
			wait(Routed, "n1") // both come up; n1 is first in order
			if proto == "http" {
				srv[0].SetDraining(true) // 503: a failure
			} else {
				_ = srv[0].Close() // refused: a failure
			}
			d := wait(Down, "n1")
			wait(Routed, "n2")
			if want := map[string]string{"tcp": "refused", "http": "503"}[proto]; !strings.Contains(d.Detail, want) {
				t.Errorf("down detail %q, want %q in it", d.Detail, want)
			}
			if err := sim.LastError("n1"); err == nil {
				t.Errorf("LastError(n1) = nil after failures")
			}
			_ = srv[1].Close()
			wait(Dropped, "")
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			done <- nil // for the deferred receive
			if !rec.closed {
				t.Error("Run did not close its router (the VIP route stays)")
			}
			if got := strings.Join(rec.get(), " "); !strings.HasPrefix(got, "drop n1 n2 drop") {
				t.Errorf("routes %q, want drop n1 n2 drop", got)
			}
			for _, e := range sim.Events() {
				if e.Kind == TwoHealthy {
					// Both answer from the start: the LB must say so.
					return
				}
			}
			t.Errorf("two healthy backends were not reported: %s", summary(sim.Events()))
		})
	}
}
