package lbsim

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// twoNodes builds an LB namespace with two node namespaces behind it
// (10.0.1.2, 10.0.2.2, default route via the LB).
func twoNodes(t *testing.T) (lb *testenv.NS, nodes [2]*testenv.NS) {
	lb = testenv.NewNS(t)
	for i := range nodes {
		n := testenv.NewNS(t)
		x := string(rune('1' + i))
		lb.Veth(t, "be"+x, "10.0."+x+".1/24", n, "eth0", "10.0."+x+".2/24")
		n.MustRun(t, "ip", "route", "add", "default", "via", "10.0."+x+".1")
		nodes[i] = n
	}
	return lb, nodes
}

func listen(t *testing.T, ns *testenv.NS, addr string) *responder.Server {
	t.Helper()
	var srv *responder.Server
	ns.Do(t, func() {
		var err error
		if srv, err = responder.Listen(responder.Options{Protocol: "tcp", Addr: netip.MustParseAddrPort(addr)}); err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
	})
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func runSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return sim
}

func waitEvent(t *testing.T, sim *Sim, since time.Time, kind Kind, backend string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		for _, e := range sim.Events() {
			if !e.Time.Before(since) && e.Kind == kind && (backend == "" || e.Backend == backend) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s %s; events %s", kind, backend, summary(sim.Events()))
}

// TestGCPProbesTheVIP: Google Cloud's health checks go to the VIP through
// each backend, so a responder bound to the node's own address never
// answers one; without a failover policy, no healthy backend sends the
// VIP's traffic to both (a multipath route).
func TestGCPProbesTheVIP(t *testing.T) {
	lb, nodes := twoNodes(t)
	for _, n := range nodes {
		n.MustRun(t, "ip", "addr", "add", "10.10.5.200/32", "dev", "lo")
	}
	good := listen(t, nodes[0], "0.0.0.0:12345") // listens on every address, the VIP included
	_ = listen(t, nodes[1], "10.0.2.2:12345")    // bind on the node's own address
	sim := runSim(t, Config{
		Cloud: GCP, VIP: netip.MustParseAddr("10.10.5.200"), Netns: lb.Name,
		Backends: []Backend{{"node1", netip.MustParseAddrPort("10.0.1.2:12345")}, {"node2", netip.MustParseAddrPort("10.0.2.2:12345")}},
		Interval: 30 * time.Millisecond, Threshold: 2,
	})
	waitEvent(t, sim, time.Time{}, Routed, "node1")
	time.Sleep(150 * time.Millisecond) // several rounds: node2 stays down
	if err := sim.LastError("node2"); err == nil || !strings.Contains(err.Error(), "connect 10.10.5.200:12345: connection refused") {
		t.Errorf("node2 (bound to its own address): last probe %v, want refused at the VIP", err)
	}
	for _, e := range sim.Events() {
		if e.Backend == "node2" {
			t.Errorf("node2 must never turn healthy: %s", summary(sim.Events()))
		}
	}
	t0 := time.Now()
	_ = good.Close()
	waitEvent(t, sim, t0, ToAll, "")
	route := lb.MustRun(t, "ip", "route", "show", "10.10.5.200/32")
	if !strings.Contains(route, "nexthop via 10.0.1.2") || !strings.Contains(route, "nexthop via 10.0.2.2") {
		t.Errorf("no failover policy, no healthy backend: route %q, want both nexthops", route)
	}
}

// TestAWSProxy: an AWS Network Load Balancer has no Floating IP: clients
// connect to the frontend, and the target answers at its own address; with
// no healthy target it fails open and both targets get connections.
func TestAWSProxy(t *testing.T) {
	lb, nodes := twoNodes(t)
	for i, n := range nodes {
		name := []string{"node1", "node2"}[i]
		var ln net.Listener
		n.Do(t, func() {
			var err error
			if ln, err = net.Listen("tcp", ":8080"); err != nil {
				t.Fatal(err)
			}
		})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
	}
	probe := listen(t, nodes[0], "10.0.1.2:12345")
	sim := runSim(t, Config{
		Cloud: AWS, VIP: netip.MustParseAddr("10.10.5.200"), Netns: lb.Name, Listeners: []uint16{8080},
		Backends: []Backend{{"node1", netip.MustParseAddrPort("10.0.1.2:12345")}, {"node2", netip.MustParseAddrPort("10.0.2.2:12345")}},
		Interval: 30 * time.Millisecond, Threshold: 2,
	})
	// One request per connection, dialled from the LB's namespace.
	get := func() string {
		var c net.Conn
		var err error
		lb.Do(t, func() { c, err = net.DialTimeout("tcp", "10.10.5.200:8080", time.Second) })
		if err != nil {
			return "error: " + err.Error()
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
			return "error: " + err.Error()
		}
		b, _ := io.ReadAll(c)
		_, body, _ := strings.Cut(string(b), "\r\n\r\n")
		return body
	}
	waitEvent(t, sim, time.Time{}, Routed, "node1")
	for i := 0; i < 4; i++ {
		if got := get(); got != "node1" {
			t.Fatalf("through the NLB: %q, want node1", got)
		}
	}
	t0 := time.Now()
	_ = probe.Close()
	waitEvent(t, sim, t0, ToAll, "")
	seen := map[string]int{}
	for i := 0; i < 6; i++ {
		seen[get()]++
	}
	if seen["node1"] == 0 || seen["node2"] == 0 {
		t.Errorf("fail open: answers %v, want both nodes", seen)
	}
	if out := lb.MustRun(t, "ip", "-br", "addr", "show", "dev", "lo"); !strings.Contains(out, "10.10.5.200/32") {
		t.Errorf("the frontend address is not on the LB's lo: %q", out)
	}
}
