package resource

import (
	"context"
	"net/netip"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// vipStep is the node's addresses as restore's VIP step and remove's VIP
// deletion use them. nodeVIP (pkg/vip) is the default; the unit tests put
// a fake in its place to check ordering and rollback without a namespace.
type vipStep interface {
	Check(vip.Spec) error
	Lookup(vip.Spec) (vip.Found, error)
	Add(vip.Spec) error
	Delete(vip.Spec) error
	Locate(netip.Addr) (iface string, prefix int, found bool, err error)
}

// nodeVIP is vipStep on this node's interfaces.
type nodeVIP struct{}

func (nodeVIP) Check(s vip.Spec) error                         { return vip.Check(s) }
func (nodeVIP) Lookup(s vip.Spec) (vip.Found, error)           { return vip.Lookup(s) }
func (nodeVIP) Add(s vip.Spec) error                           { return vip.Add(s) }
func (nodeVIP) Delete(s vip.Spec) error                        { return vip.Delete(s) }
func (nodeVIP) Locate(a netip.Addr) (string, int, bool, error) { return vip.Locate(a) }

// responderStep is the responder as restore and remove handle it.
// daemonResponder (pkg/daemon's process) is the default.
type responderStep interface {
	// ensure leaves a responder running with c's settings that answers
	// the probe (restore, recover).
	ensure(ctx context.Context, c *config.Config, o Options) error
	// stop stops the resource's responders (after the drain in http
	// mode); stopped: their pids.
	stop(ctx context.Context, c *config.Config) (stopped []int, err error)
	// confirmSilent fails while something other than the stopped
	// responders answers on one of ports (0: unknown).
	confirmSilent(ctx context.Context, stopped []int, ports ...uint16) error
}

// daemonResponder is responderStep with the responder process.
type daemonResponder struct{}

func (daemonResponder) ensure(ctx context.Context, c *config.Config, o Options) error {
	return ensureResponder(ctx, c, o)
}

func (daemonResponder) stop(ctx context.Context, c *config.Config) ([]int, error) {
	return daemon.StopDrained(ctx, c.StateDir, c.Tag, c.Drain)
}

func (daemonResponder) confirmSilent(ctx context.Context, stopped []int, ports ...uint16) error {
	return portsSilent(ctx, stopped, ports...)
}
