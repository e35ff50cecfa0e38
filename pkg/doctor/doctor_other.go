//go:build !linux

package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ilbvip/ilbvip/pkg/vip"
)

// Outside Linux the doctor checks the configuration and says plainly what
// it did not check.
const defaultDMI = ""

func notChecked(name, what string) Check {
	return Check{Name: name, Status: Skip, Found: "not checked on this OS: " + what}
}

// checkInterface looks the interface up as restore will (Windows: the
// alias or the ifIndex, and its oper status).
func checkInterface(n *node) Check {
	if !n.c.HasVIP() {
		return Check{Name: "interface", Status: Skip, Found: "no vip: no interface to check"}
	}
	alias, err := vip.CheckInterface(n.c.Interface)
	switch {
	case errors.Is(err, vip.ErrUnsupported):
		return notChecked("interface", "restore and quickCheck report a missing or down interface")
	case err != nil:
		return Check{Name: "interface", Status: Fail, Found: err.Error(),
			Fix: "set interface to the NIC that carries the VIP: its alias from Get-NetAdapter, or its ifIndex (restore fails until then)"}
	}
	return Check{Name: "interface", Status: OK, Found: fmt.Sprintf("interface %q exists and is up", alias)}
}

func checkBind(*node) Check { return notChecked("bind", "whether bind is a local address") }

// locateBind: whether bind is the node's own address or a VIP is told on
// Linux only.
func locateBind(netip.Addr) bindPlace {
	return bindPlace{err: errors.New("where bind is, is not checked on this OS")}
}

func checkFirewall(_ context.Context, n *node) Check {
	return notChecked("firewall", fmt.Sprintf("allow tcp port %d from %s in the host firewall", n.c.Port, sourceList(n.sources)))
}

func checkTimestamps(*node) Check { return notChecked("tcp_timestamps", "a Linux setting") }

func checkRPFilter(*node) Check { return notChecked("rp_filter", "a Linux setting") }

func checkARP(*node) Check { return notChecked("arp", "Linux ARP settings") }

func checkVIPElsewhere(context.Context, *node) Check {
	return notChecked("vip", "whether the VIP is already on this node")
}

func checkSource(*node) Check { return notChecked("source", "the outbound source address") }

// osChecks adds Windows' own: the weak host model that Floating IP needs
// (checkWeakHost), and what only an admin can check: the VIP's NIC must
// not be the one in the load balancer's backend pool (Windows then sees the
// fabric's frontend IP as a duplicate address).
func osChecks(n *node) []Check {
	if !n.c.HasVIP() {
		return nil
	}
	return append(checkWeakHost(n), Check{Name: "vip_nic", Status: Skip,
		Found: fmt.Sprintf("not checked on this OS: %q must not be the NIC in the load balancer's backend pool", n.c.Interface),
		Fix:   "put the VIP on a second NIC that is not in the backend pool"})
}
