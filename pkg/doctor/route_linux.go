package doctor

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// foreignLocalRoute finds a local route for the VIP that no address made
// (an address's own local route has protocol kernel): Google's guest agent
// adds one for every forwarding rule's IP on every backend
// (https://cloud.google.com/load-balancing/docs/internal), and then every
// node accepts the VIP's traffic. Any non-kernel local route counts, so a
// changed protocol does not hide it; 66 only names it: the agent's
// defaultProtoID, which ethernet_proto_id can change
// (https://github.com/GoogleCloudPlatform/guest-agent/blob/main/google_guest_agent/addresses.go).
// "" when there is none or it cannot be read.
func foreignLocalRoute(c *config.Config) string {
	if !c.HasVIP() {
		return ""
	}
	filter := &netlink.Route{Table: unix.RT_TABLE_LOCAL, Dst: &net.IPNet{IP: c.VIP.AsSlice(), Mask: net.CIDRMask(c.VIP.BitLen(), c.VIP.BitLen())}}
	family := netlink.FAMILY_V4
	if c.VIP.Is6() {
		family = netlink.FAMILY_V6
	}
	routes, err := netlink.RouteListFiltered(family, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_DST)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return ""
	}
	for _, r := range routes {
		if r.Type != unix.RTN_LOCAL || r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		dev := ""
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = " dev " + l.Attrs().Name
		}
		who := ""
		if r.Protocol == 66 {
			who = ", the guest agent's"
		}
		return fmt.Sprintf("a local route for %s%s (proto %d%s)", c.VIP, dev, r.Protocol, who)
	}
	return ""
}
