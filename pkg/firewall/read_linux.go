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

// Read reads nftables and iptables without changing them. The legacy
// backend's rules are only in iptables-save's text. The nf_tables
// backend's are in nft's ruleset too, but the tables iptables-save and
// ip6tables-save print are read from their text instead ("iptables-nft",
// "ip6tables-nft" views) and left out of nft's view: nft shows
// iptables-nft's xt expressions without their options, and an admin who
// wrote the rules with iptables gets the fix in iptables' words and is
// told to keep it where iptables rules are kept. Tables iptables-save
// calls incompatible, or prints unfaithfully, stay in nft's view.
func Read(ctx context.Context, tools Tools) Host {
	var h Host
	nft := h.readNft(ctx, tools)
	seen := map[string]bool{}
	var views []*Ruleset
	for _, tool := range []struct {
		name string
		v6   bool
	}{
		{"iptables-legacy-save", false}, {"ip6tables-legacy-save", true},
		{"iptables-save", false}, {"ip6tables-save", true},
	} {
		if rs := h.readIptables(ctx, tools, tool.name, tool.v6, nft, seen); rs != nil {
			views = append(views, rs)
		}
	}
	if nft != nil {
		rs := nft.rs
		if len(nft.owned) > 0 {
			// The same bytes parsed once already: it cannot fail.
			if rest, _, err := parseNftSkipping(nft.raw, nft.owned); err == nil {
				rs = rest
			}
		}
		h.add(rs, len(rs.base) > 0)
	}
	for _, rs := range views {
		h.add(rs, rs.rules > 0 || hasDropPolicy(rs))
	}
	return h
}

// add lists a view among those that filter, or those that do not.
func (h *Host) add(rs *Ruleset, filters bool) {
	if filters {
		h.Rulesets = append(h.Rulesets, rs)
		h.Read = append(h.Read, fmt.Sprintf("%s (%s)", rs.from, ruleCount(rs.rules)))
	} else {
		h.Empty = append(h.Empty, rs.from)
	}
}

// nftRead is nft's ruleset as read.
type nftRead struct {
	raw    []byte
	rs     *Ruleset
	tables map[string]*nftTable
	xt     bool            // some table has iptables-nft's xt expressions
	owned  map[string]bool // "ip filter": read from iptables-save's text instead
}

// readNft reads `nft -j list ruleset`; nil when it could not.
func (h *Host) readNft(ctx context.Context, tools Tools) *nftRead {
	path, err := tools.LookPath("nft")
	if err != nil {
		return nil
	}
	out, err := tools.Command(ctx, path, "-j", "list", "ruleset")
	if err != nil {
		h.Problems = append(h.Problems, err.Error())
		return nil
	}
	rs, tables, err := parseNftSkipping(out, nil)
	if err != nil {
		h.Problems = append(h.Problems, fmt.Sprintf("nft -j list ruleset: %v", err))
		return nil
	}
	n := &nftRead{raw: out, rs: rs, tables: tables, owned: map[string]bool{}}
	for _, t := range tables {
		n.xt = n.xt || t.xt
	}
	return n
}

// readIptables reads one of the iptables-save programs, unless it shows
// what was read already: another program's same text, or nft's own rules
// where nft's view judges them (no xt expressions).
func (h *Host) readIptables(ctx context.Context, tools Tools, name string, v6 bool, nft *nftRead, seen map[string]bool) *Ruleset {
	path, err := tools.LookPath(name)
	if err != nil {
		return nil
	}
	out, err := tools.Command(ctx, path)
	if err != nil {
		h.Problems = append(h.Problems, err.Error())
		return nil
	}
	text := string(out)
	key := fmt.Sprintf("v6=%t\n%s", v6, stripComments(text))
	if seen[key] {
		return nil // iptables-save is iptables-legacy-save on this node
	}
	seen[key] = true
	from, tool := iptablesView(name, v6, text)
	var tables []string
	if strings.HasSuffix(from, "-nft") && nft != nil {
		if text, tables = nft.takeable(text, v6); len(tables) == 0 {
			return nil // every table it prints stays in nft's view
		}
	}
	rs, err := parseIptables(text, from, tool, v6)
	if err != nil {
		h.Problems = append(h.Problems, fmt.Sprintf("%s: %v", name, err))
		return nil
	}
	for _, t := range tables {
		nft.owned[t] = true
	}
	return rs
}

// iptablesView names the view of an iptables-save text, and the command
// its fixes use: "iptables-legacy", "ip6tables-nft" (whose rules the
// iptables command changes: it is iptables-nft where iptables-save says
// nf_tables). A text without tables or the nf_tables mark says nothing of
// the backend: it is named after the program.
func iptablesView(name string, v6 bool, text string) (from, tool string) {
	tool = "iptables"
	if v6 {
		tool = "ip6tables"
	}
	switch {
	case strings.Contains(firstLine(text), "nf_tables"):
		return tool + "-nft", tool
	case len(savedTables(text)) == 0:
		return strings.TrimSuffix(name, "-save"), tool
	}
	return tool + "-legacy", tool + "-legacy"
}

// takeable is the part of iptables-nft's text to read instead of nft's
// view, and its tables as nft names them ("ip filter"): those it prints
// whose rules nft shows nothing iptables-save mangles in.
func (n *nftRead) takeable(text string, v6 bool) (string, []string) {
	family := "ip"
	if v6 {
		family = "ip6"
	}
	var tables []string
	text = keepTables(text, func(table string) bool {
		// A table nft does not show is not there (nft is the kernel's
		// word); one with what iptables-save prints wrong stays nft's.
		if t := n.tables[family+" "+table]; t == nil || t.foreign {
			return false
		}
		tables = append(tables, family+" "+table)
		return true
	})
	return text, tables
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
