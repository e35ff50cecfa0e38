package responder

import (
	"fmt"
	"net/netip"
)

// Holder is a socket listening on a TCP port of this node (on Linux, of
// this network namespace).
type Holder struct {
	Addr netip.AddrPort // the listening address; unspecified = every address
	Pid  int            // owning process, 0 when the OS does not tell
	Name string         // that process's name, "" when unknown
}

// String names the holder for a message: "nginx (pid 4321)", or the
// address when the process is unknown.
func (h Holder) String() string {
	switch {
	case h.Pid != 0 && h.Name != "":
		return fmt.Sprintf("%s (pid %d)", h.Name, h.Pid)
	case h.Pid != 0:
		return fmt.Sprintf("pid %d", h.Pid)
	}
	return "a process the socket table does not name (" + h.Addr.String() + ")"
}

// Listening lists the sockets listening on TCP port that a load balancer
// could reach: on any address except loopback ones (127.0.0.0/8, ::1), which
// no probe from another host can reach. An error means the OS's socket table
// could not be read.
func Listening(port uint16) ([]Holder, error) { return listening(port) }
