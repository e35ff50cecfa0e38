package vip

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSockaddrInet(t *testing.T) {
	tests := []struct {
		name string
		addr string
		want []byte // the 28 bytes as iphlpapi reads them
	}{
		{"ipv4", "10.10.5.200", []byte{
			2, 0, // AF_INET, little-endian
			0, 0, // port
			10, 10, 5, 200,
			0, 0, 0, 0, 0, 0, 0, 0, // sin_zero
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // rest of the union
		}},
		{"ipv6", "2001:db8::5", []byte{
			23, 0, // AF_INET6 is 23 on Windows
			0, 0, // port
			0, 0, 0, 0, // flow info
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
			0, 0, 0, 0, // scope id
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			got := sockaddrInet(a)
			if !bytes.Equal(got[:], tt.want) {
				t.Fatalf("sockaddrInet(%s) =\n% x\nwant\n% x", a, got, tt.want)
			}
			back, ok := parseSockaddrInet(got)
			if !ok || back != a {
				t.Fatalf("parseSockaddrInet = %v, %t; want %v", back, ok, a)
			}
		})
	}
	t.Run("scope id becomes zone", func(t *testing.T) {
		b := sockaddrInet(netip.MustParseAddr("fe80::1"))
		b[24] = 7
		a, ok := parseSockaddrInet(b)
		if !ok || a.String() != "fe80::1%7" {
			t.Fatalf("got %v, %t", a, ok)
		}
	})
	t.Run("unknown family", func(t *testing.T) {
		var b [sockaddrInetSize]byte
		b[0] = 10 // Linux's AF_INET6 means nothing here
		if a, ok := parseSockaddrInet(b); ok {
			t.Fatalf("family 10 decoded as %v", a)
		}
	})
}

func TestNewRow(t *testing.T) {
	ifc := winIface{Index: 12, Luid: 0x6008000000000, Alias: "Ethernet 2", Oper: 1}
	tests := []struct {
		name string
		s    Spec
		skip bool
	}{
		{"default keeps the VIP out of source selection", Spec{Addr: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: "Ethernet 2"}, true},
		{"source true", Spec{Addr: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: "Ethernet 2", Source: true}, false},
		{"ipv6 /128", Spec{Addr: netip.MustParseAddr("2001:db8::5"), Prefix: 128, Interface: "12"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRow(tt.s, ifc)
			want := winAddr{Addr: tt.s.Addr, Luid: ifc.Luid, Index: 12, PrefixOrigin: originManual, SuffixOrigin: originManual,
				Valid: lifeInfinite, Preferred: lifeInfinite, Prefix: uint8(tt.s.Prefix), SkipAsSource: tt.skip}
			if r != want {
				t.Fatalf("newRow =\n%+v\nwant\n%+v", r, want)
			}
			if !conformsRow(r, tt.s) {
				t.Error("the row Add creates does not conform to its own spec")
			}
			flipped := tt.s
			flipped.Source = !flipped.Source
			if conformsRow(r, flipped) {
				t.Error("row conforms to the opposite source setting")
			}
			expiring := r
			expiring.Valid = 3600
			if conformsRow(expiring, tt.s) {
				t.Error("an expiring address conforms")
			}
		})
	}
}

var testIfaces = []winIface{
	{Index: 4, Luid: 0x100, Alias: "Ethernet", Oper: 1},
	{Index: 12, Luid: 0x200, Alias: "Ethernet 2", Oper: 1},
	{Index: 7, Luid: 0x300, Alias: "12", Oper: 2},
	{Index: 1, Luid: 0x400, Alias: "Loopback Pseudo-Interface 1", Oper: 1},
}

func TestMatchInterface(t *testing.T) {
	tests := []struct {
		name    string
		ifs     []winIface
		want    string
		luid    uint64 // 0: an error is expected
		wantErr string
	}{
		{"alias", testIfaces, "Ethernet 2", 0x200, ""},
		{"alias ignoring case", testIfaces, "ethernet 2", 0x200, ""},
		{"index", testIfaces, "4", 0x100, ""},
		{"an alias that looks like an index wins", testIfaces, "12", 0x300, ""},
		{"unknown", testIfaces, "Ethernet 3", 0, `interface "Ethernet 3" not found (this node has: "Ethernet" (index 4), "Ethernet 2" (index 12)`},
		{"unknown index", testIfaces, "99", 0, `interface "99" not found`},
		{"index 0 is no index", testIfaces, "0", 0, `interface "0" not found`},
		{"ambiguous case", []winIface{{Index: 1, Luid: 1, Alias: "LAN"}, {Index: 2, Luid: 2, Alias: "lan"}}, "Lan", 0, `matches "LAN" (index 1), "lan" (index 2) ignoring case`},
		{"exact beats case-insensitive", []winIface{{Index: 1, Luid: 1, Alias: "LAN"}, {Index: 2, Luid: 2, Alias: "lan"}}, "lan", 2, ""},
		{"no interfaces", nil, "Ethernet", 0, `interface "Ethernet" not found (this node has: )`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := matchInterface(tt.ifs, tt.want)
			if tt.luid != 0 {
				if err != nil || got.Luid != tt.luid {
					t.Fatalf("matchInterface(%q) = %+v, %v; want LUID %#x", tt.want, got, err, tt.luid)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("matchInterface(%q) error = %v, want it to contain %q", tt.want, err, tt.wantErr)
			}
			if !strings.Contains(tt.wantErr, "ignoring case") && !errors.Is(err, ErrNoInterface) {
				t.Errorf("error %v does not wrap ErrNoInterface", err)
			}
		})
	}
}

func TestLocateWin(t *testing.T) {
	vip := netip.MustParseAddr("10.10.5.200")
	s := Spec{Addr: vip, Prefix: 32, Interface: "Ethernet 2"}
	onVIPNIC := winAddr{Addr: vip, Luid: 0x200, Index: 12, Prefix: 32, Dad: dadPreferred}
	onPoolNIC := winAddr{Addr: vip, Luid: 0x100, Index: 4, Prefix: 32, Dad: dadPreferred}
	other := winAddr{Addr: netip.MustParseAddr("10.10.5.4"), Luid: 0x200, Index: 12, Prefix: 24, Dad: dadPreferred}
	tests := []struct {
		name      string
		addrs     []winAddr
		here      bool
		elsewhere string
	}{
		{"absent", []winAddr{other}, false, ""},
		{"here", []winAddr{other, onVIPNIC}, true, ""},
		{"elsewhere", []winAddr{onPoolNIC}, false, "Ethernet"},
		{"here and elsewhere", []winAddr{onPoolNIC, onVIPNIC}, true, "Ethernet"},
		{"zone ignored", []winAddr{{Addr: vip.WithZone("12"), Luid: 0x200, Prefix: 32}}, true, ""},
		{"unknown LUID named by number", []winAddr{{Addr: vip, Luid: 0x999, Prefix: 32}}, false, "interface LUID 0x999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := locateWin(testIfaces, tt.addrs, s)
			if err != nil {
				t.Fatal(err)
			}
			if w.iface.Luid != 0x200 {
				t.Errorf("interface %+v, want Ethernet 2", w.iface)
			}
			if (w.here != nil) != tt.here {
				t.Errorf("here = %+v, want present=%t", w.here, tt.here)
			}
			switch {
			case tt.elsewhere == "" && w.elsewhere != nil:
				t.Errorf("elsewhere = %v", w.elsewhere)
			case tt.elsewhere != "" && (w.elsewhere == nil || w.elsewhere.Interface != tt.elsewhere):
				t.Errorf("elsewhere = %v, want on %q", w.elsewhere, tt.elsewhere)
			}
		})
	}
	if _, err := locateWin(testIfaces, nil, Spec{Addr: vip, Prefix: 32, Interface: "nope"}); !errors.Is(err, ErrNoInterface) {
		t.Errorf("missing interface: %v", err)
	}
}

func TestDAD(t *testing.T) {
	s := Spec{Addr: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: "Ethernet"}
	tests := []struct {
		name    string
		state   uint32
		done    bool
		wantErr string // "" = no error
		problem string // Check's reason, "" = usable
	}{
		{"preferred", dadPreferred, true, "", ""},
		{"deprecated is usable", dadDeprecated, true, "", ""},
		{"tentative", dadTentative, false, "", "still tentative"},
		{"duplicate names the backend-pool NIC", dadDuplicate, true,
			`Windows marks 10.10.5.200 on "Ethernet" as a duplicate (another host answers for it); the likely cause: "Ethernet" is the NIC in the load balancer's backend pool`,
			"put the VIP on a NIC that is not in the backend pool"},
		{"invalid", dadInvalid, true, "state 0 (invalid)", "state is 0 (invalid)"},
		{"unknown", 9, true, "state 9", "state is 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, err := dadDone(tt.state, s)
			if done != tt.done {
				t.Errorf("done = %t, want %t", done, tt.done)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if p := dadProblem(tt.state, s); (p == "") != (tt.problem == "") || !strings.Contains(p, tt.problem) {
				t.Errorf("dadProblem = %q, want %q", p, tt.problem)
			}
		})
	}
	t.Run("removed", func(t *testing.T) {
		e := &duplicateError{Addr: s.Addr, Interface: "Ethernet", Removed: true}
		if !strings.HasSuffix(e.Error(), "; the address was removed again") {
			t.Errorf("%q does not say the address was removed", e.Error())
		}
	})
}

func TestOperDown(t *testing.T) {
	for st, down := range map[uint32]bool{1: false, 2: true, 3: false, 4: false, 5: false, 6: true, 7: true} {
		if got := operDown(st) != ""; got != down {
			t.Errorf("operDown(%d) = %q, want down=%t", st, operDown(st), down)
		}
	}
}

func TestWinFound(t *testing.T) {
	vip := netip.MustParseAddr("2001:db8::5")
	s := Spec{Addr: vip, Prefix: 128, Interface: "Ethernet 2"}
	kit := winAddr{Addr: vip, Luid: 0x200, Prefix: 128, Valid: lifeInfinite, Preferred: lifeInfinite, Dad: dadPreferred}
	leased := winAddr{Addr: vip, Luid: 0x200, Prefix: 64, Valid: 86400, Preferred: 14400, Dad: dadPreferred}
	onPool := winAddr{Addr: vip, Luid: 0x100, Prefix: 128, Valid: lifeInfinite, Dad: dadPreferred}
	other := winAddr{Addr: netip.MustParseAddr("2001:db8::4"), Luid: 0x200, Prefix: 64, Valid: lifeInfinite}
	tests := []struct {
		name  string
		addrs []winAddr
		want  Found
	}{
		{"absent", []winAddr{other}, Found{}},
		{"permanent here", []winAddr{other, kit}, Found{Present: true, Prefix: 128}},
		{"leased here, other prefix", []winAddr{leased}, Found{Present: true, Prefix: 64, Finite: true}},
		{"elsewhere only", []winAddr{onPool}, Found{Elsewhere: "Ethernet"}},
		{"here and elsewhere", []winAddr{onPool, kit}, Found{Present: true, Prefix: 128, Elsewhere: "Ethernet"}},
		{"duplicate still present", []winAddr{{Addr: vip, Luid: 0x200, Prefix: 128, Valid: lifeInfinite, Dad: dadDuplicate}},
			Found{Present: true, Prefix: 128}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := locateWin(testIfaces, tt.addrs, s)
			if err != nil {
				t.Fatal(err)
			}
			if got := foundWin(w); got != tt.want {
				t.Errorf("foundWin = %+v, want %+v (Marked is never set on Windows)", got, tt.want)
			}
		})
	}
}

// runChangeLoop starts changeLoop with a check that returns ErrMissing and
// an fn that reports each call on entered and waits for release; it returns
// a channel closed when the loop has ended.
func runChangeLoop(ctx context.Context, t *testing.T, kick chan struct{}, settle time.Duration,
	entered chan<- error, release <-chan struct{}) <-chan struct{} {
	t.Helper()
	var inside atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		changeLoop(ctx, kick, settle, func() error { return ErrMissing }, func(err error) {
			if inside.Add(1) != 1 {
				t.Error("fn called while another call runs")
			}
			entered <- err
			<-release
			inside.Add(-1)
		})
	}()
	return done
}

func TestWinChangeLoopFoldsBurst(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kick := make(chan struct{}, 1)
	entered, release := make(chan error), make(chan struct{})
	done := runChangeLoop(ctx, t, kick, 0, entered, release)

	nudge(kick)
	if err := <-entered; !errors.Is(err, ErrMissing) {
		t.Fatalf("fn got %v, want check's ErrMissing", err)
	}
	for range 10 { // a burst while the first check runs
		nudge(kick)
	}
	if n := len(kick); n != 1 {
		t.Fatalf("%d nudges pending after a burst of 10, want 1", n)
	}
	release <- struct{}{}
	<-entered // the burst folds into this one check...
	if n := len(kick); n != 0 {
		t.Errorf("%d nudges still pending during the second check, want 0", n)
	}
	cancel() // ...and nothing is left for a third
	release <- struct{}{}
	<-done
}

func TestWinChangeLoopSettle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	kick := make(chan struct{}, 1)
	entered, release := make(chan error), make(chan struct{})
	done := runChangeLoop(ctx, t, kick, time.Millisecond, entered, release)
	nudge(kick)
	<-entered
	cancel()
	close(release)
	<-done
}

func TestWinChangeLoopEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	kick := make(chan struct{}, 1)
	nudge(kick) // pending, but ctx has already ended
	cancel()
	called := false
	changeLoop(ctx, kick, 0, func() error { return nil }, func(error) { called = true })
	if called {
		t.Error("fn called after ctx ended")
	}
	// A long settle is cut short by ctx too.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go cancel2()
	nudge(kick)
	changeLoop(ctx2, kick, time.Hour, func() error { return nil }, func(error) { called = true })
	if called {
		t.Error("fn called after ctx ended during settle")
	}
}
