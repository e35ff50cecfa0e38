package lbsim

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// TestNetlinkRoute runs the simulator in one namespace in front of a
// responder in another: a blackhole first, the VIP/32 route via the backend
// when it is up, a blackhole again when it goes down, no route after Run.
func TestNetlinkRoute(t *testing.T) {
	lb, node := testenv.NewNS(t), testenv.NewNS(t)
	lb.Veth(t, "be0", "10.0.9.1/24", node, "eth0", "10.0.9.2/24")
	var srv *responder.Server
	node.Do(t, func() {
		var err error
		srv, err = responder.Listen(responder.Options{Protocol: "tcp", Addr: netip.MustParseAddrPort("10.0.9.2:12345")})
		if err != nil {
			t.Fatalf("listen in node: %v", err)
		}
	})
	go func() { _ = srv.Serve() }()
	defer srv.Close()

	sim, err := New(Config{
		VIP:      netip.MustParseAddr("10.10.5.200"),
		Backends: []Backend{{"node1", netip.MustParseAddrPort("10.0.9.2:12345")}},
		Interval: 20 * time.Millisecond, Threshold: 2,
		Netns: lb.Name,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	defer func() { cancel(); <-done }()

	route := func() string { return lb.MustRun(t, "ip", "route", "show", "10.10.5.200/32") }
	waitRoute := func(want string) {
		t.Helper()
		for i := 0; i < 500; i++ {
			if strings.Contains(route(), want) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("route %q, want %q; events %s", route(), want, summary(sim.Events()))
	}
	waitRoute("10.10.5.200 via 10.0.9.2 dev be0")
	_ = srv.Close()
	waitRoute("blackhole 10.10.5.200")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil
	if r := route(); r != "" {
		t.Errorf("route after Run: %q, want none", r)
	}
}

// TestRunRefusesHostNamespace: with its own router and no Netns, Run routes
// in the caller's namespace; in the host's (the test's) it refuses before
// setting anything, whatever /proc/1 lets it read.
func TestRunRefusesHostNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	if testenv.InNamedNetns() {
		testenv.SkipOrFail(t, "the test runs inside a named namespace, not the host's")
	}
	sim, err := New(Config{
		VIP:      netip.MustParseAddr("10.10.5.202"),
		Backends: []Backend{{"node1", netip.MustParseAddrPort("127.0.0.1:1")}},
		Interval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := sim.Run(ctx); err == nil || !strings.Contains(err.Error(), "refusing to run in the host's network namespace") {
		t.Fatalf("Run in the host's namespace: %v, want a refusal", err)
	}
}
