package lbsim

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/internal/netnsrun"

	"github.com/ilbvip/ilbvip/pkg/responder"
)

// Probes addressed to the VIP (Google Cloud) must reach one given backend:
// backend i's probes carry firewall mark probeMark+i, and a rule sends that
// mark to table probeTable+i, whose only route is the VIP via backend i.
const (
	probeMark  = 0x1b00
	probeTable = 1100
	probeRule  = 1100 // rule priorities, before the main table's 32766
)

// probe runs one probe from inside the simulator's namespace, addressed as
// the cloud does: the backend's own address, or the VIP through it.
func (s *Sim) probe(h netns.NsHandle, i int, b Backend) error {
	dst, mark := b.Addr, 0
	if s.rules.ProbeToVIP {
		dst, mark = netip.AddrPortFrom(s.cfg.VIP, b.Addr.Port()), probeMark+i
	}
	return netnsrun.Do(h, func() error {
		deadline := time.Now().Add(s.cfg.Timeout)
		d := net.Dialer{Deadline: deadline}
		if src := s.probeSource(b); src.IsValid() {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
		if mark != 0 {
			d.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark) }); err != nil {
					return err
				}
				return serr
			}
		}
		c, err := d.Dial("tcp", dst.String())
		if err != nil {
			return fmt.Errorf("connect %s: %w", dst, responder.Reason(err))
		}
		defer c.Close()
		if err := c.SetDeadline(deadline); err != nil {
			return fmt.Errorf("probe %s: set deadline: %w", dst, err)
		}
		return s.exchange(c, dst)
	})
}

// probeSource is Azure's IPv6 probe source, fe80::1234:5678:9abc on the
// link towards b (the simulator's namespace must have it there), for an
// IPv6 backend on Azure; otherwise the kernel's choice.
func (s *Sim) probeSource(b Backend) netip.Addr {
	if s.rules.Cloud != Azure || !b.Addr.Addr().Is6() {
		return netip.Addr{}
	}
	routes, err := netlink.RouteGet(b.Addr.Addr().AsSlice())
	if err != nil || len(routes) == 0 {
		return netip.Addr{}
	}
	l, err := netlink.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return netip.Addr{}
	}
	return AzureProbe6.WithZone(l.Attrs().Name)
}

// newRouter is the cloud's way of delivering the VIP's traffic: routes for
// Floating IP, a proxy for AWS's Network Load Balancer.
func newRouter(h netns.NsHandle, cfg *Config, r Rules, log logrus.FieldLogger) (Router, error) {
	if !r.FloatingIP {
		return newProxyRouter(h, cfg, log)
	}
	nr, err := newNetlinkRouter(h, cfg.VIP)
	if err != nil {
		return nil, err
	}
	if r.ToAllWhenNoneHealthy {
		// Spread connections over the nexthops by ports too, as a load
		// balancer spreads flows; the default hashes addresses only, and
		// one client would always reach the same node.
		if err := setSysctl(h, hashPolicy(cfg.VIP), "1"); err != nil {
			nr.h.Close()
			return nil, err
		}
	}
	if r.ProbeToVIP {
		if err := nr.probeRoutes(cfg.Backends); err != nil {
			_ = nr.Close()
			return nil, err
		}
	}
	return nr, nil
}

func hashPolicy(vip netip.Addr) string {
	if vip.Is6() {
		return "ipv6/fib_multipath_hash_policy"
	}
	return "ipv4/fib_multipath_hash_policy"
}

func setSysctl(h netns.NsHandle, name, v string) error {
	return netnsrun.Do(h, func() error {
		// /proc/sys/net belongs to the namespace of the thread that opens it.
		if err := os.WriteFile("/proc/sys/net/"+name, []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl net.%s: %w", name, err)
		}
		return nil
	})
}

// netlinkRouter sets the VIP/32 (/128) route in one namespace.
type netlinkRouter struct {
	h      *netlink.Handle
	dst    *net.IPNet
	probes int // backends with a probe rule and table
}

func newNetlinkRouter(ns netns.NsHandle, vip netip.Addr) (*netlinkRouter, error) {
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns)
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	// A netlink answer that never comes must not hang the simulator.
	if err := h.SetSocketTimeout(5 * time.Second); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &netlinkRouter{h: h, dst: &net.IPNet{IP: vip.AsSlice(), Mask: net.CIDRMask(vip.BitLen(), vip.BitLen())}}, nil
}

func (r *netlinkRouter) Route(to []Backend) error {
	rt := &netlink.Route{Dst: r.dst}
	switch len(to) {
	case 0:
		rt.Type = unix.RTN_BLACKHOLE
	case 1:
		rt.Gw = to[0].Addr.Addr().AsSlice()
	default:
		for _, b := range to {
			rt.MultiPath = append(rt.MultiPath, &netlink.NexthopInfo{Gw: b.Addr.Addr().AsSlice()})
		}
	}
	return r.h.RouteReplace(rt)
}

// probeRoutes lets each backend's marked probes reach the VIP through it.
func (r *netlinkRouter) probeRoutes(bs []Backend) error {
	for i, b := range bs {
		rt := &netlink.Route{Dst: r.dst, Gw: b.Addr.Addr().AsSlice(), Table: probeTable + i}
		if err := r.h.RouteReplace(rt); err != nil {
			return fmt.Errorf("probe route to %s via %s: %w", r.dst.IP, b, err)
		}
		r.probes = i + 1
		rule := r.rule(i)
		if err := r.h.RuleAdd(rule); err != nil && err != unix.EEXIST {
			return fmt.Errorf("probe rule for %s: %w", b, err)
		}
	}
	return nil
}

func (r *netlinkRouter) rule(i int) *netlink.Rule {
	rule := netlink.NewRule()
	rule.Mark, rule.Table, rule.Priority = uint32(probeMark+i), probeTable+i, probeRule+i
	rule.Family = netlink.FAMILY_V4
	if r.dst.IP.To4() == nil {
		rule.Family = netlink.FAMILY_V6
	}
	return rule
}

func (r *netlinkRouter) Close() error {
	defer r.h.Close()
	for i := range r.probes {
		_ = r.h.RuleDel(r.rule(i))
		_ = r.h.RouteDel(&netlink.Route{Dst: r.dst, Table: probeTable + i})
	}
	if err := r.h.RouteDel(&netlink.Route{Dst: r.dst}); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}
