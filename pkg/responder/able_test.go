package responder

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// While the node cannot take the VIP's traffic, tcp mode refuses new
// connections (the listener is closed) and http mode answers 503; both
// answer again on the same port after SetAble(true), with no restart.
func TestSetAble(t *testing.T) {
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			s := start(t, Options{Protocol: proto, Message: []byte("OK"), HTTPPath: "/h"})
			expect := []byte("OK")
			if proto == "http" {
				expect = []byte("OK\n")
			}
			probe := func() error { return Probe(proto, s.Addr(), "/h", expect, probeTimeout) }
			for round := range 3 {
				if err := probe(); err != nil {
					t.Fatalf("round %d, able: %v", round, err)
				}
				if err := s.SetAble(false); err != nil {
					t.Fatalf("SetAble(false): %v", err)
				}
				err := probe()
				switch {
				case proto == "tcp" && !errors.Is(err, errRefused):
					t.Fatalf("round %d, unable: %v, want connection refused", round, err)
				case proto == "http" && (err == nil || err.Error() != "http status 503"):
					t.Fatalf("round %d, unable: %v, want http status 503", round, err)
				}
				if err := s.SetAble(false); err != nil { // idempotent
					t.Fatalf("SetAble(false) again: %v", err)
				}
				if err := s.SetAble(true); err != nil {
					t.Fatalf("SetAble(true): %v", err)
				}
			}
			if got := s.Stats().Answered + s.Stats().Local; got == 0 {
				t.Errorf("no probe counted")
			}
		})
	}
}

// A port taken by another program while the responder was silent is a
// *BindError naming it; the responder stays silent and can try again.
func TestSetAbleTaken(t *testing.T) {
	s := start(t, Options{Protocol: "tcp"})
	if err := s.SetAble(false); err != nil {
		t.Fatal(err)
	}
	other, err := Listen(Options{Protocol: "tcp", Addr: s.Addr()})
	if err != nil {
		t.Fatalf("another listener on the freed port: %v", err)
	}
	err = s.SetAble(true)
	var be *BindError
	if !errors.As(err, &be) || !be.InUse() {
		t.Fatalf("SetAble(true) with the port taken: %v, want a BindError in use", err)
	}
	other.Close()
	if err := s.SetAble(true); err != nil {
		t.Fatalf("SetAble(true) once free: %v", err)
	}
	if err := Probe("tcp", s.Addr(), "", nil, probeTimeout); err != nil {
		t.Errorf("after the port came back: %v", err)
	}
}

// Close ends a Serve that is paused, and SetAble after Close does nothing.
func TestCloseWhilePaused(t *testing.T) {
	s, err := Listen(Options{Protocol: "tcp", Addr: netip.AddrPortFrom(lo4, 0)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	if err := s.SetAble(false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running 5 s after Close")
	}
	if err := s.SetAble(true); err != nil {
		t.Errorf("SetAble after Close: %v", err)
	}
	if err := Probe("tcp", s.Addr(), "", nil, time.Second); err == nil {
		t.Error("a closed server answers after SetAble(true)")
	}
}
