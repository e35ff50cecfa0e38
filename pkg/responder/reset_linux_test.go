package responder

import (
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// TestNoResetOnClose: a prober that sends bytes the responder does not need
// (a PROXY header or a request in tcp mode, a second pipelined request or
// trailing bytes in http mode) gets its answer and then a FIN, never a
// reset, which a load balancer may count as a failed probe. The resets are
// counted where they are sent: the server's own network namespace (Tcp
// OutRsts), with the prober in a second namespace behind a veth.
func TestNoResetOnClose(t *testing.T) {
	const probes = 100
	srv, cli := testenv.NewNS(t), testenv.NewNS(t)
	srv.Veth(t, "rst-s", "10.201.0.1/24", cli, "rst-c", "10.201.0.2/24")
	get := "GET / HTTP/1.1\r\nHost: 10.201.0.1\r\n\r\n"
	for _, tc := range []struct {
		name, proto string
		msg         []byte
		send        []string // written one by one, then the answer is read to its end
		after       string   // written once the answer and the server's FIN arrived
		want        string   // the answer
		n           int      // probes; 0 is probes
	}{
		{"tcp/PROXY header", "tcp", []byte("OK"), []string{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"}, "", "OK", 1000},
		{"tcp/http request", "tcp", []byte("OK"), []string{"GET / HTTP/1.0\r\n\r\n"}, "", "OK", 0},
		{"tcp/no message", "tcp", nil, []string{"hello"}, "", "", 0},
		{"tcp/bytes after the answer", "tcp", []byte("OK"), nil, "bye\r\n", "OK", 0},
		{"http/pipelined", "http", nil, []string{get, get}, "", resp200String, 0},
		{"http/one write, two requests", "http", nil, []string{get + get}, "", resp200String, 0},
		{"http/bytes after the answer", "http", nil, []string{get}, "more\r\n", resp200String, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *Server
			srv.Do(t, func() {
				s = start(t, Options{Protocol: tc.proto, Message: tc.msg, Addr: netip.MustParseAddrPort("10.201.0.1:0")})
			})
			rsts0 := outRsts(t, srv)
			failed := 0
			probes := probes
			if tc.n > 0 {
				probes = tc.n
			}
			for i := range probes {
				var got string
				var err error
				cli.Do(t, func() { got, err = chattyProbe(s.Addr(), tc.send, tc.after) })
				if err != nil || got != tc.want {
					if failed++; failed <= 3 {
						t.Errorf("probe %d: got %q, %v; want %q and a clean close", i, got, err, tc.want)
					}
				}
			}
			waitIdle(t, s)
			rsts := outRsts(t, srv) - rsts0
			t.Logf("%d probes: %d resets sent by the responder's namespace, %d probes saw an error", probes, rsts, failed)
			if rsts != 0 {
				t.Errorf("the responder sent %d resets in %d probes, want 0", rsts, probes)
			}
			if st := s.Stats(); st.Answered != uint64(probes) {
				t.Errorf("Answered = %d, want %d", st.Answered, probes)
			}
		})
	}
}

var resp200String = string(resp200.full)

// chattyProbe connects to addr, writes send, reads the answer until the
// server's FIN, writes after (if any) and closes. A reset on the way is an
// error.
func chattyProbe(addr netip.AddrPort, send []string, after string) (string, error) {
	c, err := net.DialTimeout("tcp", addr.String(), probeTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	for _, b := range send {
		if _, err := io.WriteString(c, b); err != nil {
			return "", err
		}
	}
	got, err := io.ReadAll(c)
	if err != nil || after == "" {
		return string(got), err
	}
	if _, err := io.WriteString(c, after); err != nil {
		return string(got), err
	}
	// The server's reply to after, if any, comes before our close: a reset
	// shows up here as ECONNRESET.
	_, err = c.Read(make([]byte, 1))
	if err == io.EOF {
		err = nil
	}
	return string(got), err
}

// outRsts reads the namespace's count of TCP resets sent (Tcp: OutRsts in
// /proc/net/snmp, read from a thread inside it).
func outRsts(t testing.TB, ns *testenv.NS) uint64 {
	t.Helper()
	var b []byte
	var err error
	ns.Do(t, func() { b, err = os.ReadFile("/proc/thread-self/net/snmp") })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "OutRsts" && i < len(f) {
				v, err := strconv.ParseUint(f[i], 10, 64)
				if err != nil {
					t.Fatalf("Tcp OutRsts %q: %v", f[i], err)
				}
				return v
			}
		}
	}
	t.Fatalf("no Tcp OutRsts in /proc/net/snmp:\n%s", b)
	return 0
}
