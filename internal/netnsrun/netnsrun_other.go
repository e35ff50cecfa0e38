//go:build !linux

package netnsrun

import (
	"errors"

	"github.com/vishvananda/netns"
)

// ErrUnsupported: network namespaces exist on Linux only.
var ErrUnsupported = errors.New("network namespaces are supported on Linux only")

// Do runs fn when h is netns.None(); a namespace is unsupported here.
func Do(h netns.NsHandle, fn func() error) error {
	if h.IsOpen() {
		return ErrUnsupported
	}
	return fn()
}

// Add: namespaces are unsupported here.
func Add(name string) (netns.NsHandle, error) {
	return netns.None(), ErrUnsupported
}

// Open supports only "" (the current namespace) here.
func Open(name string) (netns.NsHandle, error) {
	if name == "" {
		return netns.None(), nil
	}
	return netns.None(), ErrUnsupported
}

// NotHost: without network namespaces every process is in the host's.
func NotHost(h netns.NsHandle) error {
	return errors.New("refusing to run: network namespaces are supported on Linux only")
}
