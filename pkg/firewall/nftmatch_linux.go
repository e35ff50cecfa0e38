package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// compare builds the condition "left op right" for the probe packet.
func (p *nftParser) compare(nr nftRule, left nftValue, op string, right nftValue) cond {
	if mask, ok := tcpFlagsOperand(left.expr()); ok {
		what := describe(left) + " " + op + " " + flagsText(right)
		if op == "in" {
			what = describe(left) + " " + flagsText(right) // nft's `tcp flags syn`
		}
		return p.nftTCPFlags(nr, mask, op, right, what)
	}
	negate := op == "!="
	if op != "==" && op != "!=" && op != "in" && op != "" {
		if op2, ok := portOp(left, op, right); ok {
			return op2
		}
		return always(maybe, describe(left)+" "+op+" "+describe(right))
	}
	what := describe(left) + " " + describe(right)
	if negate {
		what = describe(left) + " != " + describe(right)
	}
	l := left.expr()
	switch {
	case l.Payload != nil:
		return p.comparePayload(nr, l.Payload.Protocol.text(), l.Payload.Field.text(), what, right, negate)
	case l.Meta != nil:
		return p.compareMeta(nr, l.Meta.Key.text(), what, right, negate)
	case l.CT != nil && l.CT.Key.text() == "state":
		// The probe's first packet opens a new connection (or is
		// untracked).
		return negated(cond{what: what, eval: func(pk packet) tri {
			return pk.ctState(func(st string) tri {
				return p.has(nr, right, func(s string) bool { return s == st })
			})
		}}, negate)
	case l.CT != nil && l.CT.Key.text() == "status":
		return negated(cond{what: what, eval: func(packet) tri { return p.ctStatus(nr, right) }}, negate)
	case l.Fib != nil:
		return p.compareFib(nr, texts(l.Fib.Flags), l.Fib.Result.text(), what, right, negate)
	case l.Exthdr != nil:
		return exthdrCond(l.Exthdr.Field, what, right, negate)
	}
	return always(maybe, what)
}

// ctStatus is no when every status listed is one the probe's first packet
// has not on its way in (not DNATed, expecting nothing, no reply seen, not
// yet confirmed); maybe for others (snat).
func (p *nftParser) ctStatus(nr nftRule, right nftValue) tri {
	if p.has(nr, right, func(s string) bool { return !neverStatus[strings.ToUpper(strings.ReplaceAll(s, "-", "_"))] }) == no {
		return no
	}
	return maybe
}

// compareFib judges "fib daddr type" and "fib saddr type": the probe's
// destination is local, its source unicast. Looked up on the input
// interface only (". iif"), the destination is local if its address is on
// that interface and unicast if not. Other results (oif, oifname: reverse
// path filters) depend on the routes and are not judged.
func (p *nftParser) compareFib(nr nftRule, flags []string, result, what string, right nftValue, negate bool) cond {
	var may []string
	iif := slices.Contains(flags, "iif")
	if result == "oif" && iif && slices.Contains(flags, "saddr") && right.kind == jBool && !right.b {
		return reversePath(what, negate)
	}
	switch {
	case result != "type" || len(flags) > 2 || (len(flags) == 2 && !iif):
		return always(maybe, what)
	case slices.Contains(flags, "daddr"):
		may = []string{"local"}
		if iif {
			may = append(may, "unicast")
		}
	case slices.Contains(flags, "saddr"):
		may = []string{"unicast"}
	default:
		return always(maybe, what)
	}
	return negated(cond{what: what, eval: func(packet) tri {
		return oneOf(may, func(t string) tri {
			return p.has(nr, right, func(s string) bool { return s == t })
		})
	}}, negate)
}

// linkLocal6 is IPv6's link-local prefix.
var linkLocal6 = rangeOf(netip.MustParsePrefix("fe80::/10"))

// reversePath judges the reverse-path check `fib saddr [. mark] . iif oif
// missing` (firewalld's rpfilter): a link-local source (Azure's IPv6
// probe, fe80::1234:5678:9abc) has its route on every interface with IPv6,
// the one it came in on too, so the check never drops it; for any other
// source the routes decide, which are not read here.
func reversePath(what string, negate bool) cond {
	return cond{what: what, eval: func(p packet) tri {
		if p.src.Prefix.IsValid() && within(rangeOf(p.src.Prefix), []addrRange{linkLocal6}) {
			return triOf(negate)
		}
		return maybe
	}}
}

// exthdrCond judges a match on an IPv6 extension header, of which the
// probe has none. On a field ("rt type 0") nft breaks off the rule when the
// header is missing, negated or not; "exthdr X exists" (right true) is
// false and "missing" (false) true. nft puts "meta nfproto ipv6" in front
// (and lists it no more), so an IPv4 packet never matches.
func exthdrCond(field nftValue, what string, right nftValue, negate bool) cond {
	if field.kind != jNull || right.kind != jBool {
		return absent(what)
	}
	t := map[bool]tri{true: no, false: yes}[right.b]
	if negate {
		t = t.not()
	}
	return cond{what: what, eval: func(pk packet) tri {
		if !pk.src.V6 {
			return no
		}
		return t
	}}
}

// tcpFlagsOperand recognises `tcp flags` and `tcp flags & MASK` on the
// left of a match, with the mask (every flag without one).
func tcpFlagsOperand(l *nftExpr) (map[string]bool, bool) {
	isFlags := func(e *nftExpr) bool {
		return e.Payload != nil && e.Payload.Protocol.text() == "tcp" && e.Payload.Field.text() == "flags"
	}
	if isFlags(l) {
		all, _ := tcpFlagNames("ALL")
		return all, true
	}
	if len(l.And) != 2 || !isFlags(l.And[0].expr()) {
		return nil, false
	}
	return nftFlags(l.And[1]) // a list of flags is ORed
}

// comparePayload judges a match on a header field.
func (p *nftParser) comparePayload(nr nftRule, proto, field, what string, right nftValue, negate bool) cond {
	switch {
	case proto == "tcp" && field == "dport", proto == "th" && field == "dport":
		ranges, ok := p.ports(nr, right)
		if !ok {
			return always(maybe, what)
		}
		return portCond(what, ranges, negate)
	case proto == "udp", proto == "udplite", proto == "sctp", proto == "dccp", proto == "icmp", proto == "icmpv6", proto == "esp", proto == "ah":
		return always(no, what) // a header the probe has not: never matches, not even negated
	case (proto == "ip" || proto == "ip6") && field == "saddr":
		elems, ok := p.addrs(nr, right)
		if !ok {
			return always(maybe, what)
		}
		return addrCond(what, proto == "ip6", elems, negate)
	case (proto == "ip" || proto == "ip6") && field == "daddr":
		if elems, ok := p.addrs(nr, right); ok {
			return destCond(what, proto == "ip6", elems, negate)
		}
		return familyOnly(what, proto == "ip6")
	case proto == "ip" && field == "protocol", proto == "ip6" && field == "nexthdr":
		v6 := proto == "ip6"
		return cond{what: what, eval: func(pk packet) tri {
			if pk.src.V6 != v6 {
				return no // the other family: no match, negated or not
			}
			t := p.has(nr, right, func(s string) bool { return s == "tcp" || s == "6" })
			if negate {
				return t.not()
			}
			return t
		}}
	case proto == "ip" || proto == "ip6":
		return familyOnly(what, proto == "ip6")
	}
	return always(maybe, what)
}

// familyOnly is a match on a field of one family's header that is not
// judged: no for the other family, negated or not, else maybe.
func familyOnly(what string, v6 bool) cond {
	return cond{what: what, eval: func(pk packet) tri {
		if pk.src.V6 != v6 {
			return no
		}
		return maybe
	}}
}

// compareMeta judges a match on packet metadata.
func (p *nftParser) compareMeta(nr nftRule, key, what string, right nftValue, negate bool) cond {
	var eval func(packet) tri
	switch key {
	case "l4proto":
		eval = func(packet) tri {
			return p.has(nr, right, func(s string) bool { return s == "tcp" || s == "6" })
		}
	case "nfproto", "protocol":
		eval = func(pk packet) tri {
			return p.has(nr, right, func(s string) bool {
				if pk.src.V6 {
					return s == "ipv6" || s == "ip6" || s == "10" || s == "34525"
				}
				return s == "ipv4" || s == "ip" || s == "2" || s == "2048"
			})
		}
	case "iifname", "iif":
		// The probe arrives on a real interface, never on lo; which
		// one is not known here.
		eval = func(packet) tri {
			if p.has(nr, right, func(s string) bool { return s == "lo" || s == "1" }) == yes && !multi(right) {
				return no
			}
			return maybe
		}
	case "pkttype":
		eval = func(packet) tri {
			return p.has(nr, right, func(s string) bool { return s == "host" || s == "unicast" })
		}
	default:
		return always(maybe, what)
	}
	return negated(cond{what: what, eval: eval}, negate)
}

// portOp handles "tcp dport < 1024" and the like.
func portOp(left nftValue, op string, right nftValue) (cond, bool) {
	pl := left.expr().Payload
	if pl == nil {
		return cond{}, false
	}
	proto, field := pl.Protocol.text(), pl.Field.text()
	if (proto != "tcp" && proto != "th") || field != "dport" {
		return cond{}, false
	}
	n, ok := number(right)
	if !ok {
		return cond{}, false
	}
	what := fmt.Sprintf("%s dport %s %d", proto, op, n)
	return cond{what: what, eval: func(p packet) tri {
		v := int(p.port)
		var t bool
		switch op {
		case "<":
			t = v < n
		case ">":
			t = v > n
		case "<=":
			t = v <= n
		case ">=":
			t = v >= n
		default:
			return maybe
		}
		if t {
			return yes
		}
		return no
	}}, true
}

// multi reports whether a right-hand side is a set of several values.
func multi(v nftValue) bool {
	switch v.kind {
	case jList:
		return len(v.list) > 1
	case jObject:
		s := v.obj.Set
		return s != nil && s.kind == jList && len(s.list) > 1
	case jString:
		return strings.HasPrefix(v.str, "@")
	}
	return false
}

// elements flattens a right-hand side into its values; a named set is
// looked up in the rule's table.
func (p *nftParser) elements(nr nftRule, v nftValue) ([]nftValue, bool) {
	switch v.kind {
	case jList:
		return v.list, true
	case jObject:
		if v.obj.Set != nil {
			return p.elements(nr, *v.obj.Set)
		}
		return []nftValue{v}, true
	case jString:
		if strings.HasPrefix(v.str, "@") {
			e, ok := p.sets[nftKey(nr.Family, nr.Table, v.str[1:])]
			return e, ok
		}
		return []nftValue{v}, true
	case jNumber:
		return []nftValue{v}, true
	}
	return nil, false
}

// unwrapElem takes the value out of {"elem": {"val": V, "timeout": ...}}.
func unwrapElem(e nftValue) nftValue {
	if e.kind == jObject && e.obj.Elem != nil {
		return e.obj.Elem.Val
	}
	return e
}

// has reports whether right contains a value for which ok holds (yes), or
// only values for which it does not (no); maybe when right is unreadable.
func (p *nftParser) has(nr nftRule, right nftValue, ok func(string) bool) tri {
	elems, found := p.elements(nr, right)
	if !found {
		return maybe
	}
	for _, e := range elems {
		e = unwrapElem(e)
		switch e.kind {
		case jString:
			if ok(e.str) {
				return yes
			}
		case jNumber:
			if ok(strconv.Itoa(int(e.num))) {
				return yes
			}
		default:
			return maybe
		}
	}
	return no
}

func number(v nftValue) (int, bool) {
	switch v.kind {
	case jNumber:
		return int(v.num), true
	case jString:
		n, err := strconv.Atoi(v.str)
		return n, err == nil
	}
	return 0, false
}

// ports reads port values, ranges and sets.
func (p *nftParser) ports(nr nftRule, right nftValue) ([][2]uint16, bool) {
	elems, ok := p.elements(nr, right)
	if !ok {
		return nil, false
	}
	var out [][2]uint16
	for _, e := range elems {
		e = unwrapElem(e)
		if n, ok := number(e); ok {
			out = append(out, [2]uint16{uint16(n), uint16(n)})
			continue
		}
		r := e.expr().Range
		if len(r) != 2 {
			return nil, false
		}
		lo, ok1 := number(r[0])
		hi, ok2 := number(r[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		out = append(out, [2]uint16{uint16(lo), uint16(hi)})
	}
	return out, true
}

// addrs reads addresses, prefixes, ranges and sets of them.
func (p *nftParser) addrs(nr nftRule, right nftValue) ([]addrRange, bool) {
	elems, ok := p.elements(nr, right)
	if !ok {
		return nil, false
	}
	var out []addrRange
	for _, e := range elems {
		r, ok := addrElem(unwrapElem(e))
		if !ok {
			return nil, false
		}
		out = append(out, r)
	}
	return out, true
}

// addrElem reads one address, prefix or range.
func addrElem(e nftValue) (addrRange, bool) {
	switch e.kind {
	case jString:
		a, err := netip.ParseAddr(e.str)
		if err != nil {
			return addrRange{}, false
		}
		return addrRange{a.Unmap(), a.Unmap()}, true
	case jObject:
		if pf := e.obj.Prefix; pf != nil {
			a, err := netip.ParseAddr(pf.Addr.text())
			if err != nil {
				return addrRange{}, false
			}
			n := 0.0
			if pf.Len.kind == jNumber {
				n = pf.Len.num
			}
			pr, err := a.Unmap().Prefix(int(n))
			if err != nil {
				return addrRange{}, false
			}
			return rangeOf(pr), true
		}
		if r := e.obj.Range; len(r) == 2 {
			lo, err1 := netip.ParseAddr(r[0].text())
			hi, err2 := netip.ParseAddr(r[1].text())
			if err1 != nil || err2 != nil {
				return addrRange{}, false
			}
			return addrRange{lo.Unmap(), hi.Unmap()}, true
		}
	}
	return addrRange{}, false
}
