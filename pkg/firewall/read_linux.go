package firewall

import (
	"context"
	"fmt"
	"strings"
)

// Tools runs the firewall's programs; tests serve canned output.
type Tools struct {
	// LookPath finds a program (nft, iptables-save).
	LookPath func(name string) (string, error)
	// Command runs one without a shell and returns its standard output.
	Command func(ctx context.Context, path string, args ...string) ([]byte, error)
}

// Host is what was read of the host firewall.
type Host struct {
	Rulesets []*Ruleset
	Read     []string // what was read and filters: "nftables (12 rules)"
	Empty    []string // what was read and filters nothing
	Problems []string // what could not be read
}

// Read reads nftables and legacy iptables without changing them.
// iptables-save is read only when it shows rules nft cannot: the legacy
// backend (the nf_tables backend's rules are already in nft's ruleset).
func Read(ctx context.Context, tools Tools) Host {
	var h Host
	nftRead := h.readNft(ctx, tools)
	seen := map[string]bool{}
	for _, tool := range []struct {
		name string
		v6   bool
	}{
		{"iptables-legacy-save", false}, {"ip6tables-legacy-save", true},
		{"iptables-save", false}, {"ip6tables-save", true},
	} {
		h.readIptables(ctx, tools, tool.name, tool.v6, nftRead, seen)
	}
	return h
}

// readNft reads `nft -j list ruleset`; false when it could not.
func (h *Host) readNft(ctx context.Context, tools Tools) bool {
	path, err := tools.LookPath("nft")
	if err != nil {
		return false
	}
	out, err := tools.Command(ctx, path, "-j", "list", "ruleset")
	if err != nil {
		h.Problems = append(h.Problems, err.Error())
		return false
	}
	rs, err := parseNft(out)
	if err != nil {
		h.Problems = append(h.Problems, fmt.Sprintf("nft -j list ruleset: %v", err))
		return false
	}
	if len(rs.base) > 0 {
		h.Rulesets = append(h.Rulesets, rs)
		h.Read = append(h.Read, fmt.Sprintf("nftables (%s)", ruleCount(rs.rules)))
	} else {
		h.Empty = append(h.Empty, "nftables")
	}
	return true
}

// readIptables reads one of the iptables-save programs, unless it shows
// what was read already: nft's own rules, or another program's same text.
func (h *Host) readIptables(ctx context.Context, tools Tools, name string, v6, nftRead bool, seen map[string]bool) {
	path, err := tools.LookPath(name)
	if err != nil {
		return
	}
	out, err := tools.Command(ctx, path)
	if err != nil {
		h.Problems = append(h.Problems, err.Error())
		return
	}
	text := string(out)
	legacy := !strings.Contains(firstLine(text), "nf_tables")
	if !legacy && nftRead {
		return // the same rules nft showed
	}
	body := stripComments(text)
	if seen[body] {
		return // iptables-save is iptables-legacy-save on this node
	}
	seen[body] = true
	from := "iptables"
	if v6 {
		from = "ip6tables"
	}
	if legacy {
		from += "-legacy"
	}
	rs, err := parseIptables(text, from, v6)
	if err != nil {
		h.Problems = append(h.Problems, fmt.Sprintf("%s: %v", name, err))
		return
	}
	if rs.rules > 0 || hasDropPolicy(rs) {
		h.Rulesets = append(h.Rulesets, rs)
		h.Read = append(h.Read, fmt.Sprintf("%s (%s)", from, ruleCount(rs.rules)))
	} else {
		h.Empty = append(h.Empty, from)
	}
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

func hasDropPolicy(rs *Ruleset) bool {
	for _, c := range rs.base {
		if c.policy == vDrop {
			return true
		}
	}
	return false
}

// ruleCount counts rules in English: "1 rule", "12 rules".
func ruleCount(n int) string {
	if n == 1 {
		return "1 rule"
	}
	return fmt.Sprintf("%d rules", n)
}
