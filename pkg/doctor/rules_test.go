package doctor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// TestSelectCloud: the cloud parameter picks the profile; auto reads DMI;
// a configured cloud that the firmware contradicts is a warning.
func TestSelectCloud(t *testing.T) {
	for _, tc := range []struct {
		name, param string
		dmi         map[string]string
		cloud       string
		want        Status
		text        string
	}{
		{"auto reads dmi", "auto", dmiGCP, "gcp", OK, "Google Cloud (sys_vendor"},
		{"unset is auto", "", dmiAzure, "azure", OK, "Azure (chassis_asset_tag"},
		{"configured without dmi", "gcp", nil, "gcp", OK, "to the VIP (the forwarding rule's IP)"},
		{"configured, dmi agrees", "azure", dmiAzure, "azure", OK, "to this node's own address"},
		{"configured, dmi disagrees", "gcp", dmiAzure, "gcp", Warn, "but the firmware says Azure"},
		{"none on premises", "none", dmiKVM, "", Info, "cloud set to none"},
		{"none, but dmi says azure", "none", dmiAzure, "", Warn, "cloud set to none, but the firmware says Azure (chassis_asset_tag"},
		{"none without dmi", "none", nil, "", Info, "cloud set to none"},
		{"configured, dmi disagrees, names its strings", "aws", dmiGCP, "aws", Warn, `but the firmware says Google Cloud (sys_vendor "Google"`},
		{"auto on premises names the parameter", "auto", dmiKVM, "", Info, "no cloud recognised"},
		{"aws", "aws", nil, "aws", OK, "own address in each of its subnets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := selectCloud(&config.Config{Cloud: tc.param}, dmiDir(t, tc.dmi))
			ck := checkCloud(cl)
			if cl.name != tc.cloud || ck.Status != tc.want || !strings.Contains(ck.Found, tc.text) {
				t.Errorf("cloud %q, %s %q; want %q, %s containing %q", cl.name, ck.Status, ck.Found, tc.cloud, tc.want, tc.text)
			}
			if ck.Status == Warn && ck.Fix == "" {
				t.Error("a warning without a fix")
			}
		})
	}
}

// TestDescribeCloud: quickCheck --verbose's cloud line shows the
// firmware's verdict next to the cloud parameter when they differ.
func TestDescribeCloud(t *testing.T) {
	for _, tc := range []struct {
		param string
		dmi   map[string]string
		want  string
	}{
		{"azure", dmiAzure, "Azure (cloud parameter), probes to this node's own address"},
		{"azure", dmiGCP, `Azure (cloud parameter), probes to this node's own address; but the firmware says Google Cloud (sys_vendor "Google"`},
		{"none", dmiAzure, "none (cloud parameter): no cloud rules; but the firmware says Azure (chassis_asset_tag"},
		{"none", dmiKVM, "none (cloud parameter): no cloud rules"},
		{"auto", dmiGCP, "Google Cloud (auto: sys_vendor"},
	} {
		got := describeCloud(&config.Config{Cloud: tc.param}, dmiDir(t, tc.dmi))
		if !strings.HasPrefix(got, tc.want) || (!strings.Contains(tc.want, "firmware") && strings.Contains(got, "firmware")) {
			t.Errorf("cloud %s: %q, want %q", tc.param, got, tc.want)
		}
	}
}

// TestCloudBind: where each cloud sends its probes decides bind. Google
// Cloud: to the VIP, so with vip set any bind fails, and without it (the
// VIP held by another resource) only the node's own address fails; Azure
// and AWS: to the NIC's own address, so a host address (a VIP) warns. A bind
// of another family than the VIP's fails everywhere.
func TestCloudBind(t *testing.T) {
	osCheck := func(*node) Check { return Check{Name: "bind", Status: OK, Found: "os check"} }
	own := func(netip.Addr) bindPlace { return bindPlace{found: true, iface: "eth0", own: true} }
	host := func(netip.Addr) bindPlace { return bindPlace{found: true, iface: "eth0"} }
	absent := func(netip.Addr) bindPlace { return bindPlace{} }
	nodeAddr, vip := netip.MustParseAddr("10.128.0.5"), netip.MustParseAddr("10.128.0.200")
	for _, tc := range []struct {
		name, cloud string
		vip, bind   netip.Addr
		locate      func(netip.Addr) bindPlace
		want        Status
		text        string
	}{
		{"gcp, bind on the node's address", "gcp", vip, nodeAddr, own, Fail, "bind is 10.128.0.5, but Google Cloud sends its health checks to the forwarding rule's IP 10.128.0.200"},
		{"gcp, with vip any bind", "gcp", vip, nodeAddr, host, Fail, "forwarding rule's IP 10.128.0.200"},
		{"gcp, bind unset", "gcp", vip, netip.Addr{}, own, OK, "os check"},
		{"gcp, bind 0.0.0.0", "gcp", vip, netip.IPv4Unspecified(), own, OK, "os check"},
		{"gcp, no vip, bind on the node's own address", "gcp", netip.Addr{}, nodeAddr, own, Fail, "not to the node's address"},
		{"gcp, no vip, bind the VIP another resource holds", "gcp", netip.Addr{}, vip, host, OK, "taken to be the forwarding rule's IP"},
		{"gcp, no vip, bind not here now", "gcp", netip.Addr{}, vip, absent, Warn, "not on this node now"},
		{"azure probes the node's address", "azure", vip, nodeAddr, own, OK, "os check"},
		{"aws probes the node's address", "aws", vip, nodeAddr, own, OK, "os check"},
		{"azure, no vip, bind the VIP", "azure", netip.Addr{}, vip, host, Warn, "Azure sends its probes to the address of the NIC's IP configuration in the backend pool, never to a VIP"},
		{"aws, no vip, bind a host address", "aws", netip.Addr{}, vip, host, Warn, "registered target's address"},
		{"azure, not on the node: the OS check", "azure", netip.Addr{}, vip, absent, OK, "os check"},
		{"azure, ipv4 bind, ipv6 vip", "azure", netip.MustParseAddr("fd00:5::200"), nodeAddr, own, Fail, "different IP families"},
		{"aws, ipv6 bind, ipv4 vip", "aws", vip, netip.MustParseAddr("fd00:1::2"), own, Fail, "different IP families"},
		{"unknown cloud, ipv6 bind, ipv4 vip", "none", vip, netip.MustParseAddr("fd00:1::2"), own, Fail, "different IP families"},
		{"gcp, ipv6 bind, ipv4 vip", "gcp", vip, netip.MustParseAddr("fd00:1::2"), own, Fail, "different IP families"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Config{Cloud: tc.cloud, Bind: tc.bind, VIP: tc.vip, Interface: "eth0"}
			n := &node{c: c, cloud: selectCloud(c, "")}
			ck := cloudBind(n, osCheck, tc.locate)
			if ck.Status != tc.want || !strings.Contains(ck.Found, tc.text) {
				t.Errorf("got %s %q, want %s containing %q", ck.Status, ck.Found, tc.want, tc.text)
			}
			if ck.Status >= Warn && ck.Fix == "" {
				t.Errorf("%s without a fix", ck.Status)
			}
		})
	}
}

// TestCloudAllow: each profile's probe sources, IPv6 included, through the
// cloud parameter.
func TestCloudAllow(t *testing.T) {
	vip6 := netip.MustParseAddr("fd00:5::200")
	for _, tc := range []struct {
		name, cloud string
		allow       []netip.Prefix
		vip         netip.Addr
		want        Status
		text        string
	}{
		{"azure ipv6 vip with the ipv4 allow of the docs", "azure", prefixes("168.63.129.16/32"), vip6, Fail, "leaves out Azure's IPv6 probe source fe80::1234:5678:9abc"},
		{"azure ipv6 vip, fixed", "azure", prefixes("168.63.129.16/32", "fe80::1234:5678:9abc/128"), vip6, OK, "covers"},
		{"gcp ipv6 vip needs google's ipv6 range", "gcp", prefixes("35.191.0.0/16", "130.211.0.0/22"), vip6, Fail, "2600:2d00:1:b029::/64"},
		{"gcp ipv6 vip, fixed", "gcp", prefixes("2600:2d00:1:b029::/64"), vip6, OK, "covers"},
		{"gcp ipv6 vip, the other documented range", "gcp", prefixes("2600:2d00:1:1::/64"), vip6, OK, "covers"},
		{"gcp ipv6 vip, neither names both", "gcp", prefixes("2600:2d00:1:2::/64"), vip6, Fail, "2600:2d00:1:b029::/64, 2600:2d00:1:1::/64"},
		{"aws advice names every subnet or the vpc", "aws", nil, netip.MustParseAddr("10.0.5.200"), Warn, "every subnet of the Network Load Balancer"},
		{"none compares nothing", "none", prefixes("10.0.0.0/8", "fd00::/8"), vip6, OK, "not compared"},
		{"none, but no address of the vip's family", "none", prefixes("10.0.0.0/8"), vip6, Fail, "has no IPv6 address, but the load balancer probes over IPv6 (the family of the vip fd00:5::200)"},
		{"aws, ipv4 vip, an ipv6 allow", "aws", prefixes("fd00::/8"), netip.MustParseAddr("10.0.5.200"), Fail, "has no IPv4 address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Config{Cloud: tc.cloud, Port: 12345, Allow: tc.allow, VIP: tc.vip}
			ck := checkAllow(c, selectCloud(c, ""))
			if ck.Status != tc.want || !strings.Contains(ck.Found+"; "+ck.Fix, tc.text) {
				t.Errorf("got %s %q (fix %q), want %s containing %q", ck.Status, ck.Found, ck.Fix, tc.want, tc.text)
			}
		})
	}
}

// TestCheckLBConfig: what each cloud's load balancer must be set to, and
// what a VIP means there (an AWS Network Load Balancer has no Floating IP).
func TestCheckLBConfig(t *testing.T) {
	vip := netip.MustParseAddr("10.0.5.200")
	for _, tc := range []struct {
		name, cloud string
		vip         netip.Addr
		want        Status
		text        []string
	}{
		{"aws with a vip", "aws", vip, Warn, []string{"no Floating IP", "the vip 10.0.5.200 on eth1 carries none of the load balancer's traffic", "fails open"}},
		{"aws responder only", "aws", netip.Addr{}, Info, []string{"fails open"}},
		{"azure", "azure", vip, Info, []string{"Floating IP on", "NoHealthyBackendsBehavior left at AllProbedDown", "AllProbedUp"}},
		{"gcp", "gcp", vip, Info, []string{"failover policy with dropTrafficIfUnhealthy", "guest agent's local route"}},
		{"none", "none", vip, Skip, []string{"cloud not known"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Config{Cloud: tc.cloud, VIP: tc.vip, Interface: "eth1"}
			ck := checkLBConfig(&node{c: c, cloud: selectCloud(c, "")})
			if ck.Status != tc.want {
				t.Errorf("got %s %q, want %s", ck.Status, ck.Found, tc.want)
			}
			for _, s := range tc.text {
				if !strings.Contains(ck.Found, s) {
					t.Errorf("%q lacks %q", ck.Found, s)
				}
			}
			if ck.Status == Warn && !strings.Contains(ck.Fix, "leave vip unset") {
				t.Errorf("fix %q", ck.Fix)
			}
		})
	}
}

func TestQuietFor(t *testing.T) {
	if q := quietFor(profile("aws", "")); q <= 60e9 {
		t.Errorf("aws: %s, want more than two 30 s intervals", q)
	}
	if q := quietFor(profile("azure", "")); q != lbQuiet {
		t.Errorf("azure: %s", q)
	}
}
