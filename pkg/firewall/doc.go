// Package firewall decides whether the host firewall lets a load balancer's
// health probe in. Read takes the rulesets from nft and iptables-save
// without changing them (the tables iptables-nft owns from iptables-save's
// text, where nft lists its xt matches without their options);
// Ruleset.Decide walks every chain a new TCP connection from a probe
// source to the probe port meets on its way in (hooked at ingress,
// prerouting and input), following jumps, gotos and returns, and says
// accept, drop (naming the rule) or undecided (naming what cannot be known
// offline: a rate limit, an ipset, an interface, which local address).
//
// The probe's first packet is a TCP SYN, state NEW and not DNATed, from a
// remote unicast source, arriving on an interface other than lo, addressed
// to a local unicast address of the node that is not loopback, without
// IPv6 extension headers: address types, loopback destinations, conntrack
// statuses and extension header matches are judged from that
// (eval_linux.go).
//
// The evaluator is Linux-only; Source is here for every OS because the
// doctor names probe sources on all of them.
package firewall

import "net/netip"

// Source is one probe source: a prefix, or any host of a family.
type Source struct {
	Prefix netip.Prefix // invalid: any host of the family
	V6     bool
}

func (s Source) String() string {
	if s.Prefix.IsValid() {
		if s.Prefix.IsSingleIP() {
			return s.Prefix.Addr().String()
		}
		return s.Prefix.String()
	}
	if s.V6 {
		return "any IPv6 host"
	}
	return "any IPv4 host"
}
