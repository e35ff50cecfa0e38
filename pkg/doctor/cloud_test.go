package doctor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// TestCheckAllowIPv6: Azure probes an IPv6 setup from the link-local
// fe80::1234:5678:9abc (to the NIC's global IPv6 address), so an allow
// without it is flagged there, and only there.
func TestCheckAllowIPv6(t *testing.T) {
	azure := detectCloud(dmiDir(t, dmiAzure))
	gcp := detectCloud(dmiDir(t, dmiGCP))
	vip4, vip6 := netip.MustParseAddr("10.10.5.200"), netip.MustParseAddr("2001:db8:5::200")
	bind6 := netip.MustParseAddr("2001:db8:5::4")
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		vip   netip.Addr
		bind  netip.Addr
		cl    cloud
		want  Status
		text  string
	}{
		{"ipv6 vip, only the ipv4 source", prefixes("168.63.129.16/32"), vip6, netip.Addr{}, azure, Fail, "IPv6 probe source fe80::1234:5678:9abc"},
		{"ipv6 vip, the fix says what to add", prefixes("168.63.129.16/32"), vip6, netip.Addr{}, azure, Fail, "add fe80::1234:5678:9abc to allow"},
		{"ipv6 vip, both sources", prefixes("168.63.129.16/32", "fe80::1234:5678:9abc/128"), vip6, netip.Addr{}, azure, OK, "covers"},
		{"ipv6 vip, fe80::/10", prefixes("fe80::/10"), vip6, netip.Addr{}, azure, OK, "covers"},
		{"ipv6 vip, another link-local", prefixes("fe80::1/128"), vip6, netip.Addr{}, azure, Fail, "fe80::1234:5678:9abc"},
		{"ipv6 bind, no vip", prefixes("168.63.129.16/32"), netip.Addr{}, bind6, azure, Fail, "fe80::1234:5678:9abc"},
		{"ipv6 vip, empty allow names the ipv6 source", nil, vip6, netip.Addr{}, azure, Warn, "set allow to fe80::1234:5678:9abc"},
		{"ipv4 vip needs no ipv6 source", prefixes("168.63.129.16/32"), vip4, netip.Addr{}, azure, OK, "covers"},
		{"ipv4 vip, only the ipv6 source", prefixes("fe80::1234:5678:9abc/128"), vip4, netip.Addr{}, azure, Fail, "168.63.129.16"},
		{"no vip, no bind: ipv4 probes", prefixes("168.63.129.16/32"), netip.Addr{}, netip.Addr{}, azure, OK, "covers"},
		{"ipv6 vip, ipv4 bind: the vip's family decides", prefixes("168.63.129.16/32"), vip6, netip.MustParseAddr("10.0.1.2"), azure, Fail, "fe80::1234:5678:9abc"},
		{"ipv4 vip, ipv6 bind: the vip's family decides", prefixes("fe80::1234:5678:9abc/128"), vip4, bind6, azure, Fail, "168.63.129.16"},
		{"gcp ipv6 vip: google's ipv6 range", prefixes("35.191.0.0/16"), vip6, netip.Addr{}, gcp, Fail, "2600:2d00:1:b029::/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := checkAllow(&config.Config{Port: 12345, Allow: tc.allow, VIP: tc.vip, Bind: tc.bind}, tc.cl)
			if ck.Status != tc.want || !strings.Contains(ck.Found+"; "+ck.Fix, tc.text) {
				t.Errorf("got %s %q (fix %q), want %s containing %q", ck.Status, ck.Found, ck.Fix, tc.want, tc.text)
			}
		})
	}
	if got := checkCloud(azure).Found; !strings.Contains(got, "168.63.129.16, IPv6 probes from fe80::1234:5678:9abc") {
		t.Errorf("cloud check %q does not name both of Azure's probe sources", got)
	}
}
