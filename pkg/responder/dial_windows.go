package responder

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// SIO_TCP_INITIAL_RTO (mstcpip.h) and its parameters: keep the default RTT,
// send no SYN again.
const (
	sioTCPInitialRTO        = windows.IOC_IN | windows.IOC_VENDOR | 17
	rtoUnspecifiedRTT       = 0xffff // TCP_INITIAL_RTO_UNSPECIFIED_RTT
	rtoNoSYNRetransmissions = 0xfe   // TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS
)

// dialControl makes a probe to a closed port fail at once with
// WSAECONNREFUSED, as on Linux. Windows otherwise answers a RST to its SYN
// by sending the SYN again, about two seconds in all, so a self-probe
// (bounded to 1 s) of a port where nothing listens reads "i/o timeout",
// which points an administrator at a firewall instead of at a dead
// responder. Every probe the kit makes on Windows goes to this node
// (127.0.0.1 or the bind address), where no SYN is lost. SIO_TCP_INITIAL_RTO
// with TCP_INITIAL_RTO_NO_SYN_RETRANSMISSIONS is there since Windows 8 and
// Server 2012 (learn.microsoft.com, TCP_INITIAL_RTO_PARAMETERS); an error
// from it is ignored, and the connect then retries as before (Wine's own
// connect fails at once anyway: it uses the Linux stack).
func dialControl(_, _ string, c syscall.RawConn) error {
	params := struct {
		rtt        uint16
		maxRetries uint8
	}{rtoUnspecifiedRTT, rtoNoSYNRetransmissions}
	return c.Control(func(fd uintptr) {
		var n uint32
		_ = windows.WSAIoctl(windows.Handle(fd), sioTCPInitialRTO, (*byte)(unsafe.Pointer(&params)), uint32(unsafe.Sizeof(params)), nil, 0, &n, nil, 0)
	})
}
