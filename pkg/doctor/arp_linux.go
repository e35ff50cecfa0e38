package doctor

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// arpProbe sends one RFC 5227 ARP probe (sender address 0.0.0.0, so no
// neighbour cache learns anything from it) for ip on iface and waits up to
// wait for another host to claim ip. It returns the claimant's MAC, or ""
// when nobody answered.
func arpProbe(ctx context.Context, iface string, ip netip.Addr, wait time.Duration) (string, error) {
	l, err := netlink.LinkByName(iface)
	if err != nil {
		return "", fmt.Errorf("interface %s: %w", iface, err)
	}
	mac := l.Attrs().HardwareAddr
	if len(mac) != 6 {
		return "", fmt.Errorf("interface %s has no Ethernet address", iface)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return "", fmt.Errorf("open ARP socket: %w", err)
	}
	defer unix.Close(fd)
	ll := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: l.Attrs().Index}
	if err := unix.Bind(fd, ll); err != nil {
		return "", fmt.Errorf("bind ARP socket to %s: %w", iface, err)
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: l.Attrs().Index, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(fd, arpProbeFrame(mac, ip), 0, to); err != nil {
		return "", fmt.Errorf("send ARP probe on %s: %w", iface, err)
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	want := ip.As4()
	buf := make([]byte, 1500)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return "", nil
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			return "", fmt.Errorf("wait for ARP replies: %w", err)
		}
		for {
			n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				break
			}
			f := buf[:n]
			// Ethernet header, then ARP: sender MAC at 22, sender IP at 28.
			if n < 42 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_ARP {
				continue
			}
			sha, spa := net.HardwareAddr(f[22:28]), f[28:32]
			if bytes.Equal(spa, want[:]) && !bytes.Equal(sha, mac) {
				return sha.String(), nil
			}
		}
	}
}

// arpProbeFrame: a broadcast ARP request for ip with sender IP 0.0.0.0.
func arpProbeFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 0, 42)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b = append(b, mac...)
	b = binary.BigEndian.AppendUint16(b, unix.ETH_P_ARP)
	b = binary.BigEndian.AppendUint16(b, 1)      // Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // IPv4
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, 1) // request
	b = append(b, mac...)
	b = append(b, 0, 0, 0, 0) // sender IP: none (a probe)
	b = append(b, 0, 0, 0, 0, 0, 0)
	v4 := ip.As4()
	return append(b, v4[:]...)
}

func htons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}
