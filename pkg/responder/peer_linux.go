package responder

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerGone reports, without waiting, whether the prober has already
// closed or reset the connection: then there is nothing to drain, and
// finish need not park a goroutine until the prober's close arrives.
func peerGone(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	_ = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_DONTWAIT|unix.MSG_PEEK)
		gone = n == 0 && err == nil || errors.Is(err, unix.ECONNRESET)
		return true // never wait here
	})
	return gone
}
