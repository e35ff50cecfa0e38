// Package vip adds, checks and deletes the virtual IP (VIP) on a local
// interface, announces it on the local link and (Linux) asks the link
// whether another host holds it (ProbeARP).
//
// The VIP is the frontend IP of the cloud load balancer. With Floating IP the
// balancer delivers packets that still carry the VIP as destination, so the
// active node must own the address for the kernel to accept them. It is
// normally a host address (/32, IPv6 /128) so that no subnet route changes.
//
// Every operation is idempotent and never touches the address on an interface
// other than the one it was given: an address found elsewhere is reported
// (*ElsewhereError), not moved.
//
// # Source address selection (Linux)
//
// By default (Spec.Source false) the VIP must never become the source address
// of the node's own outbound traffic: replies from the other node, firewalls
// and the balancer's health probes would all be confused by it. Linux has no
// per-address "skip as source" flag like Windows' SkipAsSource, so:
//
//   - IPv4: the address is added with scope host. The kernel's source
//     selection (inet_select_addr) only picks addresses whose scope is at most
//     link, so a host-scope VIP is never chosen for traffic that leaves the
//     node, while packets addressed to it are still accepted (the local route
//     does not depend on scope), ARP requests for it are answered and
//     connections to it answer from it.
//     `ip addr` shows it as "scope host".
//   - IPv6: the scope of an IPv6 address follows from the address itself and
//     cannot be set, so the address is added deprecated (preferred lifetime 0,
//     valid lifetime forever). RFC 6724 rule 3 makes source selection prefer
//     any non-deprecated address of a fitting scope, while a deprecated address
//     still accepts traffic and serves connections made to it. `ip addr` shows
//     it as "deprecated" with "preferred_lft 0sec". This is what Pacemaker's
//     IPaddr2 offers with preferred_lft=0. The kernel still falls back to a
//     deprecated address when the node has no other global IPv6 address.
//
// IPv6 addresses are added with IFA_F_NODAD ("nodad"): without it the address
// stays tentative for about a second of duplicate address detection and cannot
// be used (bind fails, packets to it are dropped), and in a cloud VNet the VIP
// is shared with the load balancer by design.
//
// With Source true the address is added like any other (scope global,
// preferred forever) and may be picked as a source.
//
// # Windows
//
// vip_windows.go uses the IP Helper API: the interface is named by its
// alias ("Ethernet 2") or index, the address is a manual, permanent row with
// SkipAsSource unless Source, and Add waits for duplicate address detection
// (a duplicate is removed and reported with its likely cause). The decisions
// are in winaddr.go, which compiles and is tested on every OS.
package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Spec says which address goes on which interface.
type Spec struct {
	Addr      netip.Addr // the VIP (IPv4 or IPv6)
	Prefix    int        // 32 or 128 normally; 1..32 (IPv4) or 1..128 (IPv6) are accepted
	Interface string     // interface name (Linux) or alias
	Source    bool       // may the VIP be chosen as source address of outbound traffic
}

// Add puts the VIP on its interface. It is idempotent: an address already
// there with the same prefix is left, after its source-selection setting
// (Linux: scope or lifetimes; Windows: SkipAsSource) is corrected to match
// s.Source. It changes nothing and returns *ElsewhereError when the address
// is on another interface, *PrefixError when it is on this one with another
// prefix, and an error wrapping ErrNoInterface when the interface does not
// exist.
//
// On Linux every address Add creates, re-creates or rewrites carries the
// mark that Lookup reports as Found.Marked, so it is known as ilbvip's even
// without the state directory. Rewriting marks an address Add did not
// create as well: a caller that must not adopt someone else's address
// calls Lookup first.
func Add(s Spec) error { return do("add vip", s, add) }

// Delete removes the VIP from its interface. An absent address or a missing
// interface is success. It only ever deletes Addr/Prefix from s.Interface:
// the address on another interface, or with another prefix, is left alone
// because this kit did not put it there.
func Delete(s Spec) error { return do("delete vip", s, del) }

// Check reports whether the VIP is usable: nil when the address is on
// s.Interface with s.Prefix and the interface is up. Otherwise the error
// wraps ErrNoInterface, ErrInterfaceDown or ErrMissing, or is (wraps) an
// *ElsewhereError or *PrefixError. An interface that is down is reported
// before a missing address, because it is the cause (IPv6 addresses vanish
// when their interface goes down) and re-adding the address will not help.
func Check(s Spec) error { return do("check vip", s, check) }

// Found is what the node has at a Spec's address: the facts restore and
// remove decide ownership on ("own only what you added").
type Found struct {
	Present   bool   // the address is on s.Interface (with any prefix)
	Prefix    int    // its prefix length there, when Present
	Marked    bool   // the OS records that ilbvip added it (Linux 5.18 and later: the address protocol, IFA_PROTO, is ProtoILBVIP); false where the OS keeps no such mark
	Finite    bool   // its valid lifetime is finite (DHCP, SLAAC, a cloud agent): someone else renews or removes it
	Primary   bool   // it looks like the node's own address there: a subnet prefix, or the interface's only global address of its family (Linux; false elsewhere)
	Elsewhere string // another interface that carries the address, "" if none
}

// Lookup reports what the node has at s.Addr on s.Interface (and whether
// another interface has it), changing nothing. Where the interface carries
// the address twice (IPv4 allows one address with several prefixes), the
// assignment with s.Prefix is the one described. A missing interface is an
// error wrapping ErrNoInterface.
func Lookup(s Spec) (Found, error) {
	var f Found
	err := do("look up vip", s, func(s Spec) (err error) { f, err = lookup(s); return err })
	return f, err
}

// Watch calls fn with Check(s)'s result at once, before it returns, and
// again after every address or interface change of this node that may
// alter it (Linux: netlink address and link notifications; Windows: the IP
// Helper API's change notifications), until ctx ends. Calls to fn never
// overlap. An error means it could not subscribe; nothing is left running
// then.
func Watch(ctx context.Context, s Spec, fn func(error)) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("watch vip %s: %w", s, err)
	}
	if err := watch(ctx, s, fn); err != nil {
		return fmt.Errorf("watch vip %s: %w", s, err)
	}
	return nil
}

// Announce tells the neighbours the VIP's new place, so ARP/ND caches
// update at once (on-premises failover; cloud VNets ignore it): count
// gratuitous ARP requests for IPv4, unsolicited Neighbor Advertisements with
// the override flag for IPv6, interval apart, so it returns within
// count*interval; count 0 sends nothing.
func Announce(s Spec, count int, interval time.Duration) error {
	if count < 0 {
		return fmt.Errorf("announce vip %s: count %d must not be negative", s, count)
	}
	return do("announce vip", s, func(s Spec) error { return announce(s, count, interval) })
}

// do validates s, runs the OS's operation and names the operation and the
// VIP in an error.
func do(op string, s Spec, fn func(Spec) error) error {
	err := s.validate()
	if err == nil {
		err = fn(s)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, s, err)
	}
	return nil
}

// String gives the spec as admins read it: "10.10.5.200/32 on eth1".
func (s Spec) String() string {
	a := "<no address>"
	if s.Addr.IsValid() {
		a = s.Addr.String()
	}
	out := fmt.Sprintf("%s/%d", a, s.Prefix)
	if s.Interface != "" {
		out += " on " + s.Interface
	}
	return out
}

// validate rejects a spec no operation could act on. Full validation with
// user-facing advice belongs to pkg/config; this guards the kernel calls.
func (s Spec) validate() error {
	switch {
	case !s.Addr.IsValid():
		return errors.New("no address given")
	case s.Addr.Zone() != "":
		return fmt.Errorf("address %s has a zone; give the interface separately", s.Addr)
	case s.Addr.Is4In6():
		return fmt.Errorf("address %s is IPv4-mapped IPv6; give it as plain IPv4", s.Addr)
	case s.Interface == "":
		return errors.New("no interface given")
	}
	if max := s.Addr.BitLen(); s.Prefix < 1 || s.Prefix > max {
		return fmt.Errorf("prefix /%d out of range 1..%d for %s", s.Prefix, max, s.Addr)
	}
	return nil
}

// Errors the operations wrap; test for them with errors.Is.
var (
	// ErrUnsupported: this OS has no implementation.
	ErrUnsupported = errors.New("virtual IP management is not supported on this operating system")
	// ErrNoInterface: the named interface does not exist. The wrapping error
	// lists the interfaces that do.
	ErrNoInterface = errors.New("interface not found")
	// ErrMissing: Check found the address absent from the interface.
	ErrMissing = errors.New("address is not on the interface")
	// ErrDuplicate: another host on the link has the address (duplicate
	// address detection failed); not ours to take over.
	ErrDuplicate = errors.New("another host on the link has the address")
	// ErrInterfaceDown: the interface exists but cannot carry traffic.
	ErrInterfaceDown = errors.New("interface is down")
)

// ElsewhereError says the address is already on another interface. Nothing
// is changed there: it may belong to someone else, or the configured
// interface may be wrong.
type ElsewhereError struct {
	Addr      netip.Addr
	Interface string // where it is
	Want      string // where it was asked for
}

func (e *ElsewhereError) Error() string {
	return fmt.Sprintf("%s is already on %s, not on %s, and ilbvip never moves an address: if the VIP belongs on %s, set interface to it; if %s is an address of the node there, set vip to the load balancer's frontend IP",
		e.Addr, e.Interface, e.Want, e.Interface, e.Addr)
}

// PrefixError says the address is on the right interface but with another
// prefix length: someone other than this kit put it there (or the prefix was
// reconfigured), so it is reported rather than changed. Most often vip names
// the node's own address, which must stay: the message therefore points at
// the configuration, never at deleting the address.
type PrefixError struct {
	Addr      netip.Addr
	Interface string
	Have      int // prefix on the interface
	Want      int // prefix asked for
}

func (e *PrefixError) Error() string {
	return fmt.Sprintf("%s is an address of this node (%s/%d on %s), not a VIP: set vip to the load balancer's frontend IP",
		e.Addr, e.Addr, e.Have, e.Interface)
}

// noInterfaceError names the missing interface and the ones that exist, so
// a typo is obvious from the message alone.
type noInterfaceError struct {
	Name    string
	Have    []string
	ListErr error // listing the interfaces failed
}

func (e *noInterfaceError) Error() string {
	if e.ListErr != nil {
		return fmt.Sprintf("interface %q not found (listing interfaces failed: %v)", e.Name, e.ListErr)
	}
	return fmt.Sprintf("interface %q not found (this node has: %s)", e.Name, strings.Join(e.Have, ", "))
}

func (e *noInterfaceError) Is(target error) bool { return target == ErrNoInterface }

// interfaceDownError names the interface and why it counts as down.
type interfaceDownError struct {
	Name   string
	Reason string // "administratively down", "no carrier (oper state down)"...
}

func (e *interfaceDownError) Error() string {
	return fmt.Sprintf("interface %s is down: %s: bring it up (a cable, the cloud NIC, ip link set %s up) or set interface to the NIC that carries the VIP", e.Name, e.Reason, e.Name)
}

func (e *interfaceDownError) Is(target error) bool { return target == ErrInterfaceDown }
