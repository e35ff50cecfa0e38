package packaging_test

import (
	"net/netip"
	"os"
	"regexp"
	"testing"

	"github.com/ilbvip/ilbvip/pkg/config"
)

// The example config loads with the kit's own loader, as a resource's file
// (-c, with a tag), and names every parameter, so it stays a complete
// template when the table grows.
func TestExampleConfig(t *testing.T) {
	c, err := config.Load(config.Sources{
		Flags:      map[string]string{"tag": "lbhc-12345"},
		Env:        func(string) (string, bool) { return "", false },
		ConfigFile: "example.yaml",
		Euid:       -1, // the repository file's mode depends on the checkout's umask; the package sets 0600 (TestDebInstall loads that copy as root)
	})
	if err != nil {
		t.Fatalf("example.yaml does not load: %v", err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"port", c.Port, uint16(12345)},
		{"protocol", c.Protocol, "tcp"},
		{"vip", c.VIP, netip.MustParseAddr("10.10.5.200")},
		{"prefix", c.Prefix, 32},
		{"interface", c.Interface, "eth1"},
		{"allow", len(c.Allow) == 1 && c.Allow[0] == netip.MustParsePrefix("168.63.129.16/32"), true},
		{"origin", c.Origin["vip"], "example.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
			}
		})
	}

	b, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range config.Params {
		if p.Name == "tag" {
			continue // the file is named after the tag
		}
		t.Run("mentions "+p.Name, func(t *testing.T) {
			if !regexp.MustCompile(`(?m)^(# )?` + p.Name + `:`).Match(b) {
				t.Errorf("example.yaml does not mention %s (as %q or %q)", p.Name, p.Name+":", "# "+p.Name+":")
			}
		})
	}
}
