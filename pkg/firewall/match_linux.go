package firewall

import (
	"fmt"
	"net/netip"
)

// addrCond matches the source address against a set of prefixes and
// ranges: yes when the probe source lies inside one, no when it is outside
// all, maybe when it straddles one or is any host.
func addrCond(what string, v6 bool, elems []addrRange, negate bool) cond {
	return cond{what: what, bySource: true, eval: func(p packet) tri {
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

// negated is c with its result turned round, unless c is final.
func negated(c cond, negate bool) cond {
	if !negate || c.final {
		return c
	}
	inner := c.eval
	c.eval = func(p packet) tri { return inner(p).not() }
	return c
}

// absent is a match on a header the probe has not: false, negated or not.
func absent(what string) cond {
	c := always(no, what)
	c.final = true
	return c
}

// neverDest are where the probe's destination never lies: it is a local
// unicast address, not loopback, multicast or the limited broadcast.
var neverDest = []addrRange{
	rangeOf(netip.MustParsePrefix("127.0.0.0/8")),
	rangeOf(netip.MustParsePrefix("224.0.0.0/4")),
	rangeOf(netip.MustParsePrefix("255.255.255.255/32")),
	rangeOf(netip.MustParsePrefix("::1/128")),
	rangeOf(netip.MustParsePrefix("ff00::/8")),
}

// destCond matches the destination address: the packet's when known;
// else which local address the probe is sent to is not known, but it is
// none in neverDest: a set of only
// those never matches, the whole address space always does, anything else
// may.
func destCond(what string, v6 bool, elems []addrRange, negate bool) cond {
	t := no
	for _, e := range elems {
		if whole(e) {
			t = yes
			break
		}
		if !within(e, neverDest) {
			t = maybe
		}
	}
	return cond{what: what, eval: func(p packet) tri {
		if p.src.V6 != v6 {
			return no // an IPv4 match never matches an IPv6 packet, negated or not
		}
		t := t
		if p.dst.IsValid() && p.dst.Is6() == v6 {
			t = triOf(addrIn(Source{Prefix: netip.PrefixFrom(p.dst, p.dst.BitLen()), V6: v6}, elems) == yes)
		}
		if negate {
			return t.not()
		}
		return t
	}}
}

// whole reports whether e is all addresses of its family (0.0.0.0/0, ::/0).
func whole(e addrRange) bool {
	return e.lo.IsUnspecified() && rangeOf(netip.PrefixFrom(e.lo, 0)).hi == e.hi
}

// within reports whether e lies inside one of the ranges.
func within(e addrRange, ranges []addrRange) bool {
	for _, r := range ranges {
		if r.lo.Is4() == e.lo.Is4() && r.lo.Compare(e.lo) <= 0 && e.hi.Compare(r.hi) <= 0 {
			return true
		}
	}
	return false
}

// oneOf judges a match on a property of which the probe has one value out
// of may: yes when every value it may have is listed, no when none is,
// maybe when some are or the list cannot be read (listed says maybe).
func oneOf(may []string, listed func(string) tri) tri {
	n := 0
	for _, v := range may {
		switch listed(v) {
		case maybe:
			return maybe
		case yes:
			n++
		}
	}
	switch n {
	case 0:
		return no
	case len(may):
		return yes
	}
	return maybe
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
			if whole(e) {
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

// chainFixNft lets the probe in against a chain's drop policy: at the top
// of the chain, since a rule appended at its end may never be reached (a
// goto or a jump whose chain drops comes first).
func chainFixNft(family, table, chainName string) func(Source, uint16) string {
	return func(s Source, port uint16) string {
		return "nft insert rule " + family + " " + table + " " + chainName + " " + nftAccept(family, s, port)
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
