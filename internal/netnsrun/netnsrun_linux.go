package netnsrun

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on a fresh thread inside the network namespace h and waits for
// it. A socket fn creates stays in that namespace and may be used from any
// goroutine afterwards. An invalid h (netns.None()) runs fn in the current
// namespace.
func Do(h netns.NsHandle, fn func() error) error {
	if !h.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime ends the thread when this goroutine
		// returns, instead of reusing a thread that is in another namespace.
		runtime.LockOSThread()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Open opens the named network namespace (as `ip netns` names it); "" gives
// netns.None(), the current namespace.
func Open(name string) (netns.NsHandle, error) {
	if name == "" {
		return netns.None(), nil
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		return netns.None(), fmt.Errorf("open network namespace %s: %w", name, err)
	}
	return h, nil
}
