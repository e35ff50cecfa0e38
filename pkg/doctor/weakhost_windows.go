package doctor

import (
	"fmt"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// checkWeakHost reads every interface's weak host settings for the VIP's
// family (GetIpInterfaceTable) and its default routes (GetIpForwardTable2),
// and judges them (weakHost). Only with a VIP: a responder alone needs no
// Floating IP.
func checkWeakHost(n *node) []Check {
	if !n.c.HasVIP() {
		return nil
	}
	fam, name := winipcfg.AddressFamily(windows.AF_INET), "ipv4"
	if n.c.VIP.Is6() {
		fam, name = windows.AF_INET6, "ipv6"
	}
	ifs, err := hostIfaces(fam)
	if err != nil {
		return []Check{{Name: "weak_host", Status: Warn, Found: "could not read the interfaces' weak host settings: " + err.Error(),
			Fix: fmt.Sprintf("check by hand: netsh interface %s show interface %q", name, n.c.Interface)}}
	}
	return []Check{weakHost(name, n.c.Interface, ifs)}
}

// hostIfaces lists the interfaces of family with their alias, weak host
// settings and whether a default route leaves by them. One table call each
// (GetIpInterfaceTable, GetIpForwardTable2, GetAdaptersAddresses): winipcfg
// panics where a procedure is missing (its per-interface
// InitializeIpInterfaceEntry, under Wine), while a table call that a
// system lacks returns an error.
func hostIfaces(fam winipcfg.AddressFamily) ([]hostIface, error) {
	rows, err := winipcfg.GetIPInterfaceTable(fam)
	if err != nil {
		return nil, fmt.Errorf("GetIpInterfaceTable: %w", err)
	}
	routes, err := winipcfg.GetIPForwardTable2(fam)
	if err != nil {
		return nil, fmt.Errorf("GetIpForwardTable2: %w", err)
	}
	def := map[winipcfg.LUID]bool{}
	for i := range routes {
		if routes[i].DestinationPrefix.PrefixLength == 0 {
			def[routes[i].InterfaceLUID] = true
		}
	}
	adapters, err := winipcfg.GetAdaptersAddresses(fam, winipcfg.GAAFlagSkipUnicast|winipcfg.GAAFlagSkipAnycast|
		winipcfg.GAAFlagSkipMulticast|winipcfg.GAAFlagSkipDNSServer)
	if err != nil {
		return nil, fmt.Errorf("GetAdaptersAddresses: %w", err)
	}
	alias := map[winipcfg.LUID]string{}
	for _, a := range adapters {
		alias[a.LUID] = a.FriendlyName()
	}
	out := make([]hostIface, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		out = append(out, hostIface{Alias: alias[r.InterfaceLUID], Index: r.InterfaceIndex,
			DefaultRoute: def[r.InterfaceLUID], Send: r.WeakHostSend, Receive: r.WeakHostReceive})
	}
	return out, nil
}
