package responder

// The OS-independent half of holder_windows.go: decoding the tables that
// iphlpapi's GetExtendedTcpTable fills with TCP_TABLE_OWNER_PID_LISTENER.
// It compiles everywhere so that it is unit-tested on Linux.

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// Layout of MIB_TCPTABLE_OWNER_PID and MIB_TCP6TABLE_OWNER_PID (tcpmib.h):
// a DWORD dwNumEntries, then the rows, every field a DWORD or bytes, so
// there is no padding.
//
//	MIB_TCPROW_OWNER_PID (24 bytes): dwState, dwLocalAddr, dwLocalPort,
//	  dwRemoteAddr, dwRemotePort, dwOwningPid
//	MIB_TCP6ROW_OWNER_PID (56 bytes): ucLocalAddr[16], dwLocalScopeId,
//	  dwLocalPort, ucRemoteAddr[16], dwRemoteScopeId, dwRemotePort,
//	  dwState, dwOwningPid
const (
	tcpRow4Size = 24
	tcpRow6Size = 56
)

// tcpStateListen is MIB_TCP_STATE_LISTEN.
const tcpStateListen = 2

// tcpTableListeners decodes a GetExtendedTcpTable buffer (IPv6 rows when v6)
// and returns the listeners on port that a load balancer could reach:
// loopback ones (127.0.0.0/8, ::1) are left out, as Listening says. Name
// is left empty; the caller looks processes up.
func tcpTableListeners(b []byte, v6 bool, port uint16) ([]Holder, error) {
	rowSize := tcpRow4Size
	if v6 {
		rowSize = tcpRow6Size
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("TCP table of %d bytes has no entry count", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n)*uint64(rowSize) > uint64(len(b)-4) {
		return nil, fmt.Errorf("TCP table says %d rows of %d bytes but has %d bytes", n, rowSize, len(b))
	}
	var out []Holder
	for i := range int(n) {
		row := b[4+i*rowSize : 4+(i+1)*rowSize]
		h, state := tcpRow4(row)
		if v6 {
			h, state = tcpRow6(row)
		}
		if state != tcpStateListen || h.Addr.Port() != port || h.Addr.Addr().IsLoopback() {
			continue
		}
		out = append(out, h)
	}
	return out, nil
}

// tcpRow4 decodes a MIB_TCPROW_OWNER_PID. dwLocalAddr holds the address in
// network byte order, so its bytes in memory are the address's bytes.
func tcpRow4(r []byte) (Holder, uint32) {
	a := netip.AddrFrom4([4]byte(r[4:8]))
	return Holder{
		Addr: netip.AddrPortFrom(a, tcpPort(r[8:12])),
		Pid:  int(binary.LittleEndian.Uint32(r[20:24])),
	}, binary.LittleEndian.Uint32(r[0:4])
}

// tcpRow6 decodes a MIB_TCP6ROW_OWNER_PID; a scope id (link-local
// listeners) becomes the address's zone.
func tcpRow6(r []byte) (Holder, uint32) {
	a := netip.AddrFrom16([16]byte(r[0:16]))
	if scope := binary.LittleEndian.Uint32(r[16:20]); scope != 0 {
		a = a.WithZone(fmt.Sprint(scope))
	}
	return Holder{
		Addr: netip.AddrPortFrom(a, tcpPort(r[20:24])),
		Pid:  int(binary.LittleEndian.Uint32(r[52:56])),
	}, binary.LittleEndian.Uint32(r[48:52])
}

// tcpPort reads a dwLocalPort: a little-endian DWORD whose low 16 bits hold
// the port in network byte order (the upper 16 bits are undefined), so
// port 80 is stored as the DWORD 0x5000.
func tcpPort(dw []byte) uint16 {
	return bits.ReverseBytes16(uint16(binary.LittleEndian.Uint32(dw)))
}
