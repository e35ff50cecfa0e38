package lbsim

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// probe runs one probe from inside the simulator's namespace.
func (s *Sim) probe(h netns.NsHandle, b Backend) error {
	return netnsrun.Do(h, func() error {
		return responder.Probe(s.cfg.Protocol, b.Addr, s.cfg.Path, nil, s.cfg.Timeout)
	})
}

// netlinkRouter sets the VIP/32 (/128) route in one namespace.
type netlinkRouter struct {
	h   *netlink.Handle
	dst *net.IPNet
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

func (r *netlinkRouter) Route(b *Backend) error {
	rt := &netlink.Route{Dst: r.dst}
	if b == nil {
		rt.Type = unix.RTN_BLACKHOLE
	} else {
		rt.Gw = b.Addr.Addr().AsSlice()
	}
	return r.h.RouteReplace(rt)
}

func (r *netlinkRouter) Close() error {
	defer r.h.Close()
	if err := r.h.RouteDel(&netlink.Route{Dst: r.dst}); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}
