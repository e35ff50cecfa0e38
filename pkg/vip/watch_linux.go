package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"
)

// watch subscribes to the kernel's address and link notifications (netlink
// groups RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR and RTNLGRP_LINK) and
// checks s again after each one that concerns the VIP or its interface.
// Notifications that arrive together are folded into one check. When the
// kernel drops notifications (a full socket buffer), the subscription is
// made anew and s checked again, so a lost event costs a check, never a
// stale state.
func watch(ctx context.Context, s Spec, fn func(error)) error {
	w := &watcher{s: s, ip: net.IP(s.Addr.AsSlice())}
	if err := w.subscribe(); err != nil {
		return err
	}
	fn(settledCheck(s))
	go w.loop(ctx, fn)
	return nil
}

type watcher struct {
	s      Spec
	ip     net.IP
	addrs  chan netlink.AddrUpdate
	links  chan netlink.LinkUpdate
	failed chan struct{} // a subscription reported an error
	done   chan struct{} // ends the current subscriptions
}

// subscribe opens both subscriptions; on error nothing is left open.
func (w *watcher) subscribe() error {
	w.addrs, w.links = make(chan netlink.AddrUpdate, 64), make(chan netlink.LinkUpdate, 64)
	w.failed, w.done = make(chan struct{}, 1), make(chan struct{})
	onErr := func(error) {
		select {
		case w.failed <- struct{}{}:
		default:
		}
	}
	if err := netlink.AddrSubscribeWithOptions(w.addrs, w.done, netlink.AddrSubscribeOptions{ErrorCallback: onErr}); err != nil {
		close(w.done)
		return fmt.Errorf("subscribe to address changes: %w", err)
	}
	if err := netlink.LinkSubscribeWithOptions(w.links, w.done, netlink.LinkSubscribeOptions{ErrorCallback: onErr}); err != nil {
		close(w.done)
		return fmt.Errorf("subscribe to interface changes: %w", err)
	}
	return nil
}

func (w *watcher) loop(ctx context.Context, fn func(error)) {
	for {
		select {
		case <-ctx.Done():
			close(w.done)
			return
		case u, ok := <-w.addrs:
			if ok && !u.LinkAddress.IP.Equal(w.ip) {
				continue // another address: the VIP's own events are enough
			}
		case <-w.links: // any interface may be ours, renamed or re-created
		case <-w.failed:
		}
		// Something relevant happened, or a subscription broke (its
		// channel closed or an error was reported): make sure both are
		// live, fold whatever else is queued, then check once.
		if !w.drain() {
			close(w.done)
			for w.subscribe() != nil {
				select {
				case <-ctx.Done():
					return // subscribe left nothing open
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		fn(settledCheck(w.s))
	}
}

// drain empties the queues without blocking; false when a subscription
// has ended or failed.
func (w *watcher) drain() bool {
	for {
		select {
		case _, ok := <-w.addrs:
			if !ok {
				return false
			}
		case _, ok := <-w.links:
			if !ok {
				return false
			}
		case <-w.failed:
			return false
		default:
			return true
		}
	}
}

// settledCheck is Check, asked again while the kernel's address tables are
// changing under its dump (netlink.ErrDumpInterrupted, after retryDump's
// own tries): a busy host's churn on other interfaces must not make the
// responder go silent for nothing. Bounded: 20 tries 10 ms apart.
func settledCheck(s Spec) error {
	err := do("check vip", s, check)
	for i := 0; i < 20 && errors.Is(err, netlink.ErrDumpInterrupted); i++ {
		time.Sleep(10 * time.Millisecond)
		err = do("check vip", s, check)
	}
	return err
}
