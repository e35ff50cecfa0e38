package vip

// Raw RTM_NEWADDR / RTM_GETADDR messages, built with netlink's own
// primitives: netlink.Addr (v1.3.1) has no field for the address protocol
// (IFA_PROTO), so AddrAdd/AddrReplace cannot set the mark and AddrList
// cannot read it.

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ifaProto is IFA_PROTO from linux/if_addr.h (Linux 5.18): a u8 the kernel
// stores with the address and reports in dumps, set only by whoever adds
// the address. x/sys/unix v0.50.0 does not name it. Older kernels ignore
// the attribute (their RTM_NEWADDR parser skips types above its IFA_MAX),
// so there the address is added unmarked and reads back unmarked.
const ifaProto = 11

// kaddr is one address as the kernel has it, including what netlink.Addr
// drops (the protocol).
type kaddr struct {
	index     int // interface index
	ip        netip.Addr
	prefix    int
	scope     int
	flags     int    // IFA_F_*, the 32-bit IFA_FLAGS value
	valid     uint32 // lifetimes in seconds; foreverLft is forever
	preferred uint32
	proto     uint8 // IFA_PROTO; 0 when unset or the kernel predates it
}

// ipNet is the address as netlink.AddrDel wants it.
func (x kaddr) ipNet() *net.IPNet {
	return &net.IPNet{IP: net.IP(x.ip.AsSlice()), Mask: net.CIDRMask(x.prefix, x.ip.BitLen())}
}

// writeAddr sends one RTM_NEWADDR for a on the interface with index: the
// request netlink.AddrAdd (nlFlags NLM_F_CREATE|NLM_F_EXCL) or AddrReplace
// (NLM_F_CREATE|NLM_F_REPLACE) builds for it, plus IFA_PROTO = a.proto.
// A replace must carry the mark too: the kernel sets the protocol from
// every replace, to 0 when the attribute is absent.
func writeAddr(index int, a kaddr, nlFlags int) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, nlFlags|unix.NLM_F_ACK)
	msg := nl.NewIfAddrmsg(family(a.ip))
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(a.prefix)
	msg.Scope = uint8(a.scope)
	// The low byte goes in the header as well as in IFA_FLAGS, so a kernel
	// older than IFA_FLAGS (3.14) still gets IFA_F_NODAD; newer ones take
	// the attribute.
	msg.Flags = uint8(a.flags)
	req.AddData(msg)
	ip := a.ip.AsSlice()
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip))
	if a.flags != 0 {
		req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(uint32(a.flags))))
	}
	if bc := broadcast4(a); bc != nil {
		req.AddData(nl.NewRtAttr(unix.IFA_BROADCAST, bc))
	}
	ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Valid: a.valid, Prefered: a.preferred}}
	req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()))
	req.AddData(nl.NewRtAttr(ifaProto, nl.Uint8Attr(a.proto)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// broadcast4 is the broadcast address netlink.AddrAdd adds for an IPv4
// prefix shorter than /31 (the subnet's last address; RFC 3021 prefixes
// have none), so a non-host VIP keeps the shape it had; nil otherwise.
func broadcast4(a kaddr) []byte {
	if !a.ip.Is4() || a.prefix >= 31 {
		return nil
	}
	b, m := a.ip.As4(), net.CIDRMask(a.prefix, 32)
	for i := range b {
		b[i] |= ^m[i]
	}
	return b[:]
}

// dumpAddrs lists every address of family fam (netlink.FAMILY_V4/V6) on
// every interface: one RTM_GETADDR dump, run again while the kernel marks
// it interrupted (Execute then returns netlink.ErrDumpInterrupted).
func dumpAddrs(fam int) ([]kaddr, error) {
	return retryDump(func() ([]kaddr, error) {
		req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfAddrmsg(fam))
		msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
		if err != nil {
			return nil, err
		}
		out := make([]kaddr, 0, len(msgs))
		for _, m := range msgs {
			x, ok, err := parseAddrMsg(m, fam)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, x)
			}
		}
		return out, nil
	})
}

// parseAddrMsg reads one RTM_NEWADDR message; ok is false for another
// family or a message without an address.
func parseAddrMsg(m []byte, fam int) (x kaddr, ok bool, err error) {
	if len(m) < unix.SizeofIfAddrmsg {
		return x, false, fmt.Errorf("address message of %d bytes is too short", len(m))
	}
	msg := nl.DeserializeIfAddrmsg(m)
	if int(msg.Family) != fam {
		return x, false, nil
	}
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return x, false, fmt.Errorf("parse address message: %w", err)
	}
	x = kaddr{index: int(msg.Index), prefix: int(msg.Prefixlen), scope: int(msg.Scope), flags: int(msg.Flags)}
	var local, address netip.Addr
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(v)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(v)
		case unix.IFA_FLAGS:
			if len(v) >= 4 {
				x.flags = int(nl.NativeEndian().Uint32(v))
			}
		case unix.IFA_CACHEINFO:
			if len(v) >= unix.SizeofIfaCacheinfo {
				ci := nl.DeserializeIfaCacheInfo(v)
				x.valid, x.preferred = ci.Valid, ci.Prefered
			}
		case ifaProto:
			if len(v) >= 1 {
				x.proto = v[0]
			}
		}
	}
	// IFA_LOCAL is this node's address; IFA_ADDRESS is the peer on a
	// point-to-point link and the only one IPv6 usually sends.
	x.ip = local
	if !x.ip.IsValid() {
		x.ip = address
	}
	return x, x.ip.IsValid(), nil
}
