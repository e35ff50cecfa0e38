package doctor

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// Each cloud's rules that decide whether the VIP fails over safely, as
// checks. Sources, per cloud:
//
// Azure: probes go to the backend NIC's own address; Floating IP keeps the
// frontend IP as the packets' destination; with NoHealthyBackendsBehavior
// AllProbedDown (the default) no new flows go to the pool when every probe
// is down, with AllProbedUp they go to every instance.
// https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-custom-probe-overview
// https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-floating-ip
// https://learn.microsoft.com/en-us/dotnet/api/azure.resourcemanager.network.models.probenohealthybackendsbehavior
//
// Google Cloud (internal passthrough Network Load Balancer): health checks
// are sent to the forwarding rule's IP; the guest agent installs a local
// route for that IP on every backend; without a failover policy, when all
// backends are unhealthy new connections go to all of them, and a failover
// policy with dropTrafficIfUnhealthy drops them instead.
// https://cloud.google.com/load-balancing/docs/internal
// https://cloud.google.com/load-balancing/docs/internal/int-netlb-traffic-distribution
// https://cloud.google.com/load-balancing/docs/internal/failover-overview
//
// AWS (Network Load Balancer): clients connect to the load balancer and a
// target receives the traffic at its own address (no Floating IP); health
// checks default to every 30 s; when every target is unhealthy the load
// balancer fails open and sends to all of them.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html

// bindPlace is where bind is on this node, as the bind rules need it.
type bindPlace struct {
	found bool   // an address of this node
	iface string // where, when found
	own   bool   // the node's own address there (a subnet prefix, or the NIC's primary /32), not a host address on lo or beside it
	err   error  // could not be told (then the OS check decides)
}

// cloudBind judges bind by where the cloud sends its probes; osCheck
// (whether bind is a local address) decides what the cloud leaves open.
//
//   - The probe's family is the frontend's (the VIP's): a bind of the other
//     family never sees one, on any cloud.
//   - Google Cloud sends health checks to the forwarding rule's IP (the
//     VIP): with vip set, any bind (config refuses bind = vip) fails; without
//     vip (responder only, the VIP held by another resource such as
//     IPaddr2) the node's own address fails, and any other bind is taken to
//     be the forwarding rule's IP.
//   - Azure and AWS probe the NIC's own address (the backend pool's IP
//     configuration, the registered target): a host address (/32, /128, on
//     lo or beside the NIC's own) is how a VIP sits on a node, so it warns;
//     a warning, not a failure, because an OS may carry a secondary address
//     of the NIC that is in the pool as a /32 too.
func cloudBind(n *node, osCheck func(*node) Check, locate func(netip.Addr) bindPlace) Check {
	c, b := n.c, n.c.Bind
	if !b.IsValid() || b.IsUnspecified() {
		return osCheck(n)
	}
	b = b.Unmap()
	if c.HasVIP() && b.Is4() != c.VIP.Unmap().Is4() {
		return Check{Name: "bind", Status: Fail,
			Found: fmt.Sprintf("bind %s and the vip %s are of different IP families: the load balancer probes in the frontend's (the VIP's) family, so the responder never sees a probe", b, c.VIP),
			Fix:   "set bind to this node's address of the VIP's family, or leave bind empty"}
	}
	switch n.cloud.name {
	case "gcp":
		return gcpBind(n, locate(b))
	case "azure", "aws":
		if p := locate(b); p.err == nil && p.found && !p.own {
			return Check{Name: "bind", Status: Warn,
				Found: fmt.Sprintf("bind %s is a host address on %s, not the NIC's own: %s sends its probes to %s, never to a VIP, so if %s is the VIP the responder never sees a probe",
					b, p.iface, n.cloud.title(), ownTarget(n.cloud), b),
				Fix: "set bind to the NIC's own address (" + ownTarget(n.cloud) + "), or leave bind empty"}
		}
	}
	return osCheck(n)
}

func ownTarget(cl cloud) string {
	if cl.name == "aws" {
		return "the registered target's address"
	}
	return "the address of the NIC's IP configuration in the backend pool"
}

// gcpBind: Google Cloud's health checks go to the forwarding rule's IP.
func gcpBind(n *node, p bindPlace) Check {
	b := n.c.Bind.Unmap()
	ck := Check{Name: "bind"}
	switch {
	case n.c.HasVIP() || (p.found && p.own):
		to := "the forwarding rule's IP"
		if n.c.HasVIP() {
			to += " " + n.c.VIP.String()
		}
		ck.Status = Fail
		ck.Found = fmt.Sprintf("bind is %s, but Google Cloud sends its health checks to %s, not to the node's address: the responder never sees them and this node never becomes healthy", b, to)
		ck.Fix = "leave bind unset: the responder then listens on every address, the VIP included"
	case p.err != nil:
		ck.Status, ck.Found = Info, fmt.Sprintf("bind %s: Google Cloud sends its health checks to the forwarding rule's IP, so bind must be that IP (where it is could not be read: %v)", b, p.err)
	case p.found:
		ck.Status, ck.Found = OK, fmt.Sprintf("bind %s is a host address on %s, not the node's own: taken to be the forwarding rule's IP, where Google Cloud sends its health checks", b, p.iface)
	default:
		ck.Status = Warn
		ck.Found = fmt.Sprintf("bind %s is not on this node now: if it is the forwarding rule's IP, held by another resource, the responder can listen only where that resource runs", b)
		ck.Fix = "start the responder after the resource that adds " + b.String() + ", on the same node (a colocation and order constraint), or leave bind unset"
	}
	return ck
}

// checkLBConfig says what the cloud's load balancer must be set to for
// exactly one node to get the VIP's traffic, and what a VIP on the node
// means there. None of it is visible from the node, so it is Info, except
// a VIP on AWS, which carries none of a Network Load Balancer's traffic.
func checkLBConfig(n *node) Check {
	ck := Check{Name: "lb_config", Status: Info}
	c := n.c
	switch n.cloud.name {
	case "azure":
		ck.Found = "Azure: the load-balancing rule needs Floating IP on (packets keep the frontend IP"
		if c.HasVIP() {
			ck.Found += " " + c.VIP.String()
		}
		ck.Found += " as destination), and the health probe's NoHealthyBackendsBehavior left at AllProbedDown: " +
			"AllProbedUp sends new flows to every node while none is healthy, as during a switchover"
	case "gcp":
		ck.Found = "Google Cloud: give the backend service a failover policy with dropTrafficIfUnhealthy: without it, " +
			"while no backend is healthy (as during a switchover) new connections go to every backend; " +
			"and turn off the guest agent's local route for the forwarding rule's IP, so that only the active node holds it"
		if r := foreignLocalRoute(c); r != "" {
			ck.Status = Warn
			ck.Found = fmt.Sprintf("Google Cloud: %s: this node accepts the VIP's traffic (and health checks) whether or not the resource runs here", r)
			ck.Fix = "turn off the guest agent's IP forwarding on both nodes (ip_forwarding = false under [NetworkInterfaces] in /etc/default/instance_configs.cfg, then restart google-guest-agent), then delete the route"
		}
	case "aws":
		ck.Found = "AWS: a Network Load Balancer fails open: while no target is healthy (as during a switchover) it sends new connections to every target"
		if c.HasVIP() {
			ck.Status = Warn
			ck.Found = fmt.Sprintf("AWS: a Network Load Balancer has no Floating IP: it delivers clients' traffic to this node's own address, so the vip %s on %s carries none of the load balancer's traffic; and it fails open: while no target is healthy it sends new connections to every target",
				c.VIP, c.Interface)
			ck.Fix = "for a Network Load Balancer leave vip unset (responder only) and serve on the node's own address; keep vip only if something else routes it to the active instance (a VPC route table entry, which ilbvip does not change)"
		}
	default:
		ck.Status, ck.Found = Skip, "cloud not known: no load-balancer settings to name"
	}
	return ck
}

// quietFor is how long without a probe makes lb_probes warn: AWS checks
// every 30 s by default, Azure and Google Cloud every 5 s.
func quietFor(cl cloud) time.Duration {
	if cl.name == "aws" {
		return 2*30*time.Second + 5*time.Second
	}
	return lbQuiet
}

// DescribeCloud is the resource's cloud in one line, for quickCheck
// --verbose: the cloud parameter's profile, or what DMI says under auto;
// when the parameter and the firmware disagree, both.
func DescribeCloud(c *config.Config) string { return describeCloud(c, defaultDMI) }

func describeCloud(c *config.Config, dmi string) string {
	cl := selectCloud(c, dmi)
	switch {
	case cl.configured:
		s := fmt.Sprintf("%s (cloud parameter), probes to %s", cl.title(), cl.probeTarget())
		if cl.name == "" {
			s = "none (cloud parameter): no cloud rules"
		}
		if cl.mismatch() {
			s += "; but the firmware says " + profile(cl.detected, "").title() + " (" + cl.detectedBy + ")"
		}
		return s
	case cl.name == "" && cl.unread != "":
		return "not known (auto: " + cl.unread + ")"
	case cl.name == "":
		return "not recognised (auto: " + cl.evidence + ")"
	}
	return fmt.Sprintf("%s (auto: %s), probes to %s", cl.title(), cl.evidence, cl.probeTarget())
}
