package vip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// broadcast is the Ethernet destination of every ARP request sent here.
var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// dropAll is a socket filter that accepts no frame: a socket that only
// sends queues nothing.
var dropAll = []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: 0}}

// arpLink is an interface ready for ARP: its MAC and a packet socket bound
// to it for EtherType ARP. The socket is SOCK_DGRAM, so the kernel writes the
// Ethernet header (broadcast destination, the interface's MAC as source):
// the frame is the 14-byte header and the 28-byte ARP message, unpadded, as
// the kernel's own ARP sends it.
type arpLink struct {
	mac  net.HardwareAddr
	conn *packet.Conn
}

// ethernetLink looks the interface up and requires an Ethernet address, the
// sender of every ARP and neighbour advertisement.
func ethernetLink(ifname string) (*netlink.LinkAttrs, error) {
	link, err := linkByName(ifname)
	if err != nil {
		return nil, err
	}
	attrs := link.Attrs()
	if len(attrs.HardwareAddr) != 6 {
		return nil, fmt.Errorf("interface %s has no Ethernet address (%q): no ARP or neighbour discovery on it", ifname, attrs.HardwareAddr.String())
	}
	return attrs, nil
}

// listenARP opens an ARP socket on the interface; receive false filters
// every incoming frame out.
func listenARP(attrs *netlink.LinkAttrs, receive bool) (*arpLink, error) {
	var cfg packet.Config
	if !receive {
		cfg.Filter = dropAll
	}
	ifi := &net.Interface{Index: attrs.Index, Name: attrs.Name, HardwareAddr: attrs.HardwareAddr}
	c, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, &cfg)
	if err != nil {
		return nil, fmt.Errorf("open ARP socket on %s: %w", attrs.Name, err)
	}
	return &arpLink{mac: attrs.HardwareAddr, conn: c}, nil
}

// request broadcasts one ARP request for target from sender.
func (l *arpLink) request(sender, target netip.Addr) error {
	b, err := arpRequest(l.mac, sender, target)
	if err != nil {
		return err
	}
	_, err = l.conn.WriteTo(b, &packet.Addr{HardwareAddr: broadcast})
	return err
}

// arpRequest is the ARP message of a request for target from sender, the
// target hardware address unknown (zero).
func arpRequest(mac net.HardwareAddr, sender, target netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, sender, make(net.HardwareAddr, 6), target)
	if err != nil {
		return nil, fmt.Errorf("build ARP request for %s: %w", target, err)
	}
	return p.MarshalBinary()
}

// ProbeARP sends one RFC 5227 ARP probe (sender address 0.0.0.0, so no
// neighbour cache learns anything from it) for the IPv4 address ip on
// iface and waits up to wait, or until ctx's deadline if sooner, for
// another host to claim ip. It returns the claimant's MAC, or "" when
// nobody answered. Replies from this node's own interfaces are passed
// over: with arp_ignore 0 Linux answers ARP for any local address on any
// interface, so a second NIC on the same link answers for a VIP this node
// holds. Linux only (the doctor's --arp-probe).
func ProbeARP(ctx context.Context, iface string, ip netip.Addr, wait time.Duration) (string, error) {
	attrs, err := ethernetLink(iface)
	if err != nil {
		return "", err
	}
	l, err := listenARP(attrs, true)
	if err != nil {
		return "", err
	}
	defer l.conn.Close()
	if err := l.request(netip.IPv4Unspecified(), ip); err != nil {
		return "", fmt.Errorf("send ARP probe on %s: %w", iface, err)
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := l.conn.SetReadDeadline(deadline); err != nil {
		return "", fmt.Errorf("wait for ARP replies: %w", err)
	}
	own := localMACs()
	buf := make([]byte, 1500)
	for {
		n, _, err := l.conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("wait for ARP replies: %w", err)
		}
		var p arp.Packet
		if p.UnmarshalBinary(buf[:n]) != nil {
			continue
		}
		if p.SenderIP == ip && !bytes.Equal(p.SenderHardwareAddr, l.mac) && !own[p.SenderHardwareAddr.String()] {
			return p.SenderHardwareAddr.String(), nil
		}
	}
}

// localMACs are the hardware addresses of this node's interfaces (in this
// network namespace).
func localMACs() map[string]bool {
	links, _ := netlink.LinkList()
	out := make(map[string]bool, len(links))
	for _, l := range links {
		if mac := l.Attrs().HardwareAddr; len(mac) > 0 {
			out[mac.String()] = true
		}
	}
	return out
}
