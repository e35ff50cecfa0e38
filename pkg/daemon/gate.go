package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ilbvip/ilbvip/pkg/responder"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// gate keeps the responder answering only while this node can take the
// VIP's traffic: the VIP on its interface and the interface up
// (DESIGN.md, "Answer only while able"). vip.Watch reports every change
// within moments, driven by the kernel's notifications, so the load
// balancer stops sending here long before the cluster manager's next
// monitor would notice.
type gate struct {
	srv     *responder.Server
	log     logrus.FieldLogger
	spec    vip.Spec
	changed chan<- struct{} // wakes the stats writer

	mu     sync.Mutex
	silent bool
	since  time.Time
	reason string
	retry  *time.Timer // listening again failed: try again
}

// retryListen is how soon a responder whose port was taken while it was
// silent tries to listen again.
const retryListen = time.Second

// watchVIP starts the gate for spec's VIP; without a VIP there is nothing
// to watch and the responder always answers.
func watchVIP(ctx context.Context, srv *responder.Server, spec Spec, log logrus.FieldLogger, changed chan<- struct{}) (*gate, error) {
	if spec.VIP == "" {
		return nil, nil
	}
	p, err := netip.ParsePrefix(spec.VIP)
	if err != nil {
		return nil, fmt.Errorf("vip %q: %w", spec.VIP, err)
	}
	g := &gate{srv: srv, log: log, changed: changed,
		spec: vip.Spec{Addr: p.Addr(), Prefix: p.Bits(), Interface: spec.Interface}}
	if err := vip.Watch(ctx, g.spec, g.update); err != nil {
		return nil, err
	}
	return g, nil
}

// update applies vip.Check's verdict: silent on an error, answering again
// once it is nil.
func (g *gate) update(problem error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.retry != nil {
		g.retry.Stop()
		g.retry = nil
	}
	if problem == nil {
		if err := g.srv.SetAble(true); err != nil {
			// The port was taken while silent: stay silent, say why, retry.
			g.goSilent(fmt.Sprintf("cannot listen again: %v", err))
			g.retry = time.AfterFunc(retryListen, func() { g.update(vip.Check(g.spec)) })
			return
		}
		if g.silent {
			g.log.Infof("answering again: vip %s is usable (silent for %s)", g.spec, time.Since(g.since).Round(time.Millisecond))
			g.silent, g.reason = false, ""
			g.poke()
		}
		return
	}
	if err := g.srv.SetAble(false); err != nil {
		g.log.WithError(err).Warn("going silent")
	}
	g.goSilent(problem.Error())
}

// goSilent records (and logs once) why the probe is not answered.
func (g *gate) goSilent(reason string) {
	if g.silent && g.reason == reason {
		return
	}
	if !g.silent {
		g.since = time.Now()
	}
	g.silent, g.reason = true, reason
	g.log.Warnf("silent: the load balancer's probe is not answered: %s", reason)
	g.poke()
}

func (g *gate) poke() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// state is what the stats file shows: silent, since when and why.
func (g *gate) state() (silent bool, since time.Time, reason string) {
	if g == nil {
		return false, time.Time{}, ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.silent {
		return false, time.Time{}, ""
	}
	return true, g.since, g.reason
}
