package responder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

const probeTimeout = 5 * time.Second // generous: a bound, not a timing assertion

var (
	lo4  = netip.MustParseAddr("127.0.0.1")
	lo42 = netip.MustParseAddr("127.0.0.2")
	lo6  = netip.IPv6Loopback()
)

// start listens with o (on 127.0.0.1:0 unless o.Addr says otherwise), serves
// in the background and closes at the end of the test, checking Serve's result.
func start(t testing.TB, o Options) *Server {
	t.Helper()
	if !o.Addr.Addr().IsValid() && o.Addr.Port() == 0 {
		o.Addr = netip.AddrPortFrom(lo4, 0)
	}
	s, err := Listen(o)
	if err != nil {
		t.Fatalf("Listen(%+v): %v", o, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	return s
}

// dialFrom connects from src (any when invalid) or skips when src cannot be
// bound on this host (127.0.0.2 is only local on Linux).
func dialFrom(t testing.TB, src netip.Addr, dst netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{Timeout: timeout}
	if src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	}
	c, err := d.Dial("tcp", dst.String())
	if err != nil && errors.Is(err, syscall.EADDRNOTAVAIL) {
		testenv.SkipOrFail(t, "cannot bind source %v here: %v", src, err)
	}
	return c, err
}

// needSource skips the test when src is not a local address here (127.0.0.2
// is local only on Linux).
func needSource(t testing.TB, src netip.Addr) {
	t.Helper()
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
	if err != nil {
		testenv.SkipOrFail(t, "source %v is not local here: %v", src, err)
	}
	l.Close()
}

// exchange sends req (may be empty) and reads until the server closes.
func exchange(t testing.TB, addr netip.AddrPort, req string) (string, error) {
	t.Helper()
	c, err := dialFrom(t, netip.Addr{}, addr, probeTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if req != "" {
		if _, err := io.WriteString(c, req); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// waitIdle waits (bounded) until the server has closed every connection, so
// that whatever it sends on close has been sent.
func waitIdle(t testing.TB, s *Server) {
	t.Helper()
	for i := 0; s.active.Load() > 0; i++ {
		if i == 500 {
			t.Fatalf("%d connections still open after 5 s", s.active.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTCPMessage(t *testing.T) {
	big := bytes.Repeat([]byte{0, 1, 0xff, '\n'}, MaxMessage/4)
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"text", []byte("OK\n")},
		{"binary max", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{Protocol: "tcp", Message: tc.msg})
			if err := Probe("tcp", s.Addr(), "", tc.msg, probeTimeout); err != nil {
				t.Fatalf("Probe: %v", err)
			}
			got, err := exchange(t, s.Addr(), "")
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if got != string(tc.msg) {
				t.Errorf("received %q, want %q", got, tc.msg)
			}
		})
	}
	t.Run("never echoes", func(t *testing.T) {
		s := start(t, Options{Protocol: "tcp", Message: []byte("hi")})
		got, _ := exchange(t, s.Addr(), "ECHO ME\r\n")
		if strings.Contains(got, "ECHO") {
			t.Errorf("server echoed input: %q", got)
		}
	})
	t.Run("client sends first", func(t *testing.T) {
		// A PROXY header or a request string: the answer, then the end of
		// the stream, never a reset (ECONNRESET here).
		s := start(t, Options{Protocol: "tcp", Message: []byte("OK")})
		for i := 0; i < 20; i++ {
			got, err := exchange(t, s.Addr(), "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")
			if got != "OK" || err != nil {
				t.Fatalf("exchange %d: %q, %v; want \"OK\" and EOF", i, got, err)
			}
		}
	})
	t.Run("no wait for the deadline", func(t *testing.T) {
		// The server reads until the client closes: a probe that closes
		// after the message ends the connection, not the deadline.
		s := start(t, Options{Protocol: "tcp", Message: []byte("OK"), Deadline: time.Minute})
		for i := 0; i < 10; i++ {
			if err := Probe("tcp", s.Addr(), "", []byte("OK"), probeTimeout); err != nil {
				t.Fatal(err)
			}
		}
		waitIdle(t, s)
	})
	t.Run("mismatch", func(t *testing.T) {
		s := start(t, Options{Protocol: "tcp", Message: []byte("up")})
		err := Probe("tcp", s.Addr(), "", []byte("down"), probeTimeout)
		if err == nil || !strings.Contains(err.Error(), "message mismatch") {
			t.Errorf("Probe with wrong expect = %v, want message mismatch", err)
		}
	})
}

func TestHTTP(t *testing.T) {
	s := start(t, Options{Protocol: "http", HTTPPath: "/health"})
	const ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"
	rejected := 0
	for _, tc := range []struct {
		name, req, status string
		rejected          bool
	}{
		{"get", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "200", false},
		{"get 1.0 bare newlines", "GET /health HTTP/1.0\n\n", "200", false},
		{"query ignored", "GET /health?probe=1 HTTP/1.1\r\n\r\n", "200", false},
		{"head", "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", "200", false},
		{"other path", "GET /healthz HTTP/1.1\r\n\r\n", "404", true},
		{"root", "GET / HTTP/1.1\r\n\r\n", "404", true},
		{"post", "POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "405", true},
		{"head other path", "HEAD /x HTTP/1.1\r\n\r\n", "404", true},
		{"garbage", "garbage\r\n\r\n", "400", true},
		{"no version", "GET /health\r\n\r\n", "400", true},
		{"http2", "GET /health HTTP/2.0\r\n\r\n", "400", true},
		{"absolute form", "GET http://x/health HTTP/1.1\r\n\r\n", "400", true},
		{"half-closed mid-request", "GET /health HTTP/1.1\r\n", "400", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := exchangeHalfClose(t, s.Addr(), tc.req)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if !strings.HasPrefix(got, "HTTP/1.1 "+tc.status+" ") {
				t.Fatalf("response %q, want status %s", got, tc.status)
			}
			if tc.rejected {
				rejected++
			}
			for _, bad := range []string{"Server:", "health HTTP", "Host:"} {
				if strings.Contains(got, bad) {
					t.Errorf("response contains %q: %q", bad, got)
				}
			}
			head, body, found := strings.Cut(got, "\r\n\r\n")
			if !found {
				t.Fatalf("no end of header in %q", got)
			}
			if strings.HasPrefix(tc.req, "HEAD") {
				if body != "" {
					t.Errorf("HEAD got body %q", body)
				}
			} else if tc.status == "200" {
				if got != ok+"OK\n" {
					t.Errorf("response %q, want %q", got, ok+"OK\n")
				}
			} else if !strings.Contains(head, "Content-Length: "+strconv.Itoa(len(body))+"\r\n") {
				t.Errorf("Content-Length does not match body %q in %q", body, got)
			}
		})
	}
	if st := s.Stats(); st.Rejected != uint64(rejected) || st.Local != 4 {
		t.Errorf("Stats = %+v, want Rejected %d, Local 4", st, rejected)
	}
}

// TestHTTPLeadingEmptyLines: empty lines before the request line are
// skipped (RFC 9112, 2.2), also when they arrive in a read of their own.
func TestHTTPLeadingEmptyLines(t *testing.T) {
	s := start(t, Options{Protocol: "http", HTTPPath: "/health"})
	for _, tc := range []struct {
		name  string
		parts []string
	}{
		{"crlf", []string{"\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"}},
		{"bare lf", []string{"\nGET /health HTTP/1.0\n\n"}},
		{"two empty lines apart", []string{"\r\n\r\n", "GET /health HTTP/1.1\r\n\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(probeTimeout))
			for _, p := range tc.parts {
				if _, err := io.WriteString(c, p); err != nil {
					t.Fatal(err)
				}
			}
			b, err := io.ReadAll(c)
			if err != nil || !bytes.HasPrefix(b, []byte("HTTP/1.1 200 ")) {
				t.Errorf("got %q, %v; want 200", b, err)
			}
		})
	}
}

// exchangeHalfClose sends req, half-closes, and reads the whole response.
func exchangeHalfClose(t testing.TB, addr netip.AddrPort, req string) (string, error) {
	t.Helper()
	c, err := dialFrom(t, netip.Addr{}, addr, probeTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestDraining(t *testing.T) {
	s := start(t, Options{Protocol: "http", HTTPPath: "/health"})
	probe := func() error { return Probe("http", s.Addr(), "/health", []byte("OK\n"), probeTimeout) }
	if err := probe(); err != nil {
		t.Fatalf("before draining: %v", err)
	}
	s.SetDraining(true)
	if err := probe(); err == nil || err.Error() != "http status 503" {
		t.Errorf("while draining: %v, want http status 503", err)
	}
	got, err := exchange(t, s.Addr(), "GET /health HTTP/1.1\r\n\r\n")
	if err != nil || !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.HasSuffix(got, "\r\n\r\ndraining\n") {
		t.Errorf("while draining: %q, %v", got, err)
	}
	s.SetDraining(false)
	if err := probe(); err != nil {
		t.Errorf("after draining: %v", err)
	}
}

func TestAllowUserSpace(t *testing.T) {
	// The kernel filter is skipped so the disallowed source reaches accept.
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			s := start(t, Options{Protocol: proto, Message: []byte("hello"),
				Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, noKernelFilter: true})
			c, err := dialFrom(t, lo42, s.Addr(), probeTimeout)
			if err != nil {
				t.Fatalf("dial from 127.0.0.2: %v", err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(probeTimeout))
			if proto == "http" {
				_, _ = io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
			}
			b, err := io.ReadAll(c)
			if len(b) != 0 {
				t.Errorf("disallowed source got %q", b)
			}
			if isTimeout(err) {
				t.Errorf("disallowed connection not closed: %v", err)
			}
			expect := []byte("hello")
			if proto == "http" {
				expect = []byte("OK\n")
			}
			if err := Probe(proto, s.Addr(), "/", expect, probeTimeout); err != nil {
				t.Errorf("allowed 127.0.0.1: %v", err)
			}
			if st := s.Stats(); st.Rejected != 1 || st.Answered != 0 || st.Local != 1 {
				t.Errorf("Stats = %+v, want Rejected 1, Local 1", st)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestDeadlineClosesSilentClient(t *testing.T) {
	for _, tc := range []struct{ name, send string }{
		{"silent", ""},
		{"partial header", "GET /health HTTP/1.1\r\nHost: x\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{Protocol: "http", Deadline: 200 * time.Millisecond})
			c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(probeTimeout))
			if tc.send != "" {
				if _, err := io.WriteString(c, tc.send); err != nil {
					t.Fatal(err)
				}
			}
			b, err := io.ReadAll(c)
			if isTimeout(err) {
				t.Fatalf("server did not close the silent client: %v", err)
			}
			if len(b) != 0 {
				t.Errorf("silent client got %q", b)
			}
		})
	}
}

func TestOversizeRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxRead int
		size    int
	}{
		{"1 MiB default limit", 0, 1 << 20},
		{"just over small limit", 128, 129},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{Protocol: "http", MaxRead: tc.maxRead})
			c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(probeTimeout))
			req := append([]byte("GET /"), bytes.Repeat([]byte("a"), tc.size)...)
			go func() { _, _ = c.Write(req) }() // may fail once the server resets; that is fine
			b, _ := io.ReadAll(c)
			if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 400 ")) {
				t.Errorf("oversize request got %q, want 400 or nothing", b)
			}
			if st := s.Stats(); st.Rejected != 1 {
				t.Errorf("Rejected = %d, want 1", st.Rejected)
			}
			if err := Probe("http", s.Addr(), "/", nil, probeTimeout); err != nil {
				t.Errorf("probe after oversize request: %v", err)
			}
		})
	}
}

func TestOverload(t *testing.T) {
	s := start(t, Options{Protocol: "http", MaxConns: 2, Deadline: 30 * time.Second})
	var idle []net.Conn
	for i := 0; i < 2; i++ {
		c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	waitFor(t, "2 active connections", func() bool { return s.active.Load() == 2 })
	got, err := exchange(t, s.Addr(), "")
	if got != "" || isTimeout(err) {
		t.Errorf("connection beyond MaxConns: got %q, %v; want closed at once", got, err)
	}
	if st := s.Stats(); st.Overload != 1 {
		t.Errorf("Overload = %d, want 1", st.Overload)
	}
	for _, c := range idle {
		c.Close()
	}
	waitFor(t, "no active connections", func() bool { return s.active.Load() == 0 })
	if err := Probe("http", s.Addr(), "/", nil, probeTimeout); err != nil {
		t.Errorf("probe after load went: %v", err)
	}
}

// waitFor polls cond, bounded in count and time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestCloseCutsAnsweredConns: a client that got its answer and keeps the
// connection open does not hold Close up until the (long) deadline.
func TestCloseCutsAnsweredConns(t *testing.T) {
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			s, err := Listen(Options{Protocol: proto, Addr: netip.AddrPortFrom(lo4, 0), Message: []byte("OK"), Deadline: 10 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Serve() }()
			c, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(probeTimeout))
			if proto == "http" {
				_, _ = io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
			}
			if b, err := io.ReadAll(c); err != nil || len(b) == 0 {
				t.Fatalf("answer: %q, %v", b, err)
			}
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Errorf("Close: %v", err)
				}
			case <-time.After(probeTimeout): // far below the deadline
				t.Fatal("Close waits for an answered connection the client keeps open")
			}
			if err := <-done; err != nil {
				t.Errorf("Serve after Close = %v, want nil", err)
			}
		})
	}
}

func TestClose(t *testing.T) {
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			s, err := Listen(Options{Protocol: proto, Addr: netip.AddrPortFrom(lo4, 0), Deadline: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- s.Serve() }()
			if err := Probe(proto, s.Addr(), "/", nil, probeTimeout); err != nil {
				t.Fatalf("probe before Close: %v", err)
			}
			inflight, err := dialFrom(t, netip.Addr{}, s.Addr(), probeTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer inflight.Close()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve after Close = %v, want nil", err)
				}
			case <-time.After(probeTimeout):
				t.Fatal("Serve did not return after Close")
			}
			err = Probe(proto, s.Addr(), "/", nil, probeTimeout)
			if err == nil || !strings.HasPrefix(err.Error(), "connect "+s.Addr().String()+": ") {
				t.Errorf("probe after Close = %v, want connect error", err)
			}
			_ = inflight.SetDeadline(time.Now().Add(probeTimeout))
			if _, err := io.ReadAll(inflight); isTimeout(err) {
				t.Errorf("in-flight connection still open after Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if err := s.Serve(); err != nil {
				t.Errorf("Serve after Close = %v, want nil", err)
			}
		})
	}
}

func TestBindError(t *testing.T) {
	s := start(t, Options{Protocol: "tcp"})
	port := s.Addr().Port()
	for _, tc := range []struct {
		name string
		addr netip.AddrPort
	}{
		{"same address", s.Addr()},
		{"all addresses", netip.AddrPortFrom(netip.Addr{}, port)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Listen(Options{Protocol: "tcp", Addr: tc.addr})
			var be *BindError
			if !errors.As(err, &be) {
				t.Fatalf("Listen on a held port = %v, want *BindError", err)
			}
			if !be.InUse() {
				t.Errorf("InUse() = false for %v", err)
			}
			if !strings.Contains(err.Error(), "port "+strconv.Itoa(int(port))+" is already in use") {
				t.Errorf("error %q does not name port %d", err, port)
			}
			if runtime.GOOS == "linux" {
				comm, _ := os.ReadFile("/proc/self/comm")
				want := strings.TrimSpace(string(comm)) + " (pid " + strconv.Itoa(os.Getpid()) + ")"
				if be.Holder != want || !strings.Contains(err.Error(), " by "+want+": stop that program") {
					t.Errorf("Holder = %q, error %q; want holder %q", be.Holder, err, want)
				}
				if h := PortHolder(port); h != want {
					t.Errorf("PortHolder(%d) = %q, want %q", port, h, want)
				}
			}
		})
	}
	t.Run("address not local", func(t *testing.T) {
		_, err := Listen(Options{Protocol: "tcp", Addr: netip.MustParseAddrPort("192.0.2.1:0")})
		var be *BindError
		if !errors.As(err, &be) || be.InUse() || !strings.HasPrefix(err.Error(), "bind 192.0.2.1:0: ") {
			t.Errorf("Listen on a foreign address = %v, want bind error", err)
		}
	})
}

func TestListenAllAddresses(t *testing.T) {
	// The net package's own choice for ":0" says whether this host can do
	// dual-stack; every spelling of "all addresses" must make the same one.
	ref, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	want := ref.Addr().(*net.TCPAddr).AddrPort().Addr()
	ref.Close()
	for _, a := range []netip.Addr{{}, netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		t.Run(fmt.Sprintf("%v", a), func(t *testing.T) {
			s, err := Listen(Options{Protocol: "tcp", Message: []byte("x"), Addr: netip.AddrPortFrom(a, 0)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			go s.Serve()
			if got := s.Addr().Addr(); got != want {
				t.Errorf("listening on %v, want %v", got, want)
			}
			dsts := []netip.Addr{lo4}
			if want.Is6() {
				dsts = append(dsts, lo6)
			}
			for _, d := range dsts {
				if err := Probe("tcp", netip.AddrPortFrom(d, s.Addr().Port()), "", []byte("x"), probeTimeout); err != nil {
					t.Errorf("probe %v: %v", d, err)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			s := start(t, Options{Protocol: proto, Message: []byte("m")})
			expect := []byte("m")
			if proto == "http" {
				expect = []byte("OK\n")
			}
			before := time.Now()
			for i := 0; i < 3; i++ {
				if err := Probe(proto, s.Addr(), "/", expect, probeTimeout); err != nil {
					t.Fatal(err)
				}
			}
			st := s.Stats()
			if st.Local != 3 || st.Answered != 0 || !st.LastProbe.IsZero() || st.LastSource.IsValid() {
				t.Errorf("after self-probes Stats = %+v, want Local 3 and no last probe", st)
			}
			needSource(t, lo42)
			for i := 0; i < 2; i++ {
				if err := ProbeFrom(lo42, proto, s.Addr(), "/", expect, probeTimeout); err != nil {
					t.Fatal(err)
				}
			}
			st = s.Stats()
			if st.Answered != 2 || st.Local != 3 || st.LastSource != lo42 || st.LastProbe.Before(before) || st.Since.After(before) {
				t.Errorf("Stats = %+v, want Answered 2, Local 3, last source 127.0.0.2 after %v", st, before)
			}
		})
	}
}

func TestIsLocal(t *testing.T) {
	own := netip.MustParseAddr("10.0.0.4")
	own6 := netip.MustParseAddr("2001:db8:1::2")
	ownLL := netip.MustParseAddr("fe80::2%eth0")
	for _, tc := range []struct {
		src, own netip.Addr
		want     bool
	}{
		{lo4, own, true},
		{lo6, own, true},
		{own, own, true},
		{lo42, own, false},
		{netip.MustParseAddr("168.63.129.16"), own, false},
		{netip.MustParseAddr("fe80::1234:5678:9abc%eth0"), own6, false}, // Azure's IPv6 probe
		{ownLL, ownLL, true}, // a self-probe between link-local addresses
		{netip.MustParseAddr("fe80::2%eth1"), ownLL, false},
	} {
		t.Run(tc.src.String(), func(t *testing.T) {
			if got := isLocal(tc.src, tc.own); got != tc.want {
				t.Errorf("isLocal(%v, %v) = %v, want %v", tc.src, tc.own, got, tc.want)
			}
		})
	}
}

// TestAllowedZoned: a link-local source arrives zoned, and matches the
// allow-list by its address alone, exactly as any other source.
func TestAllowedZoned(t *testing.T) {
	azure6 := netip.MustParseAddr("fe80::1234:5678:9abc%eth0")
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		src   netip.Addr
		want  bool
	}{
		{"exact", []netip.Prefix{netip.MustParsePrefix("fe80::1234:5678:9abc/128")}, azure6, true},
		{"exact, other zone", []netip.Prefix{netip.MustParsePrefix("fe80::1234:5678:9abc/128")}, azure6.WithZone("7"), true},
		{"exact, other link-local", []netip.Prefix{netip.MustParsePrefix("fe80::1234:5678:9abc/128")}, netip.MustParseAddr("fe80::1234:5678:9abd%eth0"), false},
		{"fe80::/10", []netip.Prefix{netip.MustParsePrefix("fe80::/10")}, azure6, true},
		{"global prefix", []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}, azure6, false},
		{"ipv4 only", []netip.Prefix{netip.MustParsePrefix("168.63.129.16/32")}, azure6, false},
		{"unzoned", []netip.Prefix{netip.MustParsePrefix("fe80::1234:5678:9abc/128")}, azure6.WithZone(""), true},
		{"empty allows all", nil, azure6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{allow: tc.allow}
			if got := s.allowed(tc.src); got != tc.want {
				t.Errorf("allowed(%v) with %v = %v, want %v", tc.src, tc.allow, got, tc.want)
			}
		})
	}
}

func TestListenValidates(t *testing.T) {
	many := make([]netip.Prefix, MaxAllow+1)
	for i := range many {
		many[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), 0}), 24)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"protocol", Options{Protocol: "udp"}, "protocol"},
		{"message", Options{Protocol: "tcp", Message: make([]byte, MaxMessage+1)}, "message"},
		{"path", Options{Protocol: "http", HTTPPath: "health"}, "http path"},
		{"path query", Options{Protocol: "http", HTTPPath: "/h?x"}, "http path"},
		{"too many prefixes", Options{Protocol: "tcp", Allow: many}, "allow"},
		{"invalid prefix", Options{Protocol: "tcp", Allow: []netip.Prefix{{}}}, "allow"},
		{"deadline", Options{Protocol: "tcp", Deadline: -1}, "deadline"},
		{"max read", Options{Protocol: "http", MaxRead: -1}, "max read"},
		{"max conns", Options{Protocol: "http", MaxConns: -1}, "max conns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Listen(tc.o)
			if err == nil {
				s.Close()
				t.Fatalf("Listen(%+v) succeeded", tc.o)
			}
			var be *BindError
			if errors.As(err, &be) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Listen error %q, want a validation error about %q", err, tc.want)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		s := start(t, Options{Protocol: "HTTP"})
		o := s.opts
		if o.Protocol != "http" || o.HTTPPath != "/" || o.Deadline != DefaultDeadline || o.MaxRead != DefaultMaxRead || o.MaxConns != DefaultMaxConns || o.Log == nil {
			t.Errorf("defaults not applied: %+v", o)
		}
		if s.Addr().Port() == 0 {
			t.Errorf("Addr() = %v, want the resolved port", s.Addr())
		}
	})
}

func TestNormalPrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"::ffff:10.1.2.3/104", "10.0.0.0/8"},
		{"::ffff:127.0.0.2/128", "127.0.0.2/32"},
		{"10.1.2.3/16", "10.1.0.0/16"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"fe80::1%eth0/64", "fe80::/64"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			p, err := netip.ParsePrefix(tc.in)
			if err != nil {
				// Prefixes with zones do not parse; build it by hand.
				a, _, _ := strings.Cut(tc.in, "/")
				p = netip.PrefixFrom(netip.MustParseAddr(a), 64)
			}
			if got := normalPrefix(p).String(); got != tc.want {
				t.Errorf("normalPrefix(%s) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestProbeErrors(t *testing.T) {
	s := start(t, Options{Protocol: "tcp"})
	addr := s.Addr()
	s.Close() // nothing listens on addr now
	for _, tc := range []struct {
		name, proto string
		timeout     time.Duration
		want        string
		is          error
	}{
		{"refused", "tcp", probeTimeout, "connect " + addr.String() + ": ", errRefused},
		// The self-probe's bound: refused, not a timeout (Windows' SYN retries).
		{"refused within 1s", "tcp", time.Second, "connect " + addr.String() + ": ", errRefused},
		{"bad protocol", "udp", probeTimeout, "protocol", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Probe(tc.proto, addr, "/", nil, tc.timeout)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("Probe = %v, want %q (%v)", err, tc.want, tc.is)
			}
		})
	}
}

// TestChangedSignals: a stats writer sleeping on Options.Changed hears of
// every kind of counter change once it has read the counters, and a full
// channel never blocks serving.
func TestChangedSignals(t *testing.T) {
	ch := make(chan struct{}, 1)
	s := start(t, Options{Protocol: "http", Changed: ch})
	select {
	case <-ch:
		t.Fatal("signalled before any probe")
	default:
	}
	for _, path := range []string{"/", "/nope"} { // answered, then rejected (404)
		if _, err := exchange(t, s.Addr(), "GET "+path+" HTTP/1.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(probeTimeout):
			t.Fatalf("no signal after GET %s", path)
		}
		s.Stats() // the consumer reads the counters, which re-arms the signal
	}
	for i := 0; i < 20; i++ { // nobody reads ch: probes still answered
		if err := Probe("http", s.Addr(), "/", nil, probeTimeout); err != nil {
			t.Fatal(err)
		}
	}
}
