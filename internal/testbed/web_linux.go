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
}

// startWeb listens on addr inside the namespace. IP_FREEBIND lets it bind
// the VIP before the VIP is on the node, and keep listening while the VIP
// comes and goes, as a service that binds the VIP would with
// net.ipv4.ip_nonlocal_bind.
func startWeb(h netns.NsHandle, addr netip.AddrPort, name string) (*webServer, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	var ln net.Listener
	err := netnsrun.Do(h, func() error {
		var err error
		ln, err = lc.Listen(context.Background(), "tcp4", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
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
	}
	go func() {
		defer close(w.done)
		if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the bed is closing or the socket broke: the client sees no answer
		}
	}()
	return w, nil
}

func (w *webServer) close() {
	_ = w.srv.Close()
	<-w.done
}
