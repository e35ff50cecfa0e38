package responder

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkAccept measures the accept path alone: a client connects and
// waits for the server's FIN (the connection was accepted, handled and
// half-closed), then resets; no message, no request. With idle=N, N
// connections opened first stay open throughout (the server keeps them
// until the client closes or their deadline, which outlasts the benchmark).
func BenchmarkAccept(b *testing.B) {
	for _, tc := range []struct {
		proto string
		idle  int
	}{
		{"tcp", 0},
		{"tcp", 1000},
		{"http", 1000},
	} {
		b.Run(fmt.Sprintf("%s/idle=%d", tc.proto, tc.idle), func(b *testing.B) {
			s := start(b, Options{Protocol: tc.proto, Deadline: time.Minute})
			addr := net.TCPAddrFromAddrPort(s.Addr())
			held := make([]*net.TCPConn, 0, tc.idle)
			b.Cleanup(func() {
				for _, c := range held {
					_ = c.SetLinger(0)
					c.Close()
				}
			})
			for range tc.idle {
				c, err := net.DialTCP("tcp", nil, addr)
				if err != nil {
					b.Fatalf("idle connection %d: %v", len(held), err)
				}
				held = append(held, c)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := acceptOnce(addr, tc.proto); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// acceptOnce connects and waits for the server's FIN: in tcp mode at once,
// in http mode after answering a GET of its path.
func acceptOnce(addr *net.TCPAddr, proto string) error {
	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		return err
	}
	// A reset, not a FIN: a long run must not fill the port range with
	// TIME_WAIT sockets.
	defer func() { _ = c.SetLinger(0); c.Close() }()
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if proto == "http" {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: b\r\n\r\n"); err != nil {
			return err
		}
	}
	_, err = io.Copy(io.Discard, c)
	return err
}
