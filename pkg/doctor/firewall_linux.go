package doctor

import (
	"context"
	"fmt"
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
// the probe reach the port.
func judgeFirewall(v firewall.Host, sources []source, port uint16) Check {
	ck := Check{Name: "firewall"}
	if len(v.Rulesets) == 0 {
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
	var blockedBy, unsure []string
	var fixes, keep []string // keep: where to make the fixes permanent
	for _, s := range sources {
		for _, rs := range v.Rulesets {
			o := rs.Decide(s, port)
			switch o.Decision {
			case firewall.Drop:
				blockedBy = append(blockedBy, fmt.Sprintf("%s blocks tcp/%d from %s", o.Where, port, s))
				if o.Fix != "" {
					fixes = append(fixes, o.Fix)
				}
				if !o.Persists {
					keep = append(keep, o.KeepIn)
				}
			case firewall.Undecided:
				why := ""
				if o.Why != "" {
					why = " (" + o.Why + ")"
				}
				unsure = append(unsure, fmt.Sprintf("could not decide for %s: check %s%s", s, o.Where, why))
			}
		}
	}
	read := strings.Join(v.Read, ", ")
	switch {
	case len(blockedBy) > 0:
		ck.Status = Fail
		ck.Found = strings.Join(append(blockedBy, unsure...), "; ") + " [read " + read + "]"
		ck.Fix = blockedFix(fixes, keep)
	case len(unsure) > 0:
		ck.Status = Warn
		ck.Found = strings.Join(unsure, "; ") + " [read " + read + "]"
		ck.Fix = fmt.Sprintf("make sure that rule lets tcp port %d in from %s (nft -a list ruleset, iptables-save show it)", port, sourceList(sources))
	default:
		ck.Status = OK
		ck.Found = fmt.Sprintf("tcp/%d from %s passes %s", port, sourceList(sources), read)
	}
	if len(v.Problems) > 0 && ck.Status == OK {
		ck.Status = Warn
		ck.Found += "; but could not read: " + strings.Join(v.Problems, "; ")
	}
	return ck
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
