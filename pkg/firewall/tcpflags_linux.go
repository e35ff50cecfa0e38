package firewall

import (
	"strings"
)

// The probe's first packet is a SYN: of the TCP flags it carries SYN
// alone. Rules on the flags (hardening against NULL, XMAS and non-SYN new
// connections) are judged against that.

// allTCPFlags are the flags iptables' ALL and nft know, lower case.
var allTCPFlags = []string{"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"}

// tcpFlagNames reads iptables' "FIN,SYN,RST,ACK", "ALL" or "NONE".
func tcpFlagNames(list string) (map[string]bool, bool) {
	set := map[string]bool{}
	for _, f := range strings.Split(strings.ToLower(list), ",") {
		switch {
		case f == "all":
			for _, a := range allTCPFlags {
				set[a] = true
			}
		case f == "none":
		case isTCPFlag(f):
			set[f] = true
		default:
			return nil, false
		}
	}
	return set, true
}

func isTCPFlag(f string) bool {
	for _, a := range allTCPFlags {
		if a == f {
			return true
		}
	}
	return f == "ece" // nft's and iptables' other name for ecn
}

// probeFlagsMasked is the probe's flags within mask.
func probeFlagsMasked(mask map[string]bool) map[string]bool {
	if mask["syn"] {
		return map[string]bool{"syn": true}
	}
	return map[string]bool{}
}

func sameFlags(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for f := range a {
		if !b[f] {
			return false
		}
	}
	return true
}

// iptTCPFlags judges `--tcp-flags MASK COMP`: the flags within MASK are
// exactly COMP (iptables-extensions(8), tcp).
func iptTCPFlags(a []string, w string) cond {
	if len(a) != 2 {
		return always(maybe, w)
	}
	mask, ok1 := tcpFlagNames(a[0])
	comp, ok2 := tcpFlagNames(a[1])
	if !ok1 || !ok2 {
		return always(maybe, w)
	}
	return always(triOf(sameFlags(probeFlagsMasked(mask), comp)), w)
}

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

// nftFlags reads an nft flag value: "syn", {"|": ["syn", "ack"]}, 0.
func nftFlags(v nftValue) (map[string]bool, bool) {
	switch {
	case v.kind == jString && isTCPFlag(v.str):
		return map[string]bool{v.str: true}, true
	case v.kind == jNumber && v.num == 0:
		return map[string]bool{}, true
	case v.kind == jList || (v.kind == jObject && v.obj.Or != nil):
		// ["fin", "syn"] and {"|": ["fin", "syn"]}: the flags ORed.
		parts := v.list
		if v.kind == jObject {
			parts = v.obj.Or
		}
		set := map[string]bool{}
		for _, e := range parts {
			s, ok := nftFlags(e)
			if !ok {
				return nil, false
			}
			for f := range s {
				set[f] = true
			}
		}
		return set, true
	}
	return nil, false
}

// nftTCPFlags judges `tcp flags [& MASK] OP RIGHT` for the SYN: == and !=
// compare the (masked) flags with a value (a list is flags ORed) or a set
// of values; `!` says none of RIGHT's bits is set; `in` (nft's `tcp flags
// syn`) tests bits, judged only where "any of" and "all of" agree.
func (p *nftParser) nftTCPFlags(nr nftRule, mask map[string]bool, op string, right nftValue, what string) cond {
	got := probeFlagsMasked(mask)
	values := []nftValue{right}
	if e := right.expr(); e.Set != nil {
		var ok bool
		if values, ok = p.elements(nr, right); !ok {
			return always(maybe, what)
		}
	}
	t := no
	for _, v := range values {
		want, ok := nftFlags(unwrapElem(v))
		if !ok {
			return always(maybe, what)
		}
		if op == "!" {
			// None of the bits set (iptables-nft's --tcp-flags M NONE).
			none := true
			for f := range want {
				none = none && !got[f]
			}
			return always(triOf(none), what)
		}
		if op == "in" {
			anyBit, allBits := false, len(want) > 0
			for f := range want {
				anyBit = anyBit || got[f]
				allBits = allBits && got[f]
			}
			if anyBit != allBits {
				return always(maybe, what)
			}
			if anyBit {
				t = yes
			}
		} else if sameFlags(got, want) {
			t = yes
		}
	}
	if op == "!=" {
		t = t.not()
	}
	return always(t, what)
}
