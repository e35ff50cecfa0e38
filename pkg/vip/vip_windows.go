package vip

// Windows: the VIP through the IP Helper API (iphlpapi.dll). Interfaces come
// from GetAdaptersAddresses (alias = FriendlyName), addresses from
// GetUnicastIpAddressTable; an address is added with
// CreateUnicastIpAddressEntry (SkipAsSource unless Spec.Source), changed with
// SetUnicastIpAddressEntry and deleted with DeleteUnicastIpAddressEntry.
// x/sys/windows wraps the table and the Get call but not Create, Set and
// Delete, so those are loaded here. Change notifications (Watch) come
// through wireguard-windows' tunnel/winipcfg. The decisions live in
// winaddr.go.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.zx2c4.com/wireguard/windows/tunnel/winipcfg"
)

// Compile-time checks that the row this package fills is the one iphlpapi
// reads: 80 bytes, the SOCKADDR_INET first (28 bytes), the fields at their
// netioapi.h offsets, and Windows' address family numbers.
var (
	_ [80]byte               = [unsafe.Sizeof(windows.MibUnicastIpAddressRow{})]byte{}
	_ [sockaddrInetSize]byte = [unsafe.Sizeof(windows.RawSockaddrInet6{})]byte{}
	_ [32]byte               = [unsafe.Offsetof(windows.MibUnicastIpAddressRow{}.InterfaceLuid)]byte{}
	_ [60]byte               = [unsafe.Offsetof(windows.MibUnicastIpAddressRow{}.OnLinkPrefixLength)]byte{}
	_ [61]byte               = [unsafe.Offsetof(windows.MibUnicastIpAddressRow{}.SkipAsSource)]byte{}
	_ [64]byte               = [unsafe.Offsetof(windows.MibUnicastIpAddressRow{}.DadState)]byte{}
	_ [winAFInet]byte        = [windows.AF_INET]byte{}
	_ [winAFInet6]byte       = [windows.AF_INET6]byte{}
)

var (
	iphlpapi            = windows.NewLazySystemDLL("iphlpapi.dll")
	procCreateUnicastIP = iphlpapi.NewProc("CreateUnicastIpAddressEntry")
	procSetUnicastIP    = iphlpapi.NewProc("SetUnicastIpAddressEntry")
	procDeleteUnicastIP = iphlpapi.NewProc("DeleteUnicastIpAddressEntry")
)

// callRow calls an iphlpapi function that takes a row and returns a Win32
// error code (NETIO_STATUS).
func callRow(p *windows.LazyProc, row *windows.MibUnicastIpAddressRow) error {
	if err := p.Find(); err != nil {
		return err
	}
	r, _, _ := p.Call(uintptr(unsafe.Pointer(row)))
	if r != 0 {
		return windows.Errno(r)
	}
	return nil
}

// native converts a row to the iphlpapi structure.
func (x winAddr) native() windows.MibUnicastIpAddressRow {
	var r windows.MibUnicastIpAddressRow
	*(*[sockaddrInetSize]byte)(unsafe.Pointer(&r.Address)) = sockaddrInet(x.Addr)
	r.InterfaceLuid = x.Luid
	r.InterfaceIndex = x.Index
	r.PrefixOrigin = x.PrefixOrigin
	r.SuffixOrigin = x.SuffixOrigin
	r.ValidLifetime = x.Valid
	r.PreferredLifetime = x.Preferred
	r.OnLinkPrefixLength = x.Prefix
	if x.SkipAsSource {
		r.SkipAsSource = 1
	}
	return r
}

func fromNative(r *windows.MibUnicastIpAddressRow) (winAddr, bool) {
	a, ok := parseSockaddrInet(*(*[sockaddrInetSize]byte)(unsafe.Pointer(&r.Address)))
	return winAddr{
		Addr: a, Luid: r.InterfaceLuid, Index: r.InterfaceIndex,
		PrefixOrigin: r.PrefixOrigin, SuffixOrigin: r.SuffixOrigin,
		Valid: r.ValidLifetime, Preferred: r.PreferredLifetime,
		Prefix: r.OnLinkPrefixLength, SkipAsSource: r.SkipAsSource != 0, Dad: r.DadState,
	}, ok
}

// adapters lists the interfaces. GetAdaptersAddresses says how much memory
// it needs; adapters can appear between two calls, so it is asked again.
func adapters() ([]winIface, error) {
	const flags = windows.GAA_FLAG_SKIP_UNICAST | windows.GAA_FLAG_SKIP_ANYCAST | windows.GAA_FLAG_SKIP_MULTICAST |
		windows.GAA_FLAG_SKIP_DNS_SERVER
	size := uint32(16 << 10)
	for range 5 {
		buf := make([]byte, size)
		first := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0]))
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, flags, 0, first, &size)
		if errors.Is(err, windows.ERROR_BUFFER_OVERFLOW) {
			continue
		}
		if errors.Is(err, windows.ERROR_NO_DATA) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("GetAdaptersAddresses: %w", err)
		}
		var out []winIface
		for a := first; a != nil; a = a.Next {
			idx := a.IfIndex
			if idx == 0 {
				idx = a.Ipv6IfIndex
			}
			out = append(out, winIface{Index: idx, Luid: a.Luid, Alias: windows.UTF16PtrToString(a.FriendlyName), Oper: a.OperStatus})
		}
		return out, nil
	}
	return nil, errors.New("GetAdaptersAddresses: the adapter list kept growing")
}

// unicastAddrs lists every unicast address of the family of a (all states,
// SkipAsSource ones included).
func unicastAddrs(a netip.Addr) ([]winAddr, error) {
	fam := uint16(windows.AF_INET6)
	if a.Is4() {
		fam = windows.AF_INET
	}
	var t *windows.MibUnicastIpAddressTable
	if err := windows.GetUnicastIpAddressTable(fam, &t); err != nil {
		if errors.Is(err, windows.ERROR_NOT_FOUND) {
			return nil, nil
		}
		return nil, fmt.Errorf("GetUnicastIpAddressTable: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(t))
	rows := unsafe.Slice(&t.Table[0], t.NumEntries)
	out := make([]winAddr, 0, len(rows))
	for i := range rows {
		if x, ok := fromNative(&rows[i]); ok {
			out = append(out, x)
		}
	}
	return out, nil
}

// Interfaces lists the interface aliases of this node, in the order
// GetAdaptersAddresses gives them.
func Interfaces() ([]string, error) {
	ifs, err := adapters()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, 0, len(ifs))
	for _, ifc := range ifs {
		names = append(names, ifc.Alias)
	}
	return names, nil
}

func locateFor(s Spec) (winWhere, []winIface, error) {
	ifs, err := adapters()
	if err != nil {
		return winWhere{}, nil, fmt.Errorf("look up interface %q: %w", s.Interface, err)
	}
	addrs, err := unicastAddrs(s.Addr)
	if err != nil {
		return winWhere{}, ifs, err
	}
	w, err := locateWin(ifs, addrs, s)
	return w, ifs, err
}

// dadWait bounds the wait for duplicate address detection after adding:
// Windows probes for about a second (IPv4: ARP probes; IPv6: neighbour
// solicitations) before the address becomes preferred.
const dadWait = 5 * time.Second

// add puts the VIP on its interface (see Add). After creating the address
// it waits for duplicate address detection; an address Windows marks as a
// duplicate is removed and reported with its likely cause (the VIP NIC is
// the NIC in the load balancer's backend pool).
func add(s Spec) error {
	w, _, err := locateFor(s)
	if err != nil {
		return err
	}
	if w.elsewhere != nil {
		return w.elsewhere
	}
	if w.here != nil {
		if int(w.here.Prefix) != s.Prefix {
			return &PrefixError{Addr: s.Addr, Interface: s.Interface, Have: int(w.here.Prefix), Want: s.Prefix}
		}
		switch {
		case w.here.Dad == dadDuplicate:
			// Try once more from scratch: the other host may be gone.
			if err := deleteRow(*w.here); err != nil {
				return fmt.Errorf("delete duplicate address to add it again: %w", err)
			}
		case !conformsRow(*w.here, s):
			row := w.here.native()
			if err := windows.GetUnicastIpAddressEntry(&row); err != nil {
				return fmt.Errorf("GetUnicastIpAddressEntry: %w", err)
			}
			row.ValidLifetime, row.PreferredLifetime = lifeInfinite, lifeInfinite
			row.SkipAsSource = 0
			if !s.Source {
				row.SkipAsSource = 1
			}
			if err := callRow(procSetUnicastIP, &row); err != nil {
				return fmt.Errorf("SetUnicastIpAddressEntry (to match source=%t): %w", s.Source, err)
			}
			return waitDAD(w.here.native(), s)
		default:
			return waitDAD(w.here.native(), s)
		}
	}
	row := newRow(s, w.iface).native()
	if err := callRow(procCreateUnicastIP, &row); err != nil {
		return fmt.Errorf("CreateUnicastIpAddressEntry: %w", err)
	}
	return waitDAD(row, s)
}

// waitDAD polls the row until duplicate address detection ends or dadWait
// passes. A duplicate is removed: it is the configured VIP on the
// configured interface, and unusable. An address still tentative at the end
// is left in place for Check to report.
func waitDAD(row windows.MibUnicastIpAddressRow, s Spec) error {
	end := time.Now().Add(dadWait)
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		cur := row
		if err := windows.GetUnicastIpAddressEntry(&cur); err != nil {
			return fmt.Errorf("read the address back (GetUnicastIpAddressEntry): %w", err)
		}
		done, err := dadDone(cur.DadState, s)
		var dup *duplicateError
		if errors.As(err, &dup) {
			if derr := callRow(procDeleteUnicastIP, &cur); derr == nil || errors.Is(derr, windows.ERROR_NOT_FOUND) {
				dup.Removed = true
			}
		}
		if done || time.Now().After(end) {
			return err
		}
		time.Sleep(delay)
	}
}

func deleteRow(x winAddr) error {
	row := x.native()
	if err := callRow(procDeleteUnicastIP, &row); err != nil && !errors.Is(err, windows.ERROR_NOT_FOUND) {
		return fmt.Errorf("DeleteUnicastIpAddressEntry: %w", err)
	}
	return nil
}

// del removes the VIP from its interface (see Delete).
func del(s Spec) error {
	w, _, err := locateFor(s)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return err
	}
	if w.here == nil || int(w.here.Prefix) != s.Prefix {
		return nil
	}
	return deleteRow(*w.here)
}

// check tells whether the VIP is usable (see Check); a tentative address
// wraps ErrMissing with the reason, a duplicate is ErrDuplicate.
func check(s Spec) error {
	w, _, err := locateFor(s)
	if err != nil {
		return err
	}
	if w.elsewhere != nil {
		return w.elsewhere
	}
	if why := operDown(w.iface.Oper); why != "" {
		return &interfaceDownError{Name: s.Interface, Reason: why}
	}
	if w.here == nil {
		return ErrMissing
	}
	if int(w.here.Prefix) != s.Prefix {
		return &PrefixError{Addr: s.Addr, Interface: s.Interface, Have: int(w.here.Prefix), Want: s.Prefix}
	}
	if w.here.Dad == dadDuplicate {
		return &duplicateError{Addr: s.Addr, Interface: s.Interface}
	}
	if why := dadProblem(w.here.Dad, s); why != "" {
		return fmt.Errorf("%w: %s", ErrMissing, why)
	}
	return nil
}

// Locate says where an address is: the first interface that carries it and
// its prefix length there.
func Locate(a netip.Addr) (iface string, prefix int, found bool, err error) {
	if !a.IsValid() {
		return "", 0, false, errors.New("locate address: no address given")
	}
	a = a.Unmap()
	addrs, err := unicastAddrs(a)
	if err != nil {
		return "", 0, false, fmt.Errorf("locate %s: %w", a, err)
	}
	for _, x := range addrs {
		if x.Addr.WithZone("") == a {
			ifs, _ := adapters()
			return ifaceName(ifs, x.Luid), int(x.Prefix), true, nil
		}
	}
	return "", 0, false, nil
}

// announce sends nothing on Windows: the stack announces a new address
// itself (duplicate address detection broadcasts ARP probes / neighbour
// solicitations for it), and sending raw frames would need a packet driver.
// A count above 0 is reported as unsupported, so the admin learns that
// arp_count has no effect here; count 0 is nil.
func announce(s Spec, count int, _ time.Duration) error {
	if count == 0 {
		return nil
	}
	return fmt.Errorf("%w: Windows announces the address itself when it is added (arp_count has no effect)", ErrUnsupported)
}

// lookup reports the address's facts (see Lookup) from the same rows as
// check: GetAdaptersAddresses and GetUnicastIpAddressTable. Windows keeps no
// mark of who added an address, so Marked is always false here (foundWin).
func lookup(s Spec) (Found, error) {
	w, _, err := locateFor(s)
	if err != nil {
		return Found{}, err
	}
	return foundWin(w), nil
}

// watchSettle is how long watch waits after a change notification before
// it checks: disabling an adapter, for one, can come as a run of interface
// and address notifications, and one check after the run is enough. It is
// far below any load balancer's probe interval (5 s and up).
const watchSettle = 50 * time.Millisecond

// watch follows the IP Helper API's change notifications (see Watch):
// NotifyUnicastIpAddressChange and NotifyIpInterfaceChange, both AF_UNSPEC,
// through wireguard-windows' winipcfg. winipcfg registers each notification
// once per process and passes the same package-level function to
// windows.NewCallback every time, which the Go runtime maps to the same
// callback slot, so repeated watches never use up the process's ~2000
// callbacks. The callbacks here only nudge a channel with a buffer of one.
// Address notifications for other addresses are ignored (as on Linux); any
// interface notification may concern ours (oper status, an adapter
// disabled or re-created). When ctx ends, Unregister cancels the
// notification with CancelMibChangeNotify2 once no other watch uses it.
//
// This is compile-checked only (recipes/windows.md): Wine's iphlpapi has
// long had these calls as stubs that accept the registration and never
// call back (or refuse it with ERROR_NOT_SUPPORTED), so only the loop
// (changeLoop) is tested, on Linux; TestWatchWindows runs on Windows.
func watch(ctx context.Context, s Spec, fn func(error)) error {
	kick := make(chan struct{}, 1)
	addrs, err := winipcfg.RegisterUnicastAddressChangeCallback(
		func(_ winipcfg.MibNotificationType, row *winipcfg.MibUnicastIPAddressRow) {
			if row == nil || row.Address.Addr().WithZone("") == s.Addr {
				nudge(kick)
			}
		})
	if err != nil {
		return fmt.Errorf("subscribe to address changes (NotifyUnicastIpAddressChange): %w", err)
	}
	ifs, err := winipcfg.RegisterInterfaceChangeCallback(
		func(winipcfg.MibNotificationType, *winipcfg.MibIPInterfaceRow) { nudge(kick) })
	if err != nil {
		err = fmt.Errorf("subscribe to interface changes (NotifyIpInterfaceChange): %w", err)
		if uerr := addrs.Unregister(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("cancel address notifications (CancelMibChangeNotify2): %w", uerr))
		}
		return err
	}
	fn(check(s))
	go func() {
		// Unregister errors have no one to go to: the caller is gone.
		defer func() { _ = addrs.Unregister() }()
		defer func() { _ = ifs.Unregister() }()
		changeLoop(ctx, kick, watchSettle, func() error { return check(s) }, fn)
	}()
	return nil
}

// CheckInterface finds the interface restore would use for name (the
// alias, exactly or ignoring case, or the ifIndex) and says why it cannot
// carry the VIP: not found (naming what this node has), or down. It
// returns the interface's alias.
func CheckInterface(name string) (string, error) {
	ifs, err := adapters()
	if err != nil {
		return "", &noInterfaceError{Name: name, ListErr: err}
	}
	ifc, err := matchInterface(ifs, name)
	if err != nil {
		return "", err
	}
	if why := operDown(ifc.Oper); why != "" {
		return ifc.Alias, fmt.Errorf("interface %q: %s", ifc.Alias, why)
	}
	return ifc.Alias, nil
}
