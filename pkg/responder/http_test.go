package responder

import (
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, in     string
		method, path string
		bad          bool
	}{
		{"get", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/health", false},
		{"head 1.0 bare lf", "HEAD / HTTP/1.0\n\n", "HEAD", "/", false},
		{"query stripped", "GET /h?a=b&c HTTP/1.1\r\n", "GET", "/h", false},
		{"fragment stripped", "GET /h#x HTTP/1.1\r\n", "GET", "/h", false},
		{"other method", "OPTIONS /h HTTP/1.1\r\n", "OPTIONS", "/h", false},
		{"leading empty line", "\r\nGET /h HTTP/1.1\r\n\r\n", "GET", "/h", false},
		{"leading empty lines, bare lf", "\n\r\nHEAD / HTTP/1.0\n\n", "HEAD", "/", false},
		{"only empty lines", "\r\n\r\n\n", "", "", true},
		{"lone cr first", "\rGET / HTTP/1.1\r\n", "", "", true},
		{"no line end", "GET / HTTP/1.1", "", "", true},
		{"empty", "", "", "", true},
		{"empty line", "\r\n", "", "", true},
		{"leading space", " GET / HTTP/1.1\r\n", "", "", true},
		{"one field", "GET\r\n", "", "", true},
		{"http 0.9", "GET /\r\n", "", "", true},
		{"double space", "GET  / HTTP/1.1\r\n", "", "", true},
		{"trailing space", "GET / HTTP/1.1 \r\n", "", "", true},
		{"http 2", "GET / HTTP/2\r\n", "", "", true},
		{"lower version", "GET / http/1.1\r\n", "", "", true},
		{"relative target", "GET health HTTP/1.1\r\n", "", "", true},
		{"absolute target", "GET http://h/ HTTP/1.1\r\n", "", "", true},
		{"asterisk", "OPTIONS * HTTP/1.1\r\n", "", "", true},
		{"control in target", "GET /a\x00b HTTP/1.1\r\n", "", "", true},
		{"high byte in target", "GET /\xff HTTP/1.1\r\n", "", "", true},
		{"bad method char", "G(T / HTTP/1.1\r\n", "", "", true},
		{"long method", strings.Repeat("A", 33) + " / HTTP/1.1\r\n", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, p, err := parseRequest([]byte(tc.in))
			if tc.bad {
				if err == nil {
					t.Errorf("parseRequest(%q) = %q, %q, want error", tc.in, m, p)
				}
				return
			}
			if err != nil || m != tc.method || p != tc.path {
				t.Errorf("parseRequest(%q) = %q, %q, %v; want %q, %q", tc.in, m, p, err, tc.method, tc.path)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD / HTTP/1.0\n\n", "GET /?q HTTP/1.1\r\n",
		"POST / HTTP/1.1\r\n", "GET  / HTTP/1.1\r\n", "\n", "", "\r\nGET / HTTP/1.1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, p, err := parseRequest(b)
		if err != nil {
			return
		}
		if m == "" || p == "" || p[0] != '/' || strings.ContainsAny(p, "?# \r\n") {
			t.Errorf("parseRequest(%q) = %q, %q accepted", b, m, p)
		}
		if validPath(p) != nil {
			t.Errorf("parseRequest(%q) path %q is not a valid path", b, p)
		}
	})
}
