package doctor

import (
	"fmt"
	"strconv"
	"strings"
)

// hostIface is one interface's part in Floating IP on Windows: its weak
// host settings for the VIP's address family, and whether it carries a
// default route of that family (the NIC the load balancer delivers VIP
// packets to: the one in the backend pool).
type hostIface struct {
	Alias        string
	Index        uint32
	DefaultRoute bool
	Send         bool // WeakHostSend
	Receive      bool // WeakHostReceive
}

// weakHost judges the weak host model for a VIP on vipIf. With Floating IP
// the load balancer delivers packets addressed to the VIP to the backend
// pool's NIC while the VIP sits on another NIC, and the replies leave by
// the pool NIC with the VIP as source. Windows is a strong host by default
// and drops both: the pool NIC must accept packets for an address of
// another NIC (weakhostreceive) and send packets from one (weakhostsend).
// Both settings are asked of the VIP's NIC and of every NIC with a default
// route, which is what Microsoft's Floating IP guidance sets
// (learn.microsoft.com/azure/load-balancer/load-balancer-floating-ip,
// "Floating IP Guest OS configuration"). family is "ipv4" or "ipv6", as
// netsh spells it.
func weakHost(family, vipIf string, ifs []hostIface) Check {
	c := Check{Name: "weak_host"}
	involved, found := involvedIfaces(vipIf, ifs)
	if !found {
		c.Status, c.Found = Skip, fmt.Sprintf("interface %q not found (see the interface line)", vipIf)
		return c
	}
	var bad, fixes, names []string
	for _, f := range involved {
		names = append(names, fmt.Sprintf("%q", f.Alias))
		var off []string
		if !f.Receive {
			off = append(off, "weakhostreceive")
		}
		if !f.Send {
			off = append(off, "weakhostsend")
		}
		if len(off) > 0 {
			bad = append(bad, fmt.Sprintf("%q has %s disabled", f.Alias, strings.Join(off, " and ")))
			fixes = append(fixes, fmt.Sprintf("netsh interface %s set interface %q weakhostreceive=enabled weakhostsend=enabled", family, f.Alias))
		}
	}
	if len(bad) == 0 {
		c.Status, c.Found = OK, fmt.Sprintf("weak host send and receive (%s) on %s", family, strings.Join(names, ", "))
		return c
	}
	c.Status = Fail
	c.Found = strings.Join(bad, "; ") + ": Windows, a strong host by default, drops the VIP's packets that the load balancer delivers to the backend pool's NIC"
	// "; " separates commands in PowerShell, where the README runs them.
	c.Fix = strings.Join(fixes, "; ")
	return c
}

// involvedIfaces are the VIP's interface (the alias matched exactly, else
// ignoring case, or the ifIndex, as restore matches interface) and the
// interfaces with a default route; found is false when the VIP's interface
// is not among ifs.
func involvedIfaces(vipIf string, ifs []hostIface) ([]hostIface, bool) {
	vi := -1
	for i, f := range ifs {
		if f.Alias == vipIf {
			vi = i
			break
		}
		if vi < 0 && (strings.EqualFold(f.Alias, vipIf) || strconv.FormatUint(uint64(f.Index), 10) == vipIf) {
			vi = i
		}
	}
	if vi < 0 {
		return nil, false
	}
	out := []hostIface{ifs[vi]}
	for i, f := range ifs {
		if i != vi && f.DefaultRoute {
			out = append(out, f)
		}
	}
	return out, true
}
