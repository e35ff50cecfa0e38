package firewall

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// The fix the doctor prints for a drop works on a real packet: in a
// namespace holding the ruleset, a TCP connection from the probe source
// fails before the fix and connects after it, and the doctor then
// accepts. Besides every drop of the golden rulesets, the cases a fresh
// user found: an allow that ufw holds already but behind a deny (ufw
// skips adding it again), an IPv6 deny under ufw (`insert 1` is an IPv4
// position), a drop an admin added to ufw's before.rules (ahead of every
// ufw command's rule) and a reject for one interface ahead of a drop
// policy (an accept appended at the end comes too late).
func TestFixesLetTheProbeIn(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "nft", "iptables-restore", "iptables-save", "ip6tables-save")
	type fixCase struct {
		name  string
		build func(*testing.T, *testenv.NS) string
		src   string
		port  uint16
	}
	var cases []fixCase
	for _, tc := range goldenCases {
		for _, p := range probes {
			if tc.want[fmt.Sprintf("host %s %d", p.src, p.port)] == Drop {
				cases = append(cases, fixCase{tc.name, tc.build, p.src, p.port})
			}
		}
	}
	if len(cases) < 5 {
		t.Errorf("only %d drops in the golden cases: they lost theirs", len(cases))
	}
	denyThenAllow := ufwRules("", "deny 12345/tcp", "allow proto tcp from 168.63.129.16 to any port 12345")
	cases = append(cases,
		fixCase{"ufw allow behind a deny", denyThenAllow, "168.63.129.16/32", 12345},
		fixCase{"ufw IPv6 deny", ufwRules("", "deny 12345/tcp"), "any6", 12345},
		fixCase{"ufw deny from the probe source, IPv4", ufwRules("", "deny from 168.63.129.16 to any port 12345 proto tcp"), "168.63.129.16/32", 12345},
		fixCase{"ufw allow after a deny of the same port, IPv6", ufwRules("", "deny 12345/tcp", "allow proto tcp from fd00::/8 to any port 12345"), "any6", 12345},
		fixCase{"ufw before.rules drop", ufwRules("-A ufw-before-input -p tcp --dport 12345 -j DROP\n",
			"allow proto tcp from 168.63.129.16 to any port 12345"), "168.63.129.16/32", 12345},
		fixCase{"ufw reject on one interface", ufwRules("", "reject in on eth0 to any port 12345 proto tcp"), "168.63.129.16/32", 12345},
		fixCase{"nft reject on one interface, policy drop", nftRules(`table inet f {
	chain in {
		type filter hook input priority 0; policy drop;
		iifname "eth0" tcp dport 12345 reject with tcp reset
	}
}
`), "168.63.129.16/32", 12345},
	)
	cases = append(cases,
		fixCase{"iptables-nft drop written with iptables", commands([]string{"iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "12345", "-j", "DROP"}), "168.63.129.16/32", 12345},
		fixCase{"nft policy drop", nftRules("table inet filter {\n\tchain input {\n\t\ttype filter hook input priority 0; policy drop;\n\t\tct state established,related accept\n\t\tmeta l4proto ipv6-icmp accept\n\t}\n}\n"), "any6", 12345},
	)
	cases = append(cases,
		fixCase{"RHEL iptables-services with flag hardening, nf_tables", iptablesNftRestore(rhelHardened), "168.63.129.16/32", 12345},
		fixCase{"probe port exempted from conntrack (notrack), state NEW accepted", iptablesNftRestore(notrackRules), "168.63.129.16/32", 12345},
		fixCase{"nft policy drop after a goto", nftRules(gotoRules), "168.63.129.16/32", 12345},
	)
	for _, fc := range cases {
		t.Run(fmt.Sprintf("%s %s %d", fc.name, fc.src, fc.port), func(t *testing.T) {
			node, prober := probeBed(t)
			dir := fc.build(t, node)
			ln := listen(t, node, fc.port)
			defer ln.Close()
			v := hostVerdict(Read(context.Background(), nsTools(node)).Rulesets, fc.src, fc.port)
			if v.Decision != Drop || v.Fix == "" {
				t.Fatalf("before the fix: %s at %s, fix %q", v.Decision, v.Where, v.Fix)
			}
			if err := connect(t, prober, fc.src, fc.port); err == nil {
				t.Fatalf("before the fix a probe connected, though the doctor says %s at %s", v.Decision, v.Where)
			}
			runFix(t, node, v.Fix, dir)
			if err := connect(t, prober, fc.src, fc.port); err != nil {
				t.Errorf("after %q the probe fails: %v", v.Fix, err)
			}
			after := hostVerdict(Read(context.Background(), nsTools(node)).Rulesets, fc.src, fc.port)
			if after.Decision != Accept {
				t.Errorf("after %q the doctor says %s at %s (%s)", v.Fix, after.Decision, after.Where, after.Why)
			}
			if want := "/etc/ufw/before.rules, as the line '-A ufw-before-input -s 168.63.129.16 -p tcp --dport 12345 -j ACCEPT' above the one that drops it"; strings.HasPrefix(fc.name, "ufw before.rules") && !strings.Contains(v.KeepIn, want) {
				t.Errorf("keep in %q, want %q", v.KeepIn, want)
			}
			if v.Persists != strings.HasPrefix(v.Fix, "ufw ") || v.Persists == (v.KeepIn != "") {
				t.Errorf("fix %q: Persists %v, KeepIn %q", v.Fix, v.Persists, v.KeepIn)
			}
		})
	}
}

// rhelHardened is RHEL's iptables-services default with the usual
// hardening on TCP flags in front: the REJECT at the end drops the probe.
const rhelHardened = `*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp ! --syn -m state --state NEW -j DROP
-A INPUT -p tcp --tcp-flags FIN,SYN FIN,SYN -j DROP
-A INPUT -p tcp --tcp-flags ALL NONE -j DROP
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-host-prohibited
COMMIT
`

// notrackRules accept the probe port for state NEW, but the raw table
// exempts it from tracking, so it is UNTRACKED and meets the REJECT.
const notrackRules = `*raw
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp --dport 12345 -j CT --notrack
COMMIT
*filter
:INPUT ACCEPT [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 12345 -j ACCEPT
-A INPUT -j REJECT --reject-with icmp-port-unreachable
COMMIT
`

// gotoRules leave the input chain by a goto: a rule appended to it is
// never reached.
const gotoRules = `table inet filter {
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept
		goto services
	}
	chain services {
		tcp dport 22 accept
	}
}
`

// iptablesNftRestore loads iptables-save text with iptables-nft-restore.
func iptablesNftRestore(text string) func(*testing.T, *testenv.NS) string {
	return fed(text, "iptables-nft-restore")
}

// commands runs commands in the namespace.
func commands(cmds ...[]string) func(*testing.T, *testenv.NS) string {
	return func(t *testing.T, ns *testenv.NS) string {
		for _, c := range cmds {
			ns.MustRun(t, c[0], c[1:]...)
		}
		return ""
	}
}

// nftRules loads an nft ruleset (text) into the namespace.
func nftRules(text string) func(*testing.T, *testenv.NS) string { return fed(text, "nft", "-f", "-") }

// Addresses of the probe bed: the node's eth0, and the prober's own
// address and the probe sources it sends from.
var (
	nodeAddr4 = netip.MustParseAddr("10.0.0.2")
	nodeAddr6 = netip.MustParseAddr("fd00::2")
	proberV6  = "fd00::1"
)

// probeBed is a node namespace and a prober namespace joined by a veth
// (eth0 on both sides), the prober holding the probe sources.
func probeBed(t *testing.T) (node, prober *testenv.NS) {
	node, prober = testenv.NewNS(t), testenv.NewNS(t)
	node.Veth(t, "eth0", "10.0.0.2/24", prober, "eth0", "10.0.0.1/24")
	node.MustRun(t, "ip", "addr", "add", "fd00::2/64", "dev", "eth0", "nodad")
	prober.MustRun(t, "ip", "addr", "add", proberV6+"/64", "dev", "eth0", "nodad")
	for _, a := range []string{"168.63.129.16/32", "192.0.2.1/32"} {
		prober.MustRun(t, "ip", "addr", "add", a, "dev", "eth0")
		node.MustRun(t, "ip", "route", "add", a, "via", "10.0.0.1")
	}
	return node, prober
}

// listen accepts (and closes) connections to port on every address of
// ns until the listener is closed.
func listen(t *testing.T, ns *testenv.NS, port uint16) net.Listener {
	var ln net.Listener
	ns.Do(t, func() {
		var err error
		if ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); err != nil {
			t.Fatal(err)
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// connect opens a TCP connection from the probe source src ("any6": the
// prober's IPv6 address) to the node, giving up after a second.
func connect(t *testing.T, prober *testenv.NS, src string, port uint16) error {
	from, to := strings.TrimSuffix(src, "/32"), nodeAddr4
	if src == "any6" {
		from, to = proberV6, nodeAddr6
	}
	var err error
	prober.Do(t, func() {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		var c net.Conn
		if c, err = d.Dial("tcp", netip.AddrPortFrom(to, port).String()); err == nil {
			c.Close()
		}
	})
	// A drop times out; a reject is refused, or (icmp-host-prohibited)
	// has no route to host.
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, syscall.ECONNREFUSED) &&
		!errors.Is(err, syscall.EHOSTUNREACH) && !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("probe from %s: %v (the bed, not the firewall?)", from, err)
	}
	return err
}

// runFix runs the doctor's fix in ns: one or more commands separated by
// "; ", ufw's on the test's rule files.
func runFix(t *testing.T, ns *testenv.NS, fix, ufwDir string) {
	t.Helper()
	for _, cmd := range strings.Split(fix, "; ") {
		if rest, ok := strings.CutPrefix(cmd, "ufw "); ok {
			runUFW(t, ns, ufwDir, rest)
			continue
		}
		args := strings.Fields(cmd)
		ns.MustRun(t, args[0], args[1:]...)
	}
}
