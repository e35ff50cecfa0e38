package vip

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Fields of the neighbour advertisements the capture checks read.
const (
	icmpv6NeighborAdvert = 136
	naFlagOverride       = 0x20
	ndOptTargetLLAddr    = 2
)

// htons converts to network byte order, as sockaddr_ll.sll_protocol wants
// (the capture's ETH_P_ALL).
func htons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}

// TestMessageBytes pins the ARP and NA messages byte for byte, as written
// out by hand before the libraries built them.
func TestMessageBytes(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	vip6 := netip.MustParseAddr("fd00:5::200")
	na, err := naMessage(mac, vip6)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  func() []byte
		want string
	}{
		// Ethernet/IPv4, request, sender MAC and VIP, target MAC zero, target VIP.
		{"ARP announcement", func() []byte { return arpBytes(t, mac, vip4, vip4) },
			"0001 0800 06 04 0001 021122334455 0a0a05c8 000000000000 0a0a05c8"},
		// The same with sender address 0.0.0.0 (RFC 5227 probe).
		{"ARP probe", func() []byte { return arpBytes(t, mac, netip.IPv4Unspecified(), vip4) },
			"0001 0800 06 04 0001 021122334455 00000000 000000000000 0a0a05c8"},
		// Type 136 code 0 checksum 0 (the kernel's), flags override only,
		// target, target link-layer address option (type 2, 1 x 8 bytes).
		{"unsolicited NA", func() []byte { return na },
			"88 00 0000 20000000 fd000005000000000000000000000200 02 01 021122334455"},
	} {
		want, err := hex.DecodeString(string(bytes.ReplaceAll([]byte(tc.want), []byte(" "), nil)))
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.got(); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, got, want)
		}
	}
}

// arpBytes is the ARP message arpLink.request sends.
func arpBytes(t *testing.T, mac net.HardwareAddr, sender, target netip.Addr) []byte {
	t.Helper()
	b, err := arpRequest(mac, sender, target)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProbeARP captures the probe on the other end of a veth: one
// broadcast request, sender address 0.0.0.0, target the address asked
// about; nobody holds it, so nobody answers.
func TestProbeARP(t *testing.T) {
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "pr0", "pr0p")
	ns.Do(t, func() {
		l, err := netlink.LinkByName("pr0")
		if err != nil {
			t.Fatal(err)
		}
		mac := l.Attrs().HardwareAddr
		c := openCapture(t, "pr0p")
		got, err := ProbeARP(context.Background(), "pr0", vip4, 100*time.Millisecond)
		if err != nil || got != "" {
			t.Fatalf("ProbeARP = %q, %v; want no answer", got, err)
		}
		frames := c.collect(t, 1, 300*time.Millisecond, 5*time.Second, func(b []byte) bool {
			return len(b) >= 14 && binary.BigEndian.Uint16(b[12:14]) == unix.ETH_P_ARP
		})
		if len(frames) != 1 {
			t.Fatalf("captured %d ARP frames, want 1", len(frames))
		}
		want := append(append(append([]byte{}, broadcast...), mac...), 0x08, 0x06)
		want = append(want, arpBytes(t, mac, netip.IPv4Unspecified(), vip4)...)
		if !bytes.Equal(frames[0], want) {
			t.Errorf("probe frame\n got % x\nwant % x", frames[0], want)
		}
	})
}

// A VIP this node holds on one NIC is answered for by its other NIC on the
// same link too (arp_ignore 0): that is not another host, and the probe
// passes over it.
func TestProbeARPPassesOverOwnInterfaces(t *testing.T) {
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "pr0", "pr0p")
	ns.MustRun(t, "ip", "addr", "add", vip4.String()+"/32", "dev", "pr0p")
	ns.Do(t, func() {
		got, err := ProbeARP(context.Background(), "pr0", vip4, 300*time.Millisecond)
		if err != nil || got != "" {
			t.Fatalf("ProbeARP = %q, %v; want no other host (pr0p is this node's own)", got, err)
		}
	})
}
