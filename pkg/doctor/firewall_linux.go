package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// The firewall check reads the host firewall (nftables as JSON, legacy
// iptables as iptables-save text) into one model and walks it for the first
// packet of a probe: TCP, the probe port, connection state new, from each
// probe source, arriving on some interface other than lo. It follows jumps,
// gotos and returns through every chain hooked at prerouting and input. What
// it cannot judge (a rate limit, an ipset, an address type, an interface
// other than lo, a destination address) is followed both ways; when the ways
// disagree it says so and names the rule rather than guess.

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
	src  source
	port uint16
}

// cond is one match of a rule.
type cond struct {
	what string // shown when it cannot be judged: "limit rate", "iifname eth0"
	eval func(packet) tri
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
	// fix says how to let the probe in ahead of this rule.
	fix func(src source, port uint16) string
}

// match evaluates the rule's conditions: no as soon as one is false.
func (r *rule) match(p packet) (tri, string) {
	t, why := yes, ""
	for _, c := range r.conds {
		switch c.eval(p) {
		case no:
			return no, ""
		case maybe:
			if t == yes {
				why = c.what
			}
			t = maybe
		}
	}
	return t, why
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
	fix func(src source, port uint16) string
}

// ruleset is one firewall view: nftables, or legacy iptables of one family.
type ruleset struct {
	from   string // "nftables", "iptables-legacy"
	chains map[string]*chain
	base   []*chain
	rules  int
}

func newRuleset(from string) *ruleset {
	return &ruleset{from: from, chains: map[string]*chain{}}
}

func (rs *ruleset) add(c *chain) {
	rs.chains[c.key] = c
	if c.hook != "" {
		rs.base = append(rs.base, c)
	}
}

type decision int8

const (
	allowed decision = iota
	blocked
	undecided
)

// outcome is what became of the packet, and what decided it.
type outcome struct {
	kind  decision
	rule  *rule  // the deciding rule; nil for a chain's policy
	chain *chain // base chain whose policy decided, when rule is nil
	why   string // for undecided: what could not be judged
	from  string // the ruleset
}

func (o outcome) where() string {
	if o.rule != nil {
		return o.rule.ref
	}
	if o.chain != nil {
		return fmt.Sprintf("%s chain %s (policy drop, no rule accepts it)", o.from, o.chain.name)
	}
	return o.from
}

func (o outcome) fix(src source, port uint16) string {
	switch {
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
	rs    *ruleset
	base  *chain
	steps int
}

// decide walks every base chain the packet passes: a drop in any of them
// blocks it; every one must let it through.
func (rs *ruleset) decide(p packet) outcome {
	var first *outcome
	for _, c := range rs.base {
		if !c.fam.has(p.src.v6) {
			continue
		}
		w := &walker{rs: rs, base: c}
		o := w.run([]frame{{c: c}}, p)
		o.from = rs.from
		switch o.kind {
		case blocked:
			return o
		case undecided:
			if first == nil {
				first = &o
			}
		}
	}
	if first != nil {
		return *first
	}
	return outcome{kind: allowed, from: rs.from}
}

func (w *walker) run(stack []frame, p packet) outcome {
	for {
		w.steps++
		if w.steps > maxSteps {
			return outcome{kind: undecided, why: "the ruleset branches too much to follow"}
		}
		if len(stack) == 0 {
			if w.base.policy == vDrop {
				return outcome{kind: blocked, chain: w.base}
			}
			return outcome{kind: allowed}
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
		m, why := r.match(p)
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
			skipped := w.run(clone(stack), p)
			if taken.kind == skipped.kind && taken.kind != undecided {
				return skipped
			}
			return outcome{kind: undecided, rule: r, why: why}
		}
	}
}

func (w *walker) follow(stack []frame, r *rule, p packet) outcome {
	next, o, done := w.apply(stack, r)
	if done {
		return o
	}
	return w.run(next, p)
}

// apply takes r's verdict: a final outcome (done), or the stack to go on
// with.
func (w *walker) apply(stack []frame, r *rule) ([]frame, outcome, bool) {
	switch r.verdict {
	case vAccept:
		return nil, outcome{kind: allowed, rule: r}, true
	case vDrop:
		return nil, outcome{kind: blocked, rule: r}, true
	case vReturn:
		return stack[:len(stack)-1], outcome{}, false
	case vJump, vGoto:
		t, ok := w.rs.chains[r.target]
		if !ok {
			return nil, outcome{kind: undecided, rule: r, why: "it jumps to a chain that was not found"}, true
		}
		if len(stack) >= maxDepth {
			return nil, outcome{kind: undecided, rule: r, why: "jumps nest too deep"}, true
		}
		if r.verdict == vGoto {
			stack = stack[:len(stack)-1]
		}
		return append(stack, frame{c: t}), outcome{}, false
	}
	return nil, outcome{kind: undecided, rule: r, why: r.unknown}, true
}

func clone(s []frame) []frame { return append([]frame(nil), s...) }

// firewallView is what was read of the host firewall.
type firewallView struct {
	sets    []*ruleset
	read    []string // what was read and filters: "nftables (12 rules)"
	empty   []string // what was read and filters nothing
	problem []string // what could not be read
}

// readFirewall reads nftables and legacy iptables without changing them.
// iptables-save is read only when it shows rules nft cannot: the legacy
// backend (the nf_tables backend's rules are already in nft's ruleset).
func readFirewall(ctx context.Context, env Env) firewallView {
	var v firewallView
	nftRead := false
	if path, err := env.LookPath("nft"); err == nil {
		out, err := env.Command(ctx, path, "-j", "list", "ruleset")
		if err != nil {
			v.problem = append(v.problem, err.Error())
		} else if rs, err := parseNft(out); err != nil {
			v.problem = append(v.problem, fmt.Sprintf("nft -j list ruleset: %v", err))
		} else {
			nftRead = true
			if len(rs.base) > 0 {
				v.sets = append(v.sets, rs)
				v.read = append(v.read, fmt.Sprintf("nftables (%d rules)", rs.rules))
			} else {
				v.empty = append(v.empty, "nftables")
			}
		}
	}
	seen := map[string]bool{}
	for _, tool := range []struct {
		name string
		v6   bool
	}{
		{"iptables-legacy-save", false}, {"ip6tables-legacy-save", true},
		{"iptables-save", false}, {"ip6tables-save", true},
	} {
		path, err := env.LookPath(tool.name)
		if err != nil {
			continue
		}
		out, err := env.Command(ctx, path)
		if err != nil {
			v.problem = append(v.problem, err.Error())
			continue
		}
		text := string(out)
		legacy := !strings.Contains(firstLine(text), "nf_tables")
		if !legacy && nftRead {
			continue // the same rules nft showed
		}
		body := stripComments(text)
		if seen[body] {
			continue // iptables-save is iptables-legacy-save on this node
		}
		seen[body] = true
		from := "iptables"
		if tool.v6 {
			from = "ip6tables"
		}
		if legacy {
			from += "-legacy"
		}
		rs, err := parseIptables(text, from, tool.v6)
		if err != nil {
			v.problem = append(v.problem, fmt.Sprintf("%s: %v", tool.name, err))
			continue
		}
		if rs.rules > 0 || hasDropPolicy(rs) {
			v.sets = append(v.sets, rs)
			v.read = append(v.read, fmt.Sprintf("%s (%d rules)", from, rs.rules))
		} else {
			v.empty = append(v.empty, from)
		}
	}
	return v
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// stripComments drops iptables-save's "# Generated ..." lines, which carry
// the time and the program name.
func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func hasDropPolicy(rs *ruleset) bool {
	for _, c := range rs.base {
		if c.policy == vDrop {
			return true
		}
	}
	return false
}

// judgeFirewall decides, for every probe source, whether the firewall lets
// the probe reach the port.
func judgeFirewall(v firewallView, sources []source, port uint16) Check {
	ck := Check{Name: "firewall"}
	if len(v.sets) == 0 {
		switch {
		case len(v.problem) > 0:
			ck.Status, ck.Found = Warn, "could not read the host firewall: "+strings.Join(v.problem, "; ")
			ck.Fix = fmt.Sprintf("run the doctor as root, or check by hand that tcp port %d is open to %s", port, sourceList(sources))
		case len(v.empty) == 0:
			ck.Status, ck.Found = Info, "neither nft nor iptables-save is installed: no host firewall read"
		default:
			ck.Status, ck.Found = OK, fmt.Sprintf("nothing filters incoming traffic (read %s): tcp port %d is open", strings.Join(v.empty, ", "), port)
		}
		return ck
	}
	var blockedBy, unsure []string
	var fixes []string
	for _, s := range sources {
		p := packet{src: s, port: port}
		for _, rs := range v.sets {
			o := rs.decide(p)
			switch o.kind {
			case blocked:
				blockedBy = append(blockedBy, fmt.Sprintf("%s blocks tcp/%d from %s", o.where(), port, s))
				if f := o.fix(s, port); f != "" {
					fixes = append(fixes, f)
				}
			case undecided:
				why := ""
				if o.why != "" {
					why = " (" + o.why + ")"
				}
				unsure = append(unsure, fmt.Sprintf("could not decide for %s: check %s%s", s, o.where(), why))
			}
		}
	}
	read := strings.Join(v.read, ", ")
	switch {
	case len(blockedBy) > 0:
		ck.Status = Fail
		ck.Found = strings.Join(append(blockedBy, unsure...), "; ") + " [read " + read + "]"
		ck.Fix = "let the probe in ahead of that rule"
		if len(fixes) > 0 {
			ck.Fix += ", e.g. " + strings.Join(dedupe(fixes), "; ")
		}
		ck.Fix += ", and make it permanent where your firewall is configured (/etc/nftables.conf, firewalld, ufw)"
	case len(unsure) > 0:
		ck.Status = Warn
		ck.Found = strings.Join(unsure, "; ") + " [read " + read + "]"
		ck.Fix = fmt.Sprintf("make sure that rule lets tcp port %d in from %s (nft -a list ruleset, iptables-save show it)", port, sourceList(sources))
	default:
		ck.Status = OK
		ck.Found = fmt.Sprintf("tcp/%d from %s passes %s", port, sourceList(sources), read)
	}
	if len(v.problem) > 0 && ck.Status == OK {
		ck.Status = Warn
		ck.Found += "; but could not read: " + strings.Join(v.problem, "; ")
	}
	return ck
}

// addrCond matches the source address against a set of prefixes and
// ranges: yes when the probe source lies inside one, no when it is outside
// all, maybe when it straddles one or is any host.
func addrCond(what string, v6 bool, elems []addrRange, negate bool) cond {
	return cond{what: what, eval: func(p packet) tri {
		if p.src.v6 != v6 {
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

func addrIn(s source, elems []addrRange) tri {
	if !s.prefix.IsValid() {
		for _, e := range elems {
			if e.lo.IsUnspecified() && rangeOf(netip.PrefixFrom(e.lo, 0)).hi == e.hi {
				return yes // 0.0.0.0/0
			}
		}
		return maybe
	}
	src := rangeOf(s.prefix)
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

func ruleFixNft(family, table, chainName string, handle int) func(source, uint16) string {
	return func(s source, port uint16) string {
		return "nft insert rule " + family + " " + table + " " + chainName + fmt.Sprintf(" position %d ", handle) + nftAccept(family, s, port)
	}
}

func chainFixNft(family, table, chainName string) func(source, uint16) string {
	return func(s source, port uint16) string {
		return "nft add rule " + family + " " + table + " " + chainName + " " + nftAccept(family, s, port)
	}
}

func nftAccept(family string, s source, port uint16) string {
	out := ""
	if s.prefix.IsValid() {
		if s.v6 {
			out = "ip6 saddr " + s.String() + " "
		} else {
			out = "ip saddr " + s.String() + " "
		}
	} else if family == "inet" || family == "netdev" {
		if s.v6 {
			out = "meta nfproto ipv6 "
		} else {
			out = "meta nfproto ipv4 "
		}
	}
	return out + fmt.Sprintf("tcp dport %d accept", port)
}

func fixIptables(tool, table, chainName string, pos int) func(source, uint16) string {
	return func(s source, port uint16) string {
		src := ""
		if s.prefix.IsValid() {
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
