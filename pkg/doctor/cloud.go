package doctor

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// cloud is the load balancer's cloud: from the cloud parameter, or what
// the firmware's DMI strings tell about where the node runs (auto).
type cloud struct {
	name       string         // "azure", "gcp", "aws", "" unknown or none
	evidence   string         // the DMI strings that told, or the parameter
	configured bool           // set by the cloud parameter, not detected
	sources    []netip.Prefix // IPv4 probe sources
	sources6   []netip.Prefix // IPv6 probe sources, where the cloud documents them
	unread     string         // why DMI could not be read, "" when it was
	detected   string         // configured: the cloud DMI names, "" none or unread
	detectedBy string         // configured: the DMI strings that named detected
}

// mismatch: the cloud parameter names one cloud (or none) and the
// firmware another.
func (c cloud) mismatch() bool {
	return c.configured && c.detected != "" && c.detected != c.name
}

// azureAssetTag is the chassis asset tag of every Azure VM; a Hyper-V VM
// elsewhere has the same vendor and product strings but not this tag.
const azureAssetTag = "7783-7084-3265-9085-8269-3286-77"

// Documented health-probe sources.
//
// Azure probes from 168.63.129.16, and IPv6 from the link-local
// fe80::1234:5678:9abc, sent to the backend NIC's global IPv6 address (the
// responder sees fe80::1234:5678:9abc%eth0 and matches it by address):
// https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-custom-probe-overview
//
// Google Cloud's health checks for an internal passthrough Network Load
// Balancer come from 35.191.0.0/16 and 130.211.0.0/22. For IPv6,
// https://cloud.google.com/load-balancing/docs/firewall-rules lists
// 2600:2d00:1:b029::/64 and 2600:2d00:1:1::/64 as health-check ranges; the
// row for this load balancer could not be verified in the copies checked,
// so an allow that covers either one is accepted (gcpEither6).
var (
	azureProbe  = netip.MustParsePrefix("168.63.129.16/32")
	azureProbe6 = netip.MustParsePrefix("fe80::1234:5678:9abc/128")
	gcpProbes   = []netip.Prefix{netip.MustParsePrefix("35.191.0.0/16"), netip.MustParsePrefix("130.211.0.0/22")}
	gcpProbes6  = []netip.Prefix{netip.MustParsePrefix("2600:2d00:1:b029::/64"), netip.MustParsePrefix("2600:2d00:1:1::/64")}
)

// profile fills in a cloud's documented probe sources.
func profile(name, evidence string) cloud {
	c := cloud{name: name, evidence: evidence}
	switch name {
	case "azure":
		c.sources, c.sources6 = []netip.Prefix{azureProbe}, []netip.Prefix{azureProbe6}
	case "gcp":
		c.sources, c.sources6 = gcpProbes, gcpProbes6
	}
	return c
}

// selectCloud is the cloud parameter's profile, or the one DMI names when
// it is auto (or unset).
//
// An explicit cloud (none included) is still compared with the firmware
// (one file read, no network): a copied config file or a wrong profile
// gives the wrong advice, and none on an Azure VM would hide Azure's checks.
func selectCloud(c *config.Config, dmi string) cloud {
	if c.Cloud == "" || c.Cloud == "auto" {
		return detectCloud(dmi)
	}
	cl := cloud{evidence: "cloud: none"}
	if c.Cloud != "none" {
		cl = profile(c.Cloud, "set by the cloud parameter")
	}
	cl.configured = true
	d := detectCloud(dmi)
	cl.detected, cl.detectedBy = d.name, d.evidence
	return cl
}

func (c cloud) title() string {
	switch c.name {
	case "azure":
		return "Azure"
	case "gcp":
		return "Google Cloud"
	case "aws":
		return "AWS"
	}
	return "unknown"
}

// detectCloud reads DMI strings from dir (no network call: the metadata
// services would tell more, but a doctor must work when the network is the
// problem).
func detectCloud(dir string) cloud {
	if dir == "" {
		return cloud{unread: "DMI is not read on this OS"}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	vendor, product := read("sys_vendor"), read("product_name")
	biosVendor, biosVersion, asset := read("bios_vendor"), read("bios_version"), read("chassis_asset_tag")
	if vendor == "" && product == "" && biosVendor == "" && asset == "" {
		return cloud{unread: fmt.Sprintf("no DMI strings in %s (a container, or no firmware tables)", dir)}
	}
	q := func(k, v string) string { return fmt.Sprintf("%s %q", k, v) }
	switch {
	case asset == azureAssetTag:
		return profile("azure", q("chassis_asset_tag", asset))
	case vendor == "Microsoft Corporation" && product == "Virtual Machine":
		// Without Azure's asset tag this may be Hyper-V on premises; the
		// Azure advice is still the safe one for a VM behind a load balancer.
		return profile("azure", q("sys_vendor", vendor)+", "+q("product_name", product)+" (no Azure asset tag: Azure or Hyper-V)")
	case product == "Google Compute Engine" || vendor == "Google":
		return profile("gcp", q("sys_vendor", vendor)+", "+q("product_name", product))
	case vendor == "Amazon EC2":
		return profile("aws", q("sys_vendor", vendor))
	case strings.Contains(strings.ToLower(biosVendor), "amazon"):
		return profile("aws", q("bios_vendor", biosVendor))
	case strings.Contains(strings.ToLower(biosVersion), "amazon"):
		return profile("aws", q("bios_version", biosVersion))
	}
	return cloud{evidence: q("sys_vendor", vendor) + ", " + q("product_name", product)}
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
		if p.IsSingleIP() {
			s[i] = p.Addr().String()
		}
	}
	return strings.Join(s, ", ")
}

// checkCloud names the cloud, its probe sources and where it sends its
// probes; a configured cloud that the firmware contradicts is a warning
// (a copied config file, or the wrong profile's advice).
func checkCloud(c cloud) Check {
	ck := Check{Name: "cloud"}
	switch {
	case c.configured && c.name == "" && c.mismatch():
		ck.Status = Warn
		ck.Found = fmt.Sprintf("cloud set to none, but the firmware says %s (%s): its checks (probe sources, tcp_timestamps, the load balancer's settings) are not made", profile(c.detected, "").title(), c.detectedBy)
		ck.Fix = fmt.Sprintf("set cloud to %s (or auto) if this node runs there", c.detected)
		return ck
	case c.configured && c.name == "":
		ck.Status, ck.Found = Info, "cloud set to none: on premises or another cloud; no cloud-specific checks"
		return ck
	case c.unread != "":
		ck.Status, ck.Found = Info, "cloud not known: "+c.unread+"; set the cloud parameter (azure, gcp, aws) to get its checks"
		return ck
	case c.name == "":
		ck.Status, ck.Found = Info, "no cloud recognised ("+c.evidence+"): on premises, or a cloud this check does not know"
		ck.Fix = "in a cloud, set the cloud parameter (azure, gcp, aws)"
		return ck
	}
	ck.Status = OK
	ck.Found = fmt.Sprintf("%s (%s): probes come from %s, to %s", c.title(), c.evidence, c.sourceText(), c.probeTarget())
	if c.mismatch() {
		ck.Status = Warn
		ck.Found += fmt.Sprintf("; but the firmware says %s (%s)", profile(c.detected, "").title(), c.detectedBy)
		ck.Fix = fmt.Sprintf("set cloud to %s (or auto) if this node runs there", c.detected)
	}
	return ck
}

func (c cloud) sourceText() string {
	switch {
	case c.name == "aws":
		return "the load balancer's own address in each of its subnets (not knowable offline)"
	case len(c.sources6) > 0:
		return prefixList(c.sources) + ", IPv6 probes from " + prefixList(c.sources6)
	}
	return prefixList(c.sources)
}

// probeTarget says where the cloud addresses its probes. Azure: the backend
// NIC's own address (load-balancer-custom-probe-overview). Google Cloud: the
// forwarding rule's IP, the VIP
// (https://cloud.google.com/load-balancing/docs/health-check-concepts, "Destination for probe packets").
// AWS: the target's own address (target-group-health-checks).
func (c cloud) probeTarget() string {
	if c.name == "gcp" {
		return "the VIP (the forwarding rule's IP)"
	}
	return "this node's own address"
}

// wanted are the probe sources that allow must cover for c: the cloud's
// IPv6 sources when the probes come over IPv6 (Azure: fe80::1234:5678:9abc),
// its IPv4 sources otherwise, and when it documents no IPv6 source.
func (cl cloud) wanted(c *config.Config) []netip.Prefix {
	if probedOverIPv6(c) && len(cl.sources6) > 0 {
		return cl.sources6
	}
	return cl.sources
}

// probedOverIPv6 reports whether the load balancer probes c over IPv6: in
// the frontend's family, the VIP's, when there is a VIP (a bind of the other
// family is the bind check's failure, and allow is judged for the probes
// that do come); without one, bind's family (the node's backend address),
// and IPv4, the common case, without either.
func probedOverIPv6(c *config.Config) bool {
	if c.HasVIP() {
		return c.VIP.Unmap().Is6()
	}
	if c.Bind.IsValid() && !c.Bind.IsUnspecified() {
		return c.Bind.Unmap().Is6()
	}
	return false
}

// checkAllow compares allow with the cloud's probe sources: an empty allow
// lets any host keep the node in service; an allow without the probe source
// keeps the load balancer from ever seeing the node healthy.
func checkAllow(c *config.Config, cl cloud) Check {
	ck := Check{Name: "allow"}
	advice := "the load balancer's probe sources (Azure 168.63.129.16, over IPv6 fe80::1234:5678:9abc; Google Cloud 35.191.0.0/16,130.211.0.0/22; AWS every subnet of the Network Load Balancer, or the VPC CIDR)"
	wanted := cl.wanted(c)
	switch cl.name {
	case "azure", "gcp":
		advice = prefixList(wanted)
	case "aws":
		advice = "every subnet of the Network Load Balancer (its health checks come from its own address in each), or the VPC CIDR"
	}
	if len(c.Allow) == 0 {
		ck.Status = Warn
		ck.Found = fmt.Sprintf("allow is empty: any host that reaches tcp port %d can keep this node in the load balancer's rotation", c.Port)
		ck.Fix = "set allow to " + advice
		return ck
	}
	have := prefixList(c.Allow)
	var missing []netip.Prefix
	for _, want := range wanted {
		if !covered(c.Allow, want) {
			missing = append(missing, want)
		}
	}
	if gcpEither6(c, cl) && len(missing) < len(wanted) {
		missing = nil
	}
	fam := "IPv4"
	if probedOverIPv6(c) {
		fam = "IPv6"
	}
	switch {
	case len(missing) > 0:
		ck.Status = Fail
		what := "probe source"
		if probedOverIPv6(c) && len(cl.sources6) > 0 {
			what = "IPv6 probe source"
		}
		ck.Found = fmt.Sprintf("allow (%s) leaves out %s's %s %s: its probes get no answer and the node never becomes healthy", have, cl.title(), what, prefixList(missing))
		ck.Fix = "add " + prefixList(missing) + " to allow"
	case !anyOfFamily(c.Allow, fam == "IPv6"):
		// Whatever the cloud: the probes come in one family, and an allow
		// of the other refuses every one of them.
		ck.Status = Fail
		ck.Found = fmt.Sprintf("allow (%s) has no %s address, but the load balancer probes over %s (the family of the %s): every probe is refused and the node never becomes healthy", have, fam, fam, familyFrom(c))
		ck.Fix = "set allow to " + advice
	case cl.name == "aws":
		ck.Status, ck.Found = Info, fmt.Sprintf("allow is %s: AWS probes from the load balancer's own address in each of its subnets, which cannot be checked offline", have)
		ck.Fix = "make sure allow covers " + advice
	case cl.name == "":
		ck.Status, ck.Found = OK, fmt.Sprintf("allow is %s (cloud not recognised: not compared with a probe source)", have)
	default:
		ck.Status, ck.Found = OK, fmt.Sprintf("allow %s covers %s's probe sources", have, cl.title())
	}
	return ck
}

// gcpEither6: Google Cloud probing over IPv6, where covering one of its
// documented IPv6 health-check ranges is enough (which one the internal
// passthrough load balancer uses is not verified; failing an allow that
// holds a documented range would be worse than not naming the other).
func gcpEither6(c *config.Config, cl cloud) bool {
	return cl.name == "gcp" && probedOverIPv6(c)
}

// anyOfFamily reports whether allow has a prefix of the family (IPv6 or not).
func anyOfFamily(allow []netip.Prefix, v6 bool) bool {
	for _, a := range allow {
		if a.Addr().Unmap().Is6() == v6 {
			return true
		}
	}
	return false
}

// familyFrom names what sets the probe's family, for messages.
func familyFrom(c *config.Config) string {
	switch {
	case c.HasVIP():
		return "vip " + c.VIP.String()
	case c.Bind.IsValid() && !c.Bind.IsUnspecified():
		return "bind " + c.Bind.String()
	}
	return "node's address, taken to be IPv4 without vip or bind"
}

// covered reports whether want lies entirely inside one of allow.
func covered(allow []netip.Prefix, want netip.Prefix) bool {
	for _, a := range allow {
		if a.Addr().Is4() == want.Addr().Is4() && a.Bits() <= want.Bits() && a.Contains(want.Addr()) {
			return true
		}
	}
	return false
}
