package responder

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// mibRow4 builds a MIB_TCPROW_OWNER_PID as iphlpapi lays it out: the address
// bytes in network order, the port in network order in the low 16 bits of
// a little-endian DWORD (with junk in the high 16 bits, which Windows
// leaves undefined).
func mibRow4(state uint32, addr string, port uint16, pid uint32) []byte {
	r := make([]byte, tcpRow4Size)
	binary.LittleEndian.PutUint32(r[0:], state)
	a := netip.MustParseAddr(addr).As4()
	copy(r[4:8], a[:])
	binary.BigEndian.PutUint16(r[8:10], port)
	r[10], r[11] = 0xAB, 0xCD
	copy(r[12:16], []byte{192, 0, 2, 9}) // remote address, ignored
	binary.LittleEndian.PutUint32(r[20:], pid)
	return r
}

// mibRow6 builds a MIB_TCP6ROW_OWNER_PID.
func mibRow6(state uint32, addr string, scope uint32, port uint16, pid uint32) []byte {
	r := make([]byte, tcpRow6Size)
	a := netip.MustParseAddr(addr).As16()
	copy(r[0:16], a[:])
	binary.LittleEndian.PutUint32(r[16:], scope)
	binary.BigEndian.PutUint16(r[20:22], port)
	binary.LittleEndian.PutUint32(r[48:], state)
	binary.LittleEndian.PutUint32(r[52:], pid)
	return r
}

func mibTable(rows ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(rows)))
	for _, r := range rows {
		b = append(b, r...)
	}
	return b
}

func TestTCPTablePort(t *testing.T) {
	// Port 80 is the DWORD 0x5000 in memory: bytes 00 50 00 00.
	if got := tcpPort([]byte{0x00, 0x50, 0, 0}); got != 80 {
		t.Errorf("tcpPort(00 50 00 00) = %d, want 80", got)
	}
	if got := tcpPort([]byte{0x1f, 0x90, 0xff, 0xff}); got != 8080 {
		t.Errorf("tcpPort(1f 90 ff ff) = %d, want 8080 (high 16 bits ignored)", got)
	}
}

func TestTCPTableListeners(t *testing.T) {
	const port = 59999 // 0xEA5F: the two bytes differ, so byte order shows
	hold := func(a string, pid int) Holder { return Holder{Addr: netip.MustParseAddrPort(a), Pid: pid} }
	tests := []struct {
		name string
		v6   bool
		tab  []byte
		want []Holder
	}{
		{"ipv4", false, mibTable(
			mibRow4(tcpStateListen, "0.0.0.0", port, 4321),
			mibRow4(tcpStateListen, "10.0.0.4", port, 17),
			mibRow4(tcpStateListen, "127.0.0.1", port, 99), // loopback: unreachable for a balancer
			mibRow4(tcpStateListen, "127.8.0.1", port, 98), // all of 127/8
			mibRow4(tcpStateListen, "0.0.0.0", 0x5FEA, 97), // the same port with its bytes swapped
			mibRow4(tcpStateListen, "0.0.0.0", port+1, 96), // another port
			mibRow4(5 /* ESTAB */, "10.0.0.4", port, 95),   // not a listener
		), []Holder{hold("0.0.0.0:59999", 4321), hold("10.0.0.4:59999", 17)}},
		{"ipv6", true, mibTable(
			mibRow6(tcpStateListen, "::", 0, port, 4321),
			mibRow6(tcpStateListen, "::1", 0, port, 99),
			mibRow6(tcpStateListen, "fe80::1", 7, port, 5),
			mibRow6(tcpStateListen, "2001:db8::5", 0, 0x5FEA, 97),
		), []Holder{hold("[::]:59999", 4321), hold("[fe80::1%7]:59999", 5)}},
		{"empty", false, mibTable(), nil},
		{"only loopback", true, mibTable(mibRow6(tcpStateListen, "::1", 0, port, 1)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tcpTableListeners(tt.tab, tt.v6, port)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestTCPTableTruncated(t *testing.T) {
	full := mibTable(mibRow6(tcpStateListen, "::", 0, 80, 1), mibRow6(tcpStateListen, "::", 0, 80, 2))
	for name, tt := range map[string]struct {
		b  []byte
		v6 bool
	}{
		"no count":           {[]byte{1, 0}, false},
		"rows cut short":     {full[:len(full)-1], true},
		"ipv4 row cut short": {mibTable(mibRow4(tcpStateListen, "0.0.0.0", 80, 1))[:20], false},
		"count too large":    {binary.LittleEndian.AppendUint32(nil, 0xffffffff), true},
	} {
		t.Run(name, func(t *testing.T) {
			if hs, err := tcpTableListeners(tt.b, tt.v6, 80); err == nil || !strings.Contains(err.Error(), "TCP table") {
				t.Errorf("got %v, %v; want an error about the TCP table", hs, err)
			}
		})
	}
}

func TestPortHolderString(t *testing.T) {
	for _, tt := range []struct {
		h    Holder
		want string
	}{
		{Holder{Addr: netip.MustParseAddrPort("0.0.0.0:80"), Pid: 4321, Name: "nginx.exe"}, "nginx.exe (pid 4321)"},
		{Holder{Addr: netip.MustParseAddrPort("0.0.0.0:80"), Pid: 4}, "pid 4"},
		{Holder{Addr: netip.MustParseAddrPort("[::]:80")}, "a process the socket table does not name ([::]:80)"},
	} {
		if got := tt.h.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.h, got, tt.want)
		}
	}
}
