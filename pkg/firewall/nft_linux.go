package firewall

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// nftJSON is the output of `nft -j list ruleset`: a list of objects with
// one key each (metainfo, table, chain, rule, set, map, ...).
type nftJSON struct {
	Nftables []map[string]json.RawMessage `json:"nftables"`
}

type nftChain struct {
	Family string `json:"family"`
	Table  string `json:"table"`
	Name   string `json:"name"`
	Type   string `json:"type"`
	Hook   string `json:"hook"`
	Prio   int    `json:"prio"`
	Policy string `json:"policy"`
}

type nftRule struct {
	Family string                       `json:"family"`
	Table  string                       `json:"table"`
	Chain  string                       `json:"chain"`
	Handle int                          `json:"handle"`
	Expr   []map[string]json.RawMessage `json:"expr"`
}

type nftSet struct {
	Family string            `json:"family"`
	Table  string            `json:"table"`
	Name   string            `json:"name"`
	Elem   []json.RawMessage `json:"elem"`
}

func nftKey(family, table, chain string) string { return family + " " + table + " " + chain }

// nftParser turns one ruleset into the model.
type nftParser struct {
	rs   *Ruleset
	sets map[string][]any // "family table name" -> elements (decoded JSON)
}

// parseNft reads `nft -j list ruleset` output.
func parseNft(b []byte) (*Ruleset, error) {
	var doc nftJSON
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not nft JSON: %w", err)
	}
	p := &nftParser{rs: newRuleset("nftables"), sets: map[string][]any{}}
	var rules []nftRule
	for _, obj := range doc.Nftables {
		for kind, raw := range obj {
			switch kind {
			case "chain":
				var c nftChain
				if err := json.Unmarshal(raw, &c); err != nil {
					return nil, fmt.Errorf("chain: %w", err)
				}
				p.addChain(c)
			case "rule":
				var r nftRule
				if err := json.Unmarshal(raw, &r); err != nil {
					return nil, fmt.Errorf("rule: %w", err)
				}
				rules = append(rules, r)
			case "set", "map":
				var s nftSet
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, fmt.Errorf("%s: %w", kind, err)
				}
				var elems []any
				for _, e := range s.Elem {
					var v any
					if err := json.Unmarshal(e, &v); err == nil {
						elems = append(elems, v)
					}
				}
				p.sets[nftKey(s.Family, s.Table, s.Name)] = elems
			}
		}
	}
	for _, r := range rules {
		c, ok := p.rs.chains[nftKey(r.Family, r.Table, r.Chain)]
		if !ok {
			continue
		}
		c.rules = append(c.rules, p.rules(r)...)
		p.rs.rules++
	}
	return p.rs, nil
}

// hookOrder sorts base chains the way a packet meets them.
var hookOrder = map[string]int{"ingress": 0, "prerouting": 1, "input": 2}

func (p *nftParser) addChain(nc nftChain) {
	c := &chain{key: nftKey(nc.Family, nc.Table, nc.Name), name: nftKey(nc.Family, nc.Table, nc.Name)}
	switch nc.Family {
	case "ip":
		c.fam = famV4
	case "ip6":
		c.fam = famV6
	case "inet", "netdev":
		c.fam = famBoth
	default:
		// arp and bridge tables never see the routed probe.
		p.rs.chains[c.key] = c
		return
	}
	if _, ok := hookOrder[nc.Hook]; ok && nc.Type != "" {
		c.hook = nc.Hook
		c.policy = vAccept
		if nc.Policy == "drop" {
			c.policy = vDrop
			c.fix = chainFixNft(nc.Family, nc.Table, nc.Name)
		}
	}
	p.rs.add(c)
	sort.SliceStable(p.rs.base, func(i, j int) bool { return hookOrder[p.rs.base[i].hook] < hookOrder[p.rs.base[j].hook] })
}

// rules converts one nft rule; a verdict map becomes one rule per element.
func (p *nftParser) rules(nr nftRule) []*rule {
	ref := fmt.Sprintf("nftables %s handle %d", nftKey(nr.Family, nr.Table, nr.Chain), nr.Handle)
	base := &rule{ref: ref, fix: ruleFixNft(nr.Family, nr.Table, nr.Chain, nr.Handle)}
	for _, stmt := range nr.Expr {
		for kind, raw := range stmt {
			switch kind {
			case "match":
				base.conds = append(base.conds, p.match(nr, raw))
			case "accept":
				base.verdict = vAccept
			case "drop", "reject":
				base.verdict = vDrop
			case "return":
				base.verdict = vReturn
			case "jump", "goto":
				var t struct {
					Target string `json:"target"`
				}
				_ = json.Unmarshal(raw, &t)
				base.verdict, base.target = vJump, nftKey(nr.Family, nr.Table, t.Target)
				if kind == "goto" {
					base.verdict = vGoto
				}
			case "xt":
				p.xt(base, raw)
			case "vmap":
				return p.vmap(nr, base, raw)
			case "counter", "log", "mangle", "notrack", "set", "quota_set", "ct helper", "ct timeout", "ct expectation",
				"dup", "flow", "meta", "ct", "tcp option", "synproxy_set", "secmark", "ct count set":
				// Statements that leave the packet's fate alone.
			case "limit", "quota", "ct count", "numgen":
				base.conds = append(base.conds, always(maybe, kind))
			case "continue":
			default:
				// queue, dnat, redirect, tproxy, fwd, synproxy and whatever
				// a newer nft adds: not followed.
				if base.verdict == vNone {
					base.verdict, base.unknown = vUnknown, "statement "+kind+" is not followed"
				}
			}
		}
	}
	return []*rule{base}
}

// xt is a rule iptables-nft wrote with a target nft cannot express natively.
func (p *nftParser) xt(r *rule, raw json.RawMessage) {
	var x struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &x)
	switch {
	case x.Type == "target" && (x.Name == "REJECT" || x.Name == "DROP"):
		r.verdict = vDrop
	case x.Type == "target" && x.Name == "ACCEPT":
		r.verdict = vAccept
	case x.Type == "target" && (x.Name == "LOG" || x.Name == "NFLOG" || x.Name == "MARK" || x.Name == "CONNMARK" || x.Name == "TCPMSS" || x.Name == "CT"):
	case x.Type == "target":
		r.verdict, r.unknown = vUnknown, "iptables target "+x.Name+" is not followed"
	default:
		r.conds = append(r.conds, always(maybe, "iptables match "+x.Name))
	}
}

// vmap expands "KEY vmap { a : accept, b : drop }" into one rule per element.
func (p *nftParser) vmap(nr nftRule, base *rule, raw json.RawMessage) []*rule {
	var vm struct {
		Key  json.RawMessage `json:"key"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &vm); err != nil {
		base.verdict, base.unknown = vUnknown, "verdict map not understood"
		return []*rule{base}
	}
	var key, data any
	_ = json.Unmarshal(vm.Key, &key)
	_ = json.Unmarshal(vm.Data, &data)
	var entries []any
	switch d := data.(type) {
	case map[string]any:
		if s, ok := d["set"].([]any); ok {
			entries = s
		}
	case string:
		entries, _ = p.elements(nr, d)
	}
	var out []*rule
	for _, e := range entries {
		var k, v any
		switch e := e.(type) {
		case []any:
			if len(e) == 2 {
				k, v = e[0], e[1]
			}
		case map[string]any:
			// {"elem": {"val": [k, v]}} as some versions write map elements.
			if el, ok := e["elem"].(map[string]any); ok {
				if kv, ok := el["val"].([]any); ok && len(kv) == 2 {
					k, v = kv[0], kv[1]
				}
			}
		}
		vd, ok := v.(map[string]any)
		if k == nil || !ok {
			continue
		}
		r := &rule{ref: base.ref, fix: base.fix, conds: append(append([]cond(nil), base.conds...), p.compare(nr, key, "==", k))}
		for kind, arg := range vd {
			switch kind {
			case "accept":
				r.verdict = vAccept
			case "drop", "reject":
				r.verdict = vDrop
			case "return":
				r.verdict = vReturn
			case "jump", "goto":
				t, _ := arg.(map[string]any)
				target, _ := t["target"].(string)
				r.verdict, r.target = vJump, nftKey(nr.Family, nr.Table, target)
				if kind == "goto" {
					r.verdict = vGoto
				}
			case "continue":
			default:
				r.verdict, r.unknown = vUnknown, "verdict "+kind+" is not followed"
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 && data == nil {
		base.verdict, base.unknown = vUnknown, "verdict map not understood"
		return []*rule{base}
	}
	return out
}

func (p *nftParser) match(nr nftRule, raw json.RawMessage) cond {
	var m struct {
		Op    string `json:"op"`
		Left  any    `json:"left"`
		Right any    `json:"right"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return always(maybe, "a match")
	}
	return p.compare(nr, m.Left, m.Op, m.Right)
}

// compare builds the condition "left op right" for the probe packet.
func (p *nftParser) compare(nr nftRule, left any, op string, right any) cond {
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
	lm, _ := left.(map[string]any)
	if pl, ok := lm["payload"].(map[string]any); ok {
		proto, _ := pl["protocol"].(string)
		field, _ := pl["field"].(string)
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
			v6 := proto == "ip6"
			return cond{what: what, eval: func(pk packet) tri {
				if pk.src.V6 != v6 {
					return no
				}
				return maybe
			}}
		}
		return always(maybe, what)
	}
	if mm, ok := lm["meta"].(map[string]any); ok {
		key, _ := mm["key"].(string)
		switch key {
		case "l4proto":
			return negated(cond{what: what, eval: func(packet) tri {
				return p.has(nr, right, func(s string) bool { return s == "tcp" || s == "6" })
			}}, negate)
		case "nfproto", "protocol":
			return negated(cond{what: what, eval: func(pk packet) tri {
				return p.has(nr, right, func(s string) bool {
					if pk.src.V6 {
						return s == "ipv6" || s == "ip6" || s == "10" || s == "34525"
					}
					return s == "ipv4" || s == "ip" || s == "2" || s == "2048"
				})
			}}, negate)
		case "iifname", "iif":
			// The probe arrives on a real interface, never on lo; which
			// one is not known here.
			return negated(cond{what: what, eval: func(packet) tri {
				if p.has(nr, right, func(s string) bool { return s == "lo" || s == "1" }) == yes && !multi(right) {
					return no
				}
				return maybe
			}}, negate)
		case "pkttype":
			return negated(cond{what: what, eval: func(packet) tri {
				return p.has(nr, right, func(s string) bool { return s == "host" || s == "unicast" })
			}}, negate)
		}
		return always(maybe, what)
	}
	if cm, ok := lm["ct"].(map[string]any); ok {
		if key, _ := cm["key"].(string); key == "state" {
			// The probe's first packet opens a new connection.
			return negated(cond{what: what, eval: func(packet) tri {
				return p.has(nr, right, func(s string) bool { return s == "new" })
			}}, negate)
		}
		return always(maybe, what)
	}
	return always(maybe, what)
}

func negated(c cond, negate bool) cond {
	if !negate {
		return c
	}
	inner := c.eval
	c.eval = func(p packet) tri { return inner(p).not() }
	return c
}

// portOp handles "tcp dport < 1024" and the like.
func portOp(left any, op string, right any) (cond, bool) {
	lm, _ := left.(map[string]any)
	pl, _ := lm["payload"].(map[string]any)
	proto, _ := pl["protocol"].(string)
	field, _ := pl["field"].(string)
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
func multi(v any) bool {
	switch v := v.(type) {
	case []any:
		return len(v) > 1
	case map[string]any:
		s, ok := v["set"].([]any)
		return ok && len(s) > 1
	case string:
		return strings.HasPrefix(v, "@")
	}
	return false
}

// elements flattens a right-hand side into its values; a named set is
// looked up in the rule's table.
func (p *nftParser) elements(nr nftRule, v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case map[string]any:
		if s, ok := v["set"]; ok {
			return p.elements(nr, s)
		}
		return []any{v}, true
	case string:
		if strings.HasPrefix(v, "@") {
			e, ok := p.sets[nftKey(nr.Family, nr.Table, v[1:])]
			return e, ok
		}
		return []any{v}, true
	case float64:
		return []any{v}, true
	}
	return nil, false
}

// unwrapElem takes the value out of {"elem": {"val": V, "timeout": ...}}.
func unwrapElem(e any) any {
	if m, ok := e.(map[string]any); ok {
		if el, ok := m["elem"].(map[string]any); ok {
			return el["val"]
		}
	}
	return e
}

// has reports whether right contains a value for which ok holds (yes), or
// only values for which it does not (no); maybe when right is unreadable.
func (p *nftParser) has(nr nftRule, right any, ok func(string) bool) tri {
	elems, found := p.elements(nr, right)
	if !found {
		return maybe
	}
	for _, e := range elems {
		switch e := unwrapElem(e).(type) {
		case string:
			if ok(e) {
				return yes
			}
		case float64:
			if ok(strconv.Itoa(int(e))) {
				return yes
			}
		default:
			return maybe
		}
	}
	return no
}

func number(v any) (int, bool) {
	switch v := v.(type) {
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

// ports reads port values, ranges and sets.
func (p *nftParser) ports(nr nftRule, right any) ([][2]uint16, bool) {
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
		m, _ := e.(map[string]any)
		r, _ := m["range"].([]any)
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
func (p *nftParser) addrs(nr nftRule, right any) ([]addrRange, bool) {
	elems, ok := p.elements(nr, right)
	if !ok {
		return nil, false
	}
	var out []addrRange
	for _, e := range elems {
		e = unwrapElem(e)
		switch e := e.(type) {
		case string:
			a, err := netip.ParseAddr(e)
			if err != nil {
				return nil, false
			}
			out = append(out, addrRange{a.Unmap(), a.Unmap()})
		case map[string]any:
			if pf, ok := e["prefix"].(map[string]any); ok {
				s, _ := pf["addr"].(string)
				n, _ := pf["len"].(float64)
				a, err := netip.ParseAddr(s)
				if err != nil {
					return nil, false
				}
				pr, err := a.Unmap().Prefix(int(n))
				if err != nil {
					return nil, false
				}
				out = append(out, rangeOf(pr))
				continue
			}
			if r, ok := e["range"].([]any); ok && len(r) == 2 {
				s1, _ := r[0].(string)
				s2, _ := r[1].(string)
				lo, err1 := netip.ParseAddr(s1)
				hi, err2 := netip.ParseAddr(s2)
				if err1 != nil || err2 != nil {
					return nil, false
				}
				out = append(out, addrRange{lo.Unmap(), hi.Unmap()})
				continue
			}
			return nil, false
		default:
			return nil, false
		}
	}
	return out, true
}

// describe renders a JSON expression briefly for messages.
func describe(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if pl, ok := v["payload"].(map[string]any); ok {
			return fmt.Sprintf("%v %v", pl["protocol"], pl["field"])
		}
		if m, ok := v["meta"].(map[string]any); ok {
			return fmt.Sprintf("meta %v", m["key"])
		}
		if m, ok := v["ct"].(map[string]any); ok {
			return fmt.Sprintf("ct %v", m["key"])
		}
		if m, ok := v["prefix"].(map[string]any); ok {
			return fmt.Sprintf("%v/%v", m["addr"], m["len"])
		}
		if s, ok := v["set"]; ok {
			return "{" + describe(s) + "}"
		}
		for k := range v {
			return k
		}
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = describe(e)
		}
		return strings.Join(parts, ",")
	case string:
		return v
	case float64:
		return strconv.Itoa(int(v))
	}
	return fmt.Sprint(v)
}
