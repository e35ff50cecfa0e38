package responder

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Abuse of the probe port (issue 8): the numbers are the issue's.

// TestIdleConnectionsDoNotBlockProbes: idle connections held open (the
// issue's 1,000, and a small case) do not stop concurrent probes from being
// answered, in both modes.
func TestIdleConnectionsDoNotBlockProbes(t *testing.T) {
	for _, size := range []struct{ idle, probes int }{{50, 100}, {1000, 200}} {
		for _, proto := range []string{"tcp", "http"} {
			t.Run(fmt.Sprintf("%s/%d idle", proto, size.idle), func(t *testing.T) {
				s := start(t, Options{Protocol: proto, Deadline: 30 * time.Second})
				var idle []net.Conn
				defer func() {
					for _, c := range idle {
						c.Close()
					}
				}()
				for i := 0; i < size.idle; i++ {
					c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
					if err != nil {
						t.Fatalf("idle connection %d: %v", i, err)
					}
					idle = append(idle, c)
				}
				errs := make(chan error, size.probes)
				for i := 0; i < size.probes; i++ {
					go func() { errs <- Probe(proto, s.Addr(), "/", nil, probeTimeout) }()
				}
				failed := 0
				for i := 0; i < size.probes; i++ {
					if err := <-errs; err != nil {
						failed++
						t.Log(err)
					}
				}
				if failed > 0 {
					t.Errorf("%d of %d probes failed with %d idle connections open", failed, size.probes, size.idle)
				}
			})
		}
	}
}

func TestGarbageInput(t *testing.T) {
	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	for _, proto := range []string{"tcp", "http"} {
		for _, tc := range []struct {
			name string
			data []byte
		}{
			{"random bytes", random},
			{"1 MiB request", append([]byte("GET /"), bytes.Repeat([]byte("A"), 1<<20)...)},
			{"NUL bytes", make([]byte, 8192)},
			{"header flood", []byte("GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 2000))},
		} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				s := start(t, Options{Protocol: proto, Deadline: 500 * time.Millisecond, Message: msgFor(proto)})
				c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(probeTimeout))
				go func() { _, _ = c.Write(tc.data) }()
				got, _ := io.ReadAll(c) // returns once the server closes
				if len(got) > 200 {
					t.Errorf("server sent %d bytes back", len(got))
				}
				// Only the configured message or a fixed HTTP status line, never
				// the input.
				if proto == "tcp" && len(got) > 0 && string(got) != "ok" || proto == "http" && len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 4")) {
					t.Errorf("server answered %q", got)
				}
				if err := Probe(proto, s.Addr(), "/", msgFor(proto), probeTimeout); err != nil {
					t.Errorf("probe after %s: %v", tc.name, err)
				}
			})
		}
	}
}

func msgFor(proto string) []byte {
	if proto == "tcp" {
		return []byte("ok")
	}
	return nil
}

// TestDrip sends one byte every 100 ms: the deadline closes the connection
// however slowly the bytes come.
func TestDrip(t *testing.T) {
	s := start(t, Options{Protocol: "http", Deadline: 500 * time.Millisecond})
	c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan time.Time, 1)
	go func() {
		_, _ = io.ReadAll(c)
		closed <- time.Now()
	}()
	t0 := time.Now()
	for i := 0; i < 50; i++ { // at most 5 s of dripping
		if _, err := c.Write([]byte("G")); err != nil {
			break
		}
		select {
		case at := <-closed:
			if at.Sub(t0) > 3*time.Second {
				t.Errorf("drip connection closed after %v, deadline is 500ms", at.Sub(t0))
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("a dripping client kept the connection open for 5 s")
}

// TestNoBannerNoEcho: the responder says nothing about itself and never
// repeats what it was sent.
func TestNoBannerNoEcho(t *testing.T) {
	secret := "ZQX-canary-7781"
	for _, tc := range []struct {
		proto, req string
	}{
		{"tcp", secret},
		{"http", "GET /" + secret + " HTTP/1.1\r\nHost: " + secret + "\r\n\r\n"},
		{"http", "GET / HTTP/1.1\r\nX: " + secret + "\r\n\r\n"},
		{"http", secret + "\r\n\r\n"},
	} {
		s := start(t, Options{Protocol: tc.proto})
		got, _ := exchange(t, s.Addr(), tc.req)
		low := strings.ToLower(got)
		if strings.Contains(got, secret) || strings.Contains(low, "server:") || strings.Contains(low, "ilbvip") || strings.Contains(low, "go-http") {
			t.Errorf("%s %q: reply %q echoes input or names the software", tc.proto, tc.req, got)
		}
	}
}
