//go:build !linux && !windows

package vip

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"time"
)

// errOS wraps ErrUnsupported with the OS's name.
var errOS = fmt.Errorf("%w (GOOS=%s)", ErrUnsupported, runtime.GOOS)

func add(Spec) error                                 { return errOS }
func del(Spec) error                                 { return errOS }
func check(Spec) error                               { return errOS }
func announce(Spec, int, time.Duration) error        { return errOS }
func lookup(Spec) (Found, error)                     { return Found{}, errOS }
func watch(context.Context, Spec, func(error)) error { return errOS }

// Locate is not implemented on this OS.
func Locate(a netip.Addr) (iface string, prefix int, found bool, err error) {
	return "", 0, false, fmt.Errorf("locate %s: %w", a, errOS)
}

// Interfaces is not implemented on this OS.
func Interfaces() ([]string, error) {
	return nil, fmt.Errorf("list interfaces: %w", errOS)
}

// CheckInterface is not implemented on this OS.
func CheckInterface(name string) (string, error) {
	return "", fmt.Errorf("check interface %q: %w", name, errOS)
}
