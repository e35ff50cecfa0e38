package vip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// announce sends gratuitous ARPs or unsolicited NAs (see Announce), on raw
// sockets: no external program.
func announce(s Spec, count int, interval time.Duration) error {
	if count < 0 || interval < 0 {
		return fmt.Errorf("count %d and interval %s must not be negative", count, interval)
	}
	if count == 0 {
		return nil
	}
	link, err := linkByName(s.Interface)
	if err != nil {
		return err
	}
	attrs := link.Attrs()
	mac := attrs.HardwareAddr
	if len(mac) != 6 {
		return fmt.Errorf("interface %s has no Ethernet address (%q), nothing to announce with", s.Interface, mac.String())
	}
	var send func() error
	if s.Addr.Is4() {
		fd, err := garpSocket()
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		frame := garpFrame(mac, s.Addr)
		to := &unix.SockaddrLinklayer{
			Protocol: htons(unix.ETH_P_ARP),
			Ifindex:  attrs.Index,
			Halen:    6,
			Addr:     [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		}
		send = func() error {
			if err := unix.Sendto(fd, frame, 0, to); err != nil {
				return fmt.Errorf("send gratuitous ARP: %w", err)
			}
			return nil
		}
	} else {
		fd, err := naSocket(attrs.Name, attrs.Index, s.Addr)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		msg := naMessage(mac, s.Addr)
		to := &unix.SockaddrInet6{Addr: allNodes.As16(), ZoneId: uint32(attrs.Index)}
		send = func() error {
			if err := unix.Sendto(fd, msg, 0, to); err != nil {
				return fmt.Errorf("send unsolicited neighbor advertisement: %w", err)
			}
			return nil
		}
	}
	for i := range count {
		if i > 0 {
			time.Sleep(interval)
		}
		if err := send(); err != nil {
			return fmt.Errorf("%w (%d of %d sent)", err, i, count)
		}
	}
	return nil
}

// htons converts to network byte order, as sockaddr_ll.sll_protocol wants.
func htons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}

// garpSocket opens an AF_PACKET socket for sending only: protocol 0 means
// the kernel delivers no incoming frames to it.
func garpSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open packet socket for ARP: %w", err)
	}
	return fd, nil
}

// garpFrame is an Ethernet broadcast ARP request whose sender and target
// protocol addresses are both the VIP: the form (RFC 5227 "ARP announcement")
// that every stack accepts as a cache update.
func garpFrame(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 0, 42)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // destination: broadcast
	b = append(b, mac...)
	b = binary.BigEndian.AppendUint16(b, unix.ETH_P_ARP)
	b = binary.BigEndian.AppendUint16(b, 1)      // hardware type Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // protocol IPv4
	b = append(b, 6, 4)                          // address lengths
	b = binary.BigEndian.AppendUint16(b, 1)      // opcode request
	v4 := ip.As4()
	b = append(b, mac...)
	b = append(b, v4[:]...)
	b = append(b, 0, 0, 0, 0, 0, 0) // target hardware address: unknown
	b = append(b, v4[:]...)
	return b
}

var allNodes = netip.MustParseAddr("ff02::1")

const (
	icmpv6NeighborAdvert = 136
	naFlagOverride       = 0x20
	ndOptTargetLLAddr    = 2
)

// naSocket opens a raw ICMPv6 socket bound to the interface with hop limit
// 255 (receivers drop neighbour discovery with any other). The kernel fills in
// the ICMPv6 checksum on such sockets. It is bound to the VIP when possible,
// so the advertisement comes from the address it announces, as the kernel's
// own do; otherwise the kernel picks a source.
func naSocket(ifname string, ifindex int, vip netip.Addr) (fd int, err error) {
	fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return -1, fmt.Errorf("open ICMPv6 socket: %w", err)
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	// Receive nothing: this socket only sends.
	var block unix.ICMPv6Filter
	for i := range block.Data {
		block.Data[i] = ^uint32(0)
	}
	opts := []struct {
		name  string
		apply func() error
	}{
		{"SO_BINDTODEVICE", func() error { return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname) }},
		{"IPV6_MULTICAST_IF", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex) }},
		{"IPV6_MULTICAST_HOPS", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255) }},
		{"IPV6_MULTICAST_LOOP", func() error { return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0) }},
		{"ICMP6_FILTER", func() error {
			return unix.SetsockoptICMPv6Filter(fd, unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &block)
		}},
	}
	for _, o := range opts {
		if err := o.apply(); err != nil {
			return -1, fmt.Errorf("set %s on ICMPv6 socket: %w", o.name, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Addr: vip.As16()}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return -1, fmt.Errorf("bind ICMPv6 socket to %s: %w", vip, err)
	}
	return fd, nil
}

// naMessage is an unsolicited Neighbor Advertisement (RFC 4861 4.4, 7.2.6):
// solicited flag clear, override set, target = VIP, with the target
// link-layer address option carrying the interface MAC. Checksum left 0 for
// the kernel.
func naMessage(mac net.HardwareAddr, ip netip.Addr) []byte {
	b := make([]byte, 0, 32)
	b = append(b, icmpv6NeighborAdvert, 0, 0, 0) // type, code, checksum
	b = append(b, naFlagOverride, 0, 0, 0)       // flags, reserved
	t := ip.As16()
	b = append(b, t[:]...)
	b = append(b, ndOptTargetLLAddr, 1) // option type, length in units of 8 bytes
	b = append(b, mac...)
	return b
}
