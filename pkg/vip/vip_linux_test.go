package vip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

var (
	vip4 = netip.MustParseAddr("10.10.5.200")
	vip6 = netip.MustParseAddr("2001:db8:5::200")
)

// fam describes one address family's test addresses.
type fam struct {
	name   string
	vip    netip.Addr
	host   int    // host prefix
	ipFlag string // "-4" / "-6" for ip(8)
}

var fams = []fam{
	{"ipv4", vip4, 32, "-4"},
	{"ipv6", vip6, 128, "-6"},
}

// addrsOn lists the assignments of ip on interface name (call inside the netns).
func addrsOn(t *testing.T, name string, ip netip.Addr) []netlink.Addr {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	all, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("addresses of %s: %v", name, err)
	}
	var out []netlink.Addr
	for _, a := range all {
		if a.IP.Equal(net.IP(ip.AsSlice())) {
			out = append(out, a)
		}
	}
	return out
}

// ipAddrs is `ip -o addr show` in the namespace, for "changed nothing" checks.
func ipAddrs(t *testing.T, ns *testenv.NS) string {
	t.Helper()
	return ns.MustRun(t, "ip", "-o", "addr", "show")
}

func TestLifecycle(t *testing.T) {
	for _, f := range fams {
		for _, source := range []bool{false, true} {
			t.Run(f.name+"/source="+strconv.FormatBool(source), func(t *testing.T) {
				ns := testenv.NewNS(t)
				ns.VethSelf(t, "vip0", "vip0p")
				s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip0", Source: source}
				ns.Do(t, func() {
					if err := Check(s); !errors.Is(err, ErrMissing) {
						t.Fatalf("Check before Add = %v, want ErrMissing", err)
					}
					for i := range 2 {
						if err := Add(s); err != nil {
							t.Fatalf("Add #%d: %v", i+1, err)
						}
					}
					if err := Check(s); err != nil {
						t.Fatalf("Check after Add: %v", err)
					}
					iface, prefix, found, err := Locate(f.vip)
					if err != nil || !found || iface != "vip0" || prefix != f.host {
						t.Fatalf("Locate = %q, %d, %t, %v; want vip0, %d, true, nil", iface, prefix, found, err, f.host)
					}
					got := addrsOn(t, "vip0", f.vip)
					if len(got) != 1 {
						t.Fatalf("after two Adds vip0 has %d assignments of %s, want 1", len(got), f.vip)
					}
					checkShape(t, got[0], f.vip, source)

					for i := range 2 {
						if err := Delete(s); err != nil {
							t.Fatalf("Delete #%d: %v", i+1, err)
						}
					}
					if err := Check(s); !errors.Is(err, ErrMissing) {
						t.Fatalf("Check after Delete = %v, want ErrMissing", err)
					}
					if _, _, found, err := Locate(f.vip); found || err != nil {
						t.Fatalf("Locate after Delete: found=%t err=%v", found, err)
					}
					gone := s
					gone.Interface = "nosuch0"
					if err := Delete(gone); err != nil {
						t.Fatalf("Delete on a missing interface = %v, want nil", err)
					}
				})
			})
		}
	}
}

// checkShape asserts the scope / flags that implement Source (see package doc).
func checkShape(t *testing.T, a netlink.Addr, ip netip.Addr, source bool) {
	t.Helper()
	if uint32(a.ValidLft) != foreverLft {
		t.Errorf("valid_lft = %d, want forever", uint32(a.ValidLft))
	}
	if ip.Is4() {
		want := unix.RT_SCOPE_HOST
		if source {
			want = unix.RT_SCOPE_UNIVERSE
		}
		if a.Scope != want {
			t.Errorf("scope = %d, want %d", a.Scope, want)
		}
		return
	}
	if a.Flags&unix.IFA_F_NODAD == 0 {
		t.Errorf("flags %#x lack NODAD", a.Flags)
	}
	if a.Flags&unix.IFA_F_TENTATIVE != 0 {
		t.Errorf("flags %#x: address is tentative", a.Flags)
	}
	deprecated := a.Flags&unix.IFA_F_DEPRECATED != 0
	if deprecated == source {
		t.Errorf("deprecated = %t (flags %#x, preferred_lft %d) with source=%t", deprecated, a.Flags, uint32(a.PreferedLft), source)
	}
}

// TestAddFixesSource: Add on a present address brings scope / lifetimes in
// line with Source, both ways.
func TestAddFixesSource(t *testing.T) {
	for _, f := range fams {
		t.Run(f.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			ns.VethSelf(t, "vip0", "vip0p")
			ns.Do(t, func() {
				for _, source := range []bool{true, false, true} {
					s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip0", Source: source}
					if err := Add(s); err != nil {
						t.Fatalf("Add source=%t: %v", source, err)
					}
					got := addrsOn(t, "vip0", f.vip)
					if len(got) != 1 {
						t.Fatalf("source=%t: %d assignments, want 1", source, len(got))
					}
					checkShape(t, got[0], f.vip, source)
				}
			})
		})
	}
}

func TestIPv6UsableAtOnce(t *testing.T) {
	for _, source := range []bool{false, true} {
		t.Run("source="+strconv.FormatBool(source), func(t *testing.T) {
			ns := testenv.NewNS(t)
			ns.VethSelf(t, "vip0", "vip0p")
			s := Spec{Addr: vip6, Prefix: 128, Interface: "vip0", Source: source}
			ns.Do(t, func() {
				if err := Add(s); err != nil {
					t.Fatal(err)
				}
				// No waiting: a tentative address cannot be bound.
				ln, err := net.Listen("tcp", netip.AddrPortFrom(vip6, 0).String())
				if err != nil {
					t.Fatalf("listen on the VIP right after Add: %v", err)
				}
				ln.Close()
				a := addrsOn(t, "vip0", vip6)
				if len(a) != 1 || a[0].Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
					t.Fatalf("VIP not ready: %+v", a)
				}
			})
			out := ns.MustRun(t, "ip", "-6", "-o", "addr", "show", "dev", "vip0", "to", vip6.String()+"/128")
			if !strings.Contains(out, vip6.String()) || strings.Contains(out, "tentative") {
				t.Fatalf("ip addr: %s", out)
			}
			t.Logf("%s", out)
		})
	}
}

func TestElsewhere(t *testing.T) {
	for _, f := range fams {
		t.Run(f.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			ns.VethSelf(t, "vip0", "vip0p")
			ns.VethSelf(t, "vip1", "vip1p")
			ns.MustRun(t, "ip", "addr", "add", f.vip.String()+"/"+strconv.Itoa(f.host), "dev", "vip0", "nodad")
			before := ipAddrs(t, ns)
			s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip1"}
			ns.Do(t, func() {
				for _, op := range []struct {
					name string
					fn   func(Spec) error
				}{{"Add", Add}, {"Check", Check}} {
					err := op.fn(s)
					var ee *ElsewhereError
					if !errors.As(err, &ee) {
						t.Fatalf("%s = %v, want *ElsewhereError", op.name, err)
					}
					if ee.Interface != "vip0" || ee.Want != "vip1" || ee.Addr != f.vip {
						t.Errorf("%s: ElsewhereError %+v", op.name, ee)
					}
					want := f.vip.String() + " is already on vip0, not on vip1, and ilbvip never moves an address"
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%s message %q lacks %q", op.name, err, want)
					}
				}
				if err := Delete(s); err != nil {
					t.Fatalf("Delete on the wrong interface = %v, want nil (and untouched)", err)
				}
			})
			if after := ipAddrs(t, ns); after != before {
				t.Fatalf("addresses changed:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

func TestPrefixMismatch(t *testing.T) {
	for _, f := range fams {
		t.Run(f.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			ns.VethSelf(t, "vip0", "vip0p")
			other := f.host - 8
			ns.MustRun(t, "ip", "addr", "add", f.vip.String()+"/"+strconv.Itoa(other), "dev", "vip0", "nodad")
			before := ipAddrs(t, ns)
			s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip0"}
			ns.Do(t, func() {
				for _, op := range []struct {
					name string
					fn   func(Spec) error
				}{{"Add", Add}, {"Check", Check}} {
					var pe *PrefixError
					err := op.fn(s)
					if !errors.As(err, &pe) || pe.Have != other || pe.Want != f.host {
						t.Fatalf("%s = %v, want *PrefixError /%d vs /%d", op.name, err, other, f.host)
					}
					// Most likely the node's own address: the advice is to fix
					// the configuration, never to delete it.
					want := fmt.Sprintf("%s is an address of this node (%s/%d on vip0), not a VIP: "+
						"set vip to the load balancer's frontend IP", f.vip, f.vip, other)
					if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "remove") {
						t.Errorf("%s message %q, want it to contain %q and no advice to remove", op.name, err, want)
					}
				}
				if err := Delete(s); err != nil {
					t.Fatalf("Delete = %v", err)
				}
				got, err := Lookup(s)
				if want := (Found{Present: true, Prefix: other, Primary: true}); err != nil || got != want {
					t.Fatalf("Lookup = %+v, %v; want %+v", got, err, want)
				}
			})
			if after := ipAddrs(t, ns); after != before {
				t.Fatalf("addresses changed:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

func TestNoInterface(t *testing.T) {
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "vip0", "vip0p")
	var have []string
	ns.Do(t, func() {
		var err error
		if have, err = Interfaces(); err != nil {
			t.Fatal(err)
		}
	})
	if sorted := slices.Sorted(slices.Values(have)); !slices.Equal(sorted, []string{"lo", "vip0", "vip0p"}) {
		t.Fatalf("Interfaces() = %v, want lo, vip0, vip0p in some order", have)
	}
	for _, name := range []string{"eth9", "a-name-much-too-long-for-linux"} {
		for _, op := range []struct {
			name string
			fn   func(Spec) error
		}{
			{"Add", Add},
			{"Check", Check},
			{"Announce", func(s Spec) error { return Announce(s, 1, 0) }},
		} {
			// t.Run starts a new goroutine, outside the namespace: enter it in there.
			t.Run(name+"/"+op.name, func(t *testing.T) {
				s := Spec{Addr: vip4, Prefix: 32, Interface: name}
				var err error
				ns.Do(t, func() { err = op.fn(s) })
				if !errors.Is(err, ErrNoInterface) {
					t.Fatalf("%s = %v, want ErrNoInterface", op.name, err)
				}
				want := `interface "` + name + `" not found (this node has: ` + strings.Join(have, ", ") + ")"
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q lacks %q", err, want)
				}
				if !strings.Contains(err.Error(), s.String()) {
					t.Errorf("message %q does not name the spec %s", err, s)
				}
			})
		}
		ns.Do(t, func() {
			if err := Delete(Spec{Addr: vip4, Prefix: 32, Interface: name}); err != nil {
				t.Errorf("Delete on %s = %v, want nil", name, err)
			}
		})
	}
}

func TestInterfaceDown(t *testing.T) {
	for _, f := range fams {
		for _, down := range []struct {
			name, link string // which end goes down
		}{
			{"admin down", "vip0"},
			{"peer down (no carrier)", "vip0p"},
		} {
			t.Run(f.name+"/"+down.name, func(t *testing.T) {
				ns := testenv.NewNS(t)
				ns.VethSelf(t, "vip0", "vip0p")
				s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip0"}
				ns.Do(t, func() {
					if err := Add(s); err != nil {
						t.Fatal(err)
					}
				})
				ns.MustRun(t, "ip", "link", "set", down.link, "down")
				ns.Do(t, func() {
					err := Check(s)
					if !errors.Is(err, ErrInterfaceDown) {
						t.Fatalf("Check = %v, want ErrInterfaceDown\n%s", err, ns.MustRun(t, "ip", "addr", "show", "vip0"))
					}
					if !strings.Contains(err.Error(), "interface vip0 is down") {
						t.Errorf("message %q does not name vip0", err)
					}
					t.Logf("%v", err)
				})
			})
		}
	}
}

// routeSrc is the source address the kernel picks for dst (a route lookup,
// nothing is sent), or the zero Addr when it picks none.
func routeSrc(t *testing.T, ns *testenv.NS, dst netip.Addr) netip.Addr {
	t.Helper()
	var src netip.Addr
	ns.Do(t, func() {
		rs, err := netlink.RouteGet(net.IP(dst.AsSlice()))
		if err != nil {
			t.Fatalf("route get %s: %v", dst, err)
		}
		if len(rs) == 0 {
			t.Fatalf("route get %s: no route", dst)
		}
		src, _ = netip.AddrFromSlice(rs[0].Src)
		src = src.Unmap()
	})
	out, _ := ns.Run("ip", "route", "get", dst.String())
	t.Logf("ip route get %s: %s", dst, out)
	return src
}

// TestSourceSelection proves that a Source=false VIP is never the source the
// kernel picks for off-link destinations, and that a Source=true VIP is.
func TestSourceSelection(t *testing.T) {
	type netplan struct {
		dst       netip.Addr
		outAddr   string // normal address on out0 (the default route's interface)
		gw        string // default gateway on out0; "" = "default dev out0"
		sideAddr  string // normal address on side0 (another interface)
		normalOut netip.Addr
		normalSd  netip.Addr
	}
	plans := map[string]netplan{
		"ipv4": {netip.MustParseAddr("203.0.113.9"), "192.0.2.1/24", "192.0.2.254", "198.51.100.1/24",
			netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1")},
		"ipv6": {netip.MustParseAddr("2001:db8:ffff::9"), "2001:db8:1::1/64", "2001:db8:1::ffff", "2001:db8:2::1/64",
			netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:2::1")},
	}
	type setup struct {
		name     string
		vipOn    string // out0 or side0
		outAddr  bool   // out0 has a normal address and a default route via a gateway
		sideAddr bool   // side0 has a normal address
		source   bool
		want     func(p netplan, vip netip.Addr) netip.Addr
	}
	setups := []setup{
		{"VIP next to a normal address on the outbound interface", "out0", true, false, false,
			func(p netplan, _ netip.Addr) netip.Addr { return p.normalOut }},
		{"VIP on another interface", "side0", true, false, false,
			func(p netplan, _ netip.Addr) netip.Addr { return p.normalOut }},
		// The discriminating pair: the VIP is the only address on the
		// outbound interface, which the kernel prefers when it may.
		{"VIP alone on the outbound interface, normal address elsewhere", "out0", false, true, false,
			func(p netplan, _ netip.Addr) netip.Addr { return p.normalSd }},
		{"same with source=true", "out0", false, true, true,
			func(_ netplan, vip netip.Addr) netip.Addr { return vip }},
		{"source=true, VIP the only address", "out0", false, false, true,
			func(_ netplan, vip netip.Addr) netip.Addr { return vip }},
	}
	for _, f := range fams {
		p := plans[f.name]
		for _, su := range setups {
			t.Run(f.name+"/"+su.name, func(t *testing.T) {
				ns := testenv.NewNS(t)
				ns.VethSelf(t, "out0", "out0p")
				ns.VethSelf(t, "side0", "side0p")
				if su.outAddr {
					ns.MustRun(t, "ip", "addr", "add", p.outAddr, "dev", "out0", "nodad")
				}
				if su.sideAddr {
					ns.MustRun(t, "ip", "addr", "add", p.sideAddr, "dev", "side0", "nodad")
				}
				s := Spec{Addr: f.vip, Prefix: f.host, Interface: su.vipOn, Source: su.source}
				ns.Do(t, func() {
					if err := Add(s); err != nil {
						t.Fatal(err)
					}
				})
				if su.outAddr {
					ns.MustRun(t, "ip", f.ipFlag, "route", "add", "default", "via", p.gw, "dev", "out0")
				} else {
					ns.MustRun(t, "ip", f.ipFlag, "route", "add", "default", "dev", "out0")
				}
				got := routeSrc(t, ns, p.dst)
				if !su.source && got == f.vip {
					t.Fatalf("source=false VIP %s chosen as source for %s", f.vip, p.dst)
				}
				if want := su.want(p, f.vip); got != want {
					t.Fatalf("source for %s = %v, want %v", p.dst, got, want)
				}
			})
		}
	}
}

// TestSourceSelectionLastResort pins down what the kernel does when a
// Source=false VIP is the node's only candidate, as the package doc says:
// IPv4 (scope host) yields no source at all, while IPv6 falls back to the
// deprecated VIP because RFC 6724 only makes deprecated addresses less
// preferred. If this changes, update the package doc.
func TestSourceSelectionLastResort(t *testing.T) {
	cases := []struct {
		f    fam
		dst  netip.Addr
		want netip.Addr
	}{
		{fams[0], netip.MustParseAddr("203.0.113.9"), netip.Addr{}},
		{fams[1], netip.MustParseAddr("2001:db8:ffff::9"), vip6},
	}
	for _, c := range cases {
		t.Run(c.f.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			ns.VethSelf(t, "out0", "out0p")
			ns.Do(t, func() {
				if err := Add(Spec{Addr: c.f.vip, Prefix: c.f.host, Interface: "out0"}); err != nil {
					t.Fatal(err)
				}
			})
			ns.MustRun(t, "ip", c.f.ipFlag, "route", "add", "default", "dev", "out0")
			if got := routeSrc(t, ns, c.dst); got != c.want {
				t.Fatalf("source for %s = %v, want %v", c.dst, got, c.want)
			}
		})
	}
}

// TestIncomingTCP proves a Source=false VIP still accepts connections: a
// client in a second namespace connects to a listener on VIP:port.
func TestIncomingTCP(t *testing.T) {
	type plan struct {
		node, client     string // CIDRs on n0 / c0
		nodeIP, clientIP netip.Addr
	}
	plans := map[string]plan{
		"ipv4": {"192.0.2.1/24", "192.0.2.2/24", netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")},
		"ipv6": {"2001:db8:1::1/64", "2001:db8:1::2/64", netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:1::2")},
	}
	cases := []struct {
		name   string
		vipOn  string
		onLink bool // client resolves the VIP itself (ARP / NS) instead of routing via the node
	}{
		{"VIP on the ingress interface, routed via the node", "n0", false},
		{"VIP on the ingress interface, on-link (ARP/ND for the VIP)", "n0", true},
		{"VIP on another interface, routed via the node", "side0", false},
	}
	for _, f := range fams {
		p := plans[f.name]
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				node := testenv.NewNS(t)
				client := testenv.NewNS(t)
				node.Veth(t, "n0", p.node, client, "c0", p.client)
				node.VethSelf(t, "side0", "side0p")
				s := Spec{Addr: f.vip, Prefix: f.host, Interface: c.vipOn, Source: false}
				if c.onLink {
					client.MustRun(t, "ip", f.ipFlag, "route", "add", f.vip.String(), "dev", "c0")
				} else {
					client.MustRun(t, "ip", f.ipFlag, "route", "add", f.vip.String(), "via", p.nodeIP.String(), "dev", "c0")
				}
				var ln net.Listener
				node.Do(t, func() {
					if err := Add(s); err != nil {
						t.Fatal(err)
					}
					var err error
					if ln, err = net.Listen("tcp", netip.AddrPortFrom(f.vip, 0).String()); err != nil {
						t.Fatal(err)
					}
				})
				defer ln.Close()
				type accepted struct {
					local, remote netip.AddrPort
					err           error
				}
				done := make(chan accepted, 1)
				go func() {
					conn, err := ln.Accept()
					if err != nil {
						done <- accepted{err: err}
						return
					}
					defer conn.Close()
					_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
					_, err = io.WriteString(conn, "hello from the vip\n")
					done <- accepted{
						local:  conn.LocalAddr().(*net.TCPAddr).AddrPort(),
						remote: conn.RemoteAddr().(*net.TCPAddr).AddrPort(),
						err:    err,
					}
				}()
				var got []byte
				var remote netip.AddrPort
				client.Do(t, func() {
					conn, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
					if err != nil {
						t.Fatalf("connect from the client namespace to %s: %v", ln.Addr(), err)
					}
					defer conn.Close()
					_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
					remote = conn.RemoteAddr().(*net.TCPAddr).AddrPort()
					got, err = io.ReadAll(conn)
					if err != nil {
						t.Fatalf("read: %v", err)
					}
				})
				a := <-done
				if a.err != nil {
					t.Fatalf("node side: %v", a.err)
				}
				if string(got) != "hello from the vip\n" || remote.Addr().Unmap() != f.vip {
					t.Fatalf("client read %q from %v", got, remote)
				}
				if a.local.Addr().Unmap() != f.vip || a.remote.Addr().Unmap() != p.clientIP {
					t.Fatalf("node accepted %v -> %v, want %v -> %v", a.remote, a.local, p.clientIP, f.vip)
				}
				t.Logf("connected %v -> %v", a.remote, a.local)
			})
		}
	}
}

// capture is an AF_PACKET socket receiving every frame arriving on one interface.
type capture struct{ fd int }

func openCapture(t *testing.T, ifname string) *capture {
	t.Helper()
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		t.Fatalf("capture socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: l.Attrs().Index}); err != nil {
		t.Fatalf("bind capture to %s: %v", ifname, err)
	}
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &capture{fd: fd}
}

// collect returns incoming frames for which keep is true, until want have
// arrived and then quiet more time has passed (to catch extras), or until
// the overall limit.
func (c *capture) collect(t *testing.T, want int, quiet, limit time.Duration, keep func([]byte) bool) [][]byte {
	t.Helper()
	var out [][]byte
	buf := make([]byte, 65536)
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("capture: %v", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if keep(buf[:n]) {
			out = append(out, slices.Clone(buf[:n]))
			if len(out) == want {
				if q := time.Now().Add(quiet); q.Before(end) {
					end = q
				}
			}
		}
	}
	return out
}

func TestAnnounce(t *testing.T) {
	const count, interval = 3, 20 * time.Millisecond
	for _, f := range fams {
		t.Run(f.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			ns.VethSelf(t, "an0", "an0p")
			s := Spec{Addr: f.vip, Prefix: f.host, Interface: "an0"}
			ns.Do(t, func() {
				l, err := netlink.LinkByName("an0")
				if err != nil {
					t.Fatal(err)
				}
				mac := l.Attrs().HardwareAddr
				if err := Add(s); err != nil {
					t.Fatal(err)
				}
				c := openCapture(t, "an0p")
				if err := Announce(s, 0, time.Hour); err != nil {
					t.Fatalf("Announce count 0: %v", err)
				}
				start := time.Now()
				if err := Announce(s, count, interval); err != nil {
					t.Fatal(err)
				}
				if took := time.Since(start); took < (count-1)*interval {
					t.Errorf("Announce took %v, less than the %v its spacing needs", took, (count-1)*interval)
				}
				var keep func([]byte) bool
				var checkFrame func([]byte) string
				if f.vip.Is4() {
					keep = func(b []byte) bool {
						return len(b) >= 42 && binary.BigEndian.Uint16(b[12:14]) == unix.ETH_P_ARP && bytes.Equal(b[28:32], f.vip.AsSlice())
					}
					checkFrame = func(b []byte) string { return checkGARP(b, mac, f.vip) }
				} else {
					keep = func(b []byte) bool {
						return len(b) >= 78 && binary.BigEndian.Uint16(b[12:14]) == unix.ETH_P_IPV6 &&
							b[20] == unix.IPPROTO_ICMPV6 && b[54] == icmpv6NeighborAdvert && bytes.Equal(b[62:78], f.vip.AsSlice())
					}
					checkFrame = func(b []byte) string { return checkNA(b, mac, f.vip) }
				}
				frames := c.collect(t, count, 300*time.Millisecond, 5*time.Second, keep)
				if len(frames) != count {
					t.Fatalf("captured %d announcements for %s, want %d", len(frames), f.vip, count)
				}
				for i, fr := range frames {
					if msg := checkFrame(fr); msg != "" {
						t.Errorf("frame %d: %s\n% x", i, msg, fr)
					}
				}
			})
		})
	}
}

func checkGARP(b []byte, mac net.HardwareAddr, vip netip.Addr) string {
	var bad []string
	if len(b) != 42 {
		bad = append(bad, "frame of "+strconv.Itoa(len(b))+" bytes, want 42 (Ethernet header and ARP message, unpadded)")
	}
	if !bytes.Equal(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		bad = append(bad, "destination not broadcast")
	}
	if !bytes.Equal(b[6:12], mac) {
		bad = append(bad, "Ethernet source is not the interface MAC")
	}
	if htype, ptype := binary.BigEndian.Uint16(b[14:16]), binary.BigEndian.Uint16(b[16:18]); htype != 1 || ptype != 0x0800 || b[18] != 6 || b[19] != 4 {
		bad = append(bad, "not Ethernet/IPv4 ARP")
	}
	if op := binary.BigEndian.Uint16(b[20:22]); op != 1 {
		bad = append(bad, "opcode "+strconv.Itoa(int(op))+", want 1 (request)")
	}
	if !bytes.Equal(b[22:28], mac) {
		bad = append(bad, "sender MAC is not the interface MAC")
	}
	if !bytes.Equal(b[28:32], vip.AsSlice()) || !bytes.Equal(b[38:42], vip.AsSlice()) {
		bad = append(bad, "sender/target IP not the VIP")
	}
	return strings.Join(bad, "; ")
}

func checkNA(b []byte, mac net.HardwareAddr, vip netip.Addr) string {
	var bad []string
	ip6, icmp := b[14:54], b[54:]
	if !bytes.Equal(b[0:6], []byte{0x33, 0x33, 0, 0, 0, 1}) {
		bad = append(bad, "destination MAC not 33:33:00:00:00:01")
	}
	if !bytes.Equal(b[6:12], mac) {
		bad = append(bad, "Ethernet source is not the interface MAC")
	}
	if ip6[7] != 255 {
		bad = append(bad, "hop limit "+strconv.Itoa(int(ip6[7]))+", want 255")
	}
	if !bytes.Equal(ip6[24:40], allNodes.AsSlice()) {
		bad = append(bad, "IPv6 destination not ff02::1")
	}
	if icmp[0] != icmpv6NeighborAdvert || icmp[1] != 0 {
		bad = append(bad, "not a neighbor advertisement")
	}
	if icmp[4]&naFlagOverride == 0 {
		bad = append(bad, "override flag clear")
	}
	if icmp[4]&0xc0 != 0 {
		bad = append(bad, "router or solicited flag set")
	}
	if !bytes.Equal(icmp[8:24], vip.AsSlice()) {
		bad = append(bad, "target not the VIP")
	}
	if len(icmp) < 32 || icmp[24] != ndOptTargetLLAddr || icmp[25] != 1 || !bytes.Equal(icmp[26:32], mac) {
		bad = append(bad, "no target link-layer address option with the interface MAC")
	}
	if plen := int(binary.BigEndian.Uint16(ip6[4:6])); plen > len(icmp) || icmpv6Checksum(ip6[8:24], ip6[24:40], icmp[:plen]) != 0 {
		bad = append(bad, "bad ICMPv6 checksum")
	}
	return strings.Join(bad, "; ")
}

// icmpv6Checksum sums the pseudo-header and message; 0 means valid.
func icmpv6Checksum(src, dst, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = unix.IPPROTO_ICMPV6
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestAnnounceBadArgs(t *testing.T) {
	s := Spec{Addr: vip4, Prefix: 32, Interface: "lo"}
	if err := Announce(s, -1, 0); err == nil {
		t.Error("negative count accepted")
	}
	if err := Announce(Spec{Addr: vip4, Prefix: 40, Interface: "lo"}, 1, 0); err == nil {
		t.Error("bad prefix accepted")
	}
}

// lookupIn is Lookup inside the namespace that fails the test on error.
func lookupIn(t *testing.T, ns *testenv.NS, s Spec) Found {
	t.Helper()
	var f Found
	var err error
	ns.Do(t, func() { f, err = Lookup(s) })
	if err != nil {
		t.Fatalf("Lookup(%s): %v", s, err)
	}
	return f
}

// protoOf reads the IFA_PROTO of ip on interface name with the standard
// library's netlink reader, apart from the code under test; -1 when the
// interface does not carry ip. Call it inside the namespace.
func protoOf(t *testing.T, name string, ip netip.Addr) int {
	t.Helper()
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	fam := syscall.AF_INET6
	if ip.Is4() {
		fam = syscall.AF_INET
	}
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, fam)
	if err != nil {
		t.Fatalf("address dump: %v", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		t.Fatalf("parse address dump: %v", err)
	}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR || binary.NativeEndian.Uint32(m.Data[4:8]) != uint32(ifi.Index) {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			t.Fatalf("parse address attributes: %v", err)
		}
		proto, match := 0, false
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFA_ADDRESS, syscall.IFA_LOCAL:
				if got, _ := netip.AddrFromSlice(a.Value); got == ip {
					match = true
				}
			case ifaProto:
				proto = int(a.Value[0])
			}
		}
		if match {
			return proto
		}
	}
	return -1
}

// ipShowsProto reports whether this iproute2 knows address protocols
// (6.3 and later: `ip address add ... proto`, shown in `ip address show`).
func ipShowsProto(t *testing.T) bool {
	out, _ := exec.Command("ip", "address", "help").CombinedOutput()
	return bytes.Contains(out, []byte("proto"))
}

// TestMark: every address Add creates, re-creates or replaces carries
// ProtoILBVIP, read back with Lookup, with a reader of its own and, where
// iproute2 prints it, in `ip address show`.
func TestMark(t *testing.T) {
	for _, f := range fams {
		t.Run(f.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			ns.VethSelf(t, "vip0", "vip0p")
			marked := Found{Present: true, Prefix: f.host, Marked: true}
			// true→false: IPv6 replaces in place, IPv4 deletes and re-adds
			// (the kernel keeps a scope on replace); back to true likewise.
			for _, source := range []bool{true, false, true} {
				s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip0", Source: source}
				ns.Do(t, func() {
					if err := Add(s); err != nil {
						t.Fatalf("Add source=%t: %v", source, err)
					}
					checkShape(t, addrsOn(t, "vip0", f.vip)[0], f.vip, source)
					if p := protoOf(t, "vip0", f.vip); p != ProtoILBVIP {
						t.Errorf("source=%t: IFA_PROTO = %d, want %d", source, p, ProtoILBVIP)
					}
				})
				if got := lookupIn(t, ns, s); got != marked {
					t.Fatalf("source=%t: Lookup = %+v, want %+v", source, got, marked)
				}
			}
			// Someone else's replace drops the protocol (kernel 6.3 and
			// later) and makes the address expire; Add's own replace (same
			// scope, IPv4 too) makes it forever and marks it again.
			s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip0", Source: true}
			ns.MustRun(t, "ip", "addr", "replace", netip.PrefixFrom(f.vip, f.host).String(), "dev", "vip0",
				"nodad", "valid_lft", "300", "preferred_lft", "300")
			if got := lookupIn(t, ns, s); !got.Present || !got.Finite {
				t.Fatalf("after ip addr replace with lifetimes: Lookup = %+v, want Present and Finite", got)
			} else {
				t.Logf("after ip addr replace: %+v", got)
			}
			ns.Do(t, func() {
				if err := Add(s); err != nil {
					t.Fatal(err)
				}
			})
			if got := lookupIn(t, ns, s); got != marked {
				t.Fatalf("after Add replaced it: Lookup = %+v, want %+v", got, marked)
			}
			out := ns.MustRun(t, "ip", "-d", "-o", f.ipFlag, "addr", "show", "dev", "vip0", "to", netip.PrefixFrom(f.vip, f.host).String())
			t.Logf("ip -d addr show: %s", out)
			if !ipShowsProto(t) {
				t.Logf("this iproute2 (%s) prints no address protocol; checked by netlink only", ns.MustRun(t, "ip", "-V"))
			} else if !strings.Contains(out, "proto 0x69") && !strings.Contains(out, "proto 105") && !strings.Contains(out, "proto ilbvip") {
				t.Errorf("ip addr show lacks the protocol %#x: %s", ProtoILBVIP, out)
			}
		})
	}
}

// TestLookupStrangers: addresses ilbvip did not add read back unmarked,
// with what tells an admin's from a lease, and on another interface.
func TestLookupStrangers(t *testing.T) {
	for _, f := range fams {
		pfx := netip.PrefixFrom(f.vip, f.host).String()
		s := Spec{Addr: f.vip, Prefix: f.host, Interface: "vip0"}
		cases := []struct {
			name string
			ip   []string // `ip addr add pfx dev ...` arguments
			want Found
		}{
			{"ip addr add", []string{"vip0", "nodad"}, Found{Present: true, Prefix: f.host}},
			{"finite lifetime", []string{"vip0", "nodad", "valid_lft", "300", "preferred_lft", "300"},
				Found{Present: true, Prefix: f.host, Finite: true}},
			{"other interface", []string{"vip1", "nodad"}, Found{Elsewhere: "vip1"}},
		}
		for _, c := range cases {
			t.Run(f.name+"/"+c.name, func(t *testing.T) {
				ns := testenv.NewNS(t)
				ns.VethSelf(t, "vip0", "vip0p")
				ns.VethSelf(t, "vip1", "vip1p")
				ns.MustRun(t, "ip", append([]string{"addr", "add", pfx, "dev"}, c.ip...)...)
				before := ipAddrs(t, ns)
				if got := lookupIn(t, ns, s); got != c.want {
					t.Fatalf("Lookup = %+v, want %+v", got, c.want)
				}
				if after := ipAddrs(t, ns); after != before {
					t.Fatalf("Lookup changed addresses:\nbefore\n%s\nafter\n%s", before, after)
				}
			})
		}
	}
}

func TestLookupNoInterface(t *testing.T) {
	ns := testenv.NewNS(t)
	s := Spec{Addr: vip4, Prefix: 32, Interface: "nosuch0"}
	var err error
	ns.Do(t, func() { _, err = Lookup(s) })
	if !errors.Is(err, ErrNoInterface) {
		t.Fatalf("Lookup = %v, want ErrNoInterface", err)
	}
	if want := "look up vip " + s.String() + `: interface "nosuch0" not found`; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
}

// TestAddSubnetBroadcast: a VIP with a subnet prefix gets the broadcast
// address netlink.AddrAdd used to compute, so the raw request changed
// nothing but the mark.
func TestAddSubnetBroadcast(t *testing.T) {
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "vip0", "vip0p")
	ns.Do(t, func() {
		if err := Add(Spec{Addr: vip4, Prefix: 24, Interface: "vip0"}); err != nil {
			t.Fatal(err)
		}
	})
	out := ns.MustRun(t, "ip", "-4", "-o", "addr", "show", "dev", "vip0")
	if !strings.Contains(out, "inet 10.10.5.200/24 brd 10.10.5.255 scope host") {
		t.Fatalf("ip addr: %s", out)
	}
}

// TestParseAddrMsg covers the message shapes a root test cannot easily
// produce: a point-to-point IPv4 address, IPv6's IFA_ADDRESS alone, the
// family filter and a truncated message.
func TestParseAddrMsg(t *testing.T) {
	msg := func(fam int, attrs ...*nl.RtAttr) []byte {
		m := nl.NewIfAddrmsg(fam)
		m.Prefixlen, m.Index = 24, 7
		b := m.Serialize()
		for _, a := range attrs {
			b = append(b, a.Serialize()...)
		}
		return b
	}
	local, peer := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	ptp := msg(unix.AF_INET, nl.NewRtAttr(unix.IFA_ADDRESS, peer.AsSlice()), nl.NewRtAttr(unix.IFA_LOCAL, local.AsSlice()),
		nl.NewRtAttr(ifaProto, []byte{ProtoILBVIP}))
	x, ok, err := parseAddrMsg(ptp, unix.AF_INET)
	if err != nil || !ok || x.ip != local || x.prefix != 24 || x.index != 7 || x.proto != ProtoILBVIP {
		t.Errorf("point-to-point: %+v, %t, %v", x, ok, err)
	}
	if _, ok, err := parseAddrMsg(ptp, unix.AF_INET6); ok || err != nil {
		t.Errorf("other family: ok=%t err=%v", ok, err)
	}
	v6 := msg(unix.AF_INET6, nl.NewRtAttr(unix.IFA_ADDRESS, vip6.AsSlice()))
	if x, ok, err := parseAddrMsg(v6, unix.AF_INET6); err != nil || !ok || x.ip != vip6 || x.proto != 0 {
		t.Errorf("IPv6: %+v, %t, %v", x, ok, err)
	}
	if _, _, err := parseAddrMsg(ptp[:4], unix.AF_INET); err == nil {
		t.Error("truncated message accepted")
	}
}

// TestTwoPrefixes: IPv4 lets an admin add the VIP again with a subnet
// prefix next to ours; Lookup and Delete pick ours (the spec's prefix), and
// Delete leaves the other.
func TestTwoPrefixes(t *testing.T) {
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "vip0", "vip0p")
	s := Spec{Addr: vip4, Prefix: 32, Interface: "vip0"}
	ns.Do(t, func() {
		if err := Add(s); err != nil {
			t.Fatal(err)
		}
	})
	ns.MustRun(t, "ip", "addr", "add", "10.10.5.200/24", "dev", "vip0")
	if got, want := lookupIn(t, ns, s), (Found{Present: true, Prefix: 32, Marked: true}); got != want {
		t.Fatalf("Lookup = %+v, want %+v\n%s", got, want, ipAddrs(t, ns))
	}
	ns.Do(t, func() {
		if err := Delete(s); err != nil {
			t.Fatal(err)
		}
	})
	if out := ns.MustRun(t, "ip", "-4", "-o", "addr", "show", "dev", "vip0"); strings.Count(out, "10.10.5.200/") != 1 || !strings.Contains(out, "10.10.5.200/24") {
		t.Fatalf("after Delete vip0 has:\n%s\nwant the /24 alone", out)
	}
}

// A cloud node's own address is often a /32 on eth0 with the default
// route through it: Lookup calls it Primary, so no message advises
// deleting it. A second /32 there (an admin's VIP) is not.
func TestLookupPrimary(t *testing.T) {
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "vip0", "vip0p")
	ns.MustRun(t, "ip", "addr", "add", "10.0.1.2/32", "dev", "vip0")
	own := Spec{Addr: netip.MustParseAddr("10.0.1.2"), Prefix: 32, Interface: "vip0"}
	if got := lookupIn(t, ns, own); !got.Present || got.Primary {
		t.Fatalf("a lone /32 without routes: %+v, want Present, not Primary", got)
	}
	ns.MustRun(t, "ip", "route", "add", "10.0.1.1", "dev", "vip0")
	ns.MustRun(t, "ip", "route", "add", "default", "via", "10.0.1.1")
	if got := lookupIn(t, ns, own); !got.Primary {
		t.Errorf("the only address of the NIC with the default route: %+v, want Primary", got)
	}
	admin := Spec{Addr: netip.MustParseAddr("10.0.1.200"), Prefix: 32, Interface: "vip0"}
	ns.MustRun(t, "ip", "addr", "add", "10.0.1.200/32", "dev", "vip0")
	if got := lookupIn(t, ns, admin); got.Primary {
		t.Errorf("an admin's /32 next to the node's: %+v, want not Primary", got)
	}
	// With a second /32 on the NIC, the kernel's choice of source for
	// traffic leaving the node still names the node's own address.
	if got := lookupIn(t, ns, own); !got.Primary {
		t.Errorf("the kernel's source for off-link traffic: %+v, want Primary", got)
	}
	// DHCP's default route names the node's address as its source.
	ns.MustRun(t, "ip", "route", "replace", "default", "via", "10.0.1.1", "src", "10.0.1.2")
	if got := lookupIn(t, ns, own); !got.Primary {
		t.Errorf("the default route's source: %+v, want Primary", got)
	}
}
