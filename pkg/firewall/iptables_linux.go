package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// iptablesBase are the chains of each table that a packet for this node
// passes on its way in.
var iptablesBase = map[string]map[string]string{
	"raw":      {"PREROUTING": "prerouting"},
	"mangle":   {"PREROUTING": "prerouting", "INPUT": "input"},
	"nat":      {"PREROUTING": "prerouting"},
	"filter":   {"INPUT": "input"},
	"security": {"INPUT": "input"},
}

// nonTerminal are targets after which the packet goes on to the next rule.
var nonTerminal = map[string]bool{
	"LOG": true, "NFLOG": true, "ULOG": true, "MARK": true, "CONNMARK": true, "TRACE": true, "CT": true,
	"NOTRACK": true, "TCPMSS": true, "CHECKSUM": true, "SET": true, "AUDIT": true, "CLASSIFY": true,
	"DSCP": true, "TOS": true, "TTL": true, "HL": true, "CONNSECMARK": true, "SECMARK": true,
}

// parseIptables reads iptables-save (or ip6tables-save) output; from names
// the view ("iptables-legacy", "iptables-nft"), tool is the command the
// fixes name ("iptables-legacy", "iptables").
func parseIptables(text, from, tool string, v6 bool) (*Ruleset, error) {
	rs := newRuleset(from)
	fam := famV4
	if v6 {
		fam = famV6
	}
	table := ""
	type pending struct {
		chain string
		toks  []string
		line  string
		pos   int
	}
	var rules []pending
	count := map[string]int{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "COMMIT":
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":"):
			if err := addIptChain(rs, table, line, tool, fam); err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
		case strings.HasPrefix(line, "-A "):
			toks, err := tokenize(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n+1, err)
			}
			if len(toks) < 2 || table == "" {
				return nil, fmt.Errorf("line %d: rule %q not understood", n+1, line)
			}
			key := table + " " + toks[1]
			count[key]++
			rules = append(rules, pending{chain: key, toks: toks[2:], line: line, pos: count[key]})
		default:
			return nil, fmt.Errorf("line %d: %q not understood", n+1, line)
		}
	}
	for _, p := range rules {
		c, ok := rs.chains[p.chain]
		if !ok {
			continue
		}
		table, name, _ := strings.Cut(p.chain, " ")
		r := iptablesRule(rs, table, p.toks, v6)
		r.ref = fmt.Sprintf("%s rule %q (table %s)", from, p.line, table)
		r.fix, r.keep = fixIptables(tool, table, name, p.pos), iptKeep(v6)
		c.rules = append(c.rules, r)
		rs.rules++
	}
	useUFWFixes(rs, v6)
	useFirewalldKeep(rs)
	return rs, nil
}

// useFirewalldKeep points the fixes of a ruleset firewalld built on
// iptables (RHEL 7: chains INPUT_ZONES, IN_public ...) to firewalld's
// configuration: firewalld rewrites those chains at every reload.
func useFirewalldKeep(rs *Ruleset) {
	if rs.chains["filter INPUT_ZONES"] == nil {
		return
	}
	for _, c := range rs.chains {
		for _, r := range c.rules {
			if !r.persists {
				r.keep = firewalldKeep
			}
		}
		if c.fix != nil && !c.persists {
			c.keep = firewalldKeep
		}
	}
}

// iptKeep says where iptables rules are made permanent on the usual
// distributions.
func iptKeep(v6 bool) wording {
	if v6 {
		return saying("/etc/iptables/rules.v6 (Debian, iptables-persistent) or /etc/sysconfig/ip6tables (RHEL)")
	}
	return saying("/etc/iptables/rules.v4 (Debian, iptables-persistent) or /etc/sysconfig/iptables (RHEL)")
}

// addIptChain takes in a ":NAME POLICY [counters]" line.
func addIptChain(rs *Ruleset, table, line, tool string, fam famSet) error {
	f := strings.Fields(line[1:])
	if len(f) < 2 || table == "" {
		return fmt.Errorf("chain line %q not understood", line)
	}
	c := &chain{key: table + " " + f[0], name: table + " " + f[0], fam: fam}
	if hook, ok := iptablesBase[table][f[0]]; ok {
		c.hook, c.policy = hook, vAccept
		if f[1] == "DROP" {
			c.policy = vDrop
			c.fix, c.keep = fixIptables(tool, table, f[0], 0), iptKeep(fam == famV6)
		}
	}
	rs.add(c)
	return nil
}

// tokenize splits an iptables-save line; it quotes arguments with spaces
// ("--comment \"a b\"") and escapes quotes inside with a backslash.
func tokenize(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case ch == '"':
			quoted, in = !quoted, true
		case !quoted && (ch == ' ' || ch == '\t'):
			if in {
				toks = append(toks, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if quoted {
		return nil, errors.New("unbalanced quote")
	}
	if in {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// optContext is what judging a module's option needs besides the option.
type optContext struct {
	module string // the last -m
	v6     bool
	// limited: an addrtype match looks types up on the input (or
	// output) interface only (--limit-iface-in, --limit-iface-out).
	limited bool
}

// iptablesRule converts the options of one -A line.
func iptablesRule(rs *Ruleset, table string, toks []string, v6 bool) *rule {
	r := &rule{}
	ctx := optContext{v6: v6, limited: slices.Contains(toks, "--limit-iface-in") || slices.Contains(toks, "--limit-iface-out")}
	neg := false
	// args takes an option's arguments: the tokens up to the next option.
	args := func(i *int) []string {
		var out []string
		for *i+1 < len(toks) && !strings.HasPrefix(toks[*i+1], "-") && toks[*i+1] != "!" {
			*i++
			out = append(out, toks[*i])
		}
		return out
	}
	add := func(c cond) {
		if neg {
			c = negated(c, true)
		}
		r.conds = append(r.conds, c)
		neg = false
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t {
		case "!":
			neg = true
			continue
		case "-p", "--protocol", "-s", "--source", "-i", "--in-interface", "-d", "--destination", "-o", "--out-interface":
			add(basicMatch(t, args(&i), v6))
		case "-f", "--fragment":
			add(always(no, "-f"))
		case "-m", "--match":
			a := args(&i)
			if len(a) > 0 {
				ctx.module = a[0]
			}
			neg = false
			switch ctx.module {
			case "rpfilter":
				// The match is the module itself; --invert turns it.
				add(rpfilterCond(slices.Contains(moduleTokens(toks[i+1:]), "--invert")))
			case "recent":
				add(recentCond(moduleTokens(toks[i+1:])))
			}
		case "-j", "--jump":
			if a := args(&i); len(a) > 0 {
				iptTarget(r, rs, table, a[0], toks[i+1:])
				return r // the rest are the target's options
			}
		case "-g", "--goto":
			a := args(&i)
			if len(a) > 0 {
				r.verdict, r.target = vGoto, table+" "+a[0]
			}
			return r
		case "-c", "--set-counters":
			args(&i)
		default:
			a := args(&i)
			add(moduleOption(ctx, t, a))
		}
	}
	return r
}

// iptTarget takes a rule's target and its options (rest).
func iptTarget(r *rule, rs *Ruleset, table, target string, rest []string) {
	setTarget(r, rs, table, target)
	if target == "NOTRACK" || (target == "CT" && slices.Contains(rest, "--notrack")) {
		rs.notrack = append(rs.notrack, r)
	}
}

// basicMatch judges one of the options every rule can have: protocol,
// source, interfaces, destination.
func basicMatch(opt string, a []string, v6 bool) cond {
	switch opt {
	case "-p", "--protocol":
		p := strings.ToLower(strings.Join(a, ""))
		return always(map[bool]tri{true: yes, false: no}[p == "tcp" || p == "6" || p == "all" || p == "0"], "-p "+p)
	case "-s", "--source":
		elems, ok := iptAddrs(strings.Join(a, ","), v6)
		if !ok {
			return always(maybe, "-s "+strings.Join(a, ","))
		}
		return addrCond("-s "+strings.Join(a, ","), v6, elems, false)
	case "-d", "--destination":
		elems, ok := iptAddrs(strings.Join(a, ","), v6)
		if !ok {
			return always(maybe, "-d "+strings.Join(a, ","))
		}
		return destCond("-d "+strings.Join(a, ","), v6, elems, false)
	case "-i", "--in-interface":
		if name := strings.Join(a, ""); name != "lo" {
			return always(maybe, "-i "+name)
		}
		return always(no, "-i lo")
	}
	return always(maybe, opt+" "+strings.Join(a, ","))
}

func setTarget(r *rule, rs *Ruleset, table, target string) {
	switch {
	case target == "ACCEPT":
		r.verdict = vAccept
	case target == "DROP" || target == "REJECT":
		r.verdict = vDrop
	case target == "RETURN":
		r.verdict = vReturn
	case nonTerminal[target]:
		r.verdict = vNone
	default:
		if _, ok := rs.chains[table+" "+target]; ok {
			r.verdict, r.target = vJump, table+" "+target
			return
		}
		r.verdict, r.unknown = vUnknown, "target "+target+" is not followed"
	}
}

// moduleOption judges one match option for the probe packet.
func moduleOption(ctx optContext, opt string, a []string) cond {
	w := strings.TrimSpace("-m " + ctx.module + " " + opt + " " + strings.Join(a, " "))
	val := strings.Join(a, " ")
	if opt == "--dport" || opt == "--destination-port" {
		// Also after -p tcp without -m tcp, when another -m came before.
		return portOption(ctx.module, opt, val, w)
	}
	switch ctx.module {
	case "rpfilter":
		return always(yes, w) // --invert, --loose ...: judged in rpfilterCond
	case "recent":
		return always(yes, w) // judged in recentCond
	case "limit":
		if opt == "--limit" {
			return limited(w, iptRate(val))
		}
		return always(yes, w) // --limit-burst: part of the rate
	case "rt", "frag", "hbh", "dst", "ah":
		// IPv6 extension headers (and AH): the probe has none, and
		// without the header the kernel matches neither the option nor
		// its negation.
		return absent(w)
	case "addrtype":
		return addrtypeOption(ctx, opt, val, w)
	case "conntrack", "state":
		return conntrackOption(ctx.module, opt, val, w)
	case "comment":
		return always(yes, w)
	case "pkttype":
		// The probe is addressed to this host alone.
		return always(triOf(strings.EqualFold(val, "unicast")), w)
	case "iprange":
		if opt == "--src-range" {
			return srcRange(val, w)
		}
	}
	return portOption(ctx.module, opt, val, w)
}

// portOption judges the tcp, udp and multiport matches' options.
func portOption(module, opt, val, w string) cond {
	switch {
	case opt == "--dport" || opt == "--destination-port":
		if module == "udp" || module == "sctp" || module == "dccp" || module == "udplite" {
			return always(no, w)
		}
		// -m tcp, or the implicit tcp match after -p tcp.
		if r, ok := iptPorts(val); ok {
			return portCond(w, r, false)
		}
	case module == "tcp" && opt == "--syn":
		return always(yes, w)
	case opt == "--tcp-flags":
		return iptTCPFlags(strings.Fields(val), w)
	case module == "multiport" && (opt == "--dports" || opt == "--destination-ports"):
		if r, ok := iptPorts(val); ok {
			return portCond(w, r, false)
		}
	case module == "multiport" && opt == "--ports":
		if r, ok := iptPorts(val); ok {
			c := portCond(w, r, false)
			// It also matches on the source port, which is random.
			return cond{what: w, eval: func(p packet) tri {
				if c.eval(p) == yes {
					return yes
				}
				return maybe
			}}
		}
	}
	return always(maybe, w)
}

// conntrackOption judges -m conntrack and -m state: the probe's first
// packet has the state NEW and no other (it is not DNATed or SNATed), and
// none of the statuses a connection gets later or by NAT.
func conntrackOption(module, opt, val, w string) cond {
	switch {
	case (module == "conntrack" && opt == "--ctstate") || (module == "state" && opt == "--state"):
		return cond{what: w, eval: func(p packet) tri {
			return p.ctState(func(st string) tri { return triOf(containsFold(val, st)) })
		}}
	case module == "conntrack" && opt == "--ctstatus":
		for _, s := range strings.Split(val, ",") {
			if !neverStatus[strings.ToUpper(strings.TrimSpace(s))] {
				return always(maybe, w) // NONE, SNAT: not judged
			}
		}
		return always(no, w)
	}
	return always(maybe, w)
}

// recentCond is -m recent: --set and --remove match every packet (they
// record); --update and --rcheck match a source seen before, with
// --seconds S --hitcount H one seen H times in S seconds (ufw limit:
// 30 s, 6), a rate limit the probes run into.
func recentCond(opts []string) cond {
	what := strings.TrimSpace("-m recent " + strings.Join(opts, " "))
	if !slices.Contains(opts, "--update") && !slices.Contains(opts, "--rcheck") {
		return always(yes, what)
	}
	secs, hits := optionInt(opts, "--seconds"), optionInt(opts, "--hitcount")
	if secs <= 0 || hits < 2 {
		return always(maybe, what)
	}
	return limited(what, &Rate{N: float64(hits - 1), Per: time.Duration(secs) * time.Second})
}

// optionInt is the number after opt in opts, 0 when there is none.
func optionInt(opts []string, opt string) int {
	if i := slices.Index(opts, opt); i >= 0 && i+1 < len(opts) {
		n, _ := strconv.Atoi(opts[i+1])
		return n
	}
	return 0
}

// iptRate reads -m limit's rate: "3/min", "10/second" (iptables-extensions(8)).
func iptRate(v string) *Rate {
	n, unit, ok := strings.Cut(v, "/")
	r, err := strconv.ParseFloat(n, 64)
	if !ok || err != nil || r <= 0 {
		return nil
	}
	for _, u := range []struct {
		prefix string
		per    time.Duration
	}{{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
		if strings.HasPrefix(unit, u.prefix) {
			return &Rate{N: r, Per: u.per}
		}
	}
	return nil
}

// moduleTokens are a match's options: the tokens up to the next -m or
// target.
func moduleTokens(toks []string) []string {
	for i, t := range toks {
		if t == "-m" || t == "--match" || t == "-j" || t == "--jump" || t == "-g" || t == "--goto" {
			return toks[:i]
		}
	}
	return toks
}

// rpfilterCond is -m rpfilter: the packet passes the reverse-path check.
// A link-local source does (its route is on the interface it came in on,
// as on every interface with IPv6); for others the routes, not read here,
// decide. --invert matches the packets that fail it.
func rpfilterCond(invert bool) cond {
	what := "-m rpfilter"
	if invert {
		what += " --invert"
	}
	return cond{what: what, eval: func(p packet) tri {
		if p.src.Prefix.IsValid() && within(rangeOf(p.src.Prefix), []addrRange{linkLocal6}) {
			return triOf(!invert)
		}
		return maybe
	}}
}

// neverStatus are the conntrack statuses the probe's first packet does not
// have on its way in: it expects nothing, has seen no reply, is not yet
// confirmed, and is not DNATed.
var neverStatus = map[string]bool{"EXPECTED": true, "SEEN_REPLY": true, "ASSURED": true, "CONFIRMED": true, "DNAT": true}

// srcRange judges -m iprange --src-range A-B.
func srcRange(val, w string) cond {
	lo, hi, ok := strings.Cut(val, "-")
	a1, err1 := netip.ParseAddr(lo)
	a2, err2 := netip.ParseAddr(hi)
	if ok && err1 == nil && err2 == nil {
		return addrCond(w, a1.Is6(), []addrRange{{a1, a2}}, false)
	}
	return always(maybe, w)
}

func containsFold(list, want string) bool {
	for _, s := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(s), want) {
			return true
		}
	}
	return false
}

// iptPorts reads "80", "1000:2000", "22,80,1000:2000".
func iptPorts(s string) ([][2]uint16, bool) {
	var out [][2]uint16
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return nil, false
			}
		}
		out = append(out, [2]uint16{uint16(a), uint16(b)})
	}
	return out, len(out) > 0
}

// iptAddrs reads "10.0.0.0/8", "1.2.3.4/32", "1.2.3.4/255.255.255.0", and
// comma lists of them.
func iptAddrs(s string, v6 bool) ([]addrRange, bool) {
	var out []addrRange
	for _, part := range strings.Split(s, ",") {
		addr, mask, hasMask := strings.Cut(part, "/")
		a, err := netip.ParseAddr(addr)
		if err != nil || a.Is6() != v6 {
			return nil, false
		}
		bits := a.BitLen()
		if hasMask {
			if n, err := strconv.Atoi(mask); err == nil {
				bits = n
			} else if m, err := netip.ParseAddr(mask); err == nil {
				bits = 0
				for _, b := range m.AsSlice() {
					for ; b&0x80 != 0; b <<= 1 {
						bits++
					}
				}
			} else {
				return nil, false
			}
		}
		p, err := a.Prefix(bits)
		if err != nil {
			return nil, false
		}
		out = append(out, rangeOf(p))
	}
	return out, true
}

// addrtypeOption judges -m addrtype. IPv4 gives an address one type: the
// probe's destination is LOCAL and its source UNICAST; looked up on the
// input interface only (--limit-iface-in), the destination is LOCAL if its
// address is on that interface and UNICAST if not.
func addrtypeOption(ctx optContext, opt, val, w string) cond {
	types := strings.Split(strings.ToUpper(val), ",")
	listed := func(t string) tri { return map[bool]tri{true: yes, false: no}[slices.Contains(types, t)] }
	dst := opt == "--dst-type"
	switch {
	case ctx.limited && strings.HasPrefix(opt, "--limit-iface-"):
		return always(yes, w) // judged with the types
	case opt != "--src-type" && !dst:
		return always(maybe, w)
	}
	if ctx.v6 {
		return always(addrtype6(types, dst, ctx.limited), w)
	}
	may := []string{"UNICAST"}
	if dst {
		may = []string{"LOCAL"}
		if ctx.limited {
			may = append(may, "UNICAST")
		}
	}
	return always(oneOf(may, listed), w)
}

// addrtype6 is the IPv6 addrtype match (xt_addrtype's match_type6), which
// tests the listed types otherwise than IPv4: MULTICAST and UNSPEC require
// the address to be one, UNICAST requires a unicast address (as the
// probe's both are), and LOCAL, ANYCAST or UNREACHABLE make it look the
// address up, which for the probe's local destination finds LOCAL and for
// its remote source none of them.
func addrtype6(types []string, dst, limited bool) tri {
	lookup := false
	for _, t := range types {
		switch t {
		case "MULTICAST", "UNSPEC":
			return no
		case "LOCAL", "ANYCAST", "UNREACHABLE":
			lookup = true
		case "UNICAST":
		default:
			return maybe // rejected for IPv6 by the kernel; not judged
		}
	}
	switch {
	case !lookup:
		return yes
	case !dst:
		return no
	case limited:
		return maybe // LOCAL only if the address is on the input interface
	}
	return map[bool]tri{true: yes, false: no}[slices.Contains(types, "LOCAL")]
}
