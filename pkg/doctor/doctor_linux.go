package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

const defaultDMI = "/sys/class/dmi/id"

// portHolderSupported: responder.PortHolder scans /proc here.
const portHolderSupported = true

func osChecks(*node) []Check { return nil }

// readSysctl reads an integer sysctl ("net/ipv4/tcp_timestamps").
func readSysctl(env Env, name string) (int, error) {
	b, err := os.ReadFile(filepath.Join(env.ProcSys, name))
	if err != nil {
		return 0, fmt.Errorf("read sysctl %s: %w", strings.ReplaceAll(name, "/", "."), err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("sysctl %s: %q is not a number", strings.ReplaceAll(name, "/", "."), strings.TrimSpace(string(b)))
	}
	return v, nil
}

// confMax reads net.ipv4.conf.{all,IFACE}.KEY: for rp_filter, arp_ignore
// and arp_announce the kernel uses the larger of the two.
func confMax(env Env, iface, key string) (all, dev, eff int, err error) {
	if all, err = readSysctl(env, "net/ipv4/conf/all/"+key); err != nil {
		return
	}
	if dev, err = readSysctl(env, "net/ipv4/conf/"+iface+"/"+key); err != nil {
		return
	}
	return all, dev, max(all, dev), nil
}

func checkInterface(n *node) Check {
	ck := Check{Name: "interface"}
	c := n.c
	if !c.HasVIP() {
		ck.Status, ck.Found = Skip, "no vip: no interface to check"
		return ck
	}
	l, err := netlink.LinkByName(c.Interface)
	if err != nil {
		have, _ := vip.Interfaces()
		ck.Status = Fail
		ck.Found = fmt.Sprintf("interface %q does not exist (this node has: %s)", c.Interface, strings.Join(have, ", "))
		ck.Fix = "set interface to the NIC that carries the VIP (restore exits 5 until then)"
		return ck
	}
	a := l.Attrs()
	switch {
	case a.Flags&net.FlagUp == 0:
		ck.Status, ck.Found = Fail, fmt.Sprintf("interface %s is administratively down", c.Interface)
		ck.Fix = "ip link set " + c.Interface + " up (and bring it up at boot)"
	case a.OperState == netlink.OperDown || a.OperState == netlink.OperLowerLayerDown || a.OperState == netlink.OperNotPresent:
		ck.Status, ck.Found = Fail, fmt.Sprintf("interface %s has no carrier (oper state %s)", c.Interface, a.OperState)
		ck.Fix = "check the NIC's link (cloud: is it attached to the VM?)"
	default:
		ck.Status, ck.Found = OK, fmt.Sprintf("interface %s exists and is up (oper state %s)", c.Interface, a.OperState)
	}
	return ck
}

func checkBind(n *node) Check {
	ck := Check{Name: "bind"}
	b := n.c.Bind
	switch {
	case !b.IsValid() || b.IsUnspecified():
		ck.Status, ck.Found = Skip, "bind not set: the responder listens on every address"
		return ck
	case n.c.HasVIP() && b == n.c.VIP:
		ck.Status, ck.Found = OK, fmt.Sprintf("bind is the vip %s: restore adds it before listening", b)
		return ck
	}
	iface, _, found, err := vip.Locate(b)
	switch {
	case err != nil:
		ck.Status, ck.Found = Warn, err.Error()
	case !found:
		ck.Status, ck.Found = Fail, fmt.Sprintf("bind %s is not an address of this node: the responder cannot listen on it", b)
		ck.Fix = "set bind to one of this node's addresses (the one in the backend pool), or leave it empty"
	default:
		ck.Status, ck.Found = OK, fmt.Sprintf("bind %s is on %s", b, iface)
	}
	return ck
}

// locateBind tells where bind is, for cloudBind: the node's own address
// is what vip.Lookup calls primary (a subnet prefix, or the NIC's only /32
// with the default route, as on Google Cloud), never one on lo.
func locateBind(a netip.Addr) bindPlace {
	iface, prefix, found, err := vip.Locate(a)
	if err != nil || !found {
		return bindPlace{err: err}
	}
	f, err := vip.Lookup(vip.Spec{Addr: a, Prefix: prefix, Interface: iface})
	if err != nil {
		return bindPlace{err: fmt.Errorf("bind %s on %s: %w", a, iface, err)}
	}
	return bindPlace{found: true, iface: iface, own: f.Primary && iface != "lo"}
}

func checkFirewall(ctx context.Context, n *node) Check {
	return judgeFirewall(readFirewall(ctx, n.env), n.sources, n.dest, n.c.Port)
}

const sysctlFile = "/etc/sysctl.d/90-ilbvip.conf"

func checkTimestamps(n *node) Check {
	ck := Check{Name: "tcp_timestamps"}
	v, err := readSysctl(n.env, "net/ipv4/tcp_timestamps")
	if err != nil {
		ck.Status, ck.Found = Warn, err.Error()
		return ck
	}
	fix := "sysctl -w net.ipv4.tcp_timestamps=0, and put net.ipv4.tcp_timestamps = 0 in " + sysctlFile
	switch {
	case v == 0:
		ck.Status, ck.Found = OK, "net.ipv4.tcp_timestamps is 0"
	case n.cloud.name == "azure" || n.cloud.detected == "azure":
		// The firmware's word counts too: cloud none (or another cloud's
		// profile) on an Azure VM does not make the probes succeed.
		ck.Status = Warn
		ck.Found = fmt.Sprintf("net.ipv4.tcp_timestamps is %d on Azure: Microsoft documents that the load balancer's health probes fail with TCP timestamps on", v)
		if n.cloud.name != "azure" {
			ck.Found += " (the firmware says Azure, whatever the cloud parameter says)"
		}
		ck.Fix = fix
	case n.cloud.name == "" && !n.cloud.configured:
		ck.Status = Info
		ck.Found = fmt.Sprintf("net.ipv4.tcp_timestamps is %d: fine, unless this node is in Azure (cloud not recognised), where health probes fail with it on", v)
		ck.Fix = "in Azure: " + fix
	default:
		ck.Status, ck.Found = OK, fmt.Sprintf("net.ipv4.tcp_timestamps is %d (matters only in Azure)", v)
	}
	return ck
}

// nics are the interfaces that are up and carry a global IPv4 address,
// besides lo: the ones VIP traffic and probes can arrive on.
func nics() []string {
	var addrs []netlink.Addr
	var err error
	for range 5 { // a dump interrupted by a concurrent change is retried
		if addrs, err = netlink.AddrList(nil, netlink.FAMILY_V4); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range addrs {
		if a.Scope != int(netlink.SCOPE_UNIVERSE) {
			continue
		}
		l, err := netlink.LinkByIndex(a.LinkIndex)
		if err != nil || l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		if name := l.Attrs().Name; !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// checkRPFilter: with strict reverse-path filtering a packet is dropped when
// the route back to its sender leaves by another interface than it came in
// on. On a node with several NICs behind a Floating-IP load balancer (the VIP
// on one NIC, the backend pool on another, or both NICs in one subnet) that
// is exactly what VIP traffic can look like. Loose mode (2) keeps the
// spoofing protection for unroutable sources without that failure.
func checkRPFilter(n *node) Check {
	ck := Check{Name: "rp_filter"}
	c := n.c
	if c.HasVIP() && c.VIP.Is6() {
		ck.Status, ck.Found = Skip, "IPv6 VIP: IPv6 has no rp_filter (an nftables fib rule would show in the firewall line)"
		return ck
	}
	ifaces := nics()
	if c.HasVIP() && !contains(ifaces, c.Interface) {
		if _, err := os.Stat(filepath.Join(n.env.ProcSys, "net/ipv4/conf", c.Interface)); err == nil {
			ifaces = append(ifaces, c.Interface)
		}
	}
	all, err := readSysctl(n.env, "net/ipv4/conf/all/rp_filter")
	if err != nil {
		ck.Status, ck.Found = Warn, err.Error()
		return ck
	}
	var parts, strict []string
	for _, i := range ifaces {
		_, dev, eff, err := confMax(n.env, i, "rp_filter")
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d", i, dev))
		if eff == 1 {
			strict = append(strict, i)
		}
	}
	found := fmt.Sprintf("rp_filter all %d", all)
	if len(parts) > 0 {
		found += ", " + strings.Join(parts, ", ")
	}
	switch {
	case len(strict) == 0 && all == 1:
		// No NIC known here, but all=1 makes every one strict.
		ck.Status, ck.Found = Info, found+": strict reverse-path filtering"
		ck.Fix = "with several NICs use loose mode: net.ipv4.conf.all.rp_filter = 2 in " + sysctlFile
	case len(strict) == 0:
		ck.Status, ck.Found = OK, found+" (effective value is the larger of all and the interface's): loose or off"
	case len(ifaces) <= 1:
		ck.Status, ck.Found = OK, found+": strict, but this node has one NIC, so replies leave where requests came in"
	default:
		ck.Status = Warn
		ck.Found = fmt.Sprintf("%s: strict reverse-path filtering on %s with %d NICs (%s): with Floating IP, VIP traffic that arrives on one NIC while the route back to its sender leaves by another is dropped",
			found, strings.Join(strict, ", "), len(ifaces), strings.Join(ifaces, ", "))
		var set []string
		for _, i := range append([]string{"all"}, strict...) {
			set = append(set, "net.ipv4.conf."+i+".rp_filter=2")
		}
		ck.Fix = "use loose mode: sysctl -w " + strings.Join(set, " ") + ", and put the same in " + sysctlFile
	}
	return ck
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// checkARP: on premises (arp_count > 0) the active node itself must answer
// ARP for the VIP; arp_ignore values 2, 3 and 8 can keep it silent. In a
// cloud the network answers ARP, so the settings do not matter.
func checkARP(n *node) Check {
	ck := Check{Name: "arp"}
	c := n.c
	if !c.HasVIP() || c.VIP.Is6() {
		ck.Status, ck.Found = Skip, "no IPv4 vip: ARP settings do not apply"
		return ck
	}
	if _, err := os.Stat(filepath.Join(n.env.ProcSys, "net/ipv4/conf", c.Interface)); err != nil {
		ck.Status, ck.Found = Skip, fmt.Sprintf("interface %s not found: see the interface line", c.Interface)
		return ck
	}
	allI, devI, ign, err := confMax(n.env, c.Interface, "arp_ignore")
	if err != nil {
		ck.Status, ck.Found = Warn, err.Error()
		return ck
	}
	_, _, ann, err := confMax(n.env, c.Interface, "arp_announce")
	if err != nil {
		ck.Status, ck.Found = Warn, err.Error()
		return ck
	}
	found := fmt.Sprintf("arp_ignore %d on %s (all %d, %s %d), arp_announce %d", ign, c.Interface, allI, c.Interface, devI, ann)
	if c.ARPCount == 0 {
		ck.Status, ck.Found = Skip, found+": not relevant with arp_count 0 (in a cloud the network answers ARP, not the node)"
		return ck
	}
	fix := fmt.Sprintf("sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.%s.arp_ignore=1, and put the same in %s", c.Interface, sysctlFile)
	switch {
	case ign <= 1:
		ck.Status, ck.Found = OK, found+": the node answers ARP for the VIP on "+c.Interface
	case ign == 2 && c.Prefix == 32:
		ck.Status, ck.Found, ck.Fix = Fail, found+": arp_ignore 2 answers only askers inside the address's subnet, and a /32 VIP has none: neighbours cannot reach the VIP", fix
	case ign == 2:
		ck.Status, ck.Found, ck.Fix = Warn, found+fmt.Sprintf(": arp_ignore 2 answers only askers inside the VIP's /%d", c.Prefix), fix
	case ign == 3 && !c.Source:
		ck.Status, ck.Found, ck.Fix = Fail, found+": arp_ignore 3 never answers for scope-host addresses, and with source: false the VIP is scope host", fix
	case ign == 3:
		ck.Status, ck.Found = OK, found+": the VIP is scope global (source: true), so it is answered"
	case ign == 8:
		ck.Status, ck.Found, ck.Fix = Fail, found+": arp_ignore 8 answers no ARP request at all", fix
	default:
		ck.Status, ck.Found, ck.Fix = Warn, found+": arp_ignore values 4-7 are reserved", fix
	}
	return ck
}

// checkVIPElsewhere: a stopped resource's VIP must not be on this node
// (restore would fail on another interface; on premises the node would
// answer ARP for it next to the active node). With env.ARPProbe one ARP
// probe asks the link whether another host holds it.
func checkVIPElsewhere(ctx context.Context, n *node) Check {
	ck := Check{Name: "vip"}
	c := n.c
	if !c.HasVIP() {
		ck.Status, ck.Found = Skip, "no vip (responder only)"
		return ck
	}
	iface, prefix, found, err := vip.Locate(c.VIP)
	switch {
	case err != nil:
		ck.Status, ck.Found = Warn, err.Error()
	case n.running && found && iface == c.Interface:
		ck.Status, ck.Found = OK, fmt.Sprintf("%s/%d is on %s, where this resource put it", c.VIP, prefix, iface)
	case n.running && found:
		ck.Status, ck.Found = Fail, fmt.Sprintf("%s is on %s, not on %s", c.VIP, iface, c.Interface)
		ck.Fix = fmt.Sprintf("ip addr del %s/%d dev %s, then run recover", c.VIP, prefix, iface)
	case n.running:
		ck.Status, ck.Found, ck.Fix = Fail, fmt.Sprintf("%s is missing from %s while the resource runs", c.VIP, c.Interface), "run recover"
	case found && iface == c.Interface:
		ck.Status, ck.Found, ck.Fix = stoppedButPresent(c)
	case found:
		ck.Status = Fail
		ck.Found = fmt.Sprintf("%s/%d is already on %s while the resource is stopped", c.VIP, prefix, iface)
		if iface != c.Interface {
			ck.Found += fmt.Sprintf(" (restore wants it on %s and will refuse)", c.Interface)
		} else {
			ck.Found += ": this node answers ARP for it next to the active node"
		}
		ck.Fix = fmt.Sprintf("ip addr del %s/%d dev %s, or stop whatever added it", c.VIP, prefix, iface)
	default:
		ck.Status, ck.Found = OK, fmt.Sprintf("%s is not on this node", c.VIP)
	}
	if !c.VIP.Is4() {
		return ck
	}
	if !n.env.ARPProbe {
		if c.ARPCount > 0 {
			ck.Found += fmt.Sprintf("; not asked on the network (--arp-probe sends one ARP probe on %s)", c.Interface)
		}
		return ck
	}
	mac, err := vip.ProbeARP(ctx, c.Interface, c.VIP, n.env.ARPWait)
	switch {
	case err != nil:
		ck.Found += "; ARP probe failed: " + err.Error()
		ck.Status = worse(ck.Status, Warn)
	case mac != "":
		ck.Found += fmt.Sprintf("; %s answers ARP for %s on %s: another host holds the VIP", mac, c.VIP, c.Interface)
		ck.Status = Fail
		ck.Fix = "find the host with that MAC (its IP resource, a stale address) and remove the VIP there; in a cloud the network itself answers every ARP, so do not use --arp-probe there"
	default:
		ck.Found += fmt.Sprintf("; no host answered an ARP probe on %s within %s", c.Interface, n.env.ARPWait)
	}
	return ck
}

// stoppedButPresent judges the VIP found on its interface while the
// resource is stopped, as restore will (ilbvip adopts only an address it
// marked as its own, and never the node's own address).
func stoppedButPresent(c *config.Config) (Status, string, string) {
	vs := vip.Spec{Addr: c.VIP, Prefix: c.Prefix, Interface: c.Interface}
	f, err := vip.Lookup(vs)
	at := fmt.Sprintf("%s/%d is already on %s while the resource is stopped", c.VIP, f.Prefix, c.Interface)
	switch {
	case err != nil:
		return Warn, err.Error(), ""
	case f.Prefix != c.Prefix || f.Primary:
		return Fail, fmt.Sprintf("%s is an address of this node (%s/%d on %s), not a load balancer frontend IP: restore will refuse it", c.VIP, c.VIP, f.Prefix, c.Interface),
			"set vip to the load balancer's frontend IP"
	case f.Finite:
		return Fail, at + " with a finite lifetime (DHCP, SLAAC or a cloud agent manages it): restore will refuse it",
			"set vip to the load balancer's frontend IP, or stop the other manager from assigning it"
	case !f.Marked:
		return Fail, at + " and ilbvip did not mark it as its own: restore will refuse it",
			fmt.Sprintf("if nothing else manages it: ip addr del %s/%d dev %s; if something does, let that manage the VIP and leave vip unset", c.VIP, c.Prefix, c.Interface)
	case c.ARPCount > 0:
		return Fail, at + ": this node answers ARP for it next to the active node",
			fmt.Sprintf("run remove, or ip addr del %s/%d dev %s", c.VIP, c.Prefix, c.Interface)
	}
	return Warn, at + ": a leftover of ilbvip (marked as added by it); restore adopts it, remove deletes it", "run remove"
}

var statusRank = map[Status]int{OK: 0, Skip: 0, Info: 1, Warn: 2, Fail: 3}

func worse(a, b Status) Status {
	if statusRank[b] > statusRank[a] {
		return b
	}
	return a
}

// Off-link destinations (documentation ranges) for the source-address
// lookup: only the routing table is asked, nothing is sent.
var (
	offLink4 = netip.MustParseAddr("203.0.113.1")
	offLink6 = netip.MustParseAddr("2001:db8::1")
)

// checkSource asks the routing table which source address outbound traffic
// gets; with source: false it must never be the VIP.
func checkSource(n *node) Check {
	ck := Check{Name: "source"}
	c := n.c
	if !c.HasVIP() {
		ck.Status, ck.Found = Skip, "no vip (responder only)"
		return ck
	}
	if _, _, found, err := vip.Locate(c.VIP); err != nil || !found {
		ck.Status, ck.Found = Skip, fmt.Sprintf("%s is not on this node, so it cannot be chosen as a source (checked while the resource runs)", c.VIP)
		return ck
	}
	dsts := []netip.Addr{offLink6}
	if c.VIP.Is4() {
		dsts = []netip.Addr{offLink4}
	}
	for _, s := range n.sources {
		if s.Prefix.IsValid() && s.Prefix.Addr().Is4() == c.VIP.Is4() {
			dsts = append(dsts, s.Prefix.Addr())
		}
	}
	var bad, good []string
	for _, d := range dsts {
		routes, err := netlink.RouteGet(net.IP(d.AsSlice()))
		if err != nil || len(routes) == 0 || routes[0].Src == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(routes[0].Src)
		if src.Unmap() == c.VIP {
			bad = append(bad, d.String())
		} else {
			good = append(good, fmt.Sprintf("%s to %s", src.Unmap(), d))
		}
	}
	switch {
	case len(bad) > 0 && c.Source:
		ck.Status, ck.Found = Info, fmt.Sprintf("traffic to %s leaves from the VIP %s (source: true allows it)", strings.Join(bad, ", "), c.VIP)
	case len(bad) > 0:
		ck.Status = Fail
		ck.Found = fmt.Sprintf("traffic to %s would leave from the VIP %s although source is false: replies and probes get confused, and the other node cannot be reached from here", strings.Join(bad, ", "), c.VIP)
		if c.VIP.Is4() {
			ck.Fix = fmt.Sprintf("look for a route with \"src %s\" (ip route show table all) and remove it; run remove and restore to re-add the VIP with scope host", c.VIP)
		} else {
			ck.Fix = "give the node its own global IPv6 address: Linux falls back to the deprecated VIP when it has no other"
		}
	case len(good) == 0:
		ck.Status, ck.Found = Skip, "no route to an off-link destination: no outbound source to check"
	default:
		ck.Status, ck.Found = OK, "outbound traffic leaves from "+strings.Join(good, ", ")+", not from the VIP"
	}
	return ck
}
