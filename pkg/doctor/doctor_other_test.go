//go:build !linux

package doctor

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/config"
)

// Outside Linux the report still has every line; what is not checked says
// so, and the Windows-only vip_nic reminder is there.
func TestReducedSet(t *testing.T) {
	c := &config.Config{Tag: "lbhc-12345", Port: 12345, Protocol: "tcp", VIP: netip.MustParseAddr("10.10.5.200"),
		Prefix: 32, Interface: "Ethernet 2", StateDir: testenv.TempDir(t), Allow: prefixes("168.63.129.16/32")}
	r := Run(context.Background(), c, Env{})
	if r.Failed() {
		t.Errorf("nothing can fail here:\n%s", r.Human())
	}
	for _, name := range []string{"firewall", "tcp_timestamps", "rp_filter", "source", "port"} {
		if ck := r.check(t, name); ck.Status != Skip || !strings.Contains(ck.Found, "not checked on this OS") && !strings.Contains(ck.Found, "not looked up on this OS") {
			t.Errorf("%s: %s %q", name, ck.Status, ck.Found)
		}
	}
	if ck := r.check(t, "vip_nic"); !strings.Contains(ck.Found, `"Ethernet 2" must not be the NIC in the load balancer's backend pool`) {
		t.Errorf("vip_nic: %q", ck.Found)
	}
}

func (r *Report) check(t *testing.T, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q", name)
	return Check{}
}
