package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
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
	attrs, err := ethernetLink(s.Interface)
	if err != nil {
		return err
	}
	var send func() error
	if s.Addr.Is4() {
		l, err := listenARP(attrs, false)
		if err != nil {
			return err
		}
		defer l.conn.Close()
		// An ARP announcement (RFC 5227): a request whose sender and
		// target are both the VIP, which every stack takes as a cache
		// update.
		send = func() error {
			if err := l.request(s.Addr, s.Addr); err != nil {
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
		msg, err := naMessage(attrs.HardwareAddr, s.Addr)
		if err != nil {
			return err
		}
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

var allNodes = netip.MustParseAddr("ff02::1")

// naSocket opens a raw ICMPv6 socket bound to the interface with hop limit
// 255 (receivers drop neighbour discovery with any other). The kernel fills in
// the ICMPv6 checksum on such sockets. It is bound to the VIP when possible,
// so the advertisement comes from the address it announces, as the kernel's
// own do; otherwise the kernel picks a source. (ndp.Listen's socket would
// refuse a VIP not on the interface instead, loop the advertisement back to
// this node and receive every ICMPv6 message meanwhile.)
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
func naMessage(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	b, err := ndp.MarshalMessage(&ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	})
	if err != nil {
		return nil, fmt.Errorf("build neighbor advertisement for %s: %w", ip, err)
	}
	return b, nil
}
