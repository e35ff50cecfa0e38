package daemon

import (
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ilbvip/ilbvip/pkg/responder"
)

// The gate turns vip.Watch's verdicts into the responder's state and the
// stats file's silent fields; a real responder on loopback shows both.
func TestGate(t *testing.T) {
	g, srv := newGate(t)
	changed := make(chan struct{}, 1)
	g.changed = changed
	probe := func() error { return responder.Probe("tcp", srv.Addr(), "", nil, 5*time.Second) }

	if silent, _, _ := g.state(); silent {
		t.Fatal("silent before any verdict")
	}
	g.update(errors.New("check vip 10.10.5.200/32 on eth1: address is not on the interface"))
	silent, since, why := g.state()
	if !silent || since.IsZero() || !strings.Contains(why, "not on the interface") {
		t.Fatalf("after a problem: silent %t since %v why %q", silent, since, why)
	}
	select {
	case <-changed:
	default:
		t.Error("going silent did not wake the stats writer")
	}
	if err := probe(); err == nil {
		t.Error("probe answered while silent")
	}
	g.update(errors.New("check vip 10.10.5.200/32 on eth1: interface eth1 is down"))
	if _, since2, why2 := g.state(); !since2.Equal(since) || !strings.Contains(why2, "down") {
		t.Errorf("a second problem: since %v (want %v kept), why %q", since2, since, why2)
	}
	g.update(nil)
	if silent, since, why := g.state(); silent || !since.IsZero() || why != "" {
		t.Errorf("after the VIP came back: silent %t since %v why %q", silent, since, why)
	}
	if err := probe(); err != nil {
		t.Errorf("probe after the VIP came back: %v", err)
	}
}

// A port taken while the responder was silent keeps it silent, saying why,
// and a retry is armed.
func TestGatePortTaken(t *testing.T) {
	g, srv := newGate(t)
	g.update(errors.New("vip gone"))
	other, err := responder.Listen(responder.Options{Protocol: "tcp", Addr: srv.Addr()})
	if err != nil {
		t.Fatalf("take the port: %v", err)
	}
	defer other.Close()
	g.update(nil)
	silent, _, why := g.state()
	if !silent || !strings.Contains(why, "cannot listen again") || !strings.Contains(why, "already in use") {
		t.Errorf("port taken: silent %t why %q", silent, why)
	}
	g.mu.Lock()
	armed := g.retry != nil
	if armed {
		g.retry.Stop()
	}
	g.mu.Unlock()
	if !armed {
		t.Error("no retry armed")
	}
}

// newGate is a gate over a real tcp responder on loopback.
func newGate(t *testing.T) (*gate, *responder.Server) {
	t.Helper()
	srv, err := responder.Listen(responder.Options{Protocol: "tcp", Addr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve() }()
	t.Cleanup(func() { _ = srv.Close() })
	log := logrus.New()
	log.SetOutput(io.Discard)
	return &gate{srv: srv, log: log, changed: make(chan struct{}, 1)}, srv
}
