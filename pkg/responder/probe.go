package responder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Probe does one health probe as a load balancer would: tcp connects and,
// when expect is non-empty, reads until those bytes arrived; http sends GET
// path with a Host header and wants status 200 (and, when expect is non-empty,
// a body starting with expect). The whole probe is bounded by timeout. The
// error says what failed, e.g. "connect 127.0.0.1:12345: connection refused",
// "http status 503" or "message mismatch: got ... want ...".
func Probe(proto string, addr netip.AddrPort, path string, expect []byte, timeout time.Duration) error {
	return ProbeFrom(netip.Addr{}, proto, addr, path, expect, timeout)
}

// ProbeFrom is Probe from the local source address src (any when invalid).
func ProbeFrom(src netip.Addr, proto string, addr netip.AddrPort, path string, expect []byte, timeout time.Duration) error {
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "http" {
		return fmt.Errorf("probe: protocol %q: want tcp or http", proto)
	}
	if path == "" {
		path = "/"
	}
	if proto == "http" {
		if err := validPath(path); err != nil {
			return fmt.Errorf("probe: http path %q: %w", path, err)
		}
	}
	if timeout <= 0 {
		timeout = DefaultDeadline
	}
	deadline := time.Now().Add(timeout)
	d := net.Dialer{Deadline: deadline, Control: dialControl}
	if src.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
	}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		return &ConnectError{Addr: addr, Err: Reason(err)}
	}
	defer c.Close()
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("probe %s: set deadline: %w", addr, err)
	}
	if proto == "tcp" {
		return readExpect(c, expect)
	}
	return probeHTTP(c, addr, path, expect)
}

// readExpect reads len(expect) bytes from r and compares them with expect.
func readExpect(r io.Reader, expect []byte) error {
	if len(expect) == 0 {
		return nil
	}
	got := make([]byte, len(expect))
	n, err := io.ReadFull(r, got)
	if err != nil {
		return fmt.Errorf("message mismatch: got %q want %q: %w", got[:n], expect, Reason(err))
	}
	if !bytes.Equal(got, expect) {
		return fmt.Errorf("message mismatch: got %q want %q", got, expect)
	}
	return nil
}

func probeHTTP(c net.Conn, addr netip.AddrPort, path string, expect []byte) error {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr.String() +
		"\r\nUser-Agent: ilbvip-probe\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("send http request to %s: %w", addr, Reason(err))
	}
	// Bounded: a hostile or broken peer cannot make the probe read forever.
	br := bufio.NewReaderSize(io.LimitReader(c, 64<<10), 4096)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read http response from %s: %w", addr, Reason(err))
	}
	f := strings.Fields(string(line))
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") || len(f[1]) != 3 {
		return fmt.Errorf("malformed http response from %s: %q", addr, bytes.TrimSpace(line))
	}
	if f[1] != "200" {
		return fmt.Errorf("http status %s", f[1])
	}
	if len(expect) == 0 {
		return nil
	}
	for { // skip the header up to the blank line
		h, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read http header from %s: %w", addr, Reason(err))
		}
		if len(bytes.TrimRight(h, "\r\n")) == 0 {
			break
		}
	}
	return readExpect(br, expect)
}

// ConnectError is a probe that could not connect: refused, unreachable or
// timed out before the handshake ended (as opposed to a connection that
// then failed the probe).
type ConnectError struct {
	Addr netip.AddrPort
	Err  error
}

func (e *ConnectError) Error() string { return fmt.Sprintf("connect %s: %v", e.Addr, e.Err) }
func (e *ConnectError) Unwrap() error { return e.Err }

// How names what the connect error says the path does to the connection:
// "rejects" (refused, or an ICMP error such as host-prohibited) or
// "drops" (no answer).
func (e *ConnectError) How() string {
	var t interface{ Timeout() bool }
	if errors.As(e.Err, &t) && t.Timeout() {
		return "drops"
	}
	return "rejects"
}
