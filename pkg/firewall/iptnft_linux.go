package firewall

import (
	"encoding/json"
	"strings"
)

// iptables-nft writes the rules of iptables and ip6tables into nftables
// tables (ip filter, ip6 nat, ...). Most of its matches (conntrack,
// addrtype, comment, multiport) and targets (REJECT, DNAT) go in as xt
// expressions, which `nft -j list ruleset` lists by name only, without
// their options: nft's view cannot judge them. iptables-save, on the
// nf_tables backend, prints those tables as iptables rules with every
// option, so Read takes them from its text instead, unless nft shows in a
// table what iptables-save does not print faithfully.

// iptablesWrites says whether r has an xt expression, and whether r is
// made only of what iptables-nft writes and iptables-save prints back as
// it is: xt matches and targets, counters, limits, verdicts, and the
// native forms of -s and -d (an address or prefix), -p, -i, -o, tcp and
// udp ports, and marks. iptables-save 1.8.9 prints a set of addresses as
// no match at all, an address range as its last address, and leaves out a
// rule it cannot parse (meta mark set, th dport) without failing; a table
// with any of those is read from nft's view.
func iptablesWrites(r nftRule) (xt, ok bool) {
	ok = true
	for _, stmt := range r.Expr {
		for _, e := range stmt {
			switch e.key {
			case "xt":
				xt = true
			case "counter", "limit", "accept", "drop", "return", "jump", "goto":
			case "match":
				ok = ok && iptablesMatch(e.raw)
			default:
				ok = false
			}
		}
	}
	return xt, ok
}

// iptablesMatch reports whether a match is one iptables-nft writes
// natively and iptables-save prints as it is.
func iptablesMatch(raw json.RawMessage) bool {
	var m nftMatch
	var masked struct {
		Left struct {
			And []nftValue `json:"&"`
		}
	}
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	l := m.Left.expr()
	if _, ok := tcpFlagsOperand(l); ok {
		// --syn, --tcp-flags M C (! for C NONE)
		return m.Op == "==" || m.Op == "!=" || m.Op == "!"
	}
	if m.Op != "==" && m.Op != "!=" {
		return false
	}
	switch {
	case l.Payload != nil:
		proto, field := l.Payload.Protocol.text(), l.Payload.Field.text()
		switch {
		case (proto == "ip" || proto == "ip6") && (field == "saddr" || field == "daddr"):
			return plainAddr(m.Right)
		case (proto == "tcp" || proto == "udp") && (field == "sport" || field == "dport"):
			return m.Right.kind == jNumber || len(m.Right.expr().Range) == 2
		}
	case l.Meta != nil:
		switch l.Meta.Key.text() {
		case "iifname", "oifname", "l4proto":
			return m.Right.kind == jNumber || (m.Right.kind == jString && !strings.HasPrefix(m.Right.str, "@"))
		case "mark":
			return m.Right.kind == jNumber
		}
	case json.Unmarshal(raw, &masked) == nil && len(masked.Left.And) == 2:
		// -m mark --mark V/M, or -s A/M with a mask that is no prefix.
		inner := masked.Left.And[0].expr()
		if inner.Meta != nil && inner.Meta.Key.text() == "mark" {
			return m.Right.kind == jNumber
		}
		if p := inner.Payload; p != nil && (p.Field.text() == "saddr" || p.Field.text() == "daddr") {
			return m.Right.kind == jString && plainAddr(m.Right)
		}
	}
	return false
}

// plainAddr is an address or a prefix: no set, no range.
func plainAddr(v nftValue) bool {
	switch v.kind {
	case jString:
		return !strings.HasPrefix(v.str, "@")
	case jObject:
		return v.obj.Prefix != nil
	}
	return false
}

// savedTables are the tables an iptables-save text prints ("filter",
// "nat"); a table it calls incompatible is only named in a comment.
func savedTables(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "*") {
			out = append(out, l[1:])
		}
	}
	return out
}

// keepTables is an iptables-save text with only the tables keep says yes
// to.
func keepTables(text string, keep func(table string) bool) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "*") {
			in = keep(t[1:])
		}
		if in {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if t == "COMMIT" {
			in = false
		}
	}
	return b.String()
}
