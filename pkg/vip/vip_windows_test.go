package vip

// Windows-only tests: compiled in CI on Linux (GOOS=windows go test -c),
// run only on a Windows machine. They read the system's interfaces and
// addresses but never change them.

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
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

func TestLookupWindows(t *testing.T) {
	names, err := Interfaces()
	if err != nil || len(names) == 0 {
		t.Fatalf("interfaces: %v, %v", names, err)
	}
	s := Spec{Addr: netip.MustParseAddr("192.0.2.77"), Prefix: 32, Interface: names[0]}
	if f, err := Lookup(s); err != nil || f != (Found{}) {
		t.Errorf("Lookup(TEST-NET address on %q) = %+v, %v; want nothing found", names[0], f, err)
	}
	s.Interface = "no such adapter ilbvip"
	if _, err := Lookup(s); !errors.Is(err, ErrNoInterface) {
		t.Errorf("Lookup on a missing interface: %v", err)
	}
}

// TestWatchWindows subscribes and unsubscribes more often than the process
// has callback slots for windows.NewCallback (about 2000): each watch must
// reuse the same ones.
func TestWatchWindows(t *testing.T) {
	names, err := Interfaces()
	if err != nil || len(names) == 0 {
		t.Fatalf("interfaces: %v, %v", names, err)
	}
	s := Spec{Addr: netip.MustParseAddr("192.0.2.77"), Prefix: 32, Interface: names[0]}
	rounds := 2100
	if testing.Short() {
		rounds = 3
	}
	for range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Int32
		first := make(chan error, 1)
		err := Watch(ctx, s, func(err error) {
			if calls.Add(1) == 1 {
				first <- err
			}
		})
		n := calls.Load() // later calls, from notifications, may come any time
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("fn not called before Watch returned")
		}
		if err := <-first; err == nil {
			t.Fatal("Check of a TEST-NET address passed")
		}
	}
}
