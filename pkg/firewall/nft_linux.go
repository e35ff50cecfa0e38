package firewall

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

func nftKey(family, table, chain string) string { return family + " " + table + " " + chain }

// nftParser turns one ruleset into the model.
type nftParser struct {
	rs     *Ruleset
	sets   map[string][]nftValue // "family table name" -> elements
	skip   map[string]bool       // "family table": left out
	tables map[string]*nftTable  // "family table"
}

// nftTable is what Read needs to know of one table.
type nftTable struct {
	xt bool // a rule has an xt expression: iptables-nft wrote it
	// foreign: a rule has what iptables-nft does not write, or
	// iptables-save (1.8) prints wrong or leaves out (see iptablesWrites).
	foreign bool
}

// parseNft reads `nft -j list ruleset` output.
func parseNft(b []byte) (*Ruleset, error) {
	rs, _, err := parseNftSkipping(b, nil)
	return rs, err
}

// parseNftSkipping reads `nft -j list ruleset` output without the tables in
// skip ("ip filter"), and says what each table holds.
func parseNftSkipping(b []byte, skip map[string]bool) (*Ruleset, map[string]*nftTable, error) {
	var doc nftDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("not nft JSON: %w", err)
	}
	p := &nftParser{rs: newRuleset("nftables"), sets: map[string][]nftValue{}, skip: skip, tables: map[string]*nftTable{}}
	var rules []nftRule
	for _, obj := range doc.Nftables {
		for _, e := range obj {
			r, err := p.object(e)
			if err != nil {
				return nil, nil, err
			}
			if r != nil {
				rules = append(rules, *r)
			}
		}
	}
	// Rules last: chains and sets may follow the rules that name them.
	for _, r := range rules {
		p.note(r)
		c, ok := p.rs.chains[nftKey(r.Family, r.Table, r.Chain)]
		if !ok {
			continue // also a skipped table's
		}
		c.rules = append(c.rules, p.rules(r)...)
		p.rs.rules++
	}
	return p.rs, p.tables, nil
}

// note records what r says of its table.
func (p *nftParser) note(r nftRule) {
	key := r.Family + " " + r.Table
	t := p.tables[key]
	if t == nil {
		t = &nftTable{}
		p.tables[key] = t
	}
	xt, ok := iptablesWrites(r)
	t.xt = t.xt || xt
	t.foreign = t.foreign || !ok
}

// object takes in a chain or a set, or returns a rule for later.
func (p *nftParser) object(e nftEntry) (*nftRule, error) {
	switch e.key {
	case "chain":
		var c nftChain
		if err := json.Unmarshal(e.raw, &c); err != nil {
			return nil, fmt.Errorf("chain: %w", err)
		}
		if !p.skip[c.Family+" "+c.Table] {
			p.addChain(c)
		}
	case "rule":
		var r nftRule
		if err := json.Unmarshal(e.raw, &r); err != nil {
			return nil, fmt.Errorf("rule: %w", err)
		}
		return &r, nil
	case "table":
		// A dormant table's chains see no packet. (nft 1.0.6 writes
		// table flags in JSON as a wrong string; only a "dormant" that
		// is there is believed, lest firewalld's owner flag hide it.)
		var t struct {
			Family, Name string
			Flags        nftValue
		}
		if json.Unmarshal(e.raw, &t) == nil && slices.Contains(texts(t.Flags), "dormant") {
			if p.skip == nil {
				p.skip = map[string]bool{}
			}
			p.skip[t.Family+" "+t.Name] = true
		}
	case "set", "map":
		var s nftSet
		if err := json.Unmarshal(e.raw, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", e.key, err)
		}
		p.sets[nftKey(s.Family, s.Table, s.Name)] = s.Elem
	}
	return nil, nil
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
		c.oneDevice = nc.Hook == "ingress"
		c.policy = vAccept
		if nc.Policy == "drop" {
			c.policy = vDrop
			c.fix, c.keep = chainFixNft(nc.Family, nc.Table, nc.Name), nftKeep(nc.Table)
		}
	}
	p.rs.add(c)
	sort.SliceStable(p.rs.base, func(i, j int) bool { return hookOrder[p.rs.base[i].hook] < hookOrder[p.rs.base[j].hook] })
}

// nftKeep says where a rule added with nft is made permanent: firewalld
// rebuilds its own table at every reload.
func nftKeep(table string) wording {
	if table == "firewalld" {
		return firewalldKeep
	}
	return saying("/etc/nftables.conf (RHEL: /etc/sysconfig/nftables.conf)")
}

// rules converts one nft rule; a verdict map becomes one rule per element.
func (p *nftParser) rules(nr nftRule) []*rule {
	ref := fmt.Sprintf("nftables %s handle %d", nftKey(nr.Family, nr.Table, nr.Chain), nr.Handle)
	base := &rule{ref: ref, fix: ruleFixNft(nr.Family, nr.Table, nr.Chain, nr.Handle), keep: nftKeep(nr.Table)}
	for _, stmt := range nr.Expr {
		for _, e := range stmt {
			if e.key == "vmap" {
				return p.vmap(nr, base, e.raw)
			}
			p.statement(nr, base, e)
		}
	}
	withText(base)
	return []*rule{base}
}

// statement adds one statement's match or verdict to r.
func (p *nftParser) statement(nr nftRule, r *rule, e nftEntry) {
	switch e.key {
	case "match":
		r.conds = append(r.conds, p.match(nr, e.raw))
	case "accept", "drop", "reject", "return", "jump", "goto":
		var t nftTarget
		_ = json.Unmarshal(e.raw, &t)
		nftVerdict(r, nr, e.key, t.Target)
	case "xt":
		var x nftXt
		_ = json.Unmarshal(e.raw, &x)
		p.xtTarget(r, x)
	case "meter":
		// A per-key limit (`meter m { ip saddr limit rate over 5/second }`):
		// it depends on how often the source sends.
		text, rate := meterText(e.raw)
		r.conds = append(r.conds, limited(text, rate))
	case "set":
		// Adding to a dynamic set leaves the packet alone, unless the
		// update carries a limit or quota (`update @s { ip saddr limit
		// rate over 10/second }`), which then decides.
		if bytes.Contains(e.raw, []byte(`"limit"`)) || bytes.Contains(e.raw, []byte(`"quota"`)) || bytes.Contains(e.raw, []byte(`"ct count"`)) {
			r.conds = append(r.conds, always(maybe, "set update with a limit"))
		}
	case "notrack":
		p.rs.notrack = append(p.rs.notrack, r)
	case "counter", "log", "mangle", "quota_set", "ct helper", "ct timeout", "ct expectation",
		"dup", "flow", "meta", "ct", "tcp option", "synproxy_set", "secmark", "ct count set":
		// Statements that leave the packet's fate alone.
	case "limit":
		text, rate := nftLimit(e.raw)
		r.conds = append(r.conds, limited(text, rate))
	case "quota", "ct count", "numgen":
		r.conds = append(r.conds, always(maybe, e.key))
	case "continue":
	default:
		// queue, dnat, redirect, tproxy, fwd, synproxy and whatever
		// a newer nft adds: not followed.
		if r.verdict == vNone {
			r.verdict, r.unknown = vUnknown, "statement "+e.key+" is not followed"
		}
	}
}

// nftLimit writes a limit as nft lists it ("limit rate over 10/minute"),
// with its rate: the load balancer probes every few seconds, so the rate
// is what decides.
func nftLimit(raw json.RawMessage) (string, *Rate) {
	var l struct {
		Rate  float64 `json:"rate"`
		Per   string  `json:"per"`
		Inv   bool    `json:"inv"`
		Burst float64 `json:"burst"`
	}
	if json.Unmarshal(raw, &l) != nil || l.Per == "" {
		return "limit", nil
	}
	over := ""
	if l.Inv {
		over = "over "
	}
	text := fmt.Sprintf("limit rate %s%g/%s", over, l.Rate, l.Per)
	if l.Burst > 0 {
		text += fmt.Sprintf(" burst %g packets", l.Burst)
	}
	per := map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour}[l.Per]
	if per == 0 || l.Rate <= 0 {
		return text, nil
	}
	return text, &Rate{N: l.Rate, Per: per}
}

// meterText writes a meter as nft lists it ("meter m { ip saddr limit
// rate over 5/second }"), with its rate.
func meterText(raw json.RawMessage) (string, *Rate) {
	var m struct {
		Name string
		Key  nftValue
		Stmt map[string]json.RawMessage
	}
	if json.Unmarshal(raw, &m) != nil {
		return "meter", nil
	}
	inner, rate := "...", (*Rate)(nil)
	if l, ok := m.Stmt["limit"]; ok {
		inner, rate = nftLimit(l)
	}
	return fmt.Sprintf("meter %s { %s %s }", m.Name, describe(m.Key), inner), rate
}

// xtTarget is a rule iptables-nft wrote with a target nft cannot express
// natively.
func (p *nftParser) xtTarget(r *rule, x nftXt) {
	switch {
	case x.Type == "target" && (x.Name == "REJECT" || x.Name == "DROP"):
		r.verdict, r.verb = vDrop, "iptables target "+x.Name
	case x.Type == "target" && x.Name == "ACCEPT":
		r.verdict, r.verb = vAccept, "iptables target ACCEPT"
	case x.Type == "target" && x.Name == "CT":
		// -j CT --notrack, or a zone or helper: nft does not say which.
		r.conds = append(r.conds, always(maybe, "iptables target CT (--notrack?)"))
		p.rs.notrack = append(p.rs.notrack, r)
	case x.Type == "target" && (x.Name == "LOG" || x.Name == "NFLOG" || x.Name == "MARK" || x.Name == "CONNMARK" || x.Name == "TCPMSS"):
	case x.Type == "target":
		r.verdict, r.unknown = vUnknown, "iptables target "+x.Name+" is not followed"
	default:
		r.conds = append(r.conds, always(maybe, "iptables match "+x.Name))
	}
}

// vmap expands "KEY vmap { a : accept, b : drop }" into one rule per element.
func (p *nftParser) vmap(nr nftRule, base *rule, raw json.RawMessage) []*rule {
	var vm nftVmap
	if err := json.Unmarshal(raw, &vm); err != nil {
		base.verdict, base.unknown = vUnknown, "verdict map not understood"
		return []*rule{base}
	}
	var out []*rule
	for _, e := range p.vmapEntries(nr, vm.Data) {
		k, v, ok := vmapEntry(e)
		if !ok {
			continue
		}
		r := &rule{ref: base.ref, fix: base.fix, keep: base.keep, conds: append(append([]cond(nil), base.conds...), p.compare(nr, vm.Key, "==", k))}
		for _, kind := range v.obj.keys {
			setVerdict(r, nr, kind, v.obj)
		}
		withText(r)
		out = append(out, r)
	}
	if len(out) == 0 && vm.Data.kind == jNull {
		base.verdict, base.unknown = vUnknown, "verdict map not understood"
		return []*rule{base}
	}
	return out
}

// vmapEntries are an anonymous map's elements, or a named map's.
func (p *nftParser) vmapEntries(nr nftRule, data nftValue) []nftValue {
	switch data.kind {
	case jObject:
		if s := data.obj.Set; s != nil && s.kind == jList {
			return s.list
		}
	case jString:
		entries, _ := p.elements(nr, data)
		return entries
	}
	return nil
}

// vmapEntry splits [key, verdict], or {"elem": {"val": [key, verdict]}} as
// some versions write map elements.
func vmapEntry(e nftValue) (k, v nftValue, ok bool) {
	switch e.kind {
	case jList:
		if len(e.list) == 2 {
			k, v = e.list[0], e.list[1]
		}
	case jObject:
		if el := e.obj.Elem; el != nil && el.Val.kind == jList && len(el.Val.list) == 2 {
			k, v = el.Val.list[0], el.Val.list[1]
		}
	}
	return k, v, k.kind != jNull && v.kind == jObject
}

// setVerdict takes a verdict map element's verdict of the given kind.
func setVerdict(r *rule, nr nftRule, kind string, vd *nftExpr) {
	t := vd.Jump
	if kind == "goto" {
		t = vd.Goto
	}
	target := ""
	if t != nil {
		target = t.Target
	}
	if !nftVerdict(r, nr, kind, target) && kind != "continue" {
		r.verdict, r.unknown = vUnknown, "verdict "+kind+" is not followed"
	}
}

// nftVerdict sets the verdicts rules and verdict maps share; false for
// another kind.
func nftVerdict(r *rule, nr nftRule, kind, target string) bool {
	switch kind {
	case "accept":
		r.verdict = vAccept
	case "drop", "reject":
		r.verdict = vDrop
	case "return":
		r.verdict = vReturn
	case "jump", "goto":
		r.verdict, r.target = vJump, nftKey(nr.Family, nr.Table, target)
		if kind == "goto" {
			r.verdict = vGoto
		}
	default:
		return false
	}
	r.verb = strings.TrimSpace(kind + " " + target)
	return true
}

// withText adds the rule's own words to its reference, as nft would list
// it roughly ("... handle 7 (tcp dport 12345 drop)"): nft -j gives no
// text, and a handle alone sends the admin to nft -a list ruleset.
func withText(r *rule) {
	var words []string
	for _, c := range r.conds {
		words = append(words, c.what)
	}
	if r.verb != "" {
		words = append(words, r.verb)
	}
	if len(words) > 0 {
		r.ref += " (" + strings.Join(words, " ") + ")"
	}
}

func (p *nftParser) match(nr nftRule, raw json.RawMessage) cond {
	var m nftMatch
	if err := json.Unmarshal(raw, &m); err != nil {
		return always(maybe, "a match")
	}
	return p.compare(nr, m.Left, m.Op, m.Right)
}
