package responder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// runFilter is a small classic BPF interpreter for the instructions
// filterProgram emits. pkt is the packet from its network header on, as the
// kernel's negative SKF_NET_OFF loads see it; a load past its end drops, as
// in the kernel.
func runFilter(t testing.TB, prog []unix.SockFilter, pkt []byte) uint32 {
	t.Helper()
	var a uint32
	load := func(k uint32, size int) (uint32, bool) {
		off := int(int32(k)) - skfNetOff
		if int32(k) >= 0 || off < 0 || off+size > len(pkt) {
			return 0, false
		}
		if size == 1 {
			return uint32(pkt[off]), true
		}
		return binary.BigEndian.Uint32(pkt[off:]), true
	}
	for pc, steps := 0, 0; steps < 10000; pc, steps = pc+1, steps+1 {
		if pc >= len(prog) {
			t.Fatalf("ran off the end of a %d-instruction program", len(prog))
		}
		in := prog[pc]
		var ok bool
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if a, ok = load(in.K, 4); !ok {
				return 0
			}
		case unix.BPF_LD | unix.BPF_B | unix.BPF_ABS:
			if a, ok = load(in.K, 1); !ok {
				return 0
			}
		case unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K:
			a >>= in.K
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if a == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("program does not terminate")
	return 0
}

// packet builds an IP header (plus a few TCP bytes) with source src.
func packet(src netip.Addr) []byte {
	if src.Is4() {
		p := make([]byte, 20+8)
		p[0] = 0x45
		s := src.As4()
		copy(p[12:], s[:])
		copy(p[16:], []byte{192, 0, 2, 99})
		return p
	}
	p := make([]byte, 40+8)
	p[0] = 0x60
	s := src.As16()
	copy(p[8:], s[:])
	return p
}

func prefixes(s ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, x := range s {
		ps = append(ps, netip.MustParsePrefix(x))
	}
	return ps
}

func TestFilterProgram(t *testing.T) {
	// 35 prefixes, the most Listen passes, of the longest kind (four masked
	// words each), with the one that matters last.
	var worst []netip.Prefix
	for i := 0; i < maxFilterPrefixes-1; i++ {
		worst = append(worst, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(2 * i)}), 127))
	}
	worst = append(worst, netip.MustParsePrefix("2001:db8:ffff::/127"))
	azure := prefixes("168.63.129.16/32", "35.191.0.0/16", "130.211.0.0/22", "127.0.0.1/32", "::1/128")

	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		src   string
		want  bool
	}{
		{"azure probe", azure, "168.63.129.16", true},
		{"azure neighbour", azure, "168.63.129.17", false},
		{"gcp /16", azure, "35.191.200.7", true},
		{"gcp /22 edge", azure, "130.211.3.255", true},
		{"gcp /22 outside", azure, "130.211.4.0", false},
		{"v4 loopback", azure, "127.0.0.1", true},
		{"other loopback", azure, "127.0.0.2", false},
		{"v6 loopback", azure, "::1", true},
		{"v6 other", azure, "2001:db8::1", false},
		{"v4 prefix does not match v6 with same bits", prefixes("10.0.0.0/8"), "a00::1", false},
		{"v4-mapped prefix matches v4 packet", prefixes("::ffff:10.0.0.0/104"), "10.9.9.9", true},
		{"v4-mapped prefix outside", prefixes("::ffff:10.0.0.0/104"), "11.0.0.1", false},
		{"v6 /64", prefixes("2001:db8:1:2::/64"), "2001:db8:1:2:ffff::1", true},
		{"v6 /64 outside", prefixes("2001:db8:1:2::/64"), "2001:db8:1:3::1", false},
		{"v6 /33 masked word", prefixes("2001:db8:8000::/33"), "2001:db8:ffff::1", true},
		{"v6 /33 masked word outside", prefixes("2001:db8:8000::/33"), "2001:db8:7fff::1", false},
		{"v6 /128 last word", prefixes("2001:db8::5/128"), "2001:db8::5", true},
		{"v6 /128 last word outside", prefixes("2001:db8::5/128"), "2001:db8::4", false},
		{"v4 any", prefixes("0.0.0.0/0"), "203.0.113.9", true},
		{"v4 any is not v6", prefixes("0.0.0.0/0"), "2001:db8::1", false},
		{"v6 any", prefixes("::/0"), "2001:db8::1", true},
		{"v6 any is not v4", prefixes("::/0"), "203.0.113.9", false},
		{"unmasked input", prefixes("10.1.2.3/8"), "10.200.0.1", true},
		{"worst case last prefix", worst, "2001:db8:ffff::1", true},
		{"worst case first prefix", worst, "2001:db8::1", true},
		{"worst case miss", worst, "2001:db8::ff", false},
		{"worst case v4", worst, "10.0.0.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := filterProgram(tc.allow)
			if err != nil {
				t.Fatalf("filterProgram: %v", err)
			}
			got := runFilter(t, prog, packet(netip.MustParseAddr(tc.src))) == filterAccept
			if got != tc.want {
				t.Errorf("source %s against %v: accepted %v, want %v", tc.src, tc.allow, got, tc.want)
			}
		})
	}

	t.Run("other ip version dropped", func(t *testing.T) {
		prog, _ := filterProgram(prefixes("0.0.0.0/0", "::/0"))
		p := packet(netip.MustParseAddr("10.0.0.1"))
		p[0] = 0x55
		if runFilter(t, prog, p) != filterDrop {
			t.Error("IP version 5 accepted")
		}
	})
	t.Run("truncated packet dropped", func(t *testing.T) {
		prog, _ := filterProgram(prefixes("::1/128"))
		if runFilter(t, prog, []byte{0x60, 0, 0}) != filterDrop {
			t.Error("truncated packet accepted")
		}
	})
	t.Run("limits", func(t *testing.T) {
		if _, err := filterProgram(nil); err == nil {
			t.Error("filterProgram(nil) succeeded")
		}
		if _, err := filterProgram(append(worst, worst[0])); err == nil {
			t.Errorf("filterProgram with %d prefixes succeeded", len(worst)+1)
		}
		if _, err := filterProgram([]netip.Prefix{{}}); err == nil {
			t.Error("filterProgram with an invalid prefix succeeded")
		}
	})
	t.Run("kernel accepts the largest program", func(t *testing.T) {
		prog, err := filterProgram(worst)
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0)
		if err != nil {
			testenv.SkipOrFail(t, "no IPv6 socket: %v", err)
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
			t.Errorf("kernel refused a %d-instruction program: %v", len(prog), err)
		}
	})
}

var lo43 = netip.MustParseAddr("127.0.0.3")

// TestKernelFilter checks on real sockets that a disallowed source cannot
// even complete the handshake: no accept, no byte, no user-space count.
func TestKernelFilter(t *testing.T) {
	const short = 500 * time.Millisecond // dial timeout for sources the filter drops
	all := netip.AddrPortFrom(netip.IPv6Unspecified(), 0)

	type try struct {
		src  netip.Addr
		dst  netip.Addr // destination address; the port is the server's
		pass bool
	}
	for _, tc := range []struct {
		name  string
		bind  netip.AddrPort
		allow []netip.Prefix
		tries []try
	}{
		{"v4 listener", netip.AddrPortFrom(lo4, 0), prefixes("127.0.0.1/32"), []try{
			{lo42, lo4, false},
			{lo4, lo4, true},
		}},
		{"dual-stack listener", all, prefixes("::ffff:127.0.0.2/128"), []try{
			{lo42, lo4, true},  // v4 packet on a v6 socket matches the unmapped prefix
			{lo43, lo4, false}, // and nothing else in 127/8
			{lo4, lo4, true},   // implicit
			{lo6, lo6, true},   // implicit
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, Options{Protocol: "tcp", Addr: tc.bind, Message: []byte("hello"), Allow: tc.allow})
			if tc.bind.Addr().IsUnspecified() && !s.Addr().Addr().Is6() {
				testenv.SkipOrFail(t, "host has no IPv6: the listener is not dual-stack")
			}
			for _, tr := range tc.tries {
				dst := netip.AddrPortFrom(tr.dst, s.Addr().Port())
				t.Run(fmt.Sprintf("%v to %v", tr.src, tr.dst), func(t *testing.T) {
					needSource(t, tr.src)
					before := s.Stats()
					if tr.pass {
						if err := ProbeFrom(tr.src, "tcp", dst, "", []byte("hello"), probeTimeout); err != nil {
							t.Errorf("allowed source: %v", err)
						}
						return
					}
					c, err := dialFrom(t, tr.src, dst, short)
					if err == nil {
						b, _ := io.ReadAll(io.LimitReader(c, 100))
						c.Close()
						t.Fatalf("disallowed source connected and read %q", b)
					}
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						t.Errorf("disallowed source: %v, want a connect timeout (SYN dropped)", err)
					}
					if after := s.Stats(); after != before {
						t.Errorf("stats changed for a dropped SYN: %+v -> %+v", before, after)
					}
				})
			}
		})
	}
}

// TestKernelFilterIPv6Source checks IPv6 sources other than ::1, which
// need an address of their own: fd00::2 on lo in a namespace of the test.
func TestKernelFilterIPv6Source(t *testing.T) {
	ns := testenv.NewNS(t)
	ns.MustRun(t, "ip", "addr", "add", "fd00::2/128", "dev", "lo", "nodad")
	v6src := netip.MustParseAddr("fd00::2")
	all := netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		src   netip.Addr
		dst   netip.Addr
		pass  bool
	}{
		{"v6 source outside allow", prefixes("2001:db8::/32"), v6src, lo6, false},
		{"::1 always allowed", prefixes("2001:db8::/32"), lo6, lo6, true},
		{"v6 source allowed", []netip.Prefix{netip.PrefixFrom(v6src, 128)}, v6src, lo6, true},
		{"v4 source outside a v6 allow", []netip.Prefix{netip.PrefixFrom(v6src, 128)}, lo42, lo4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s *Server
			ns.Do(t, func() { s = start(t, Options{Protocol: "tcp", Addr: all, Message: []byte("hello"), Allow: tc.allow}) })
			dst := netip.AddrPortFrom(tc.dst, s.Addr().Port())
			var err error
			ns.Do(t, func() {
				if tc.pass {
					err = ProbeFrom(tc.src, "tcp", dst, "", []byte("hello"), probeTimeout)
					return
				}
				var c net.Conn
				if c, err = dialFrom(t, tc.src, dst, 500*time.Millisecond); err == nil {
					c.Close()
				}
			})
			switch {
			case tc.pass && err != nil:
				t.Errorf("allowed source: %v", err)
			case !tc.pass && err == nil:
				t.Errorf("disallowed source %v connected", tc.src)
			case !tc.pass:
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("disallowed source: %v, want a connect timeout (SYN dropped)", err)
				}
			}
		})
	}
}

func BenchmarkFilterProgram(b *testing.B) {
	allow := prefixes("168.63.129.16/32", "35.191.0.0/16", "130.211.0.0/22", "2600:1901:8001::/48", "127.0.0.1/32", "::1/128")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := filterProgram(allow); err != nil {
			b.Fatal(err)
		}
	}
}
