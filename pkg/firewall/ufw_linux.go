package firewall

import (
	"fmt"
	"strings"
)

// ufw (Ubuntu's firewall) owns the chains named ufw-* and ufw6-* and the
// filter table's INPUT policy (DEFAULT_INPUT_POLICY). A probe dropped
// there is let in by a ufw rule, which ufw also keeps across reboots; an
// iptables rule inserted by hand would be gone at the next `ufw reload`.
// Source: ufw(8), "RULE SYNTAX" and "insert NUM RULE".

// isUFWChain reports whether ufw owns the chain called name.
func isUFWChain(name string) bool {
	return strings.HasPrefix(name, "ufw-") || strings.HasPrefix(name, "ufw6-")
}

// useUFWFixes gives the rules and policy ufw owns in rs the ufw command as
// their fix, when ufw manages rs at all.
func useUFWFixes(rs *Ruleset) {
	managed := false
	for _, c := range rs.chains {
		_, name, _ := strings.Cut(c.key, " ")
		if !isUFWChain(name) {
			continue
		}
		managed = true
		// A drop among the user's own rules (ufw deny) needs the allow
		// ahead of it; elsewhere ufw's place for user rules is early
		// enough.
		insert := strings.Contains(name, "-user-")
		for _, r := range c.rules {
			r.fix, r.persists = ufwAllow(insert), true
		}
	}
	if c := rs.chains["filter INPUT"]; managed && c != nil && c.fix != nil {
		c.fix, c.persists = ufwAllow(false), true
	}
}

// ufwAllow is `ufw allow proto tcp from SRC to any port PORT`; insert puts
// it ahead of every user rule (ufw insert 1).
func ufwAllow(insert bool) func(Source, uint16) string {
	return func(s Source, port uint16) string {
		from := "any"
		if s.Prefix.IsValid() {
			from = s.String()
		}
		cmd := "ufw allow"
		if insert {
			cmd = "ufw insert 1 allow"
		}
		return fmt.Sprintf("%s proto tcp from %s to any port %d", cmd, from, port)
	}
}
