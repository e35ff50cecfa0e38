package doctor

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// These tests make every check pass and fail for real, inside network
// namespaces they create: the rules, sysctls, addresses and listeners all
// live and die with the namespace; the host's own are never changed.

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := lookPath(name); err == nil {
		return
	}
	if testenv.InCI() {
		t.Fatalf("%s is not installed (scripts/install-test-deps.sh installs it)", name)
	}
	t.Skipf("%s is not installed", name)
}

// nsNode is a node namespace with eth1 (a veth whose peer stays inside),
// 10.0.1.2/24, for the VIP.
func nsNode(t *testing.T) *testenv.NS {
	t.Helper()
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "eth1", "eth1p")
	ns.MustRun(t, "ip", "addr", "add", "10.0.1.2/24", "dev", "eth1")
	return ns
}

func sysctl(t *testing.T, ns *testenv.NS, kv ...string) {
	t.Helper()
	for _, s := range kv {
		ns.MustRun(t, "sysctl", "-qw", s)
	}
}

// testConfig is a resource with a VIP on eth1.
func testConfig(mod func(*config.Config)) *config.Config {
	c := &config.Config{Tag: "lbhc-12345", Port: 12345, Protocol: "tcp", VIP: netip.MustParseAddr("10.10.5.200"),
		Prefix: 32, Interface: "eth1", StateDir: "/nonexistent", Allow: prefixes("168.63.129.16/32")}
	if mod != nil {
		mod(c)
	}
	return c
}

// runCheck builds the node view as Run does and runs one check inside ns.
func runCheck(t *testing.T, ns *testenv.NS, c *config.Config, env Env, running bool, check func(*node) Check) Check {
	t.Helper()
	fillDefaults(&env)
	n := &node{c: c, env: env, running: running, cloud: detectCloud(env.DMI)}
	n.sources = probeSources(c, n.cloud)
	var ck Check
	ns.Do(t, func() { ck = check(n) })
	return ck
}

func expect(t *testing.T, ck Check, want Status, text string) {
	t.Helper()
	if ck.Status != want || !strings.Contains(ck.Found, text) {
		t.Errorf("%s: got %s %q (fix %q), want %s containing %q", ck.Name, ck.Status, ck.Found, ck.Fix, want, text)
	}
	if (ck.Status == Fail || ck.Status == Warn) && ck.Fix == "" {
		t.Errorf("%s: %s without a fix", ck.Name, ck.Status)
	}
}

func TestInterfaceCheck(t *testing.T) {
	for _, tc := range []struct {
		name, iface string
		prep        func(*testing.T, *testenv.NS)
		want        Status
		text        string
	}{
		{"up", "eth1", nil, OK, "exists and is up"},
		{"missing", "eth9", nil, Fail, `"eth9" does not exist (this node has: lo, eth1`},
		{"admin down", "eth1", func(t *testing.T, ns *testenv.NS) { ns.MustRun(t, "ip", "link", "set", "eth1", "down") }, Fail, "administratively down"},
		{"no carrier", "eth1", func(t *testing.T, ns *testenv.NS) { ns.MustRun(t, "ip", "link", "set", "eth1p", "down") }, Fail, "no carrier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nsNode(t)
			if tc.prep != nil {
				tc.prep(t, ns)
			}
			c := testConfig(func(c *config.Config) { c.Interface = tc.iface })
			expect(t, runCheck(t, ns, c, Env{}, false, checkInterface), tc.want, tc.text)
		})
	}
}

func TestBindCheck(t *testing.T) {
	for _, tc := range []struct {
		name, bind string
		want       Status
		text       string
	}{
		{"local address", "10.0.1.2", OK, "is on eth1"},
		{"the vip itself", "10.10.5.200", OK, "restore adds it"},
		{"not on this node", "10.0.9.9", Fail, "not an address of this node"},
		{"unset", "", Skip, "every address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nsNode(t)
			c := testConfig(func(c *config.Config) {
				if tc.bind != "" {
					c.Bind = netip.MustParseAddr(tc.bind)
				}
			})
			expect(t, runCheck(t, ns, c, Env{}, false, checkBind), tc.want, tc.text)
		})
	}
}

func TestFirewallCheck(t *testing.T) {
	needTool(t, "nft")
	needTool(t, "iptables-legacy")
	needTool(t, "iptables-nft")
	const azure = "168.63.129.16/32"
	for _, tc := range []struct {
		name  string
		nft   string     // ruleset for nft -f
		cmds  [][]string // commands run in the namespace
		allow []netip.Prefix
		v6    bool // an IPv6 VIP: the probes come over IPv6
		want  Status
		text  string
	}{
		{name: "no rules", allow: prefixes(azure), want: OK, text: "nothing filters"},
		{name: "nft drops the port", nft: `table inet f { chain in { type filter hook input priority 0; tcp dport 12345 drop; } }`,
			allow: prefixes(azure), want: Fail, text: "nftables inet f in handle 2 (tcp dport 12345 drop) blocks tcp/12345 from 168.63.129.16"},
		{name: "nft policy drop, probe source accepted", nft: `table inet f { chain in { type filter hook input priority 0; policy drop;
			ct state established,related accept; iifname "lo" accept; ip saddr 168.63.129.16 tcp dport 12345 accept; } }`,
			allow: prefixes(azure), want: OK, text: "passes nftables (3 rules)"},
		{name: "nft policy drop, another source accepted", nft: `table inet f { chain in { type filter hook input priority 0; policy drop;
			ip saddr 10.0.0.0/8 tcp dport 12345 accept; } }`,
			allow: prefixes(azure), want: Fail, text: "policy drop"},
		{name: "nft rejects in a user chain", nft: `table ip f { chain in { type filter hook prerouting priority -150; tcp dport 10000-20000 jump probes; }
			chain probes { ip saddr 168.63.0.0/16 reject; } }`,
			allow: prefixes(azure), want: Fail, text: "nftables ip f probes handle"},
		{name: "nft rate limit cannot be decided", nft: `table inet f { chain in { type filter hook input priority 0; policy drop;
			tcp dport 12345 limit rate 10/second accept; } }`,
			allow: prefixes(azure), want: Warn, text: "could not decide for 168.63.129.16"},
		{name: "nft drop of IPv6 with allow empty", nft: `table ip6 f { chain in { type filter hook input priority 0; tcp dport 12345 drop; } }`,
			v6: true, want: Fail, text: "from any IPv6 host"},
		{name: "nft drop of IPv6 with an IPv4 VIP", nft: `table ip6 f { chain in { type filter hook input priority 0; tcp dport 12345 drop; } }`,
			want: OK, text: "tcp/12345 from any IPv4 host passes"},
		{name: "iptables-legacy drops the port", cmds: [][]string{{"iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "12345", "-j", "DROP"}},
			allow: prefixes(azure), want: Fail, text: `iptables-legacy rule "-A INPUT -p tcp -m tcp --dport 12345 -j DROP"`},
		{name: "iptables-legacy accepts before a drop", cmds: [][]string{
			{"iptables-legacy", "-A", "INPUT", "-s", "168.63.129.16", "-p", "tcp", "--dport", "12345", "-j", "ACCEPT"},
			{"iptables-legacy", "-A", "INPUT", "-p", "tcp", "--dport", "12345", "-j", "DROP"}},
			allow: prefixes(azure), want: OK, text: "passes iptables-legacy (2 rules)"},
		{name: "iptables-nft rejects the probe source", cmds: [][]string{{"iptables-nft", "-A", "INPUT", "-s", "168.63.0.0/16", "-p", "tcp", "--dport", "12345", "-j", "REJECT"}},
			allow: prefixes(azure), want: Fail, text: `iptables-nft rule "-A INPUT -s 168.63.0.0/16 -p tcp -m tcp --dport 12345 -j REJECT`},
		{name: "ip6tables-legacy policy drop", cmds: [][]string{{"ip6tables-legacy", "-P", "INPUT", "DROP"}},
			v6: true, want: Fail, text: "ip6tables-legacy chain filter INPUT (policy drop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nsNode(t)
			if tc.nft != "" {
				f := t.TempDir() + "/rules.nft"
				// nft 1.0 wants a newline after a closing brace.
				if err := os.WriteFile(f, []byte(strings.ReplaceAll(tc.nft, "}", "}\n")), 0o600); err != nil {
					t.Fatal(err)
				}
				ns.MustRun(t, "nft", "-f", f)
			}
			for _, cmd := range tc.cmds {
				ns.MustRun(t, cmd[0], cmd[1:]...)
			}
			c := testConfig(func(c *config.Config) {
				c.Allow = tc.allow
				if tc.v6 {
					c.VIP, c.Prefix = netip.MustParseAddr("fd00:5::200"), 128
				}
			})
			ck := runCheck(t, ns, c, Env{}, false, func(n *node) Check { return checkFirewall(context.Background(), n) })
			expect(t, ck, tc.want, tc.text)
			if tc.want == Fail && !strings.Contains(ck.Fix, "--dport 12345 -j ACCEPT") && !strings.Contains(ck.Fix, "tcp dport 12345 accept") {
				t.Errorf("fix names no command: %q", ck.Fix)
			}
		})
	}
}

func TestTimestampsCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dmi   map[string]string
		value string
		want  Status
		text  string
	}{
		{"azure, off", dmiAzure, "0", OK, "is 0"},
		{"azure, on", dmiAzure, "1", Warn, "on Azure"},
		{"unknown cloud, on", dmiKVM, "1", Info, "unless this node is in Azure"},
		{"google, on", dmiGCP, "1", OK, "matters only in Azure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			sysctl(t, ns, "net.ipv4.tcp_timestamps="+tc.value)
			env := Env{DMI: dmiDir(t, tc.dmi)}
			expect(t, runCheck(t, ns, testConfig(nil), env, false, checkTimestamps), tc.want, tc.text)
		})
	}
}

func TestRPFilterCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		twoNIC bool
		all    string
		eth1   string
		want   Status
		text   string
	}{
		{"two NICs, strict via all", true, "1", "0", Warn, "strict reverse-path filtering on eth0, eth1 with 2 NICs"},
		{"two NICs, strict on the VIP NIC", true, "0", "1", Warn, "strict reverse-path filtering on eth1"},
		{"two NICs, loose", true, "2", "2", OK, "loose or off"},
		{"two NICs, off", true, "0", "0", OK, "loose or off"},
		{"one NIC, strict", false, "1", "1", OK, "one NIC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nsNode(t)
			sets := []string{"net.ipv4.conf.all.rp_filter=" + tc.all, "net.ipv4.conf.eth1.rp_filter=" + tc.eth1}
			if tc.twoNIC {
				ns.VethSelf(t, "eth0", "eth0p")
				ns.MustRun(t, "ip", "addr", "add", "10.0.0.2/24", "dev", "eth0")
				sets = append(sets, "net.ipv4.conf.eth0.rp_filter=0")
			}
			sysctl(t, ns, sets...)
			ck := runCheck(t, ns, testConfig(nil), Env{}, false, checkRPFilter)
			expect(t, ck, tc.want, tc.text)
			if tc.want == Warn && !strings.Contains(ck.Fix, "net.ipv4.conf.all.rp_filter=2") {
				t.Errorf("fix %q", ck.Fix)
			}
		})
	}
}

func TestARPCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		arpCount  int
		source    bool
		arpIgnore string
		want      Status
		text      string
	}{
		{"on premises, default", 3, false, "0", OK, "answers ARP"},
		{"on premises, arp_ignore 1", 3, false, "1", OK, "answers ARP"},
		{"on premises, arp_ignore 2 with /32", 3, false, "2", Fail, "a /32 VIP has none"},
		{"on premises, arp_ignore 3 and scope host", 3, false, "3", Fail, "scope-host"},
		{"on premises, arp_ignore 3 and source true", 3, true, "3", OK, "scope global"},
		{"on premises, arp_ignore 8", 3, false, "8", Fail, "no ARP request at all"},
		{"cloud: not relevant", 0, false, "8", Skip, "not relevant with arp_count 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nsNode(t)
			sysctl(t, ns, "net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.eth1.arp_ignore="+tc.arpIgnore)
			c := testConfig(func(c *config.Config) { c.ARPCount, c.Source = tc.arpCount, tc.source })
			expect(t, runCheck(t, ns, c, Env{}, false, checkARP), tc.want, tc.text)
		})
	}
}

func TestVIPCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		on       string // interface the VIP is put on, "" none
		running  bool
		arpCount int
		want     Status
		text     string
	}{
		{"stopped, absent", "", false, 0, OK, "not on this node"},
		{"stopped, someone else's on its interface", "eth1", false, 0, Fail, "ilbvip did not mark it as its own: restore will refuse it"},
		{"stopped, ilbvip's leftover on its interface (cloud)", "eth1 marked", false, 0, Warn, "a leftover of ilbvip"},
		{"stopped, ilbvip's leftover on its interface on premises", "eth1 marked", false, 3, Fail, "answers ARP for it"},
		{"stopped, the node's own /24", "eth1 /24", false, 0, Fail, "is an address of this node (10.10.5.200/24 on eth1)"},
		{"stopped, on another interface", "eth2", false, 0, Fail, "restore wants it on eth1"},
		{"running, present", "eth1", true, 0, OK, "where this resource put it"},
		{"running, missing", "", true, 0, Fail, "missing from eth1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nsNode(t)
			ns.VethSelf(t, "eth2", "eth2p")
			switch dev, how, _ := strings.Cut(tc.on, " "); how {
			case "marked": // as restore adds it
				ns.Do(t, func() {
					if err := vip.Add(vip.Spec{Addr: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: dev}); err != nil {
						t.Fatal(err)
					}
				})
			case "/24":
				ns.MustRun(t, "ip", "addr", "add", "10.10.5.200/24", "dev", dev)
			default:
				if dev != "" {
					ns.MustRun(t, "ip", "addr", "add", "10.10.5.200/32", "dev", dev)
				}
			}
			c := testConfig(func(c *config.Config) { c.ARPCount = tc.arpCount })
			ck := runCheck(t, ns, c, Env{}, tc.running, func(n *node) Check { return checkVIPElsewhere(context.Background(), n) })
			expect(t, ck, tc.want, tc.text)
		})
	}
}

// The ARP probe goes out only on a veth into a namespace this test made.
func TestVIPARPProbe(t *testing.T) {
	for _, tc := range []struct {
		name    string
		peerVIP bool
		want    Status
		text    string
	}{
		{"nobody answers", false, OK, "no host answered an ARP probe on eth1"},
		{"the other node holds it", true, Fail, "answers ARP for 10.0.0.100 on eth1: another host holds the VIP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := testenv.NewNS(t), testenv.NewNS(t)
			a.Veth(t, "eth1", "10.0.0.2/24", b, "eth1", "10.0.0.3/24")
			if tc.peerVIP {
				b.MustRun(t, "ip", "addr", "add", "10.0.0.100/32", "dev", "eth1")
			}
			c := testConfig(func(c *config.Config) { c.VIP, c.ARPCount = netip.MustParseAddr("10.0.0.100"), 3 })
			env := Env{ARPProbe: true, ARPWait: time.Second}
			ck := runCheck(t, a, c, env, false, func(n *node) Check { return checkVIPElsewhere(context.Background(), n) })
			expect(t, ck, tc.want, tc.text)
		})
	}
}

func TestSourceCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v6     bool
		source bool
		prep   func(*testing.T, *testenv.NS)
		want   Status
		text   string
	}{
		{name: "vip absent", prep: func(*testing.T, *testenv.NS) {}, want: Skip, text: "not on this node"},
		{name: "scope host vip is never the source", prep: func(t *testing.T, ns *testenv.NS) {
			addVIP(t, ns, "10.10.5.200", false)
		}, want: OK, text: "outbound traffic leaves from 10.0.0.2 to 203.0.113.1"},
		{name: "a route with src vip", prep: func(t *testing.T, ns *testenv.NS) {
			addVIP(t, ns, "10.10.5.200", false)
			ns.MustRun(t, "ip", "route", "replace", "default", "via", "10.0.0.1", "dev", "eth0", "src", "10.10.5.200")
		}, want: Fail, text: "would leave from the VIP 10.10.5.200"},
		{name: "source true allows it", source: true, prep: func(t *testing.T, ns *testenv.NS) {
			addVIP(t, ns, "10.10.5.200", true)
			ns.MustRun(t, "ip", "route", "replace", "default", "via", "10.0.0.1", "dev", "eth0", "src", "10.10.5.200")
		}, want: Info, text: "source: true allows it"},
		{name: "ipv6 vip as the last resort", v6: true, prep: func(t *testing.T, ns *testenv.NS) {
			addVIP(t, ns, "fd00:5::200", false)
			ns.MustRun(t, "ip", "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0")
		}, want: Fail, text: "would leave from the VIP fd00:5::200"},
		{name: "ipv6 vip with an own address", v6: true, prep: func(t *testing.T, ns *testenv.NS) {
			ns.MustRun(t, "ip", "addr", "add", "fd00:1::2/64", "dev", "eth0", "nodad")
			addVIP(t, ns, "fd00:5::200", false)
			ns.MustRun(t, "ip", "-6", "route", "add", "default", "via", "fd00:1::1", "dev", "eth0")
		}, want: OK, text: "leaves from fd00:1::2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nsNode(t)
			ns.VethSelf(t, "eth0", "eth0p")
			ns.MustRun(t, "ip", "addr", "add", "10.0.0.2/24", "dev", "eth0")
			ns.MustRun(t, "ip", "route", "add", "default", "via", "10.0.0.1", "dev", "eth0")
			tc.prep(t, ns)
			c := testConfig(func(c *config.Config) {
				c.Source = tc.source
				if tc.v6 {
					c.VIP, c.Prefix, c.Allow = netip.MustParseAddr("fd00:5::200"), 128, nil
				}
			})
			expect(t, runCheck(t, ns, c, Env{}, true, checkSource), tc.want, tc.text)
		})
	}
}

// addVIP adds the VIP as restore would (scope host or deprecated unless
// source is true).
func addVIP(t *testing.T, ns *testenv.NS, addr string, source bool) {
	t.Helper()
	a := netip.MustParseAddr(addr)
	var err error
	ns.Do(t, func() { err = vip.Add(vip.Spec{Addr: a, Prefix: a.BitLen(), Interface: "eth1", Source: source}) })
	if err != nil {
		t.Fatal(err)
	}
}
