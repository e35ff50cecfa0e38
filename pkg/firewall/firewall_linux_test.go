package firewall

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func src(s string) Source {
	switch s {
	case "any4":
		return Source{}
	case "any6":
		return Source{V6: true}
	}
	p := netip.MustParsePrefix(s)
	return Source{Prefix: p, V6: p.Addr().Is6()}
}

func decisionName(d Decision) string {
	return [...]string{"allowed", "blocked", "undecided"}[d]
}

// testdata/mixed.nft.json is `nft -j list ruleset` of testdata/mixed.nft,
// taken from nft 1.0.6 (Debian 12).
func TestNftDecide(t *testing.T) {
	b, err := os.ReadFile("testdata/mixed.nft.json")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := parseNft(b)
	if err != nil {
		t.Fatal(err)
	}
	if rs.rules != 11 || len(rs.base) != 1 {
		t.Fatalf("parsed %d rules, %d base chains; want 11, 1", rs.rules, len(rs.base))
	}
	for _, tc := range []struct {
		name, src string
		port      uint16
		want      Decision
		where     string
	}{
		{"azure probe source in named set", "168.63.129.16/32", 12345, Accept, ""},
		{"inside a set prefix", "10.5.0.0/16", 12345, Accept, ""},
		{"outside the set: policy drop", "192.0.2.1/32", 12345, Drop, "policy drop"},
		{"straddles the set prefix", "10.0.0.0/7", 12345, Undecided, "handle 10"},
		{"any IPv4 host: the set decides", "any4", 12345, Undecided, "handle 10"},
		{"any IPv6 host: set is IPv4, policy drops", "any6", 12345, Drop, "policy drop"},
		{"rate limit decides", "192.0.2.1/32", 22, Undecided, "handle 9"},
		{"jump to user chain that rejects", "192.0.2.1/32", 8050, Drop, "handle 16"},
		{"user chain returns, then policy", "10.1.2.3/32", 443, Drop, "policy drop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := rs.decide(packet{src: src(tc.src), port: tc.port})
			if o.kind != tc.want || !strings.Contains(o.where(), tc.where) {
				t.Errorf("got %s at %q (%s), want %s at %q", decisionName(o.kind), o.where(), o.why, decisionName(tc.want), tc.where)
			}
		})
	}
}

func TestNftConstructs(t *testing.T) {
	const head = `{"nftables": [{"table": {"family": "inet", "name": "f", "handle": 1}},
	{"chain": {"family": "inet", "table": "f", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "%s"}}`
	rule := func(expr string) string {
		return `, {"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": [` + expr + `]}}`
	}
	dport := `{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 12345}}`
	for _, tc := range []struct {
		name   string
		policy string
		rules  []string
		src    string
		want   Decision
	}{
		{"empty accept chain", "accept", nil, "any4", Accept},
		{"empty drop chain", "drop", nil, "any4", Drop},
		{"drop on the port", "accept", []string{dport + `, {"drop": null}`}, "168.63.129.16/32", Drop},
		{"port vmap", "accept", []string{`{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[22, {"accept": null}], [12345, {"drop": null}]]}}}`}, "any4", Drop},
		{"ct state established only", "drop", []string{`{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}`}, "any4", Drop},
		{"ct state new accepted", "drop", []string{`{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["new"]}}, {"accept": null}`}, "any4", Accept},
		{"udp rule never matches tcp", "accept", []string{`{"match": {"op": "!=", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"drop": null}`}, "any4", Accept},
		{"iifname lo is not the probe's", "drop", []string{`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}`}, "any4", Drop},
		{"other iifname both ways accepted", "accept", []string{`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}}, {"accept": null}`}, "any4", Accept},
		{"other iifname undecided", "drop", []string{`{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}}, ` + dport + `, {"accept": null}`}, "any4", Undecided},
		{"port range", "drop", []string{`{"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": {"range": [10000, 20000]}}}, {"accept": null}`}, "any4", Accept},
		{"dport below", "accept", []string{`{"match": {"op": "<", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 1024}}, {"drop": null}`}, "any4", Accept},
		{"iptables-nft REJECT target", "accept", []string{dport + `, {"counter": {"packets": 0, "bytes": 0}}, {"xt": {"type": "target", "name": "REJECT"}}`}, "192.0.2.1/32", Drop},
		{"queue is not followed", "accept", []string{dport + `, {"queue": {"num": 1}}`}, "any4", Undecided},
		{"jump to a missing chain", "accept", []string{dport + `, {"jump": {"target": "nowhere"}}`}, "any4", Undecided},
		{"ip6 saddr never matches IPv4", "accept", []string{`{"match": {"op": "!=", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "::1"}}, {"drop": null}`}, "168.63.129.16/32", Accept},
		{"negated source", "accept", []string{`{"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "168.63.0.0", "len": 16}}}}, ` + dport + `, {"drop": null}`}, "168.63.129.16/32", Accept},
		{"negated source blocks others", "accept", []string{`{"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "168.63.0.0", "len": 16}}}}, ` + dport + `, {"drop": null}`}, "192.0.2.1/32", Drop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(head, "%s", tc.policy, 1)
			for _, r := range tc.rules {
				doc += rule(r)
			}
			doc += "]}"
			rs, err := parseNft([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			o := rs.decide(packet{src: src(tc.src), port: 12345})
			if o.kind != tc.want {
				t.Errorf("got %s at %q (%s), want %s", decisionName(o.kind), o.where(), o.why, decisionName(tc.want))
			}
		})
	}
}

func TestNftNotJSON(t *testing.T) {
	if _, err := parseNft([]byte("table inet f {")); err == nil {
		t.Fatal("text ruleset parsed as JSON")
	}
}

// A ufw-style iptables-legacy ruleset, trimmed.
const ufwSave = `# Generated by iptables-save v1.8.9 on Thu Nov 26 16:29:22 2026
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:ufw-before-input - [0:0]
:ufw-user-input - [0:0]
:ufw-logging-deny - [0:0]
-A INPUT -j ufw-before-input
-A INPUT -j ufw-user-input
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j ufw-logging-deny
-A ufw-before-input -p udp -m udp --sport 67 --dport 68 -j ACCEPT
-A ufw-logging-deny -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW BLOCK] "
-A ufw-logging-deny -j DROP
-A ufw-user-input -s 168.63.129.16/32 -p tcp -m tcp --dport 12345 -m comment --comment "azure \"lb\" probe" -j ACCEPT
-A ufw-user-input -p tcp -m multiport --dports 80,443,8000:8100 -j ACCEPT
-A ufw-user-input -m recent --name ssh --rcheck -p tcp --dport 22 -j DROP
-A ufw-user-input -p tcp --dport 2222 -m limit --limit 5/min -j ACCEPT
COMMIT
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -s 203.0.113.0/255.255.255.0 -j DROP
COMMIT
`

func TestIptablesDecide(t *testing.T) {
	rs, err := parseIptables(ufwSave, "iptables-legacy", "iptables-legacy", false)
	if err != nil {
		t.Fatal(err)
	}
	if rs.rules != 13 || len(rs.base) != 2 {
		t.Fatalf("parsed %d rules, %d base chains; want 13, 2", rs.rules, len(rs.base))
	}
	for _, tc := range []struct {
		name, src string
		port      uint16
		want      Decision
		where     string
	}{
		{"allowed source", "168.63.129.16/32", 12345, Accept, ""},
		{"other source: policy", "192.0.2.1/32", 12345, Drop, "filter INPUT (policy drop"},
		{"multiport range", "192.0.2.1/32", 8080, Accept, ""},
		{"raw table drop with netmask", "203.0.113.7/32", 8080, Drop, "-A PREROUTING -s 203.0.113.0/255.255.255.0 -j DROP"},
		{"recent match drops, else the policy does", "192.0.2.1/32", 22, Drop, "policy drop"},
		{"rate limit undecided", "192.0.2.1/32", 2222, Undecided, "--dport 2222 -m limit"},
		{"any host undecided at the source rule", "any4", 12345, Undecided, "168.63.129.16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := rs.decide(packet{src: src(tc.src), port: tc.port})
			if o.kind != tc.want || !strings.Contains(o.where(), tc.where) {
				t.Errorf("got %s at %q (%s), want %s at %q", decisionName(o.kind), o.where(), o.why, decisionName(tc.want), tc.where)
			}
		})
	}
	o := rs.decide(packet{src: src("192.0.2.1/32"), port: 12345})
	// ufw owns this INPUT policy: its own command lets the probe in.
	if f := o.fix(src("168.63.129.16/32"), 12345); f != "ufw allow proto tcp from 168.63.129.16 to any port 12345" || !o.persists() {
		t.Errorf("fix %q, persists %v", f, o.persists())
	}
}

func TestIptablesBadInput(t *testing.T) {
	for _, text := range []string{
		"*filter\n:INPUT\n",
		"*filter\n-A INPUT -m comment --comment \"open\n",
		"garbage\n",
	} {
		if _, err := parseIptables(text, "iptables", "iptables", false); err == nil {
			t.Errorf("%q parsed", text)
		}
	}
}

func TestTokenize(t *testing.T) {
	got, err := tokenize(`-A INPUT -m comment --comment "a \"b\" c" -j ACCEPT`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-A", "INPUT", "-m", "comment", "--comment", `a "b" c`, "-j", "ACCEPT"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// matchWant is what a match says of the probe packet, seen through a rule
// that drops in a chain that accepts: yes drops, no accepts, maybe is
// undecided.
var matchWant = map[tri]Decision{yes: Drop, no: Accept, maybe: Undecided}

// iptablesModelCases are iptables matches and what they say of the probe
// packet: a TCP SYN to the probe port, state NEW, not DNATed, from a remote
// unicast source, to a local unicast address of the node that is not
// loopback, without IPv6 extension headers.
var iptablesModelCases = []struct {
	match string
	v6    bool
	want  tri
}{
	{"-m addrtype --dst-type LOCAL", false, yes},
	{"-m addrtype ! --dst-type LOCAL", false, no},
	{"-m addrtype --dst-type BROADCAST", false, no},
	{"-m addrtype --dst-type LOCAL,BROADCAST", false, yes},
	{"-m addrtype --dst-type UNICAST", false, no}, // IPv4: a local address is LOCAL only
	{"-m addrtype --src-type UNICAST", false, yes},
	{"-m addrtype --src-type LOCAL", false, no},
	{"-m addrtype ! --src-type LOCAL", false, yes},
	{"-m addrtype --src-type MULTICAST,BROADCAST", false, no},
	{"-m addrtype --dst-type LOCAL --limit-iface-in", false, maybe},
	{"-m addrtype ! --dst-type LOCAL --limit-iface-in", false, maybe},
	{"-m addrtype --dst-type LOCAL,UNICAST --limit-iface-in", false, yes},
	{"-m addrtype --dst-type BROADCAST --limit-iface-in", false, no},
	{"-m addrtype --dst-type LOCAL", true, yes},
	{"-m addrtype --dst-type UNICAST", true, yes}, // IPv6: UNICAST is a class, not a lookup
	{"-m addrtype --dst-type MULTICAST", true, no},
	{"-m addrtype --src-type UNICAST", true, yes},
	{"-m addrtype --src-type UNICAST,LOCAL", true, no},
	{"-m addrtype --dst-type LOCAL --limit-iface-in", true, maybe},
	{"-d 127.0.0.0/8", false, no},
	{"! -d 127.0.0.0/8", false, yes},
	{"-d 127.0.0.1/32", false, no},
	{"-d 224.0.0.251/32", false, no},
	{"-d 10.0.0.4/32", false, maybe},
	{"! -d 10.0.0.4/32", false, maybe},
	{"-d 0.0.0.0/0", false, yes},
	{"-d ::1/128", true, no},
	{"! -d ::1/128", true, yes},
	{"-d 2001:db8::1/128", true, maybe},
	{"! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT", false, no},
	{"-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT", false, yes},
	{"-m conntrack --ctstate DNAT", false, no},
	{"-m conntrack --ctstate NEW,DNAT", false, yes},
	{"-m conntrack --ctstatus DNAT", false, no},
	{"-m conntrack ! --ctstatus DNAT", false, yes},
	{"-m conntrack --ctstatus CONFIRMED,ASSURED", false, no},
	{"-m conntrack --ctstatus SNAT", false, maybe},
	{"-m rt --rt-type 0", true, no},
	{"-m rt ! --rt-type 0", true, no}, // the negation needs the header too
	{"-m frag ! --fragid 1", true, no},
	{"-m hbh ! --hbh-len 8", true, no},
	{"-m comment --comment x -p tcp --dport 12345", false, yes},
	// Hardening against odd flag combinations, as iptables-save prints it.
	{"-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN", false, yes}, // --syn
	{"-p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW", false, no},
	{"-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE", false, no},
	{"-p tcp -m tcp --tcp-flags FIN,SYN FIN,SYN", false, no},
	{"-p tcp -m tcp --tcp-flags SYN,RST SYN,RST", false, no},
	{"-p tcp -m tcp --tcp-flags ALL ALL", false, no},
	{"-p tcp -m tcp --tcp-flags ACK ACK", false, no},
	{"-p tcp -m tcp --tcp-flags ALL SYN", true, yes},
	{"-p tcp -m tcp --tcp-flags SYN,BOGUS SYN", false, maybe},
	{"-m pkttype --pkt-type broadcast", false, no},
	{"-m pkttype --pkt-type unicast", false, yes},
	{"-m pkttype ! --pkt-type unicast", false, no},
}

// checkModel decides a one-rule ruleset (the match, then drop) for a probe
// of the family v6 says, against want.
func checkModel(t *testing.T, rs *Ruleset, err error, v6 bool, want tri) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	s := "192.0.2.1/32"
	if v6 {
		s = "2001:db8::7/128"
	}
	if o := rs.decide(packet{src: src(s), port: 12345}); o.kind != matchWant[want] {
		t.Errorf("got %s at %q (%s), want %s", decisionName(o.kind), o.where(), o.why, decisionName(matchWant[want]))
	}
}

func TestIptablesProbeModel(t *testing.T) {
	for _, tc := range iptablesModelCases {
		t.Run(tc.match, func(t *testing.T) {
			text := "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT " + tc.match + " -j DROP\nCOMMIT\n"
			rs, err := parseIptables(text, "iptables", "iptables", tc.v6)
			checkModel(t, rs, err, tc.v6, tc.want)
		})
	}
}

// jsonMatch, nftFib and nftCtStatus write nft -j's JSON for a match.
func jsonMatch(op, left, right string) string {
	return `{"match": {"op": "` + op + `", "left": ` + left + `, "right": ` + right + `}}`
}

func nftFib(result, flags string) string {
	return `{"fib": {"result": "` + result + `", "flags": ` + flags + `}}`
}

const (
	nftCtStatus = `{"ct": {"key": "status"}}`
	nftTCPFlags = `{"payload": {"protocol": "tcp", "field": "flags"}}`
)

// nftModelCases are nft matches, in the JSON nft -j lists, and what they
// say of the probe.
var nftModelCases = []struct {
	name  string
	match string
	v6    bool
	want  tri
}{
	{"fib daddr type local", jsonMatch("==", nftFib("type", `["daddr"]`), `"local"`), false, yes},
	{"fib daddr type != local", jsonMatch("!=", nftFib("type", `["daddr"]`), `"local"`), false, no},
	{"fib daddr type in a set", jsonMatch("==", nftFib("type", `"daddr"`), `{"set": ["local", "broadcast"]}`), true, yes},
	{"fib daddr type broadcast", jsonMatch("==", nftFib("type", `["daddr"]`), `"broadcast"`), false, no},
	{"fib daddr . iif type local", jsonMatch("==", nftFib("type", `["daddr", "iif"]`), `"local"`), false, maybe},
	{"fib daddr . iif type != { local, broadcast }", jsonMatch("!=", nftFib("type", `["daddr", "iif"]`), `{"set": ["local", "broadcast"]}`), false, maybe},
	{"fib daddr . iif type { local, unicast }", jsonMatch("==", nftFib("type", `["daddr", "iif"]`), `{"set": ["local", "unicast"]}`), false, yes},
	{"fib daddr . iif type multicast", jsonMatch("==", nftFib("type", `["daddr", "iif"]`), `"multicast"`), false, no},
	{"fib saddr type unicast", jsonMatch("==", nftFib("type", `["saddr"]`), `"unicast"`), false, yes},
	{"fib saddr type local", jsonMatch("==", nftFib("type", `["saddr"]`), `"local"`), false, no},
	{"fib saddr . iif type != local", jsonMatch("!=", nftFib("type", `["saddr", "iif"]`), `"local"`), true, yes},
	{"fib saddr . iif oif missing", jsonMatch("==", nftFib("oif", `["saddr", "iif"]`), `false`), false, maybe},
	{"fib saddr . mark . iif oif missing, global IPv6 source", jsonMatch("==", nftFib("oif", `["saddr", "mark", "iif"]`), `false`), true, maybe},
	{"fib daddr oifname lo", jsonMatch("==", nftFib("oifname", `["daddr"]`), `"lo"`), false, maybe},
	{"ct status dnat", jsonMatch("in", nftCtStatus, `"dnat"`), false, no},
	{"ct status != dnat", jsonMatch("!=", nftCtStatus, `"dnat"`), false, yes},
	{"ct status { seen-reply, confirmed }", jsonMatch("in", nftCtStatus, `{"set": ["seen-reply", "confirmed"]}`), false, no},
	{"ct status snat", jsonMatch("in", nftCtStatus, `"snat"`), false, maybe},
	{"ct status { snat, dnat }", jsonMatch("in", nftCtStatus, `{"set": ["snat", "dnat"]}`), false, maybe},
	{"rt type 0", jsonMatch("==", `{"exthdr": {"name": "rt", "field": "type"}}`, `0`), true, no},
	{"rt type != 0", jsonMatch("!=", `{"exthdr": {"name": "rt", "field": "type"}}`, `0`), true, no},
	{"exthdr rt exists", jsonMatch("==", `{"exthdr": {"name": "rt"}}`, `true`), true, no},
	// TCP flags, in the JSON nft 1.0.6 lists for the rules in the comments.
	{"tcp flags syn", jsonMatch("in", nftTCPFlags, `"syn"`), false, yes},
	{"tcp flags ack", jsonMatch("in", nftTCPFlags, `"ack"`), false, no},
	{"tcp flags syn|ack (any and all of disagree)", jsonMatch("in", nftTCPFlags, `{"|": ["syn", "ack"]}`), false, maybe},
	{"tcp flags & (fin|syn|rst|ack) == syn", jsonMatch("==", `{"&": [`+nftTCPFlags+`, ["fin", "syn", "rst", "ack"]]}`, `"syn"`), false, yes},
	{"tcp flags & (fin|syn|rst|ack) != syn", jsonMatch("!=", `{"&": [`+nftTCPFlags+`, ["fin", "syn", "rst", "ack"]]}`, `"syn"`), false, no},
	{"tcp flags & (fin|syn) == fin|syn", jsonMatch("==", `{"&": [`+nftTCPFlags+`, ["fin", "syn"]]}`, `{"|": ["fin", "syn"]}`), false, no},
	{"tcp flags & (fin|psh|urg) == fin|psh|urg", jsonMatch("==", `{"&": [`+nftTCPFlags+`, ["fin", "psh", "urg"]]}`, `{"|": ["fin", "psh", "urg"]}`), false, no},
	{"tcp flags & (fin|syn|rst|psh|ack|urg) == 0", jsonMatch("==", `{"&": [`+nftTCPFlags+`, ["fin", "syn", "rst", "psh", "ack", "urg"]]}`, `0`), false, no},
	{"tcp flags != syn", jsonMatch("!=", nftTCPFlags, `"syn"`), false, no},
	// As iptables-nft writes --tcp-flags FIN,SYN FIN,SYN and ALL NONE.
	{"tcp flags & (fin|syn) == [fin, syn]", jsonMatch("==", `{"&": [`+nftTCPFlags+`, ["fin", "syn"]]}`, `["fin", "syn"]`), false, no},
	{"tcp flags ! (fin|syn|rst|psh|ack|urg)", jsonMatch("!", nftTCPFlags, `["fin", "syn", "rst", "psh", "ack", "urg"]`), false, no},
	{"tcp flags ! (fin|rst)", jsonMatch("!", nftTCPFlags, `["fin", "rst"]`), false, yes},
	{"tcp flags { syn, syn|ack }", jsonMatch("==", nftTCPFlags, `{"set": [{"|": ["syn", "ack"]}, "syn"]}`), false, yes},
	{"tcp flags { ack, syn|ack }", jsonMatch("==", nftTCPFlags, `{"set": [{"|": ["syn", "ack"]}, "ack"]}`), false, no},
	{"meta pkttype broadcast", jsonMatch("==", `{"meta": {"key": "pkttype"}}`, `"broadcast"`), false, no},
	// Limits per source: how often the source sends decides.
	{"meter m { ip saddr limit rate over 5/second }", `{"meter": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "stmt": {"limit": {"rate": 5, "burst": 5, "per": "second", "inv": true}}, "size": 65535, "name": "m"}}`, false, maybe},
	{"update @flood { ip saddr limit rate over 10/second }", `{"set": {"op": "update", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@flood", "stmt": [{"limit": {"rate": 10, "burst": 5, "per": "second", "inv": true}}]}}`, false, maybe},
	{"add @seen { ip saddr }", `{"set": {"op": "add", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@seen"}}`, false, yes},
	{"exthdr frag missing", jsonMatch("==", `{"exthdr": {"name": "frag"}}`, `false`), true, yes},
	{"exthdr frag missing, IPv4", jsonMatch("==", `{"exthdr": {"name": "frag"}}`, `false`), false, no},
	{"exthdr hbh != exists", jsonMatch("!=", `{"exthdr": {"name": "hbh"}}`, `true`), true, yes},
	{"ip daddr 127.0.0.0/8", jsonMatch("==", `{"payload": {"protocol": "ip", "field": "daddr"}}`, `{"prefix": {"addr": "127.0.0.0", "len": 8}}`), false, no},
	{"ip daddr != 127.0.0.0/8", jsonMatch("!=", `{"payload": {"protocol": "ip", "field": "daddr"}}`, `{"prefix": {"addr": "127.0.0.0", "len": 8}}`), false, yes},
	{"ip daddr != 127.0.0.0/8, IPv6", jsonMatch("!=", `{"payload": {"protocol": "ip", "field": "daddr"}}`, `{"prefix": {"addr": "127.0.0.0", "len": 8}}`), true, no},
	{"ip daddr 10.0.0.4", jsonMatch("==", `{"payload": {"protocol": "ip", "field": "daddr"}}`, `"10.0.0.4"`), false, maybe},
	{"ip daddr { 127.0.0.1, 224.0.0.0/4 }", jsonMatch("==", `{"payload": {"protocol": "ip", "field": "daddr"}}`, `{"set": ["127.0.0.1", {"prefix": {"addr": "224.0.0.0", "len": 4}}]}`), false, no},
	{"ip6 daddr ::1", jsonMatch("==", `{"payload": {"protocol": "ip6", "field": "daddr"}}`, `"::1"`), true, no},
	{"ip6 daddr != ::1", jsonMatch("!=", `{"payload": {"protocol": "ip6", "field": "daddr"}}`, `"::1"`), true, yes},
	{"ip6 daddr 2001:db8::1", jsonMatch("==", `{"payload": {"protocol": "ip6", "field": "daddr"}}`, `"2001:db8::1"`), true, maybe},
	{"rt ip nexthop (routing, not the header)", jsonMatch("==", `{"rt": {"key": "nexthop", "family": "ip"}}`, `"10.0.0.1"`), false, maybe},
}

func TestNftProbeModel(t *testing.T) {
	for _, tc := range nftModelCases {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"nftables": [{"chain": {"family": "inet", "table": "f", "name": "in", "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
			{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": [` + tc.match + `, {"drop": null}]}}]}`
			rs, err := parseNft([]byte(doc))
			checkModel(t, rs, err, tc.v6, tc.want)
		})
	}
}

// Both ways at a rule that cannot be judged drop, at different places:
// the verdict names both and the fix goes ahead of that rule, which both
// ways pass (an accept added at the end of the chain would miss one).
func TestTwoDropsFixAheadOfTheBranch(t *testing.T) {
	doc := `{"nftables": [{"table": {"family": "inet", "name": "f", "handle": 1}},
	{"chain": {"family": "inet", "table": "f", "name": "in", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
	{"chain": {"family": "inet", "table": "f", "name": "ext", "handle": 2}},
	{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "eth0"}}, {"jump": {"target": "ext"}}]}},
	{"rule": {"family": "inet", "table": "f", "chain": "ext", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 12345}}, {"drop": null}]}}]}`
	rs, err := parseNft([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	v := rs.Decide(src("168.63.129.16/32"), 12345)
	if v.Decision != Drop {
		t.Fatalf("got %s at %s", v.Decision, v.Where)
	}
	for _, want := range []string{"inet f in (policy drop", "inet f ext handle 9", "iifname eth0", "inet f in handle 7"} {
		if !strings.Contains(v.Where, want) {
			t.Errorf("where %q lacks %q", v.Where, want)
		}
	}
	if want := "nft insert rule inet f in position 7 ip saddr 168.63.129.16 tcp dport 12345 accept"; v.Fix != want {
		t.Errorf("fix %q, want %q", v.Fix, want)
	}
}

// Where the probe's destination is known (bind, or the VIP on Google
// Cloud), rules on the destination are judged, in both readers.
func TestDecideTo(t *testing.T) {
	ipt, err := parseIptables("*filter\n:INPUT DROP [0:0]\n-A INPUT -d 10.0.0.2/32 -p tcp -m tcp --dport 12345 -j ACCEPT\nCOMMIT\n", "iptables", "iptables", false)
	if err != nil {
		t.Fatal(err)
	}
	nft, err := parseNft([]byte(`{"nftables": [{"chain": {"family": "inet", "table": "f", "name": "in", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
	{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": [` +
		jsonMatch("==", `{"payload": {"protocol": "ip", "field": "daddr"}}`, `"10.0.0.2"`) + `, ` +
		jsonMatch("==", `{"payload": {"protocol": "tcp", "field": "dport"}}`, `12345`) + `, {"accept": null}]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range []*Ruleset{ipt, nft} {
		for _, tc := range []struct {
			dst  string
			want Decision
		}{{"", Undecided}, {"10.0.0.2", Accept}, {"10.0.0.3", Drop}, {"::ffff:10.0.0.2", Accept}} {
			var dst netip.Addr
			if tc.dst != "" {
				dst = netip.MustParseAddr(tc.dst)
			}
			if v := rs.DecideTo(src("168.63.129.16/32"), dst, 12345); v.Decision != tc.want {
				t.Errorf("%s, to %q: %s at %s, want %s", rs.from, tc.dst, v.Decision, v.Where, tc.want)
			}
		}
	}
}

// firewalld's IPv6 reverse-path check never drops a link-local source:
// Azure's IPv6 probe passes it.
func TestReversePathLinkLocal(t *testing.T) {
	doc := `{"nftables": [{"chain": {"family": "inet", "table": "firewalld", "name": "filter_PREROUTING", "type": "filter", "hook": "prerouting", "prio": 0, "policy": "accept"}},
	{"rule": {"family": "inet", "table": "firewalld", "chain": "filter_PREROUTING", "handle": 7, "expr": [` +
		jsonMatch("==", `{"meta": {"key": "nfproto"}}`, `"ipv6"`) + `, ` + jsonMatch("==", nftFib("oif", `["saddr", "mark", "iif"]`), `false`) + `, {"drop": null}]}}]}`
	rs, err := parseNft([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]Decision{"fe80::1234:5678:9abc/128": Accept, "2600:2d00:1:b029::/64": Undecided, "168.63.129.16/32": Accept} {
		if v := rs.Decide(src(s), 12345); v.Decision != want {
			t.Errorf("%s: %s at %s, want %s", s, v.Decision, v.Where, want)
		}
	}
}

// Rules that cannot be judged in a row (an interface each) whose chains
// all return: the walk ends in accept, without the step limit.
func TestManyInterfaceJumps(t *testing.T) {
	text := "*filter\n:INPUT DROP [0:0]\n"
	for i := range 20 {
		text += fmt.Sprintf(":z-%d - [0:0]\n", i)
	}
	for i := range 20 {
		text += fmt.Sprintf("-A INPUT -i eth%d -j z-%d\n", i, i)
		for j := range 10 {
			text += fmt.Sprintf("-A z-%d -p tcp --dport %d -j ACCEPT\n", i, 1000+j)
		}
	}
	text += "-A INPUT -p tcp --dport 12345 -j ACCEPT\nCOMMIT\n"
	rs, err := parseIptables(text, "iptables", "iptables", false)
	if err != nil {
		t.Fatal(err)
	}
	if v := rs.Decide(src("168.63.129.16/32"), 12345); v.Decision != Accept {
		t.Errorf("got %s at %s (%s)", v.Decision, v.Where, v.Why)
	}
}

// nft's notrack: the probe port is untracked, so "ct state new" does not
// accept it and the policy drops it; "ct state untracked" does.
func TestNotrack(t *testing.T) {
	for _, tc := range []struct {
		state string
		want  Decision
	}{{"new", Drop}, {"untracked", Accept}} {
		doc := `{"nftables": [{"chain": {"family": "inet", "table": "f", "name": "raw", "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}},
		{"chain": {"family": "inet", "table": "f", "name": "in", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
		{"rule": {"family": "inet", "table": "f", "chain": "raw", "handle": 3, "expr": [` + jsonMatch("==", `{"payload": {"protocol": "tcp", "field": "dport"}}`, `12345`) + `, {"notrack": null}]}},
		{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": [` + jsonMatch("in", `{"ct": {"key": "state"}}`, `"`+tc.state+`"`) + `, {"accept": null}]}}]}`
		rs, err := parseNft([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if v := rs.Decide(src("168.63.129.16/32"), 12345); v.Decision != tc.want {
			t.Errorf("ct state %s: %s at %s, want %s", tc.state, v.Decision, v.Where, tc.want)
		}
		if v := rs.Decide(src("168.63.129.16/32"), 22); tc.state == "new" && v.Decision != Accept {
			t.Errorf("port 22 (tracked): %s at %s", v.Decision, v.Where)
		}
	}
}

// An ingress chain is bound to devices nft -j (1.0.6) does not name: its
// drop is undecided, not a certain block. A dormant table sees nothing;
// nft 1.0.6's wrong table flags string is not taken for dormant.
func TestIngressAndDormant(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      Decision
	}{
		{"netdev ingress chain", `{"nftables": [{"table": {"family": "netdev", "name": "f", "handle": 1}},
		{"chain": {"family": "netdev", "table": "f", "name": "x", "handle": 1, "type": "filter", "hook": "ingress", "prio": 0, "policy": "drop"}}]}`, Undecided},
		{"dormant table", `{"nftables": [{"table": {"family": "inet", "name": "staged", "handle": 1, "flags": ["dormant"]}},
		{"chain": {"family": "inet", "table": "staged", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}]}`, Accept},
		{"nft 1.0.6's garbled flags", `{"nftables": [{"table": {"family": "inet", "name": "fw", "handle": 1, "flags": "plain"}},
		{"chain": {"family": "inet", "table": "fw", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}]}`, Drop},
	} {
		rs, err := parseNft([]byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		if v := rs.Decide(src("168.63.129.16/32"), 12345); v.Decision != tc.want {
			t.Errorf("%s: %s at %s (%s), want %s", tc.name, v.Decision, v.Where, v.Why, tc.want)
		}
	}
}

// A source range the ruleset lets in only in part: the part it drops is a
// drop (Google Cloud probes from all of 35.191.0.0/16); all parts in, an
// accept.
func TestSourceRangeSplit(t *testing.T) {
	rs, err := parseIptables("*filter\n:INPUT DROP [0:0]\n-A INPUT -s 35.191.0.0/17 -p tcp --dport 12345 -j ACCEPT\n"+
		"-A INPUT -s 35.191.128.0/17 -p tcp --dport 8080 -j ACCEPT\n-A INPUT -s 35.191.128.0/17 -p tcp --dport 8081 -j ACCEPT\n"+
		"-A INPUT -s 35.191.0.0/17 -p tcp --dport 8081 -j ACCEPT\nCOMMIT\n", "iptables", "iptables", false)
	if err != nil {
		t.Fatal(err)
	}
	v := rs.Decide(src("35.191.0.0/16"), 12345)
	if v.Decision != Drop || !strings.Contains(v.Where, "for 35.191.128.0/17 of the range") || !strings.Contains(v.Fix, "-s 35.191.0.0/16") {
		t.Errorf("12345: %s at %s, fix %q", v.Decision, v.Where, v.Fix)
	}
	if v := rs.Decide(src("35.191.0.0/16"), 8081); v.Decision != Accept {
		t.Errorf("8081: %s at %s", v.Decision, v.Where)
	}
	if v := rs.Decide(src("any4"), 8081); v.Decision != Undecided {
		t.Errorf("any host, 8081: %s at %s", v.Decision, v.Where)
	}
}

// ip6tables' reverse-path check (RHEL 7 firewalld: -m rpfilter --invert
// -j DROP in raw PREROUTING) passes a link-local source, as nft's does.
func TestIptablesRpfilter(t *testing.T) {
	rs, err := parseIptables("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m rpfilter --invert -j DROP\nCOMMIT\n", "ip6tables", "ip6tables", true)
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]Decision{"fe80::1234:5678:9abc/128": Accept, "2600:2d00:1:b029::/64": Undecided} {
		if v := rs.Decide(src(s), 12345); v.Decision != want {
			t.Errorf("%s: %s at %s (%s), want %s", s, v.Decision, v.Where, v.Why, want)
		}
	}
}

// A drop in firewalld's rules (its nft table, or RHEL 7's iptables chains)
// is kept with firewall-cmd: firewalld rewrites them at every reload.
func TestFirewalldKeep(t *testing.T) {
	nft, err := parseNft([]byte(`{"nftables": [{"chain": {"family": "inet", "table": "firewalld", "name": "filter_INPUT", "type": "filter", "hook": "input", "prio": 10, "policy": "drop"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ipt, err := parseIptables("*filter\n:INPUT ACCEPT [0:0]\n:INPUT_ZONES - [0:0]\n:IN_public - [0:0]\n-A INPUT -j INPUT_ZONES\n-A INPUT_ZONES -j IN_public\n"+
		"-A IN_public -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n", "iptables", "iptables", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range []*Ruleset{nft, ipt} {
		v := rs.Decide(src("168.63.129.16/32"), 12345)
		want := `firewall-cmd --permanent --add-rich-rule='rule family="ipv4" source address="168.63.129.16/32" port port="12345" protocol="tcp" accept', then firewall-cmd --reload`
		if v.Decision != Drop || !strings.Contains(v.KeepIn, want) || v.Persists {
			t.Errorf("%s: %s at %s, keep %q", rs.from, v.Decision, v.Where, v.KeepIn)
		}
	}
	if v := nft.Decide(src("fe80::1234:5678:9abc/128"), 12345); !strings.Contains(v.KeepIn, `rule family="ipv6" source address="fe80::1234:5678:9abc/128"`) {
		t.Errorf("IPv6: keep %q", v.KeepIn)
	}
}

// A verdict undecided at a rate limit carries the rate, in both readers:
// the doctor words what it means for a probe every few seconds.
func TestLimitRate(t *testing.T) {
	ipt := func(match string) *Ruleset {
		rs, err := parseIptables("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 12345 "+match+" -j ACCEPT\nCOMMIT\n", "iptables", "iptables", false)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	nft := func(stmt string) *Ruleset {
		rs, err := parseNft([]byte(`{"nftables": [{"chain": {"family": "inet", "table": "f", "name": "in", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
		{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": [` + stmt + `, {"accept": null}]}}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	for name, tc := range map[string]struct {
		rs   *Ruleset
		want Rate
	}{
		"ufw limit": {ipt("-m recent --update --seconds 30 --hitcount 6 --name DEFAULT --rsource"), Rate{5, 30 * time.Second}},
		"-m limit":  {ipt("-m limit --limit 3/min --limit-burst 5"), Rate{3, time.Minute}},
		"nft limit": {nft(`{"limit": {"rate": 10, "burst": 5, "per": "minute"}}`), Rate{10, time.Minute}},
		"nft meter": {nft(`{"meter": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "stmt": {"limit": {"rate": 2, "per": "second"}}, "name": "m"}}`), Rate{2, time.Second}},
	} {
		v := tc.rs.Decide(src("168.63.129.16/32"), 12345)
		if v.Decision != Undecided || v.Limit == nil || *v.Limit != tc.want {
			t.Errorf("%s: %s at %s, limit %v, want %v", name, v.Decision, v.Where, v.Limit, tc.want)
		}
	}
	if v := ipt("-m recent --set --name DEFAULT").Decide(src("168.63.129.16/32"), 12345); v.Decision != Accept {
		t.Errorf("recent --set records and matches: %s at %s", v.Decision, v.Where)
	}
}
