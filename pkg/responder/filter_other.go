//go:build !linux

package responder

import (
	"errors"
	"net/netip"
	"syscall"
)

// filterControl attaches nothing outside Linux: the allow-list is enforced in
// user space only, so a disallowed TCP probe completes its handshake there.
func filterControl([]netip.Prefix) (func(network, address string, c syscall.RawConn) error, error) {
	return nil, nil
}

// wsaeaddrinuse is Windows' WSAEADDRINUSE, which is not syscall.EADDRINUSE
// there; elsewhere no errno has this value.
const wsaeaddrinuse = syscall.Errno(10048)

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, wsaeaddrinuse)
}

// wsaeaddrnotavail is Windows' WSAEADDRNOTAVAIL (bind to an address that is
// not the node's), which is not syscall.EADDRNOTAVAIL there.
const wsaeaddrnotavail = syscall.Errno(10049)

func isAddrNotAvail(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, wsaeaddrnotavail)
}
