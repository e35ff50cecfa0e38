package responder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// A hand-rolled HTTP/1.x subset rather than net/http: one request line, no
// keep-alive, no banner, a fixed read limit, and nothing of the request is
// ever written back. Empty lines before the request line are skipped (RFC
// 9112, 2.2); what follows the first request (a pipelined second one) is
// read and dropped after the answer, so the close is a FIN, not a reset.

// response is a canned reply; HEAD gets only the first head bytes.
type response struct {
	full []byte
	head int
}

func newResponse(status, body, extra string) response {
	h := "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n" + extra + "Connection: close\r\n\r\n"
	return response{full: []byte(h + body), head: len(h)}
}

var (
	resp200 = newResponse("200 OK", "OK\n", "")
	resp503 = newResponse("503 Service Unavailable", "draining\n", "")
	// resp503Unable: the node cannot take the VIP's traffic (SetAble).
	resp503Unable = newResponse("503 Service Unavailable", "vip not usable here\n", "")
	resp400       = newResponse("400 Bad Request", "bad request\n", "")
	resp404       = newResponse("404 Not Found", "not found\n", "")
	resp405       = newResponse("405 Method Not Allowed", "method not allowed\n", "Allow: GET, HEAD\r\n")
)

var (
	errNoRequestLine = errors.New("no complete request line")
	errMethod        = errors.New("malformed method")
	errTarget        = errors.New("malformed request target")
	errVersion       = errors.New("unsupported HTTP version")
)

// parseRequest parses the request line at the start of b (which must contain
// its line end) and returns the method and the path without query string.
// Only origin-form targets ("/path?query") of HTTP/1.0 and HTTP/1.1 are
// accepted: that is what load balancers send, and anything else is refused
// rather than interpreted.
func parseRequest(b []byte) (method, path string, err error) {
	b = b[requestStart(b):]
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return "", "", errNoRequestLine
	}
	line := bytes.TrimSuffix(b[:i], []byte{'\r'})

	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > 32 {
		return "", "", errMethod
	}
	m := line[:sp]
	for _, c := range m {
		if !isTokenChar(c) {
			return "", "", errMethod
		}
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return "", "", errTarget
	}
	target, version := rest[:sp], rest[sp+1:]
	if string(version) != "HTTP/1.1" && string(version) != "HTTP/1.0" {
		return "", "", errVersion
	}
	if target[0] != '/' {
		return "", "", errTarget
	}
	for _, c := range target {
		if c <= ' ' || c >= 0x7f {
			return "", "", errTarget
		}
	}
	if q := bytes.IndexAny(target, "?#"); q >= 0 {
		target = target[:q]
	}
	switch string(m) { // the common methods without an allocation
	case "GET":
		method = "GET"
	case "HEAD":
		method = "HEAD"
	default:
		method = string(m)
	}
	return method, string(target), nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// validPath checks a configured HTTP path: origin-form, printable, no query.
func validPath(p string) error {
	if p == "" || p[0] != '/' {
		return errors.New("must start with /")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '?' || c == '#' {
			return fmt.Errorf("byte %q not allowed", c)
		}
	}
	return nil
}

// requestStart is the offset of the request line in b: a server ignores
// empty lines (CRLF, or a bare LF) received before it (RFC 9112, 2.2).
func requestStart(b []byte) int {
	i := 0
	for {
		switch {
		case i < len(b) && b[i] == '\n':
			i++
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
}

// headerEnd reports whether b holds a complete header after any leading
// empty lines, searching from off (a few bytes before the latest read, in
// case the terminator straddles it).
func headerEnd(b []byte, off int) bool {
	off = max(off-3, requestStart(b))
	return bytes.Contains(b[off:], []byte("\r\n\r\n")) || bytes.Contains(b[off:], []byte("\n\n"))
}

func (s *Server) serveHTTP(c net.Conn, src netip.Addr) {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	if s.answerHTTP(c, src, *bp) {
		s.finish(c, *bp)
	}
}

// answerHTTP reads one request into buf and answers it. It reports whether
// it answered: a client that sent no complete request before the deadline
// or a reset gets nothing.
func (s *Server) answerHTTP(c net.Conn, src netip.Addr, buf []byte) bool {
	n := 0
	for {
		if n == len(buf) { // no end of header within MaxRead: refuse
			s.reply(c, src, resp400, false, "request too large")
			return true
		}
		m, err := c.Read(buf[n:])
		prev := n
		n += m
		if headerEnd(buf[:n], prev) {
			break
		}
		if err != nil {
			// A client that half-closes mid-request gets a 400; a silent or
			// slow one past the deadline just loses the connection.
			if n > 0 && errors.Is(err, io.EOF) {
				s.reply(c, src, resp400, false, "incomplete request")
				return true
			}
			return false
		}
	}

	method, path, err := parseRequest(buf[:n])
	if err != nil {
		s.reply(c, src, resp400, false, err.Error())
		return true
	}
	head := method == "HEAD"
	switch {
	case method != "GET" && !head:
		s.reply(c, src, resp405, head, "method not allowed")
	case path != s.opts.HTTPPath:
		s.reply(c, src, resp404, head, "path not found")
	default:
		s.count(c, src)
		r := resp200
		switch {
		case s.unable.Load():
			r = resp503Unable
		case s.draining.Load():
			r = resp503
		}
		s.write(c, src, r, head)
	}
	return true
}

// reply answers a request that is not a valid probe, counting it Rejected.
func (s *Server) reply(c net.Conn, src netip.Addr, r response, head bool, why string) {
	s.rejected.Add(1)
	s.changed()
	s.log.WithField("source", src.String()).Debugf("responder: rejected request: %s", why)
	s.write(c, src, r, head)
}

func (s *Server) write(c net.Conn, src netip.Addr, r response, head bool) {
	b := r.full
	if head {
		b = b[:r.head]
	}
	if _, err := c.Write(b); err != nil {
		s.log.WithError(err).WithField("source", src.String()).Debug("responder: write response")
	}
}
