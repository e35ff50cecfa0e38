package rehearsal

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ilbvip/ilbvip/internal/lbsim"
)

// usageError is an Options error that errors.Is reports as ErrUsage while
// its message stays the one line that names the fix.
type usageError struct{ err error }

func (e *usageError) Error() string        { return e.err.Error() }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// cloud is o.Cloud, checked: azure, gcp or aws.
func (o Options) cloud() (string, error) {
	switch c := strings.ToLower(o.Cloud); c {
	case "", lbsim.Azure:
		return lbsim.Azure, nil
	case lbsim.GCP, lbsim.AWS:
		return c, nil
	}
	return "", usagef("cloud %q: use azure, gcp or aws", o.Cloud)
}

func (o Options) svgPath(cloud string) string {
	switch o.SVG {
	case "-":
		return ""
	case "":
		return filepath.Join(os.TempDir(), "ilbvip-rehearsal-"+cloud+".svg")
	}
	return o.SVG
}

func cloudTitle(cloud string) string {
	switch cloud {
	case lbsim.GCP:
		return "Google Cloud"
	case lbsim.AWS:
		return "AWS"
	}
	return "Azure"
}

// describeLB names the load balancer and the settings that decide a
// failover, in the cloud's own terms.
func describeLB(c lbsim.Config) string {
	switch c.Cloud {
	case lbsim.GCP:
		policy := "a failover policy with dropTrafficIfUnhealthy"
		if !c.DropTrafficIfUnhealthy {
			policy = "no failover policy"
		}
		return "Google Cloud internal passthrough Network Load Balancer (health checks to the VIP, " + policy + ")"
	case lbsim.AWS:
		return "AWS Network Load Balancer (no Floating IP, fails open)"
	}
	return "Azure internal load balancer (Floating IP, NoHealthyBackendsBehavior " + c.NoHealthyBackendsBehavior + ")"
}

func whyTitle(cloud string) string {
	switch cloud {
	case lbsim.GCP:
		return "without a failover policy (and with the guest agent's local route), a switchover lets the standby receive connections"
	case lbsim.AWS:
		return "the NLB fails open: during a switchover the stopped node receives connections"
	}
	return "with NoHealthyBackendsBehavior AllProbedUp, a node whose probe is down still receives connections"
}

func whyLine(cloud string, u Unprobed) string {
	got := countsText(u.By, u.Failed)
	switch cloud {
	case lbsim.GCP:
		return fmt.Sprintf("e) %s: while no backend was healthy the LB sent new connections to both nodes for %s (%s): node2 was never started; give the backend service a failover policy with dropTrafficIfUnhealthy and turn the guest agent's route off (with them, a-d: no such answers)", u.Setting, ms(u.Window), got)
	case lbsim.AWS:
		return fmt.Sprintf("e) %s: while no target was healthy the NLB sent new connections to both nodes for %s (%s): node1 was stopped; on AWS a switchover always has this window, so the service on a stopped node must refuse connections", u.Setting, ms(u.Window), got)
	}
	return fmt.Sprintf("e) %s: after node1's probe went down (responder stopped, VIP kept) the LB still sent new connections to both nodes for %s (%s; node2 has no VIP): keep AllProbedDown, with which a-d dropped them", u.Setting, ms(u.Window), got)
}

// front is what the client connects to.
func (r *Rehearsal) front() string {
	if r.Sim.Rules().FloatingIP {
		return "VIP"
	}
	return "NLB's frontend address"
}
