package firewall

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The firewall check reads the host firewall (nftables as JSON, iptables as
// iptables-save text) into one model and walks it for the first packet of a
// probe, following jumps, gotos and returns through every chain hooked at
// ingress, prerouting and input. That packet is known well enough to judge
// most matches offline:
//
//   - a TCP SYN to the probe port, with no IPv6 extension headers;
//   - conntrack state NEW, and not DNATed (its status has no DNAT);
//   - from a unicast source that is not an address of this node;
//   - arriving on a real interface, never lo (which one is not known);
//   - addressed to a local unicast address of this node that is not
//     loopback. Azure and AWS probe the node's own address, Google Cloud the
//     forwarding rule's IP, which is local on the node; either way the
//     kernel hands the packet to the input hook only because its
//     destination is local. Which local address it is, is not known.
//
// So an address type is judged (destination local, source unicast), a
// destination in loopback or multicast never matches, the whole address
// space always does, and a routing header never does. What it cannot judge
// (a rate limit, an ipset, an interface other than lo, a destination
// address of this node, an address type looked up on the input interface
// only) is followed both ways; when the ways disagree it says so and names
// the rule rather than guess.

// tri is a three-valued truth: a match that cannot be judged is maybe.
type tri int8

const (
	no tri = iota
	yes
	maybe
)

func (t tri) not() tri {
	switch t {
	case yes:
		return no
	case no:
		return yes
	}
	return maybe
}

// packet is a probe's first packet.
type packet struct {
	src  Source
	port uint16
	dst  netip.Addr // the local address it is sent to; invalid: not known
	// states are the conntrack states it may have: new, or untracked
	// where a notrack rule may apply to it (notrackStates).
	states []string
}

// ctState judges a match on the conntrack state: listed tells whether a
// state is in the rule's list.
func (p packet) ctState(listed func(state string) tri) tri {
	states := p.states
	if len(states) == 0 {
		states = []string{"new"}
	}
	return oneOf(states, listed)
}

// cond is one match of a rule.
type cond struct {
	what string // shown when it cannot be judged: "limit rate", "iifname eth0"
	eval func(packet) tri
	// final: negating the match does not change it. A match on a header
	// the probe has not (an IPv6 routing header) is false either way: the
	// kernel needs the header to match the negation too.
	final bool
	// bySource: a match on the source address, which a smaller source
	// range may decide (decideRange).
	bySource bool
	// rate: a rate limit, which decides by how often the probes come.
	rate *Rate
}

// Rate is a rate limit a rule applies: N connections (or packets) per Per.
// A load balancer probing every Per/N or more often runs into it.
type Rate struct {
	N   float64
	Per time.Duration
}

// limited is a condition that holds or not by how often packets come.
func limited(what string, r *Rate) cond {
	c := always(maybe, what)
	c.rate = r
	return c
}

func always(t tri, what string) cond { return cond{what: what, eval: func(packet) tri { return t }} }

type verdict int8

const (
	vNone    verdict = iota // counters, logs, marks: the packet goes on
	vAccept                 // ends this base chain; the next hook still sees it
	vDrop                   // drop or reject: the probe never arrives
	vJump                   // into target, back here after it
	vGoto                   // into target, not back here
	vReturn                 // back to the calling chain (base chain: policy)
	vUnknown                // a verdict this model does not follow
)

// rule is one rule, or one element of a verdict map.
type rule struct {
	ref     string // where it is, for the admin: "nftables inet filter input handle 7"
	conds   []cond
	verdict verdict
	target  string // vJump, vGoto: the chain's key
	unknown string // vUnknown: what it is
	verb    string // nft's verdict as written ("reject", "jump ext"), for the admin
	// fix says how to let the probe in ahead of this rule.
	fix func(src Source, port uint16) string
	// persists: fix is a firewall manager's command, kept across reboots.
	persists bool
	// keep says where to make fix permanent, when it does not persist;
	// nil when not known.
	keep wording
}

// match evaluates the rule's conditions: no as soon as one is false.
func (r *rule) match(p packet) (tri, string) {
	t, c := r.matchCond(p)
	if c == nil {
		return t, ""
	}
	return t, c.what
}

// matchCond is match, with the first condition that could not be judged.
func (r *rule) matchCond(p packet) (tri, *cond) {
	t := yes
	var first *cond
	for i, c := range r.conds {
		switch c.eval(p) {
		case no:
			return no, nil
		case maybe:
			if t == yes {
				first = &r.conds[i]
			}
			t = maybe
		}
	}
	return t, first
}

type famSet int8

const (
	famV4 famSet = 1 << iota
	famV6
	famBoth = famV4 | famV6
)

func (f famSet) has(v6 bool) bool {
	if v6 {
		return f&famV6 != 0
	}
	return f&famV4 != 0
}

// chain is a chain; base chains are hooked into the packet path.
type chain struct {
	key    string // unique in the ruleset
	name   string // for messages
	rules  []*rule
	hook   string // "" for a regular chain; ingress, prerouting, input
	policy verdict
	fam    famSet
	// fix says how to let the probe in against the policy.
	fix      func(src Source, port uint16) string
	persists bool    // as rule's
	keep     wording // as rule's
	// owner names who sets the policy, for the admin ("ufw's default
	// deny incoming"); "" when unknown.
	owner string
	// oneDevice: an ingress chain, hooked to devices nft -j does not
	// name (nft 1.0.6), so which packets it sees is not known.
	oneDevice bool
}

// Ruleset is one firewall view: nftables, or legacy iptables of one family.
type Ruleset struct {
	from   string // "nftables", "iptables-legacy"
	chains map[string]*chain
	base   []*chain
	rules  int
	// notrack are the rules that exempt packets from connection
	// tracking (nft notrack, -j CT --notrack, -j NOTRACK): a probe they
	// match is in state untracked, not new.
	notrack []*rule
}

// notrackStates are the conntrack states the probe may have: untracked
// where a notrack rule surely matches it, new or untracked where one may,
// new otherwise. Where in the path the notrack rule sits is not
// followed: it is taken to come first, as in the raw table it must.
func (rs *Ruleset) notrackStates(p packet) []string {
	t := no
	for _, r := range rs.notrack {
		switch m, _ := r.match(p); m {
		case yes:
			return []string{"untracked"}
		case maybe:
			t = maybe
		}
	}
	if t == maybe {
		return []string{"new", "untracked"}
	}
	return []string{"new"}
}

func newRuleset(from string) *Ruleset {
	return &Ruleset{from: from, chains: map[string]*chain{}}
}

func (rs *Ruleset) add(c *chain) {
	rs.chains[c.key] = c
	if c.hook != "" {
		rs.base = append(rs.base, c)
	}
}

// Decision is what becomes of the probe.
type Decision int8

const (
	Accept    Decision = iota // every chain lets it through
	Drop                      // a rule or a chain's policy drops or rejects it
	Undecided                 // it depends on what cannot be known offline
)

func (d Decision) String() string {
	switch d {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	}
	return "undecided"
}

// Verdict is the decision for one probe source, and what made it.
type Verdict struct {
	Decision Decision
	// Where names the deciding rule (table, chain and handle, or the
	// iptables-save line) or chain policy.
	Where string
	Why   string // undecided: what could not be judged
	Fix   string // a command that lets the probe in there; "" if none
	// Persists: Fix is the firewall manager's own command (ufw), which
	// keeps the rule across reboots and reloads.
	Persists bool
	// Limit is the rate limit an undecided verdict depends on, nil when
	// it depends on something else.
	Limit *Rate
	// KeepIn says where to make Fix permanent when it does not persist:
	// "/etc/ufw/before.rules", "/etc/nftables.conf ..."; "" when unknown.
	KeepIn string
}

// Decide is the fate of a new TCP connection from src to port.
func (rs *Ruleset) Decide(src Source, port uint16) Verdict {
	return rs.DecideTo(src, netip.Addr{}, port)
}

// DecideTo is Decide where the probe's destination is known (the node's
// bind address, or the VIP where the load balancer probes the VIP): rules
// on the destination address are judged, not followed both ways.
func (rs *Ruleset) DecideTo(src Source, dst netip.Addr, port uint16) Verdict {
	o := rs.decideRange(packet{src: src, port: port, dst: dst.Unmap()}, 0)
	return Verdict{Decision: o.kind, Where: o.where(), Why: o.why, Fix: o.fix(src, port), Persists: o.persists(), KeepIn: o.keep().say(src, port), Limit: o.rate}
}

// wording says something for one probe source and port; nil says "".
type wording func(Source, uint16) string

func (w wording) say(src Source, port uint16) string {
	if w == nil {
		return ""
	}
	return w(src, port)
}

// saying is a wording that is the same for every source and port.
func saying(text string) wording { return func(Source, uint16) string { return text } }

// firewalldKeep says how firewalld keeps a fix: it rewrites its rules at
// every reload (firewall-cmd(1), firewalld.richlanguage(5)).
func firewalldKeep(src Source, port uint16) string {
	family, from := "ipv4", ""
	if src.V6 {
		family = "ipv6"
	}
	if src.Prefix.IsValid() {
		from = fmt.Sprintf(" source address=\"%s\"", src.Prefix.Masked())
	}
	return fmt.Sprintf("firewalld: firewall-cmd --permanent --add-rich-rule='rule family=\"%s\"%s port port=\"%d\" protocol=\"tcp\" accept', "+
		"then firewall-cmd --reload (a rule added with nft or iptables is gone at firewalld's next reload)", family, from, port)
}

// splitDepth bounds how finely a source range is halved where the ruleset
// lets part of it in and not the rest: 8 times, 256 parts at most.
const splitDepth = 8

// decideRange decides for a source range; where that is undecided, for
// each half: a part surely dropped is a drop (Google Cloud's probes come
// from all of 35.191.0.0/16, so an accept for 35.191.0.0/17 drops half of
// them), every part accepted an accept.
func (rs *Ruleset) decideRange(p packet, depth int) outcome {
	o := rs.decide(p)
	pfx := p.src.Prefix
	if o.kind != Undecided || !o.bySource || !pfx.IsValid() || pfx.IsSingleIP() || depth == splitDepth {
		return o
	}
	all := true
	for _, half := range halves(pfx) {
		q := p
		q.src.Prefix = half
		h := rs.decideRange(q, depth+1)
		if h.kind == Drop {
			if h.part == (netip.Prefix{}) {
				h.part = half
			}
			return h
		}
		all = all && h.kind == Accept
	}
	if all {
		return outcome{kind: Accept, from: rs.from}
	}
	return o
}

// halves splits a prefix in two: 35.191.0.0/16 into /17s.
func halves(p netip.Prefix) [2]netip.Prefix {
	p = p.Masked()
	b := p.Addr().AsSlice()
	bit := p.Bits()
	b[bit/8] |= 0x80 >> (bit % 8)
	hi, _ := netip.AddrFromSlice(b)
	return [2]netip.Prefix{netip.PrefixFrom(p.Addr(), bit+1), netip.PrefixFrom(hi, bit+1)}
}

// outcome is what became of the packet, and what decided it.
type outcome struct {
	kind  Decision
	rule  *rule  // the deciding rule; nil for a chain's policy
	chain *chain // base chain whose policy decided, when rule is nil
	why   string // undecided: what could not be judged
	from  string // the ruleset
	// other is the other way's drop where a rule that cannot be judged
	// (branch, for why) leads to two different drops; the fix goes ahead
	// of branch, which both ways pass.
	other  *outcome
	branch *rule
	// part is the part of the source range it holds for, where only a
	// part is dropped.
	part netip.Prefix
	// bySource: undecided at a match on the source address.
	bySource bool
	rate     *Rate // undecided at a rate limit
}

func (o outcome) where() string {
	if o.part.IsValid() {
		whole := o
		whole.part = netip.Prefix{}
		return whole.where() + " (for " + o.part.String() + " of the range)"
	}
	if o.other != nil {
		other := *o.other
		other.from = o.from
		one := o
		one.other = nil
		return fmt.Sprintf("%s, or %s (which one depends on %s at %s)", one.where(), other.where(), o.why, o.branch.ref)
	}
	if o.rule != nil {
		return o.rule.ref
	}
	if o.chain != nil && o.chain.owner != "" {
		return fmt.Sprintf("%s chain %s (policy drop, %s; no rule accepts it)", o.from, o.chain.name, o.chain.owner)
	}
	if o.chain != nil {
		return fmt.Sprintf("%s chain %s (policy drop, no rule accepts it)", o.from, o.chain.name)
	}
	return o.from
}

func (o outcome) persists() bool {
	if o.branch != nil {
		return o.branch.persists
	}
	if o.rule != nil {
		return o.rule.persists
	}
	return o.chain != nil && o.chain.persists
}

func (o outcome) keep() wording {
	switch {
	case o.branch != nil:
		return o.branch.keep
	case o.rule != nil:
		return o.rule.keep
	case o.chain != nil:
		return o.chain.keep
	}
	return nil
}

func (o outcome) fix(src Source, port uint16) string {
	switch {
	case o.branch != nil && o.branch.fix != nil:
		return o.branch.fix(src, port)
	case o.rule != nil && o.rule.fix != nil:
		return o.rule.fix(src, port)
	case o.rule == nil && o.chain != nil && o.chain.fix != nil:
		return o.chain.fix(src, port)
	}
	return ""
}

// Bounds of a walk: deeper jumps or more branches are undecided.
const (
	maxDepth = 32
	maxSteps = 50000
)

type frame struct {
	c *chain
	i int // next rule
}

type walker struct {
	rs    *Ruleset
	base  *chain
	steps int
	// seen holds the outcome of every stack walked from: the packet is
	// fixed, so the same stack ends the same way, and rules that cannot
	// be judged (twelve `-i ethN -j chainN` in a row) branch into
	// walks that meet again instead of doubling at each.
	seen map[string]outcome
}

// stackKey names a stack: its chains and positions.
func stackKey(stack []frame) string {
	var b strings.Builder
	for _, f := range stack {
		fmt.Fprintf(&b, "%s#%d|", f.c.key, f.i)
	}
	return b.String()
}

// decide walks every base chain the packet passes: a drop in any of them
// blocks it; every one must let it through.
func (rs *Ruleset) decide(p packet) outcome {
	p.states = rs.notrackStates(p)
	var first *outcome
	for _, c := range rs.base {
		if !c.fam.has(p.src.V6) {
			continue
		}
		w := &walker{rs: rs, base: c}
		o := w.run([]frame{{c: c}}, p)
		o.from = rs.from
		if c.oneDevice && o.kind == Drop {
			o.kind, o.why = Undecided, "an ingress chain sees only its devices' packets, and nft -j does not name them: it drops the probe if the probe arrives there"
		}
		switch o.kind {
		case Drop:
			return o
		case Undecided:
			if first == nil {
				first = &o
			}
		}
	}
	if first != nil {
		return *first
	}
	return outcome{kind: Accept, from: rs.from}
}

func (w *walker) run(stack []frame, p packet) outcome {
	for {
		w.steps++
		if w.steps > maxSteps {
			return outcome{kind: Undecided, why: "the ruleset branches too much to follow"}
		}
		if len(stack) == 0 {
			if w.base.policy == vDrop {
				return outcome{kind: Drop, chain: w.base}
			}
			return outcome{kind: Accept}
		}
		top := &stack[len(stack)-1]
		if top.i >= len(top.c.rules) {
			stack = stack[:len(stack)-1]
			continue
		}
		r := top.c.rules[top.i]
		top.i++
		if r.verdict == vNone {
			continue
		}
		m, c := r.matchCond(p)
		switch m {
		case no:
			continue
		case yes:
			next, o, done := w.apply(stack, r)
			if done {
				return o
			}
			stack = next
		case maybe:
			// Follow both ways; agreement decides, disagreement is
			// reported at this rule.
			taken := w.follow(clone(stack), r, p)
			skipped := w.runFrom(clone(stack), p)
			if taken.kind == skipped.kind && taken.kind != Undecided {
				if taken.kind == Drop && (taken.rule != skipped.rule || taken.chain != skipped.chain) {
					skipped.other, skipped.branch, skipped.why = &taken, r, c.what
				}
				return skipped
			}
			return outcome{kind: Undecided, rule: r, why: c.what, bySource: c.bySource, rate: c.rate}
		}
	}
}

func (w *walker) follow(stack []frame, r *rule, p packet) outcome {
	next, o, done := w.apply(stack, r)
	if done {
		return o
	}
	return w.runFrom(next, p)
}

// runFrom is run, remembered by stack.
func (w *walker) runFrom(stack []frame, p packet) outcome {
	key := stackKey(stack)
	if o, ok := w.seen[key]; ok {
		return o
	}
	o := w.run(stack, p)
	if w.seen == nil {
		w.seen = map[string]outcome{}
	}
	w.seen[key] = o
	return o
}

// apply takes r's verdict: a final outcome (done), or the stack to go on
// with.
func (w *walker) apply(stack []frame, r *rule) ([]frame, outcome, bool) {
	switch r.verdict {
	case vAccept:
		return nil, outcome{kind: Accept, rule: r}, true
	case vDrop:
		return nil, outcome{kind: Drop, rule: r}, true
	case vReturn:
		return stack[:len(stack)-1], outcome{}, false
	case vJump, vGoto:
		t, ok := w.rs.chains[r.target]
		if !ok {
			return nil, outcome{kind: Undecided, rule: r, why: "it jumps to a chain that was not found"}, true
		}
		if len(stack) >= maxDepth {
			return nil, outcome{kind: Undecided, rule: r, why: "jumps nest too deep"}, true
		}
		if r.verdict == vGoto {
			stack = stack[:len(stack)-1]
		}
		return append(stack, frame{c: t}), outcome{}, false
	}
	return nil, outcome{kind: Undecided, rule: r, why: r.unknown}, true
}

func clone(s []frame) []frame { return append([]frame(nil), s...) }
