package firewall

import (
	"fmt"
	"net/netip"
)

// addrCond matches the source address against a set of prefixes and
// ranges: yes when the probe source lies inside one, no when it is outside
// all, maybe when it straddles one or is any host.
func addrCond(what string, v6 bool, elems []addrRange, negate bool) cond {
	return cond{what: what, eval: func(p packet) tri {
		if p.src.V6 != v6 {
			return no // an IPv4 match never matches an IPv6 packet, negated or not
		}
		t := addrIn(p.src, elems)
		if negate {
			return t.not()
		}
		return t
	}}
}

// addrRange is an inclusive range of addresses.
type addrRange struct{ lo, hi netip.Addr }

func rangeOf(p netip.Prefix) addrRange {
	p = p.Masked()
	lo := p.Addr()
	hi := lo
	bits := lo.BitLen()
	b := hi.AsSlice()
	for i := p.Bits(); i < bits; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	hi, _ = netip.AddrFromSlice(b)
	return addrRange{lo: lo, hi: hi}
}

func addrIn(s Source, elems []addrRange) tri {
	if !s.Prefix.IsValid() {
		for _, e := range elems {
			if e.lo.IsUnspecified() && rangeOf(netip.PrefixFrom(e.lo, 0)).hi == e.hi {
				return yes // 0.0.0.0/0
			}
		}
		return maybe
	}
	src := rangeOf(s.Prefix)
	t := no
	for _, e := range elems {
		if e.lo.Is4() != src.lo.Is4() {
			continue
		}
		if e.lo.Compare(src.lo) <= 0 && src.hi.Compare(e.hi) <= 0 {
			return yes
		}
		if !(src.hi.Compare(e.lo) < 0 || e.hi.Compare(src.lo) < 0) {
			t = maybe // overlaps partly
		}
	}
	return t
}

// portCond matches the destination port against ranges.
func portCond(what string, ranges [][2]uint16, negate bool) cond {
	return cond{what: what, eval: func(p packet) tri {
		t := no
		for _, r := range ranges {
			if r[0] <= p.port && p.port <= r[1] {
				t = yes
				break
			}
		}
		if negate {
			return t.not()
		}
		return t
	}}
}

func ruleFixNft(family, table, chainName string, handle int) func(Source, uint16) string {
	return func(s Source, port uint16) string {
		return "nft insert rule " + family + " " + table + " " + chainName + fmt.Sprintf(" position %d ", handle) + nftAccept(family, s, port)
	}
}

func chainFixNft(family, table, chainName string) func(Source, uint16) string {
	return func(s Source, port uint16) string {
		return "nft add rule " + family + " " + table + " " + chainName + " " + nftAccept(family, s, port)
	}
}

func nftAccept(family string, s Source, port uint16) string {
	out := ""
	if s.Prefix.IsValid() {
		if s.V6 {
			out = "ip6 saddr " + s.String() + " "
		} else {
			out = "ip saddr " + s.String() + " "
		}
	} else if family == "inet" || family == "netdev" {
		if s.V6 {
			out = "meta nfproto ipv6 "
		} else {
			out = "meta nfproto ipv4 "
		}
	}
	return out + fmt.Sprintf("tcp dport %d accept", port)
}

func fixIptables(tool, table, chainName string, pos int) func(Source, uint16) string {
	return func(s Source, port uint16) string {
		src := ""
		if s.Prefix.IsValid() {
			src = " -s " + s.String()
		}
		at := ""
		if pos > 0 {
			at = fmt.Sprintf(" %d", pos)
		}
		t := ""
		if table != "filter" {
			t = " -t " + table
		}
		return fmt.Sprintf("%s%s -I %s%s%s -p tcp --dport %d -j ACCEPT", tool, t, chainName, at, src, port)
	}
}
