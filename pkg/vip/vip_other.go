//go:build !linux && !windows

package vip

import (
	"fmt"
	"net/netip"
	"runtime"
	"time"
)

// unsupported says which operation and OS, wrapping ErrUnsupported.
func unsupported(op string, s fmt.Stringer) error {
	return fmt.Errorf("%s %s: %w (GOOS=%s)", op, s, ErrUnsupported, runtime.GOOS)
}

// Add is not implemented on this OS.
func Add(s Spec) error { return unsupported("add vip", s) }

// Delete is not implemented on this OS.
func Delete(s Spec) error { return unsupported("delete vip", s) }

// Check is not implemented on this OS.
func Check(s Spec) error { return unsupported("check vip", s) }

// Announce is not implemented on this OS.
func Announce(s Spec, count int, interval time.Duration) error {
	return unsupported("announce vip", s)
}

// Locate is not implemented on this OS.
func Locate(a netip.Addr) (iface string, prefix int, found bool, err error) {
	return "", 0, false, unsupported("locate", a)
}

// Interfaces is not implemented on this OS.
func Interfaces() ([]string, error) {
	return nil, fmt.Errorf("list interfaces: %w (GOOS=%s)", ErrUnsupported, runtime.GOOS)
}
