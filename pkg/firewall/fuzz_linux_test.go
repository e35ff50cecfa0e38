package firewall

import (
	"os"
	"testing"
)

// decideAll asks every decision the doctor could ask of rs; the walk's own
// bounds (maxDepth, maxSteps) keep it short on any ruleset.
func decideAll(rs *Ruleset) {
	for _, s := range []string{"any4", "any6", "168.63.129.16/32", "10.0.0.0/7", "2001:db8::/32"} {
		for _, port := range []uint16{22, 12345} {
			v := rs.Decide(src(s), port)
			_ = v.Where + v.Why + v.Fix
		}
	}
}

func FuzzParseNft(f *testing.F) {
	if b, err := os.ReadFile("testdata/mixed.nft.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"nftables": [{"chain": {"family": "inet", "table": "f", "name": "in", "type": "filter", "hook": "input", "policy": "drop"}},
	{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 7, "expr": [{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[22, {"accept": null}], [{"range": [1, 9]}, {"jump": {"target": "in"}}]]}}}]}}]}`))
	f.Add([]byte(`{"nftables": [{"chain": {"family": "inet", "table": "f", "name": "in", "type": "filter", "hook": "input", "policy": "drop"}},
	{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 2, "expr": [{"match": {"op": "!=", "left": {"fib": {"result": "type", "flags": ["daddr", "iif"]}}, "right": {"set": ["local", "unicast"]}}}, {"drop": null}]}},
	{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 3, "expr": [{"match": {"op": "==", "left": {"exthdr": {"name": "frag"}}, "right": false}}, {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"xt": {"type": "match", "name": "addrtype"}}, {"accept": null}]}},
	{"rule": {"family": "inet", "table": "f", "chain": "in", "handle": 4, "expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "127.0.0.0", "len": 8}}}}, {"accept": null}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		rs, err := parseNft(b)
		if err != nil {
			return
		}
		decideAll(rs)
	})
}

func FuzzParseIptables(f *testing.F) {
	f.Add(ufwSave, false)
	f.Add("*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -j X\n-A X -g INPUT\n-A X ! -s 10.0.0.0/8 -p tcp -m multiport --ports 1:99 -j RETURN\nCOMMIT\n", false)
	f.Add("*filter\n:INPUT DROP [0:0]\n-A INPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL,UNICAST --limit-iface-in -m conntrack ! --ctstatus DNAT -j ACCEPT\n-A INPUT -m rt ! --rt-type 0 -j DROP\nCOMMIT\n", true)
	f.Fuzz(func(t *testing.T, text string, v6 bool) {
		if len(text) > 1<<16 {
			return
		}
		rs, err := parseIptables(text, "iptables", "iptables", v6)
		if err != nil {
			return
		}
		decideAll(rs)
	})
}
