package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
)

// webServer answers every GET with the node's name: the article's test page.
type webServer struct {
	srv  *http.Server
	done chan struct{}
	own  chan struct{} // the listener on the node's own address
}

// startWeb listens on addr (the VIP) and on own (the node's own address)
// inside the namespace: a Floating-IP load balancer delivers to the VIP, an
// AWS Network Load Balancer to the node's own address. IP_FREEBIND lets it
// bind the VIP before the VIP is on the node, and keep listening while the
// VIP comes and goes, as a service that binds the VIP would with
// net.ipv4.ip_nonlocal_bind.
func startWeb(h netns.NsHandle, addr, own netip.AddrPort, name string) (*webServer, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			if addr.Addr().Is6() {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	var ln, lnOwn net.Listener
	err := netnsrun.Do(h, func() error {
		var err error
		if ln, err = lc.Listen(context.Background(), "tcp", addr.String()); err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		if lnOwn, err = net.Listen("tcp", own.String()); err != nil {
			ln.Close()
			return fmt.Errorf("listen %s: %w", own, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	body := []byte(name + "\n")
	w := &webServer{
		srv: &http.Server{
			Handler: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
				rw.Header().Set("Content-Type", "text/plain")
				_, _ = rw.Write(body)
			}),
			ReadHeaderTimeout: 2 * time.Second,
			IdleTimeout:       2 * time.Second,
		},
		done: make(chan struct{}),
		own:  make(chan struct{}),
	}
	serve := func(l net.Listener, done chan struct{}) {
		defer close(done)
		if err := w.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the bed is closing or the socket broke: the client sees no answer
		}
	}
	go serve(ln, w.done)
	go serve(lnOwn, w.own)
	return w, nil
}

func (w *webServer) close() {
	_ = w.srv.Close()
	<-w.done
	<-w.own
}
