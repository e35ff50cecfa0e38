package responder

// Windows: who listens on a port, from iphlpapi's GetExtendedTcpTable with
// TCP_TABLE_OWNER_PID_LISTENER (IPv4 and IPv6), which gives each listener's
// owning pid without privileges; the table is decoded in tcptable.go.
// x/sys/windows does not wrap GetExtendedTcpTable, so it is loaded here.

import (
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTcpTable = iphlpapi.NewProc("GetExtendedTcpTable")
)

// tcpTableOwnerPidListener is TCP_TABLE_OWNER_PID_LISTENER (iprtrmib.h).
const tcpTableOwnerPidListener = 3

// PortHolder names the first process listening on TCP port (loopback
// listeners aside), as "nginx.exe (pid 4321)", or "" when none is found or
// the table cannot be read. See Listening.
func PortHolder(port uint16) string {
	hs, err := listening(port)
	if err != nil || len(hs) == 0 {
		return ""
	}
	return hs[0].String()
}

// listening reads the IPv4 and the IPv6 listener tables (see Listening) and
// names each owning process.
func listening(port uint16) ([]Holder, error) {
	var out []Holder
	for _, v6 := range []bool{false, true} {
		b, err := extendedTCPTable(v6)
		if err != nil {
			return nil, err
		}
		hs, err := tcpTableListeners(b, v6, port)
		if err != nil {
			return nil, fmt.Errorf("read listeners on port %d: %w", port, err)
		}
		out = append(out, hs...)
	}
	names := make(map[int]string)
	for i := range out {
		pid := out[i].Pid
		if _, ok := names[pid]; !ok {
			names[pid] = imageName(pid)
		}
		out[i].Name = names[pid]
	}
	return out, nil
}

// extendedTCPTable returns the raw MIB_TCPTABLE_OWNER_PID (or, v6,
// MIB_TCP6TABLE_OWNER_PID) of listening sockets from GetExtendedTcpTable.
// The call says how much memory it needs; sockets can open between two
// calls, so it is asked again.
func extendedTCPTable(v6 bool) ([]byte, error) {
	af := uintptr(windows.AF_INET)
	if v6 {
		af = windows.AF_INET6
	}
	if err := procGetExtendedTcpTable.Find(); err != nil {
		return nil, fmt.Errorf("GetExtendedTcpTable: %w", err)
	}
	size := uint32(4 << 10)
	for range 5 {
		buf := make([]byte, size)
		r, _, _ := procGetExtendedTcpTable.Call(uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)),
			0, af, tcpTableOwnerPidListener, 0)
		switch err := windows.Errno(r); {
		case r == 0:
			return buf, nil
		case errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER):
			size += 1 << 10 // room for sockets opened before the next call
		default:
			return nil, fmt.Errorf("GetExtendedTcpTable (address family %d): %w", af, err)
		}
	}
	return nil, errors.New("GetExtendedTcpTable: the listener table kept growing")
}

// imageName is the base name of pid's executable ("nginx.exe"), from
// OpenProcess with PROCESS_QUERY_LIMITED_INFORMATION (granted for most
// processes of other users too) and QueryFullProcessImageName; "" when
// either fails (pid 0, protected processes, a process that has exited).
func imageName(pid int) string {
	if pid <= 0 {
		return ""
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return ""
	}
	defer windows.CloseHandle(h)
	buf := make([]uint16, windows.MAX_LONG_PATH)
	n := uint32(len(buf))
	if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
		return ""
	}
	return filepath.Base(windows.UTF16ToString(buf[:n]))
}
