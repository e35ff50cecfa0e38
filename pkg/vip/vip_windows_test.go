package vip

// Windows-only tests: compiled in CI on Linux (GOOS=windows go test -c),
// run only on a Windows machine. They read the system's interfaces and
// addresses but never change them.

import (
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

func TestNativeRowRoundTrip(t *testing.T) {
	ifc := winIface{Index: 12, Luid: 0x6008000000000, Alias: "Ethernet 2"}
	for _, s := range []Spec{
		{Addr: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: "Ethernet 2"},
		{Addr: netip.MustParseAddr("2001:db8::5"), Prefix: 128, Interface: "Ethernet 2", Source: true},
	} {
		t.Run(s.String(), func(t *testing.T) {
			x := newRow(s, ifc)
			n := x.native()
			if got := (*[sockaddrInetSize]byte)(unsafe.Pointer(&n.Address)); *got != sockaddrInet(s.Addr) {
				t.Errorf("address bytes % x", got)
			}
			if s.Addr.Is4() {
				v4 := (*windows.RawSockaddrInet4)(unsafe.Pointer(&n.Address))
				if v4.Family != windows.AF_INET || netip.AddrFrom4(v4.Addr) != s.Addr {
					t.Errorf("as SOCKADDR_IN: %+v", v4)
				}
			} else if n.Address.Family != windows.AF_INET6 || netip.AddrFrom16(n.Address.Addr) != s.Addr {
				t.Errorf("as SOCKADDR_IN6: %+v", n.Address)
			}
			back, ok := fromNative(&n)
			if !ok || back != x {
				t.Errorf("round trip: %+v, want %+v", back, x)
			}
		})
	}
}

func TestInterfacesWindows(t *testing.T) {
	names, err := Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no interfaces (not even loopback)")
	}
	s := Spec{Addr: netip.MustParseAddr("192.0.2.77"), Prefix: 32, Interface: "no such adapter ilbvip"}
	if err := Check(s); !errors.Is(err, ErrNoInterface) {
		t.Errorf("Check on a missing interface: %v", err)
	}
	if err := Delete(s); err != nil {
		t.Errorf("Delete on a missing interface: %v", err)
	}
	if _, _, found, err := Locate(s.Addr); err != nil || found {
		t.Errorf("Locate(TEST-NET address) = %t, %v", found, err)
	}
	if err := Announce(s, 0, 0); err != nil {
		t.Errorf("Announce count 0: %v", err)
	}
	if err := Announce(s, 3, 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Announce count 3: %v", err)
	}
}
