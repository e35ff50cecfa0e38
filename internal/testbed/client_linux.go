package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
)

// Get fetches the test page through the VIP from the client+LB namespace,
// as the article did, and returns the name of the node that answered.
// A new connection each time, so the load balancer's current choice counts.
func (b *Bed) Get(ctx context.Context, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := netnsrun.Do(b.lbNS, func() error {
				var err error
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}
	defer tr.CloseIdleConnections()
	url := "http://" + netip.AddrPortFrom(b.Opts.VIP, b.Opts.WebPort).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", noAnswer(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return "", noAnswer(err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("http status %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(body)), nil
}

// noAnswer shortens a client error to what a person needs: a timeout, or
// the kernel's reason (a blackhole route refuses locally made connections
// with EINVAL: the LB dropped them).
func noAnswer(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return errors.New("timeout")
	case strings.Contains(err.Error(), "invalid argument"):
		return errors.New("dropped by the LB (blackhole route)")
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// Answer is one request of a Watch.
type Answer struct {
	Sent time.Time
	At   time.Time // when the answer (or the error) came
	Node string    // who answered, "" for no answer
	Err  error
}

// Watch fetches the page through the VIP every `every` (each request with
// its own timeout, several in flight) until Stop, or until max has passed.
type Watch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	ans    []Answer
}

// Watch starts a client that keeps asking; bounded by max.
func (b *Bed) Watch(ctx context.Context, every, timeout, max time.Duration) *Watch {
	ctx, cancel := context.WithTimeout(ctx, max)
	w := &Watch{cancel: cancel}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				a := Answer{Sent: time.Now()}
				a.Node, a.Err = b.Get(ctx, timeout)
				a.At = time.Now()
				if ctx.Err() != nil && a.Err != nil {
					return // stopped, not an answer
				}
				w.mu.Lock()
				w.ans = append(w.ans, a)
				w.mu.Unlock()
			}()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// Answers returns the answers so far, in the order they came.
func (w *Watch) Answers() []Answer {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Answer(nil), w.ans...)
}

// First returns the first answer from node at or after t.
func (w *Watch) First(node string, t time.Time) (Answer, bool) {
	for _, a := range w.Answers() {
		if a.Node == node && !a.At.Before(t) {
			return a, true
		}
	}
	return Answer{}, false
}

// Stop ends the watch, waits for requests in flight and returns every answer.
func (w *Watch) Stop() []Answer {
	w.cancel()
	w.wg.Wait()
	return w.Answers()
}
