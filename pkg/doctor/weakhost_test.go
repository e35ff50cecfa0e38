package doctor

import (
	"strings"
	"testing"
)

// The reference layout: the VIP on "Ethernet 2", the backend pool on
// "Ethernet" (the default route), plus a loopback that plays no part.
func refLayout(poolSend, poolRecv, vipSend, vipRecv bool) []hostIface {
	return []hostIface{
		{Alias: "Loopback Pseudo-Interface 1", Index: 1},
		{Alias: "Ethernet", Index: 6, DefaultRoute: true, Send: poolSend, Receive: poolRecv},
		{Alias: "Ethernet 2", Index: 9, Send: vipSend, Receive: vipRecv},
	}
}

func TestWeakHost(t *testing.T) {
	for _, tc := range []struct {
		name       string
		family     string
		vipIf      string
		ifs        []hostIface
		want       Status
		found, fix []string // substrings
		notFix     []string
	}{
		{name: "strong host (Windows' default)", family: "ipv4", vipIf: "Ethernet 2", ifs: refLayout(false, false, false, false), want: Fail,
			found: []string{`"Ethernet 2" has weakhostreceive and weakhostsend disabled`, `"Ethernet" has weakhostreceive and weakhostsend disabled`},
			fix: []string{`netsh interface ipv4 set interface "Ethernet 2" weakhostreceive=enabled weakhostsend=enabled`,
				`; netsh interface ipv4 set interface "Ethernet" weakhostreceive=enabled weakhostsend=enabled`},
			notFix: []string{"Loopback"}},
		{name: "pool NIC receives but cannot send", family: "ipv4", vipIf: "Ethernet 2", ifs: refLayout(false, true, true, true), want: Fail,
			found: []string{`"Ethernet" has weakhostsend disabled`}, fix: []string{`set interface "Ethernet" weakhostreceive=enabled weakhostsend=enabled`},
			notFix: []string{`"Ethernet 2"`}},
		{name: "all set", family: "ipv4", vipIf: "Ethernet 2", ifs: refLayout(true, true, true, true), want: OK,
			found: []string{`weak host send and receive (ipv4) on "Ethernet 2", "Ethernet"`}},
		{name: "ipv6 names its family", family: "ipv6", vipIf: "Ethernet 2", ifs: refLayout(true, true, false, true), want: Fail,
			fix: []string{`netsh interface ipv6 set interface "Ethernet 2"`}},
		{name: "alias ignoring case", family: "ipv4", vipIf: "ethernet 2", ifs: refLayout(true, true, true, true), want: OK},
		{name: "ifIndex", family: "ipv4", vipIf: "9", ifs: refLayout(true, true, false, false), want: Fail, fix: []string{`"Ethernet 2"`}},
		{name: "interface missing", family: "ipv4", vipIf: "Ethernet 3", ifs: refLayout(false, false, false, false), want: Skip,
			found: []string{`"Ethernet 3" not found`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := weakHost(tc.family, tc.vipIf, tc.ifs)
			if c.Name != "weak_host" || c.Status != tc.want {
				t.Fatalf("%+v, want status %s", c, tc.want)
			}
			for _, s := range tc.found {
				if !strings.Contains(c.Found, s) {
					t.Errorf("found %q lacks %q", c.Found, s)
				}
			}
			for _, s := range tc.fix {
				if !strings.Contains(c.Fix, s) {
					t.Errorf("fix %q lacks %q", c.Fix, s)
				}
			}
			for _, s := range tc.notFix {
				if strings.Contains(c.Fix, s) {
					t.Errorf("fix %q should not touch %q", c.Fix, s)
				}
			}
		})
	}
}
