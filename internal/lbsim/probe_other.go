//go:build !linux

package lbsim

import (
	"errors"
	"net"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netns"
)

// probe runs one probe; other systems have no network namespaces, so only
// the current one works, and only to the backend's own address.
func (s *Sim) probe(_ netns.NsHandle, _ int, b Backend) error {
	if s.rules.ProbeToVIP {
		return errors.New("probing through the VIP needs Linux (policy routing)")
	}
	c, err := net.DialTimeout("tcp", b.Addr.String(), s.cfg.Timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(s.cfg.Timeout)); err != nil {
		return err
	}
	return s.exchange(c, b.Addr)
}

func newRouter(netns.NsHandle, *Config, Rules, logrus.FieldLogger) (Router, error) {
	return nil, errors.New("routing the VIP needs Linux (netlink): give Config.Router")
}
