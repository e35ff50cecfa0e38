//go:build !windows

package resource

// loopbackRule is the rule that lets the self-probe in.
const loopbackRule = "iif lo accept (nft insert rule FAMILY TABLE CHAIN iif lo accept), or iptables -I INPUT -i lo -j ACCEPT"
