//go:build !linux

package lbsim

import (
	"errors"
	"net/netip"

	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/pkg/responder"
)

// probe runs one probe; other systems have no network namespaces, so only
// the current one works (Run fails earlier otherwise).
func (s *Sim) probe(_ netns.NsHandle, b Backend) error {
	return responder.Probe(s.cfg.Protocol, b.Addr, s.cfg.Path, nil, s.cfg.Timeout)
}

func newNetlinkRouter(_ netns.NsHandle, _ netip.Addr) (Router, error) {
	return nil, errors.New("routing the VIP needs Linux (netlink): give Config.Router")
}
