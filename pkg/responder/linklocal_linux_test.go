package responder

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// azureProbe6 is the source of Azure's IPv6 health probes: a link-local
// address, sent to the node's global IPv6 address, so the server sees a
// zoned peer (fe80::1234:5678:9abc%eth0).
var azureProbe6 = netip.MustParseAddr("fe80::1234:5678:9abc")

// TestLinkLocalSource probes, as Azure does over IPv6, from a link-local
// source to the responder's global IPv6 address: two namespaces joined by a
// veth, the prober with fe80::1234:5678:9abc and fe80::99 on its end. An
// allowed link-local source is answered, counted and shown as the last
// source; another link-local source gets no SYN-ACK (kernel filter) or is
// rejected (user space), however the allow-list is written.
func TestLinkLocalSource(t *testing.T) {
	srv, cli := testenv.NewNS(t), testenv.NewNS(t)
	srv.Veth(t, "ll-s", "2001:db8:1::2/64", cli, "ll-c", "")
	srv.MustRun(t, "ip", "-6", "addr", "add", "fe80::2/64", "dev", "ll-s", "nodad")
	cli.MustRun(t, "ip", "-6", "addr", "add", azureProbe6.String()+"/64", "dev", "ll-c", "nodad")
	cli.MustRun(t, "ip", "-6", "addr", "add", "fe80::99/64", "dev", "ll-c", "nodad")
	cli.MustRun(t, "ip", "-6", "route", "add", "2001:db8:1::/64", "dev", "ll-c")
	var zone string
	cli.Do(t, func() {
		ifi, err := net.InterfaceByName("ll-c")
		if err != nil {
			t.Fatal(err)
		}
		zone = strconv.Itoa(ifi.Index) // an index: the name means nothing outside the namespace
	})
	azure, other := azureProbe6.WithZone(zone), netip.MustParseAddr("fe80::99").WithZone(zone)
	dst := netip.MustParseAddr("2001:db8:1::2")

	exact := prefixes("168.63.129.16/32", "fe80::1234:5678:9abc/128")
	wide := prefixes("168.63.129.16/32", "fe80::/10")
	for _, tc := range []struct {
		name     string
		allow    []netip.Prefix
		noFilter bool // user space alone decides
		src      netip.Addr
		pass     bool
	}{
		{"exact source", exact, false, azure, true},
		{"fe80::/10", wide, false, azure, true},
		{"other link-local, exact allow", exact, false, other, false},
		{"other link-local, fe80::/10", wide, false, other, true},
		{"exact source, user space", exact, true, azure, true},
		{"fe80::/10, user space", wide, true, azure, true},
		{"other link-local, user space", exact, true, other, false},
		{"no allow-list", nil, false, other, true},
	} {
		for _, proto := range []string{"tcp", "http"} {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				var s *Server
				srv.Do(t, func() {
					s = start(t, Options{Protocol: proto, Message: []byte("OK"), Allow: tc.allow, noKernelFilter: tc.noFilter,
						Addr: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)})
				})
				to := netip.AddrPortFrom(dst, s.Addr().Port())
				expect := []byte("OK")
				if proto == "http" {
					expect = []byte("OK\n")
				}
				before := time.Now()
				var err error
				timeout := probeTimeout
				if !tc.pass && !tc.noFilter {
					timeout = 500 * time.Millisecond // a dropped SYN: the connect times out
				}
				cli.Do(t, func() { err = ProbeFrom(tc.src, proto, to, "/", expect, timeout) })
				waitIdle(t, s)
				st := s.Stats()
				if !tc.pass {
					switch {
					case err == nil:
						t.Fatalf("probe from %v answered, want refused", tc.src)
					case tc.noFilter && st.Rejected != 1:
						t.Errorf("user space: %v; Rejected = %d, want 1", err, st.Rejected)
					case !tc.noFilter && (!isTimeout(err) || st.Rejected != 0):
						t.Errorf("kernel filter: %v (Rejected %d), want a connect timeout (SYN dropped)", err, st.Rejected)
					}
					if st.Answered != 0 || st.LastSource.IsValid() {
						t.Errorf("refused probe counted: %+v", st)
					}
					return
				}
				if err != nil {
					t.Fatalf("probe from %v: %v", tc.src, err)
				}
				if st.Answered != 1 || st.Local != 0 || st.Rejected != 0 || st.LastProbe.Before(before) {
					t.Errorf("Stats = %+v, want one answered probe after %v", st, before)
				}
				// The zone names the server's interface, as the server's
				// thread sees it; the address is the prober's.
				if st.LastSource.WithZone("") != tc.src.WithZone("") || st.LastSource.Zone() == "" {
					t.Errorf("LastSource = %v, want %v with the server's zone", st.LastSource, tc.src.WithZone(""))
				}
			})
		}
	}
}
