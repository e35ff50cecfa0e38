package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/config"
)

// TestDiagnoseClouds runs the real quickCheck --diagnose with each cloud
// profile, as an admin would on a node of that cloud: the cloud parameter
// decides, whatever the machine's DMI strings say.
func TestDiagnoseClouds(t *testing.T) {
	node, lb := testenv.NewNS(t), testenv.NewNS(t)
	node.Veth(t, "eth0", "10.0.0.2/24", lb, "eth0", "10.0.0.3/24")
	node.MustRun(t, "ip", "-6", "addr", "add", "fd00::2/64", "dev", "eth0", "nodad")
	// A VIP that another resource (IPaddr2) holds: a host address beside
	// the NIC's own.
	node.MustRun(t, "ip", "addr", "add", "10.0.0.200/32", "dev", "eth0")
	sd := filepath.Join(t.TempDir(), "state")
	base := []string{"-t", "lbhc-12345", "--port", "12345", "--state-dir", sd, "--interface", "eth0"}
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		check string
		want  Status
		text  string
	}{
		{"gcp: bind on the node's address", []string{"--cloud", "gcp", "--vip", "10.128.0.200", "--bind", "10.0.0.2", "--allow", "35.191.0.0/16,130.211.0.0/22"},
			1, "bind", Fail, "bind is 10.0.0.2, but Google Cloud sends its health checks to the forwarding rule's IP 10.128.0.200"},
		{"gcp: no vip, bind on the node's address", []string{"--cloud", "gcp", "--bind", "10.0.0.2", "--allow", "35.191.0.0/16,130.211.0.0/22"},
			1, "bind", Fail, "not to the node's address"},
		{"gcp: no vip, bind the VIP that IPaddr2 holds", []string{"--cloud", "gcp", "--bind", "10.0.0.200", "--allow", "35.191.0.0/16,130.211.0.0/22"},
			0, "bind", OK, "taken to be the forwarding rule's IP"},
		{"azure: no vip, bind the VIP that IPaddr2 holds", []string{"--cloud", "azure", "--bind", "10.0.0.200", "--allow", "168.63.129.16"},
			0, "bind", Warn, "never to a VIP"},
		{"azure: ipv6 vip, ipv4 bind", []string{"--cloud", "azure", "--vip", "fd00:5::200", "--bind", "10.0.0.2", "--allow", "168.63.129.16"},
			1, "bind", Fail, "different IP families"},
		{"azure: ipv6 vip, ipv4 bind: allow judged for IPv6", []string{"--cloud", "azure", "--vip", "fd00:5::200", "--bind", "10.0.0.2", "--allow", "168.63.129.16"},
			1, "allow", Fail, "leaves out Azure's IPv6 probe source fe80::1234:5678:9abc"},
		{"no cloud: ipv4 vip, ipv6 bind", []string{"--cloud", "none", "--vip", "10.10.5.200", "--bind", "fd00::2", "--allow", "fe80::1234:5678:9abc"},
			1, "bind", Fail, "different IP families"},
		{"no cloud: ipv4 vip, an ipv6 allow", []string{"--cloud", "none", "--vip", "10.10.5.200", "--bind", "fd00::2", "--allow", "fe80::1234:5678:9abc"},
			1, "allow", Fail, "has no IPv4 address"},
		{"gcp: bind unset", []string{"--cloud", "gcp", "--vip", "10.128.0.200", "--allow", "35.191.0.0/16,130.211.0.0/22"},
			0, "bind", Skip, "bind not set"},
		{"azure: ipv6 vip without fe80::1234:5678:9abc", []string{"--cloud", "azure", "--vip", "fd00:5::200", "--allow", "168.63.129.16"},
			1, "allow", Fail, "leaves out Azure's IPv6 probe source fe80::1234:5678:9abc"},
		{"azure: ipv6 vip with it", []string{"--cloud", "azure", "--vip", "fd00:5::200", "--allow", "168.63.129.16,fe80::1234:5678:9abc"},
			0, "allow", OK, "covers Azure's probe sources"},
		{"aws: a vip carries none of the NLB's traffic", []string{"--cloud", "aws", "--vip", "10.0.5.200", "--allow", "10.0.0.0/16"},
			0, "lb_config", Warn, "a Network Load Balancer has no Floating IP"},
		{"azure: the load balancer's settings", []string{"--cloud", "azure", "--vip", "10.10.5.200", "--allow", "168.63.129.16"},
			0, "lb_config", Info, "NoHealthyBackendsBehavior left at AllProbedDown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := diagnose(t, node, tc.code, append(append([]string{}, base...), tc.args...))
			expect(t, rep.check(t, tc.check), tc.want, tc.text)
		})
	}

	// The guest agent's local route for the forwarding rule's IP (proto 66)
	// makes a stopped node accept the VIP's traffic: named as a warning.
	node.MustRun(t, "ip", "route", "add", "local", "10.128.0.200", "dev", "eth0", "proto", "66", "table", "local")
	rep := diagnose(t, node, 0, append(append([]string{}, base...), "--cloud", "gcp", "--vip", "10.128.0.200", "--allow", "35.191.0.0/16,130.211.0.0/22"))
	expect(t, rep.check(t, "lb_config"), Warn, "a local route for 10.128.0.200 dev eth0 (proto 66, the guest agent's)")

	// quickCheck --verbose names the profile; a wrong value is one line, exit 6.
	r := runIn(t, node, "quickCheck", append(append([]string{}, base...), "--cloud", "aws", "--verbose")...)
	if r.code != 7 || !strings.Contains(r.stdout, "  cloud      AWS (cloud parameter), probes to this node's own address\n") {
		t.Errorf("--verbose: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, node, "quickCheck", append(append([]string{}, base...), "--cloud", "azur")...)
	if r.code != 6 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.Contains(r.stderr, `cloud (from flag --cloud): "azur" is not a cloud: use auto, azure, gcp, aws, none`) {
		t.Errorf("cloud azur: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestTimestampsByCloud: tcp_timestamps matters on Azure only; a node set
// to cloud none is not told to check whether it runs in Azure.
func TestTimestampsByCloud(t *testing.T) {
	sys := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sys, "net/ipv4"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sys, "net/ipv4/tcp_timestamps"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cloud string
		dmi   map[string]string
		want  Status
		text  string
	}{
		{"azure", nil, Warn, "on Azure"},
		{"gcp", nil, OK, "matters only in Azure"},
		{"aws", nil, OK, "matters only in Azure"},
		{"none", nil, OK, "matters only in Azure"},
		{"none", dmiKVM, OK, "matters only in Azure"},
		// The firmware says Azure: the probes fail whatever the parameter.
		{"none", dmiAzure, Warn, "the firmware says Azure"},
		{"gcp", dmiAzure, Warn, "the firmware says Azure"},
	} {
		c := &config.Config{Cloud: tc.cloud}
		ck := checkTimestamps(&node{c: c, env: Env{ProcSys: sys}, cloud: selectCloud(c, dmiDir(t, tc.dmi))})
		if ck.Status != tc.want || !strings.Contains(ck.Found, tc.text) {
			t.Errorf("cloud %s: %s %q, want %s containing %q", tc.cloud, ck.Status, ck.Found, tc.want, tc.text)
		}
	}
}
