package resource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/responder"
	"github.com/ilbvip/ilbvip/pkg/statedir"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// preflight refuses, before anything is created, a VIP whose interface is
// missing or that another interface already holds.
func preflight(c *config.Config, v vipStep) error {
	if !c.HasVIP() {
		return nil
	}
	err := v.Check(vipSpec(c))
	var ee *vip.ElsewhereError
	if errors.As(err, &ee) {
		if m, _ := readMark(c.StateDir, c.Tag); m.VIP.Addr == ee.Addr && m.VIP.Interface == ee.Interface {
			return &Error{Code: ocf.ErrGeneric, Err: fmt.Errorf("vip %s is on %s, where this resource put it, and interface is now %s: run remove, then restore", ee.Addr, ee.Interface, c.Interface)}
		}
		return err
	}
	if errors.Is(err, vip.ErrNoInterface) {
		return err
	}
	return nil
}

// ensure makes the resource up, touching only what is not (shared by
// Restore and Recover): the run mark, then the VIP step, then the
// responder step. On failure it undoes what it did, and a resource that
// was not running before is left unmarked.
func ensure(ctx context.Context, c *config.Config, o Options, action string) error {
	log := o.log()
	t0 := time.Now()
	before, err := readMark(c.StateDir, c.Tag)
	if err != nil {
		log.WithError(err).Warn("run mark unreadable: writing it anew")
	}
	m := mark{Run: true, Port: c.Port}
	added, err := vipThenResponder(ctx, c, o, &m, before)
	if err != nil {
		rollbackMark(c, before, log)
		return err
	}
	if old := before.VIP; old.Addr.IsValid() && !sameVIP(old, m.VIP) {
		dropOldVIP(c, o.vips(), old, log)
	}
	if added && c.ARPCount > 0 {
		if err := vip.Announce(vipSpec(c), c.ARPCount, 200*time.Millisecond); err != nil {
			log.WithError(err).Warn("announce vip (the VIP is up; neighbours learn it later)")
		}
	}
	what := fmt.Sprintf("%s port %d", c.Protocol, c.Port)
	if c.HasVIP() {
		what = fmt.Sprintf("vip %s, %s", vipSpec(c), what)
	}
	log.Infof("%s done: %s answering (%d ms)", action, what, time.Since(t0).Milliseconds())
	return nil
}

// vipThenResponder runs, under the VIP claim, the VIP step and then the
// responder step; when the responder step fails, it undoes the VIP step
// (deletes the address if this call added it). added: the VIP step added
// the address.
func vipThenResponder(ctx context.Context, c *config.Config, o Options, m *mark, before mark) (added bool, err error) {
	release, err := claimVIP(ctx, c)
	if err != nil {
		return false, err
	}
	defer release()
	v := o.vips()
	if added, err = ensureVIP(c, v, m, before); err != nil {
		return false, err
	}
	if err := o.responders().ensure(ctx, c, o); err != nil {
		if added {
			if derr := v.Delete(vipSpec(c)); derr != nil {
				o.log().WithError(derr).Error("rollback: delete vip")
			}
		}
		return false, err
	}
	return added, nil
}

// rollbackMark puts the run mark back as it was before a failed ensure:
// none for a resource that was not running.
func rollbackMark(c *config.Config, before mark, log logrus.FieldLogger) {
	if !before.Run {
		_ = removeMark(c.StateDir, c.Tag)
	} else if err := before.write(c.StateDir, c.Tag); err != nil {
		log.WithError(err).Error("rollback: run mark")
	}
}

// claimVIP makes "is the VIP free? then it is mine" one step on this node:
// it takes the node-wide claim lock (statedir.AcquireNode: every state
// directory on Linux), refuses a VIP another running resource has, and
// leaves the lock held until release — after the VIP step and the
// responder step, when this resource's responder is what the next
// restore's holder check sees. Without a VIP there is nothing to claim.
func claimVIP(ctx context.Context, c *config.Config) (release func(), err error) {
	if !c.HasVIP() {
		return func() {}, nil
	}
	release, err = statedir.AcquireNode(ctx, c.StateDir, "vip-claim")
	if err != nil {
		return nil, err
	}
	if err := refuseHeld(c); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// dropOldVIP deletes the VIP this resource had before its vip or
// interface changed: restore added it, and nothing serves it any more.
func dropOldVIP(c *config.Config, v vipStep, old vip.Spec, log logrus.FieldLogger) {
	if other, err := holder(c.StateDir, c.Tag, old.Addr); err != nil || other != "" {
		return
	}
	if err := v.Delete(old); err != nil {
		log.WithError(err).Warnf("delete the previous vip %s", old)
		return
	}
	log.Infof("previous vip %s deleted (vip or interface changed)", old)
}

// refuseHeld refuses a VIP that another running resource of this node has:
// two resources with one VIP would each delete it under the other.
func refuseHeld(c *config.Config) error {
	if !c.HasVIP() {
		return nil
	}
	other, err := holder(c.StateDir, c.Tag, c.VIP)
	if err != nil {
		return err
	}
	if other != "" {
		return &Error{Code: ocf.ErrGeneric, Err: fmt.Errorf(
			"vip %s belongs to resource %s, which runs on this node: one VIP, one resource; remove %s first or set another vip", c.VIP, other, other)}
	}
	return nil
}

// ensureVIP puts the VIP in place when it is missing, or makes one that
// restore added before conform; an address it did not add is refused (see
// judgeFound). The mark is written before the address is added, so a crash
// in between still knows whose address it is. added: this call added the
// address (a rollback deletes it).
func ensureVIP(c *config.Config, v vipStep, m *mark, before mark) (added bool, err error) {
	if !c.HasVIP() {
		return false, m.write(c.StateDir, c.Tag)
	}
	vs := vipSpec(c)
	if err := v.Check(vs); errors.Is(err, vip.ErrInterfaceDown) || errors.Is(err, vip.ErrDuplicate) {
		return false, err // not ours to fix: the node's network, or another host
	}
	f, err := v.Lookup(vs)
	if err != nil {
		return false, err
	}
	if err := judgeFound(vs, f, owned(c, f, before)); err != nil {
		return false, err
	}
	m.VIP = vs
	if err := m.write(c.StateDir, c.Tag); err != nil {
		return false, err
	}
	if err := v.Add(vs); err != nil {
		return false, err
	}
	if err := v.Check(vs); err != nil {
		if !f.Present {
			_ = v.Delete(vs)
		}
		return false, fmt.Errorf("vip %s in place but not usable: %w", vs, err)
	}
	return !f.Present, nil
}

// ensureResponder keeps a responder that runs with today's settings and
// answers (it answers within moments of the VIP being usable again, as it
// watches the VIP itself), and otherwise starts a new one: stop what runs
// (ours only, and any responder of this tag whose pid file was lost),
// start, self-probe, and with probe_timeout wait for the load balancer.
func ensureResponder(ctx context.Context, c *config.Config, o Options) error {
	sp := spec(c)
	rec, err := daemon.ReadRecord(c.StateDir, c.Tag)
	if err == nil && daemon.Inspect(rec) == daemon.Running && rec.Config != sp.Hash() {
		o.log().WithField("pid", rec.Pid).Info("the parameters changed since the responder started: starting a new one")
	}
	if err == nil && daemon.Inspect(rec) == daemon.Running && rec.Config == sp.Hash() {
		pctx, cancel := context.WithTimeout(ctx, min(2*time.Second, remaining(ctx)/2))
		err := selfProbeUntil(pctx, c)
		if err == nil {
			err = waitAnswering(pctx, c, rec.Pid)
		}
		cancel()
		if err == nil {
			return nil
		}
		o.log().WithError(err).Info("the running responder does not answer: starting a new one")
	}
	if _, err := daemon.Stop(ctx, c.StateDir, c.Tag); err != nil {
		return err
	}
	nrec, err := daemon.Start(ctx, o.Exe, sp)
	if err != nil {
		return err
	}
	// The self-probe leaves rollbackReserve of the budget for stopping
	// the responder again if it fails.
	pctx, cancel := context.WithDeadline(ctx, time.Now().Add(max(remaining(ctx)-rollbackReserve, 0)))
	if err = selfProbeUntil(pctx, c); err != nil {
		err = explainSelfProbe(err, c)
	}
	cancel()
	if err == nil && c.ProbeTimeout > 0 {
		err = waitForLBProbe(ctx, c, nrec.Pid)
	}
	if err != nil {
		if _, serr := daemon.Stop(ctx, c.StateDir, c.Tag); serr != nil {
			o.log().WithError(serr).Error("rollback: stop responder")
		}
	}
	return err
}

// waitAnswering waits until the responder's stats no longer say silent:
// it writes them a moment after it answers again, and quickCheck reads
// them.
func waitAnswering(ctx context.Context, c *config.Config, pid int) error {
	for {
		s, err := daemon.ReadStats(c.StateDir, c.Tag)
		if err != nil || s.Pid != pid || !s.Silent {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the responder answers but still reports silent: %s", s.SilentReason)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func sameVIP(a, b vip.Spec) bool {
	return a.Addr == b.Addr && a.Prefix == b.Prefix && a.Interface == b.Interface
}

// explainSelfProbe adds the likely cause when the responder, which has
// reported that it listens, cannot be connected to by its own probe: a
// host firewall rule that rejects or drops it. The doctor judges the load
// balancer's path, not loopback, so the hint names the rule to add.
func explainSelfProbe(err error, c *config.Config) error {
	var ce *responder.ConnectError
	if !errors.As(err, &ce) {
		return err
	}
	lo := loopbackRule
	if p := probeAddr(c); !p.Addr().IsLoopback() {
		lo = fmt.Sprintf("tcp dport %d from %s", c.Port, p.Addr())
	}
	return fmt.Errorf("%w: the responder is listening, so something %s connections to %s on this node, most likely a host firewall rule: "+
		"let them in ahead of the rule that blocks them (%s)", err, ce.How(), probeAddr(c), lo)
}
