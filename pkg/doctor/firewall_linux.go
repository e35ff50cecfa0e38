package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ilbvip/ilbvip/pkg/firewall"
)

// The firewall check asks pkg/firewall whether the host firewall lets each
// probe source reach the port, and words the answer.

// readFirewall reads the host firewall with the doctor's way of running
// programs.
func readFirewall(ctx context.Context, env Env) firewall.Host {
	return firewall.Read(ctx, firewall.Tools{LookPath: env.LookPath, Command: env.Command})
}

// judgeFirewall decides, for every probe source, whether the firewall lets
// the probe reach the port at dest (invalid: some local address).
func judgeFirewall(v firewall.Host, sources []source, dest netip.Addr, port uint16) Check {
	if len(v.Rulesets) == 0 {
		return noRulesets(v, sources, port)
	}
	var j judged
	for _, s := range sources {
		for _, rs := range v.Rulesets {
			j.add(rs.DecideTo(s, dest, port), s, port)
		}
	}
	ck := Check{Name: "firewall"}
	read := " [read " + strings.Join(v.Read, ", ") + "]"
	switch {
	case len(j.blocked) > 0:
		ck.Status, ck.Found = Fail, strings.Join(append(j.blocked, j.unsure...), "; ")+read
		ck.Fix = blockedFix(j.fixes, j.keep)
	case len(j.fixes) > 0: // undecided at a per-source limit the probes exceed
		ck.Status, ck.Found = Warn, strings.Join(j.unsure, "; ")+read
		ck.Fix = strings.Replace(blockedFix(j.fixes, j.keep), "the rule or policy that blocks it", "that limit", 1)
	case len(j.unsure) > 0:
		ck.Status, ck.Found = Warn, strings.Join(j.unsure, "; ")+read
		ck.Fix = fmt.Sprintf("check by hand whether that rule lets tcp port %d in from %s (nft -a list ruleset, iptables-save show it); if it may not, let the probe in ahead of it", port, sourceList(sources))
	default:
		ck.Status, ck.Found = OK, fmt.Sprintf("tcp/%d from %s passes %s", port, sourceList(sources), strings.Join(v.Read, ", "))
	}
	if len(v.Problems) > 0 && ck.Status == OK {
		ck.Status = Warn
		ck.Found += "; but could not read: " + strings.Join(v.Problems, "; ")
	}
	return ck
}

// noRulesets words a host firewall that filters nothing or could not be
// read.
func noRulesets(v firewall.Host, sources []source, port uint16) Check {
	ck := Check{Name: "firewall"}
	switch {
	case len(v.Problems) > 0:
		ck.Status, ck.Found = Warn, "could not read the host firewall: "+strings.Join(v.Problems, "; ")
		ck.Fix = fmt.Sprintf("run the doctor as root, or check by hand that tcp port %d is open to %s", port, sourceList(sources))
	case len(v.Empty) == 0:
		ck.Status, ck.Found = Info, "neither nft nor iptables-save is installed: no host firewall read"
	default:
		ck.Status, ck.Found = OK, fmt.Sprintf("nothing filters incoming traffic (read %s): tcp port %d is open", strings.Join(v.Empty, ", "), port)
	}
	return ck
}

// judged collects the verdicts of every source in every view.
type judged struct {
	blocked, unsure []string
	fixes, keep     []string // keep: where to make the fixes permanent
}

func (j *judged) add(o firewall.Verdict, s source, port uint16) {
	switch o.Decision {
	case firewall.Drop:
		j.blocked = append(j.blocked, fmt.Sprintf("%s blocks tcp/%d from %s", o.Where, port, s))
	case firewall.Undecided:
		why := ""
		if o.Why != "" {
			why = " (" + o.Why + ")"
		}
		note := limitNote(o.Limit)
		j.unsure = append(j.unsure, fmt.Sprintf("could not decide for %s: check %s%s%s", s, o.Where, why, note))
		if note == "" {
			return
		}
	default:
		return
	}
	if o.Fix != "" {
		j.fixes = append(j.fixes, o.Fix)
	}
	if !o.Persists {
		j.keep = append(j.keep, o.KeepIn)
	}
}

// limitNote explains a rate limit the verdict depends on (ufw limit: 5
// new connections per source in 30 s; nft limit rate 10/minute): one
// source probing every few seconds is what such a limit refuses.
func limitNote(r *firewall.Rate) string {
	if r == nil {
		return ""
	}
	every := r.Per.Seconds() / r.N
	return fmt.Sprintf(": it allows a source %g new connections in %g s, so it refuses probes sent every %.3g s or more often "+
		"(Azure and Google Cloud probe every 5 s by default): with such an interval the node goes unhealthy", r.N, r.Per.Seconds(), every)
}

// blockedFix words the fix of a blocked probe: the commands, and where to
// make them permanent unless they are the firewall manager's own (ufw):
// keep holds a place per fix that does not persist ("" when unknown).
func blockedFix(fixes, keep []string) string {
	fix := "let the probe in ahead of the rule or policy that blocks it"
	if len(fixes) > 0 {
		fix += ", e.g. " + strings.Join(dedupe(fixes), "; ")
	}
	switch places := dedupe(keep); {
	case len(fixes) > 0 && len(keep) == 0:
		return fix
	case len(places) > 0 && !slices.Contains(places, ""):
		return fix + ", and make it permanent in " + strings.Join(places, "; ")
	}
	return fix + ", and make it permanent where your firewall is configured (/etc/nftables.conf, firewalld, ufw)"
}
