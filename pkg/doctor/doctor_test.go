package doctor

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
)

// dmiDir writes a /sys/class/dmi/id fixture.
func dmiDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := testenv.TempDir(t)
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// DMI strings as the clouds' VMs show them.
var (
	dmiAzure = map[string]string{"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine",
		"bios_vendor": "Microsoft Corporation", "chassis_asset_tag": azureAssetTag}
	dmiHyperV = map[string]string{"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine",
		"chassis_asset_tag": "None"}
	dmiGCP    = map[string]string{"sys_vendor": "Google", "product_name": "Google Compute Engine", "bios_vendor": "Google"}
	dmiAWS    = map[string]string{"sys_vendor": "Amazon EC2", "product_name": "m5.large", "bios_vendor": "Amazon EC2"}
	dmiAWSXen = map[string]string{"sys_vendor": "Xen", "product_name": "HVM domU", "bios_vendor": "Xen", "bios_version": "4.11.amazon"}
	dmiKVM    = map[string]string{"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)", "bios_vendor": "SeaBIOS"}
)

func TestDetectCloud(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		cloud string
		check Status
		found string
	}{
		{"azure by asset tag", dmiAzure, "azure", OK, "168.63.129.16"},
		{"hyper-v without the tag counts as azure", dmiHyperV, "azure", OK, "Azure or Hyper-V"},
		{"gcp", dmiGCP, "gcp", OK, "35.191.0.0/16, 130.211.0.0/22"},
		{"aws nitro", dmiAWS, "aws", OK, "not knowable offline"},
		{"aws xen", dmiAWSXen, "aws", OK, "bios_version"},
		{"kvm on premises", dmiKVM, "", Info, "no cloud recognised"},
		{"no dmi", nil, "", Info, "no DMI strings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := detectCloud(dmiDir(t, tc.files))
			ck := checkCloud(cl)
			if cl.name != tc.cloud || ck.Status != tc.check || !strings.Contains(ck.Found, tc.found) {
				t.Errorf("cloud %q, check %s %q; want %q, %s containing %q", cl.name, ck.Status, ck.Found, tc.cloud, tc.check, tc.found)
			}
		})
	}
	if cl := detectCloud(""); cl.unread == "" || checkCloud(cl).Status != Info {
		t.Errorf("no DMI directory: %+v", cl)
	}
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestCheckAllow(t *testing.T) {
	azure := cloud{name: "azure", sources: []netip.Prefix{azureProbe}}
	gcp := cloud{name: "gcp", sources: gcpProbes}
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		cl    cloud
		want  Status
		text  string
	}{
		{"empty allow warns", nil, azure, Warn, "any host"},
		{"empty allow warns on premises too", nil, cloud{}, Warn, "any host"},
		{"azure source allowed", prefixes("168.63.129.16/32"), azure, OK, "covers"},
		{"azure source inside a wider prefix", prefixes("168.63.0.0/16"), azure, OK, "covers"},
		{"azure source missing", prefixes("10.0.0.0/8"), azure, Fail, "168.63.129.16"},
		{"gcp both ranges", prefixes("35.191.0.0/16", "130.211.0.0/22"), gcp, OK, "covers"},
		{"gcp one range missing", prefixes("35.191.0.0/16"), gcp, Fail, "130.211.0.0/22"},
		{"gcp range only partly allowed", prefixes("35.191.0.0/17", "130.211.0.0/22"), gcp, Fail, "35.191.0.0/16"},
		{"aws cannot be checked", prefixes("10.0.0.0/16"), cloud{name: "aws"}, Info, "cannot be checked offline"},
		{"unknown cloud", prefixes("10.0.0.0/16"), cloud{}, OK, "not compared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := checkAllow(&config.Config{Port: 12345, Allow: tc.allow}, tc.cl)
			if ck.Status != tc.want || !strings.Contains(ck.Found+ck.Fix, tc.text) {
				t.Errorf("got %s %q (fix %q), want %s containing %q", ck.Status, ck.Found, ck.Fix, tc.want, tc.text)
			}
		})
	}
}

func TestProbeSources(t *testing.T) {
	azure := cloud{name: "azure", sources: []netip.Prefix{azureProbe}}
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		cl    cloud
		want  string
	}{
		{"allow wins", prefixes("10.0.0.0/8"), azure, "10.0.0.0/8"},
		{"cloud's sources when allow is empty", nil, cloud{name: "gcp", sources: prefixes("35.191.0.0/16")}, "35.191.0.0/16"},
		{"any host of the VIP's family otherwise", nil, cloud{}, "any IPv6 host"},
	} {
		if got := sourceList(probeSources(&config.Config{}, cloud{})); got != "any IPv4 host" {
			t.Errorf("no VIP, no bind: %q, want IPv4 (as the allow check assumes)", got)
		}
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Config{Allow: tc.allow, VIP: netip.MustParseAddr("fd00::5"), Prefix: 128, Interface: "eth1"}
			if got := sourceList(probeSources(c, tc.cl)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLBProbes(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		stats *daemon.Stats
		want  Status
		text  string
	}{
		{"recent probe", &daemon.Stats{Since: now.Add(-time.Hour), LastProbe: now.Add(-3 * time.Second), LastSource: "168.63.129.16", Answered: 700}, OK, "3s ago from 168.63.129.16"},
		{"probes stopped", &daemon.Stats{Since: now.Add(-time.Hour), LastProbe: now.Add(-2 * time.Minute), LastSource: "168.63.129.16"}, Warn, "2m0s ago"},
		{"never probed", &daemon.Stats{Since: now.Add(-time.Minute)}, Warn, "does not probe this node"},
		{"too early to tell", &daemon.Stats{Since: now.Add(-10 * time.Second)}, OK, "too early to tell"},
		{"rejected ones are mentioned", &daemon.Stats{Since: now.Add(-time.Minute), Rejected: 4}, Warn, "4 refused"},
		{"no stats file", nil, Warn, "cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ck := lbProbes(tc.stats, now, 12345, lbQuiet)
			if ck.Status != tc.want || !strings.Contains(ck.Found, tc.text) {
				t.Errorf("got %s %q, want %s containing %q", ck.Status, ck.Found, tc.want, tc.text)
			}
			if ck.Status == Warn && ck.Fix == "" {
				t.Error("a warning without a fix")
			}
		})
	}
}

func TestHolderPid(t *testing.T) {
	for in, want := range map[string]int{"nginx (pid 4321)": 4321, "ilbvip:lbhc-1 (pid 7)": 7, "": 0, "odd": 0, "x (pid y)": 0} {
		if got := holderPid(in); got != want {
			t.Errorf("holderPid(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestReportRendering(t *testing.T) {
	r := &Report{Tag: "lbhc-12345", State: "stopped", Checks: []Check{
		{Name: "config", Status: OK, Found: "valid"},
		{Name: "tcp_timestamps", Status: Warn, Found: "on", Fix: "turn it off"},
		{Name: "port", Status: Fail, Found: "held by nginx (pid 4)", Fix: "stop it"},
	}}
	if !r.Failed() || r.Count(Warn) != 1 {
		t.Fatalf("Failed %t, warnings %d", r.Failed(), r.Count(Warn))
	}
	lines := strings.Split(strings.TrimSuffix(r.Human(), "\n"), "\n")
	if len(lines) != 4 || lines[0] != "lbhc-12345: diagnose (stopped): 1 failed, 1 warning" ||
		lines[3] != "fail  port            held by nginx (pid 4); fix: stop it" {
		t.Errorf("human:\n%s", r.Human())
	}
	var back Report
	if err := json.Unmarshal(r.JSON(), &back); err != nil || len(back.Checks) != 3 || back.Checks[2].Status != Fail || back.Checks[1].Fix != "turn it off" {
		t.Errorf("json round trip: %v %+v", err, back)
	}
}

// Where the probes go: bind when set, the VIP on Google Cloud, else not
// known (Azure and AWS probe the node's own address in the backend pool).
func TestProbeDest(t *testing.T) {
	vip := netip.MustParseAddr("10.10.5.200")
	bind := netip.MustParseAddr("10.0.0.4")
	for _, tc := range []struct {
		name string
		c    config.Config
		cl   string
		want netip.Addr
	}{
		{"bind wins", config.Config{Bind: bind, VIP: vip, Prefix: 32, Interface: "eth0"}, "gcp", bind},
		{"gcp probes the VIP", config.Config{VIP: vip, Prefix: 32, Interface: "eth0"}, "gcp", vip},
		{"azure probes the node's address", config.Config{VIP: vip, Prefix: 32, Interface: "eth0"}, "azure", netip.Addr{}},
		{"bind to all addresses says nothing", config.Config{Bind: netip.IPv4Unspecified()}, "aws", netip.Addr{}},
	} {
		if got := probeDest(&tc.c, cloud{name: tc.cl}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
