package firewall

import (
	"fmt"
	"strings"
)

// ufw (Ubuntu's firewall) owns the chains named ufw-* and ufw6-* and the
// filter table's INPUT policy (DEFAULT_INPUT_POLICY). The ufw command adds
// to its user chains (ufw-user-*), which INPUT reaches after the before
// chains (built from /etc/ufw/before.rules, before6.rules for IPv6) and
// ahead of the after chains, the reject chains and the policy.
// Source: ufw(8), "RULE SYNTAX", "prepend" and "delete"; ufw-framework(8).

// isUFWChain reports whether ufw owns the chain called name.
func isUFWChain(name string) bool {
	return strings.HasPrefix(name, "ufw-") || strings.HasPrefix(name, "ufw6-")
}

// useUFWFixes gives the rules and policy ufw owns in rs their fixes, when
// ufw manages rs at all: a drop among the user's rules needs an allow
// ahead of it; one in a before chain comes ahead of every ufw command's
// rule, so it gets the iptables fix, kept in the before rules file; one
// anywhere after the user chains, as the policy, is let in by a plain
// ufw allow, which persists.
func useUFWFixes(rs *Ruleset, v6 bool) {
	managed := false
	for _, c := range rs.chains {
		_, name, _ := strings.Cut(c.key, " ")
		if !isUFWChain(name) {
			continue
		}
		managed = true
		for _, r := range c.rules {
			switch {
			case strings.Contains(name, "-user-"):
				r.fix, r.persists, r.keep = ufwAllow(true), true, nil
			case strings.Contains(name, "-before-") || strings.HasSuffix(name, "-not-local"):
				r.keep = ufwBeforeKeep(name, v6)
			default:
				r.fix, r.persists, r.keep = ufwAllow(false), true, nil
			}
		}
	}
	if c := rs.chains["filter INPUT"]; managed && c != nil && c.fix != nil {
		c.fix, c.persists, c.keep, c.owner = ufwAllow(false), true, nil, "ufw's default incoming policy"
	}
}

// ufwAllow lets the probe in through ufw. Ahead of the user's rules
// (first) it takes three commands, each harmless where it does nothing:
// ufw skips an allow it holds already, so one behind a deny is deleted
// and prepended (`prepend`, unlike `insert 1`, also works for IPv6, whose
// rules never hold position 1); and ufw takes a rule that differs from a
// deny only in its action for that deny, so prepend skips it and a plain
// allow turns the deny into an allow in place ("Rule updated").
func ufwAllow(first bool) func(Source, uint16) string {
	return func(s Source, port uint16) string {
		from := "any"
		if s.Prefix.IsValid() {
			from = s.String()
		}
		rule := fmt.Sprintf("allow proto tcp from %s to any port %d", from, port)
		if first {
			return "ufw delete " + rule + "; ufw prepend " + rule + "; ufw " + rule
		}
		return "ufw " + rule
	}
}

// ufwBeforeKeep says how to keep a fix in ufw's before rules file: the
// line to add there.
func ufwBeforeKeep(chain string, v6 bool) wording {
	file := "/etc/ufw/before.rules"
	if v6 {
		file = "/etc/ufw/before6.rules"
	}
	return func(src Source, port uint16) string {
		from := ""
		if src.Prefix.IsValid() {
			from = " -s " + src.String()
		}
		return fmt.Sprintf("%s, as the line '-A %s%s -p tcp --dport %d -j ACCEPT' above the one that drops it, then ufw reload", file, chain, from, port)
	}
}
