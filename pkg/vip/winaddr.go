package vip

// The OS-independent half of vip_windows.go: choosing the interface,
// locating the address, building the address row and reading duplicate
// address detection. It compiles everywhere so that it is unit-tested on
// Linux; vip_windows.go only converts between these types and the iphlpapi
// structures and makes the calls.

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Windows address families (ws2def.h). AF_INET6 is 23 there, not Linux's 10;
// vip_windows.go asserts both against x/sys/windows at compile time.
const (
	winAFInet  = 2
	winAFInet6 = 23
)

// sockaddrInetSize is sizeof(SOCKADDR_INET): the union of SOCKADDR_IN (16
// bytes) and SOCKADDR_IN6 (28 bytes).
const sockaddrInetSize = 28

// sockaddrInet encodes a as a SOCKADDR_INET with port 0: family
// (little-endian), port (network order), then for IPv4 the address and 8
// zero bytes, for IPv6 the flow info, the address and the scope id (0: the
// interface is named by the row's LUID).
func sockaddrInet(a netip.Addr) [sockaddrInetSize]byte {
	var b [sockaddrInetSize]byte
	if a.Is4() {
		binary.LittleEndian.PutUint16(b[0:2], winAFInet)
		v4 := a.As4()
		copy(b[4:8], v4[:])
		return b
	}
	binary.LittleEndian.PutUint16(b[0:2], winAFInet6)
	v6 := a.As16()
	copy(b[8:24], v6[:])
	return b
}

// parseSockaddrInet decodes a SOCKADDR_INET; ok is false for a family that
// is neither IPv4 nor IPv6. An IPv6 scope id becomes the address's zone.
func parseSockaddrInet(b [sockaddrInetSize]byte) (a netip.Addr, ok bool) {
	switch binary.LittleEndian.Uint16(b[0:2]) {
	case winAFInet:
		return netip.AddrFrom4([4]byte(b[4:8])), true
	case winAFInet6:
		a = netip.AddrFrom16([16]byte(b[8:24]))
		if scope := binary.LittleEndian.Uint32(b[24:28]); scope != 0 {
			a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
		}
		return a, true
	}
	return netip.Addr{}, false
}

// NL_DAD_STATE values (nldef.h).
const (
	dadInvalid    = 0
	dadTentative  = 1
	dadDuplicate  = 2
	dadDeprecated = 3
	dadPreferred  = 4
)

// NL_PREFIX_ORIGIN / NL_SUFFIX_ORIGIN "manual": an address an administrator
// (here: the kit) configured, as New-NetIPAddress does.
const (
	originManual = 1
	lifeInfinite = 0xffffffff // ValidLifetime/PreferredLifetime "infinite"
)

// IF_OPER_STATUS values (ifdef.h) that mean the interface cannot carry
// traffic; Up, Testing, Unknown and Dormant count as up, as on Linux.
const (
	ifOperDown           = 2
	ifOperNotPresent     = 6
	ifOperLowerLayerDown = 7
)

// winIface is one interface as GetAdaptersAddresses reports it.
type winIface struct {
	Index uint32 // IfIndex (IPv4) or Ipv6IfIndex; the same on current Windows
	Luid  uint64
	Alias string // FriendlyName, "Ethernet 2"
	Oper  uint32 // IF_OPER_STATUS
}

// winAddr is one unicast address row (MIB_UNICASTIPADDRESS_ROW), reduced to
// what the kit reads and writes. vip_windows.go converts it to and from the
// x/sys/windows row.
type winAddr struct {
	Addr         netip.Addr
	Luid         uint64
	Index        uint32
	PrefixOrigin uint32
	SuffixOrigin uint32
	Valid        uint32 // ValidLifetime, seconds
	Preferred    uint32 // PreferredLifetime, seconds
	Prefix       uint8  // OnLinkPrefixLength
	SkipAsSource bool
	Dad          uint32 // NL_DAD_STATE; read only
}

// newRow is the row Add creates for s on ifc: a manual, permanent address
// with the spec's prefix, kept out of source address selection unless
// s.Source (SkipAsSource is Windows' own per-address switch for this).
func newRow(s Spec, ifc winIface) winAddr {
	return winAddr{
		Addr:         s.Addr,
		Luid:         ifc.Luid,
		Index:        ifc.Index,
		PrefixOrigin: originManual,
		SuffixOrigin: originManual,
		Valid:        lifeInfinite,
		Preferred:    lifeInfinite,
		Prefix:       uint8(s.Prefix),
		SkipAsSource: !s.Source,
	}
}

// conformsRow reports whether an address already on the interface is what
// Add would create, apart from the prefix (checked before): permanent and
// with the asked source behaviour.
func conformsRow(x winAddr, s Spec) bool {
	return x.Valid == lifeInfinite && x.SkipAsSource == !s.Source
}

// matchInterface picks the interface named by want: its alias exactly, else
// its alias ignoring case (Windows compares aliases without case), else, when
// want is a number, its interface index. An alias wins over an index, so an
// adapter an admin named "12" is still found by that name.
func matchInterface(ifs []winIface, want string) (winIface, error) {
	for _, ifc := range ifs {
		if ifc.Alias == want {
			return ifc, nil
		}
	}
	var fold []winIface
	for _, ifc := range ifs {
		if strings.EqualFold(ifc.Alias, want) {
			fold = append(fold, ifc)
		}
	}
	if len(fold) == 1 {
		return fold[0], nil
	}
	if len(fold) > 1 {
		return winIface{}, fmt.Errorf("interface %q matches %s ignoring case: give the alias exactly", want, aliasList(fold))
	}
	if idx, err := strconv.ParseUint(want, 10, 32); err == nil && idx > 0 {
		for _, ifc := range ifs {
			if ifc.Index == uint32(idx) {
				return ifc, nil
			}
		}
	}
	return winIface{}, &noInterfaceError{Name: want, Have: aliasNames(ifs)}
}

// aliasNames lists aliases with their index, so an admin can use either.
func aliasNames(ifs []winIface) []string {
	out := make([]string, 0, len(ifs))
	for _, ifc := range ifs {
		out = append(out, fmt.Sprintf("%q (index %d)", ifc.Alias, ifc.Index))
	}
	return out
}

func aliasList(ifs []winIface) string { return strings.Join(aliasNames(ifs), ", ") }

// ifaceName names the interface with luid for messages.
func ifaceName(ifs []winIface, luid uint64) string {
	for _, ifc := range ifs {
		if ifc.Luid == luid {
			return ifc.Alias
		}
	}
	return fmt.Sprintf("interface LUID %#x", luid)
}

// winWhere is what the system has for a spec: the interface, the address on
// it (nil when absent), or the first other interface carrying it.
type winWhere struct {
	iface     winIface
	here      *winAddr
	elsewhere *ElsewhereError
}

// locateWin finds s's interface among ifs and s's address among addrs.
func locateWin(ifs []winIface, addrs []winAddr, s Spec) (winWhere, error) {
	var w winWhere
	ifc, err := matchInterface(ifs, s.Interface)
	if err != nil {
		return w, err
	}
	w.iface = ifc
	for i := range addrs {
		x := addrs[i]
		if x.Addr.WithZone("") != s.Addr {
			continue
		}
		if x.Luid == ifc.Luid {
			w.here = &x
		} else if w.elsewhere == nil {
			w.elsewhere = &ElsewhereError{Addr: s.Addr, Interface: ifaceName(ifs, x.Luid), Want: s.Interface}
		}
	}
	return w, nil
}

// operDown says why an interface in oper status st cannot carry traffic, or
// "" when it can.
func operDown(st uint32) string {
	switch st {
	case ifOperDown:
		return "oper status down (disconnected or disabled)"
	case ifOperNotPresent:
		return "oper status not present (adapter missing or disabled)"
	case ifOperLowerLayerDown:
		return "oper status lower layer down"
	}
	return ""
}

// duplicateError is an address that Windows' duplicate address detection
// refused: another host on the link answers for it. With a cloud load
// balancer that host is the fabric itself.
type duplicateError struct {
	Addr      netip.Addr
	Interface string
	Removed   bool // Add removed the address again
}

func (e *duplicateError) Error() string {
	msg := fmt.Sprintf("Windows marks %s on %q as a duplicate (another host answers for it); "+
		"the likely cause: %q is the NIC in the load balancer's backend pool, where the cloud fabric owns the frontend IP: "+
		"put the VIP on a NIC that is not in the backend pool", e.Addr, e.Interface, e.Interface)
	if e.Removed {
		msg += "; the address was removed again"
	}
	return msg
}

func (e *duplicateError) Is(target error) bool { return target == ErrDuplicate }

// dadDone reads a duplicate address detection state after Add: done with
// nil when the address is usable, not done while it is tentative, and done
// with an error when it is a duplicate or invalid.
func dadDone(state uint32, s Spec) (done bool, err error) {
	switch state {
	case dadPreferred, dadDeprecated:
		return true, nil
	case dadTentative:
		return false, nil
	case dadDuplicate:
		return true, &duplicateError{Addr: s.Addr, Interface: s.Interface}
	}
	return true, fmt.Errorf("address is in duplicate address detection state %d (invalid)", state)
}

// dadProblem says why an address that is present cannot be used yet, for
// Check: "" when it can.
func dadProblem(state uint32, s Spec) string {
	switch state {
	case dadPreferred, dadDeprecated:
		return ""
	case dadTentative:
		return "it is still tentative (duplicate address detection running)"
	case dadDuplicate:
		return (&duplicateError{Addr: s.Addr, Interface: s.Interface}).Error()
	}
	return fmt.Sprintf("its duplicate address detection state is %d (invalid)", state)
}

// foundWin is Lookup's answer from what locateWin found among the rows.
// Marked is always false: Windows keeps no record of who created an
// address (PrefixOrigin/SuffixOrigin "manual" is what every admin's
// New-NetIPAddress sets too), so ownership cannot be read back from the
// row. Finite is a ValidLifetime other than infinite: DHCP, router
// advertisements or an agent gave the address a lease and will renew or
// remove it.
func foundWin(w winWhere) Found {
	var f Found
	if w.here != nil {
		f.Present = true
		f.Prefix = int(w.here.Prefix)
		f.Finite = w.here.Valid != lifeInfinite
	}
	if w.elsewhere != nil {
		f.Elsewhere = w.elsewhere.Interface
	}
	return f
}

// nudge records that something changed, without blocking: the IP Helper
// API's notification callbacks run on the OS's threads and must return at
// once. kick has a buffer of one, so a nudge already pending covers this one.
func nudge(kick chan<- struct{}) {
	select {
	case kick <- struct{}{}:
	default:
	}
}

// changeLoop is watch's loop without the subscriptions: after each nudge
// on kick it waits settle, drops the nudges that came meanwhile (the check
// that follows sees their changes) and calls fn(check()), until ctx ends.
// fn runs only here, so calls never overlap, and changes that arrive while
// a check runs fold into one more check.
func changeLoop(ctx context.Context, kick <-chan struct{}, settle time.Duration, check func() error, fn func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		if settle > 0 {
			t := time.NewTimer(settle)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			select {
			case <-kick:
			default:
			}
		}
		if ctx.Err() != nil {
			return // select picks at random when both were ready
		}
		fn(check())
	}
}
