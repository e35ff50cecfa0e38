package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/ilbvip/ilbvip/internal/lbsim"
)

type runningLB struct {
	sim    *lbsim.Sim
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, once done is closed
}

// StartLB starts the load-balancer simulator in the client+LB namespace,
// in front of both nodes' backend NICs with probe port port. cfg's VIP,
// Netns and (when empty) Backends are filled in by the bed.
func (b *Bed) StartLB(cfg lbsim.Config, port uint16) (*lbsim.Sim, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.lb != nil {
		return nil, errors.New("test bed: closed, or the LB already runs")
	}
	cfg.VIP, cfg.Netns = b.Opts.VIP, b.LB
	if len(cfg.Backends) == 0 {
		for _, n := range b.Nodes {
			cfg.Backends = append(cfg.Backends, lbsim.Backend{Name: n.Name, Addr: netip.AddrPortFrom(n.Addr, port)})
		}
	}
	sim, err := lbsim.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("lb simulator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningLB{sim: sim, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = sim.Run(ctx)
	}()
	b.lb = r
	return sim, nil
}

// StopLB stops the simulator (its VIP route goes) and returns Run's error.
func (b *Bed) StopLB() error {
	b.mu.Lock()
	r := b.lb
	b.lb = nil
	b.mu.Unlock()
	if r == nil {
		return nil
	}
	r.cancel()
	<-r.done
	return r.err
}

// WaitEvent waits for the first LB event at or after since that match
// accepts. It fails when ctx ends or the simulator stopped.
func (b *Bed) WaitEvent(ctx context.Context, since time.Time, match func(lbsim.Event) bool) (lbsim.Event, error) {
	b.mu.Lock()
	r := b.lb
	b.mu.Unlock()
	if r == nil {
		return lbsim.Event{}, errors.New("test bed: the LB is not running")
	}
	for {
		for _, e := range r.sim.Events() {
			if !e.Time.Before(since) && match(e) {
				return e, nil
			}
		}
		select {
		case <-r.done:
			return lbsim.Event{}, fmt.Errorf("lb simulator stopped: %v", r.err)
		default:
		}
		if err := Sleep(ctx, 5*time.Millisecond); err != nil {
			return lbsim.Event{}, fmt.Errorf("waiting for the LB: %w", err)
		}
	}
}

// Is matches an event of kind about backend ("" for any).
func Is(kind lbsim.Kind, backend string) func(lbsim.Event) bool {
	return func(e lbsim.Event) bool { return e.Kind == kind && (backend == "" || e.Backend == backend) }
}
