package vip

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpTries bounds the retries of a netlink dump that the kernel marks as
// interrupted (NLM_F_DUMP_INTR: addresses or links changed mid-dump, so the
// result may be inconsistent). A few tries are enough unless something is
// rewriting the tables in a loop, which is worth an error.
const dumpTries = 5

// retryDump runs a netlink dump again while it comes back interrupted.
func retryDump[T any](fn func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpTries {
		v, err = fn()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("netlink dump interrupted %d times in a row by concurrent changes: %w", dumpTries, err)
}

// foreverLft is the lifetime the kernel reads as "forever" (INFINITY_LIFE_TIME).
const foreverLft = math.MaxUint32

// Interfaces lists the names of the interfaces of this node (in its network
// namespace), in index order.
func Interfaces() ([]string, error) {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names, nil
}

// linkByName finds an interface; a missing one is a noInterfaceError.
func linkByName(name string) (netlink.Link, error) {
	// Longer names cannot exist and the kernel rejects them with a less
	// helpful error than "not found".
	if len(name) < unix.IFNAMSIZ {
		l, err := retryDump(func() (netlink.Link, error) { return netlink.LinkByName(name) })
		if err == nil {
			return l, nil
		}
		if !errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil, fmt.Errorf("look up interface %q: %w", name, err)
		}
	}
	have, lerr := Interfaces()
	return nil, &noInterfaceError{Name: name, Have: have, ListErr: lerr}
}

// linkName names an interface by index, for messages.
func linkName(index int) string {
	if l, err := netlink.LinkByIndex(index); err == nil {
		return l.Attrs().Name
	}
	return fmt.Sprintf("ifindex %d", index)
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// findAddr returns every assignment of a on any interface.
func findAddr(a netip.Addr) ([]kaddr, error) {
	all, err := dumpAddrs(family(a))
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []kaddr
	for _, x := range all {
		if x.ip == a {
			out = append(out, x)
		}
	}
	return out, nil
}

// where is what the kernel has for s: the interface and the address on it
// (nil when absent), or the first other interface carrying it.
type where struct {
	link      netlink.Link
	here      *kaddr
	elsewhere *ElsewhereError
}

func locateFor(s Spec) (where, error) {
	var w where
	link, err := linkByName(s.Interface)
	if err != nil {
		return w, err
	}
	w.link = link
	found, err := findAddr(s.Addr)
	if err != nil {
		return w, err
	}
	for i := range found {
		x := found[i]
		// IPv4 allows the same address twice on one interface with
		// different prefixes (the node's /24 and a /32): s's own one wins.
		if x.index == link.Attrs().Index {
			if w.here == nil || x.prefix == s.Prefix {
				w.here = &x
			}
		} else if w.elsewhere == nil {
			w.elsewhere = &ElsewhereError{Addr: s.Addr, Interface: linkName(x.index), Want: s.Interface}
		}
	}
	return w, nil
}

// desired is the address as Add puts it, marked as ilbvip's; see the
// package comment for why scope and lifetimes depend on Source.
func desired(s Spec) kaddr {
	a := kaddr{ip: s.Addr, prefix: s.Prefix, valid: foreverLft, preferred: foreverLft, proto: ProtoILBVIP}
	switch {
	case s.Addr.Is4() && !s.Source:
		a.scope = unix.RT_SCOPE_HOST
	case s.Addr.Is4():
		a.scope = unix.RT_SCOPE_UNIVERSE
	default:
		// The kernel derives IPv6 scope from the address and ignores this.
		a.scope = unix.RT_SCOPE_UNIVERSE
		a.flags = unix.IFA_F_NODAD
		if !s.Source {
			a.preferred = 0 // deprecated
		}
	}
	return a
}

// conforms reports whether an address already on the interface has the
// shape Add would give it, so Add can leave it alone.
func conforms(x kaddr, s Spec) bool {
	if x.valid != foreverLft {
		return false // would expire
	}
	if s.Addr.Is4() {
		want := unix.RT_SCOPE_UNIVERSE
		if !s.Source {
			want = unix.RT_SCOPE_HOST
		}
		return x.scope == want
	}
	if x.flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
		return false // not usable yet, or never
	}
	if s.Source {
		return x.preferred == foreverLft && x.flags&unix.IFA_F_DEPRECATED == 0
	}
	return x.preferred == 0 && x.flags&unix.IFA_F_DEPRECATED != 0
}

// add puts the VIP on its interface (see Add); every address it creates,
// re-creates or replaces carries the mark ProtoILBVIP.
func add(s Spec) error {
	w, err := locateFor(s)
	if err != nil {
		return err
	}
	if w.elsewhere != nil {
		return w.elsewhere
	}
	want, index := desired(s), w.link.Attrs().Index
	if w.here == nil {
		if err := writeAddr(index, want, unix.NLM_F_CREATE|unix.NLM_F_EXCL); err != nil {
			if errors.Is(err, unix.EINVAL) && s.Prefix < s.Addr.BitLen() && !s.Source {
				// The kernel wants one scope per subnet: the node's own
				// address there is scope global, a VIP with source false
				// is scope host.
				return fmt.Errorf("netlink add address: %w (a VIP with a subnet prefix in the subnet of an address of %s cannot be kept from being a source: use prefix %d, or source: true)", err, s.Interface, s.Addr.BitLen())
			}
			return fmt.Errorf("netlink add address: %w", err)
		}
		return nil
	}
	if w.here.prefix != s.Prefix {
		return &PrefixError{Addr: s.Addr, Interface: s.Interface, Have: w.here.prefix, Want: s.Prefix}
	}
	if conforms(*w.here, s) {
		return nil
	}
	// A replace updates IPv6 flags and lifetimes in place, but the kernel
	// keeps an IPv4 address's scope on replace, and a tentative or failed
	// IPv6 address only becomes usable when added again with NODAD: those
	// are deleted and added, a moment without the address.
	replaceable := s.Addr.Is6() && w.here.flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0
	if s.Addr.Is4() && w.here.scope == want.scope {
		replaceable = true // only the lifetime differs
	}
	if replaceable {
		if err := writeAddr(index, want, unix.NLM_F_CREATE|unix.NLM_F_REPLACE); err != nil {
			return fmt.Errorf("netlink replace address (to match source=%t): %w", s.Source, err)
		}
		return nil
	}
	if err := netlink.AddrDel(w.link, &netlink.Addr{IPNet: w.here.ipNet()}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("netlink delete address to re-add it with source=%t: %w", s.Source, err)
	}
	if err := writeAddr(index, want, unix.NLM_F_CREATE|unix.NLM_F_EXCL); err != nil {
		return fmt.Errorf("netlink re-add address with source=%t: %w", s.Source, err)
	}
	return nil
}

// del removes the VIP from its interface (see Delete).
func del(s Spec) error {
	w, err := locateFor(s)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return err
	}
	if w.here == nil || w.here.prefix != s.Prefix {
		return nil
	}
	// EADDRNOTAVAIL: someone removed it since we looked; that is the goal.
	if err := netlink.AddrDel(w.link, &netlink.Addr{IPNet: w.here.ipNet()}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("netlink delete address: %w", err)
	}
	return nil
}

// check tells whether the VIP is usable (see Check).
func check(s Spec) error {
	w, err := locateFor(s)
	if err != nil {
		return err
	}
	if w.elsewhere != nil {
		return w.elsewhere
	}
	if err := linkUp(w.link); err != nil {
		return err
	}
	if w.here == nil {
		return ErrMissing
	}
	if w.here.prefix != s.Prefix {
		return &PrefixError{Addr: s.Addr, Interface: s.Interface, Have: w.here.prefix, Want: s.Prefix}
	}
	switch {
	case w.here.flags&unix.IFA_F_DADFAILED != 0:
		return fmt.Errorf("%w: it failed duplicate address detection: find the host that has it and remove it there", ErrDuplicate)
	case w.here.flags&unix.IFA_F_TENTATIVE != 0:
		return fmt.Errorf("%w: it is still tentative (duplicate address detection running)", ErrMissing)
	}
	return nil
}

// linkUp returns an interfaceDownError unless the interface is
// administratively up and its operational state allows traffic. "unknown"
// counts as up: lo and many virtual drivers never report anything else.
func linkUp(l netlink.Link) error {
	a := l.Attrs()
	if a.Flags&net.FlagUp == 0 {
		return &interfaceDownError{Name: a.Name, Reason: "administratively down (IFF_UP off)"}
	}
	switch a.OperState {
	case netlink.OperDown, netlink.OperLowerLayerDown, netlink.OperNotPresent:
		return &interfaceDownError{Name: a.Name, Reason: fmt.Sprintf("oper state %s (no carrier or lower layer down)", a.OperState)}
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
	xs, err := findAddr(a)
	if err != nil {
		return "", 0, false, fmt.Errorf("locate %s: %w", a, err)
	}
	if len(xs) == 0 {
		return "", 0, false, nil
	}
	return linkName(xs[0].index), xs[0].prefix, true, nil
}

// ProtoILBVIP is the address protocol (IFA_PROTO, Linux 5.18 and later)
// that marks an address as added by ilbvip, so that after a lost state
// directory remove still tells the VIP it added from an address someone
// else put there (`ip addr add` leaves the protocol 0). The kernel reserves
// 0..3 (IFAPROT_UNSPEC, KERNEL_LO, KERNEL_RA, KERNEL_LL) and iproute2 names
// no other value; 0x69 (105, ASCII 'i') is also absent from iproute2's
// route protocol table (rt_protos), whose numbers tools like keepalived or
// bird might reuse for their addresses. iproute2 6.3 and later print it as
// the address's "proto"; a line "105 ilbvip" in
// /etc/iproute2/rt_addrprotos.d/ilbvip.conf names it there.
const ProtoILBVIP = 0x69

// primary reports whether x looks like the node's own address on its
// interface: a subnet prefix, or — for a host prefix ilbvip did not mark —
// the preferred source of a route through the interface, or its only
// global address of that family when it routes beyond its link (a default
// or gateway route: a cloud node's /32 on eth0).
// Such an address is never to be deleted, nor advised to be.
func primary(x kaddr) (bool, error) {
	switch {
	case x.prefix < x.ip.BitLen():
		return true, nil
	case x.proto == ProtoILBVIP || x.scope != unix.RT_SCOPE_UNIVERSE:
		return false, nil
	}
	routes, err := retryDump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(family(x.ip), &netlink.Route{LinkIndex: x.index}, netlink.RT_FILTER_OIF)
	})
	if err != nil {
		return false, fmt.Errorf("list routes: %w", err)
	}
	beyond := false // the interface routes beyond its link
	for _, r := range routes {
		if r.Src != nil && r.Src.Equal(net.IP(x.ip.AsSlice())) {
			return true, nil // the node's source address (DHCP's default route says so)
		}
		beyond = beyond || r.Gw != nil || r.Dst == nil
	}
	if beyond && sourceFor(x.ip) == x.ip {
		return true, nil // what the kernel picks as source to leave the node
	}
	if !beyond {
		return false, nil
	}
	all, err := dumpAddrs(family(x.ip))
	if err != nil {
		return false, fmt.Errorf("list addresses: %w", err)
	}
	for _, y := range all {
		if y.index == x.index && y.ip != x.ip && y.scope == unix.RT_SCOPE_UNIVERSE && !y.ip.IsLinkLocalUnicast() {
			return false, nil // another global address: that one is the node's
		}
	}
	return true, nil
}

// sourceFor is the source address the kernel would give traffic from this
// node to an off-link destination of a's family (a route lookup in the
// documentation ranges, RFC 5737 and RFC 3849: nothing is sent); invalid
// when there is no route.
func sourceFor(a netip.Addr) netip.Addr {
	dst := net.ParseIP("203.0.113.1")
	if a.Is6() {
		dst = net.ParseIP("2001:db8::1")
	}
	routes, err := netlink.RouteGet(dst)
	if err != nil || len(routes) == 0 || routes[0].Src == nil {
		return netip.Addr{}
	}
	src, _ := netip.AddrFromSlice(routes[0].Src)
	return src.Unmap()
}

// lookup reports the address's facts (see Lookup) from the same dump that
// add, del and check decide on.
func lookup(s Spec) (Found, error) {
	w, err := locateFor(s)
	if err != nil {
		return Found{}, err
	}
	var f Found
	if x := w.here; x != nil {
		f = Found{Present: true, Prefix: x.prefix, Marked: x.proto == ProtoILBVIP, Finite: x.valid != foreverLft}
		if f.Primary, err = primary(*x); err != nil {
			return Found{}, err
		}
	}
	if w.elsewhere != nil {
		f.Elsewhere = w.elsewhere.Interface
	}
	return f, nil
}
