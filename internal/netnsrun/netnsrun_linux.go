package netnsrun

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Do runs fn inside the network namespace h, on the calling goroutine with
// its OS thread locked (so a test may call t.Fatal in fn), and returns the
// thread to its namespace afterwards, even when fn panics or exits the
// goroutine. A socket fn creates stays in h and may be used from any
// goroutine afterwards. An invalid h (netns.None()) runs fn in the current
// namespace.
func Do(h netns.NsHandle, fn func() error) error {
	if !h.IsOpen() {
		return fn()
	}
	return onLockedThread(func() error {
		if err := netns.Set(h); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return fn()
	})
}

// onLockedThread runs fn, which may move the thread to another network
// namespace, on the locked OS thread and moves the thread back. When it
// cannot, it panics and leaves the thread locked: the runtime then ends the
// thread with its goroutine instead of running other goroutines in the
// wrong namespace.
func onLockedThread(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get this thread's network namespace: %w", err)
	}
	defer func() {
		err := netns.Set(orig)
		orig.Close()
		if err != nil {
			panic(fmt.Sprintf("return to the original network namespace: %v", err))
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// Add creates the network namespace name (as `ip netns add` names it,
// under /run/netns) with lo up, without running a program: the benchmarks,
// which must not wait for children of their own, create theirs so too. The
// caller closes the handle and deletes the namespace (netns.DeleteNamed).
func Add(name string) (netns.NsHandle, error) {
	h := netns.None()
	err := onLockedThread(func() (err error) {
		h, err = netns.NewNamed(name) // moves this thread into it
		return err
	})
	if err != nil {
		return netns.None(), fmt.Errorf("create network namespace %s: %w", name, err)
	}
	err = Do(h, func() error {
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		return err
	})
	if err != nil {
		h.Close()
		_ = netns.DeleteNamed(name)
		return netns.None(), fmt.Errorf("network namespace %s: set lo up: %w", name, err)
	}
	return h, nil
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
