package resource

import (
	"fmt"
	"net/netip"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// owned reports whether the address found at the VIP is this kit's: the OS
// marks it as added by ilbvip (Linux 5.18 and later), or this resource's
// run mark records it, or — for a resource restored by a version that kept
// no run mark — its pid file names it and no mark exists.
func owned(c *config.Config, f vip.Found, before mark) bool {
	vs := vipSpec(c)
	switch {
	case !f.Present:
		return false
	case f.Marked, sameVIP(before.VIP, vs):
		return true
	case before.found:
		return false
	}
	rec, err := daemon.ReadRecord(c.StateDir, c.Tag)
	return err == nil && rec.VIP == netip.PrefixFrom(vs.Addr, vs.Prefix).String() &&
		rec.Interface == vs.Interface && daemon.Inspect(rec) != daemon.PreviousBoot
}

// judgeFound refuses an address at the VIP that restore did not add ("own
// only what you added"): it has an owner (an admin, IPaddr2, DHCP, a cloud
// agent, the node itself) who may change or delete it at any time, and
// adopting it would make remove delete someone else's address. The
// refusals are node-local (exit 1): the same config may be right on the
// other node. No message advises deleting an address of the node.
func judgeFound(vs vip.Spec, f vip.Found, ours bool) error {
	refuse := func(format string, args ...any) error {
		return &Error{Code: ocf.ErrGeneric, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case !f.Present || ours && f.Prefix == vs.Prefix:
		return nil
	case f.Prefix != vs.Prefix || f.Primary:
		return refuse("vip %s is an address of this node (%s/%d on %s), not a load balancer frontend IP: set vip to the frontend IP (ilbvip never adopts the node's own addresses)",
			vs.Addr, vs.Addr, f.Prefix, vs.Interface)
	case f.Finite:
		return refuse("vip %s/%d is already on %s with a finite lifetime (DHCP, SLAAC or a cloud agent manages it), not added by ilbvip: set vip to the load balancer's frontend IP, or stop the other manager from assigning it",
			vs.Addr, vs.Prefix, vs.Interface)
	}
	return refuse("vip %s/%d is already on %s and ilbvip did not add it (an admin, IPaddr2 or another agent did), so remove would not know whether to delete it: if nothing else manages it, delete it once (ip addr del %s/%d dev %s) and run restore again; if something does, let that manage the VIP and leave vip unset",
		vs.Addr, vs.Prefix, vs.Interface, vs.Addr, vs.Prefix, vs.Interface)
}
