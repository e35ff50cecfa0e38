package lbsim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ilbvip/ilbvip/pkg/responder"
)

// exchange runs the probe on an open connection: a TCP probe succeeds on
// the handshake; an HTTP probe sends GET with the cloud's User-Agent and a
// Host header of the destination address (as Google Cloud documents for
// its checks), and the status must pass the cloud's rule.
func (s *Sim) exchange(c net.Conn, dst netip.AddrPort) error {
	if s.cfg.Protocol != "http" {
		return nil
	}
	req := "GET " + s.cfg.Path + " HTTP/1.1\r\nHost: " + dst.Addr().String() +
		"\r\nUser-Agent: " + s.rules.UserAgent + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("send http request to %s: %w", dst, responder.Reason(err))
	}
	// Bounded: the status line is all a load balancer reads.
	line, err := bufio.NewReaderSize(io.LimitReader(c, 4096), 4096).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read http response from %s: %w", dst, responder.Reason(err))
	}
	f := strings.Fields(line)
	code := 0
	if len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/1.") {
		code, _ = strconv.Atoi(f[1])
	}
	if code < 100 || code > 599 {
		return fmt.Errorf("malformed http response from %s: %q", dst, strings.TrimSpace(line))
	}
	if !s.rules.HTTPOK(code) {
		return &StatusError{Code: code}
	}
	return nil
}
