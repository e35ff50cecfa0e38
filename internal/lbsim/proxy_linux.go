package lbsim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
)

// proxyRouter stands in for an AWS Network Load Balancer, which has no
// Floating IP: clients connect to the frontend address (the VIP, put on lo
// in the simulator's namespace), and each connection is forwarded to the
// same port on one target's own address, round robin over the targets
// Route gave (the healthy one, or all of them when it fails open).
type proxyRouter struct {
	h   netns.NsHandle
	nl  *netlink.Handle
	vip *netlink.Addr
	lo  netlink.Link
	log logrus.FieldLogger
	lns []net.Listener

	mu    sync.Mutex
	to    []Backend
	next  int
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxyRouter(h netns.NsHandle, cfg *Config, log logrus.FieldLogger) (_ *proxyRouter, err error) {
	p := &proxyRouter{h: h, log: log, conns: map[net.Conn]struct{}{}}
	if h.IsOpen() {
		p.nl, err = netlink.NewHandleAt(h)
	} else {
		p.nl, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	if p.lo, err = p.nl.LinkByName("lo"); err != nil {
		return nil, fmt.Errorf("lo: %w", err)
	}
	v := cfg.VIP
	p.vip = &netlink.Addr{IPNet: &net.IPNet{IP: v.AsSlice(), Mask: net.CIDRMask(v.BitLen(), v.BitLen())}}
	if err = p.nl.AddrReplace(p.lo, p.vip); err != nil {
		return nil, fmt.Errorf("frontend address %s on lo: %w", v, err)
	}
	for _, port := range cfg.Listeners {
		var ln net.Listener
		addr := netip.AddrPortFrom(v, port).String()
		if err = netnsrun.Do(h, func() error {
			var lerr error
			ln, lerr = net.Listen("tcp", addr)
			return lerr
		}); err != nil {
			return nil, fmt.Errorf("listener %s: %w", addr, err)
		}
		p.lns = append(p.lns, ln)
		p.wg.Add(1)
		go p.serve(ln, port)
	}
	return p, nil
}

func (p *proxyRouter) Route(to []Backend) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.to = append([]Backend(nil), to...)
	return nil
}

// pick is the next target, round robin; false when there is none (the
// connection is refused, as with a blackhole).
func (p *proxyRouter) pick() (Backend, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.to) == 0 {
		return Backend{}, false
	}
	p.next = (p.next + 1) % len(p.to)
	return p.to[p.next], true
}

func (p *proxyRouter) serve(ln net.Listener, port uint16) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed
		}
		b, ok := p.pick()
		if !ok {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.forward(c, netip.AddrPortFrom(b.Addr.Addr(), port))
	}
}

// forward copies one connection both ways to the target (its own address).
func (p *proxyRouter) forward(c net.Conn, target netip.AddrPort) {
	defer p.wg.Done()
	var t net.Conn
	err := netnsrun.Do(p.h, func() error {
		var err error
		t, err = net.DialTimeout("tcp", target.String(), 2*time.Second)
		return err
	})
	if err != nil || !p.track(c, t) {
		p.log.Debugf("forward to %s: %v", target, err)
		c.Close()
		if t != nil {
			t.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(t, c)
	go pipe(c, t)
	<-done
	<-done
	p.untrack(c, t)
}

// track records a live pair so that Close can end it; false once closed.
func (p *proxyRouter) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *proxyRouter) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

// Close stops the listeners and every forwarded connection, and removes
// the frontend address.
func (p *proxyRouter) Close() error {
	for _, ln := range p.lns {
		ln.Close()
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
	var err error
	if p.nl != nil {
		if p.lo != nil && p.vip != nil {
			if derr := p.nl.AddrDel(p.lo, p.vip); derr != nil && !errors.Is(derr, unix.EADDRNOTAVAIL) {
				err = fmt.Errorf("remove the frontend address: %w", derr)
			}
		}
		p.nl.Close()
	}
	return err
}
