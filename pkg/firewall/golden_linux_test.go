package firewall

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the rulesets the tools build")

// Rulesets as real firewall managers leave them, built by the real tools
// inside a network namespace each test creates (nothing outside it is
// touched) and read back with nft -j and iptables-save: their text is
// kept in testdata/golden and compared byte for byte, and so are the
// verdicts on it.

// ufwRules builds ufw's ruleset in a namespace: ufw's own start-up
// (/lib/ufw/ufw-init start) on a private copy of its shipped rule files,
// with before (an admin's edit) added to before.rules after its loopback
// rule, then each of cmds run by the ufw command. `ufw enable` is not
// run: it writes /etc/ufw, enables the firewall at boot and sets sysctls,
// none of which a namespace confines. ufw-init and ufw take a root and
// data directory, so they read and write only the copy and change only
// the namespace's iptables. The builder returns that directory, for
// running ufw's fixes (runFix).
func ufwRules(before string, cmds ...string) func(*testing.T, *testenv.NS) string {
	return func(t *testing.T, ns *testenv.NS) string {
		testenv.RequireTools(t, "ufw")
		dir := t.TempDir()
		for _, d := range []string{"etc/ufw/applications.d", "etc/default", "lib/ufw"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"before", "before6", "after", "after6", "user", "user6"} {
			copyFile(t, "/usr/share/ufw/iptables/"+f+".rules", filepath.Join(dir, "etc/ufw", f+".rules"), "", "")
		}
		const lo = "-A ufw-before-input -i lo -j ACCEPT\n"
		copyFile(t, "/usr/share/ufw/iptables/before.rules", filepath.Join(dir, "etc/ufw/before.rules"), lo, lo+before)
		copyFile(t, "/lib/ufw/ufw-init-functions", filepath.Join(dir, "lib/ufw/ufw-init-functions"), "", "")
		copyFile(t, "/lib/ufw/ufw-init", filepath.Join(dir, "lib/ufw/ufw-init"), "", "") // ufw runs it from the root directory
		writeFile(t, filepath.Join(dir, "etc/ufw/ufw.conf"), "ENABLED=yes\nLOGLEVEL=low\n")
		writeFile(t, filepath.Join(dir, "etc/default/ufw"), "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n"+
			"DEFAULT_FORWARD_POLICY=\"DROP\"\nDEFAULT_APPLICATION_POLICY=\"SKIP\"\nMANAGE_BUILTINS=no\nIPT_SYSCTL=/dev/null\nIPT_MODULES=\"\"\n")
		ns.MustRun(t, "/lib/ufw/ufw-init", "--rootdir", dir, "--datadir", dir, "start")
		for _, c := range cmds {
			runUFW(t, ns, dir, c)
		}
		return dir
	}
}

// runUFW runs `ufw ARGS` in ns on the rule files in dir.
func runUFW(t *testing.T, ns *testenv.NS, dir, args string) {
	t.Helper()
	ns.MustRun(t, "ufw", append([]string{"--rootdir=" + dir, "--datadir=" + dir}, strings.Fields(args)...)...)
}

// copyFile copies from to to, with old replaced by new when old is set.
func copyFile(t *testing.T, from, to, old, new string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("%v (scripts/install-test-deps.sh installs ufw)", err)
	}
	text := string(b)
	if old != "" {
		if !strings.Contains(text, old) {
			t.Fatalf("%s has no %q", from, old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	writeFile(t, to, text)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dockerRules are the chains docker 24 creates for a container publishing
// 8080 (iptables-save of such a host, trimmed of counters).
const dockerRules = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
`

// kubeRules are kube-proxy's iptables mode (1.28) with a NodePort service
// (30080) without endpoints and a cluster DNS service.
const kubeRules = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
:KUBE-SEP-IT2ZTR26TO4XFPTO - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -m tcp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns-tcp -> 10.244.0.5:53" -j KUBE-SEP-IT2ZTR26TO4XFPTO
-A KUBE-SEP-IT2ZTR26TO4XFPTO -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp" -m tcp -j DNAT --to-destination 10.244.0.5:53
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
COMMIT
`

// restore loads iptables-save text with iptables-restore in ns.
func restore(text string) func(*testing.T, *testenv.NS) string { return fed(text, "iptables-restore") }

// fed loads a ruleset into ns through a program that reads it on its
// standard input.
func fed(text, name string, args ...string) func(*testing.T, *testenv.NS) string {
	return func(t *testing.T, ns *testenv.NS) string {
		cmd := ns.Command(name, args...)
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
		return ""
	}
}

// probes are the decisions recorded for each ruleset.
var probes = []struct {
	src  string
	port uint16
}{{"168.63.129.16/32", 12345}, {"192.0.2.1/32", 12345}, {"any4", 12345}, {"192.0.2.1/32", 8080}, {"192.0.2.1/32", 30080}, {"any6", 12345}}

// goldenCase is a ruleset a firewall manager leaves, and what each
// reading ("reading src port") must decide.
type goldenCase struct {
	name string
	// build loads the ruleset into ns; it returns ufw's directory, or "".
	build func(*testing.T, *testenv.NS) string
	want  map[string]Decision
}

// goldenCases: three readings each: nft's JSON alone, where iptables-nft's
// conntrack and addrtype matches are xt matches it cannot judge (nft -j
// lists them without their options); iptables-save's IPv4 text alone; and
// the host, as Read sees it (nft, with the tables iptables-nft owns read
// from iptables-save and ip6tables-save). Docker's DNAT of 8080 for
// packets not from docker0 is not followed.
var goldenCases = []goldenCase{
	{"ufw", ufwRules("", "allow proto tcp from 168.63.129.16 to any port 12345", "deny 8080/tcp"), map[string]Decision{
		"iptables 192.0.2.1/32 12345": Drop, "iptables 168.63.129.16/32 12345": Accept,
		"nftables 168.63.129.16/32 12345": Undecided, "iptables any6 12345": Accept,
		"host 168.63.129.16/32 12345": Accept, "host 192.0.2.1/32 12345": Drop,
		"host 192.0.2.1/32 8080": Drop, "host 192.0.2.1/32 30080": Drop, "host any6 12345": Drop}},
	{"docker", restore(dockerRules), map[string]Decision{
		"iptables 192.0.2.1/32 12345": Accept, "nftables 192.0.2.1/32 12345": Accept,
		"iptables 192.0.2.1/32 8080": Undecided, "nftables 192.0.2.1/32 8080": Undecided,
		"host 192.0.2.1/32 12345": Accept, "host 192.0.2.1/32 8080": Undecided}},
	{"kube-proxy", restore(kubeRules), map[string]Decision{
		"iptables 192.0.2.1/32 30080": Drop, "iptables 192.0.2.1/32 12345": Accept,
		"nftables 192.0.2.1/32 12345": Accept, "nftables any6 12345": Accept,
		"host 168.63.129.16/32 12345": Accept, "host 192.0.2.1/32 12345": Accept,
		"host any4 12345": Accept, "host 192.0.2.1/32 30080": Drop}},
}

func TestGoldenRulesets(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "nft", "iptables-restore", "iptables-save", "ip6tables-save")
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := testenv.NewNS(t)
			tc.build(t, ns)
			golden(t, tc.name+".verdicts", readings(t, ns, tc.name, tc.want))
		})
	}
}

// readings records the rulesets' text in testdata/golden and returns the
// verdicts of the three readings, checked against want.
func readings(t *testing.T, ns *testenv.NS, name string, want map[string]Decision) string {
	nftJSON := ns.MustRun(t, "nft", "-j", "list", "ruleset")
	save := stripComments(ns.MustRun(t, "iptables-save"))
	golden(t, name+".nft.json", nftJSON)
	golden(t, name+".iptables", save)
	golden(t, name+".ip6tables", stripComments(ns.MustRun(t, "ip6tables-save")))
	nrs, err := parseNft([]byte(nftJSON))
	if err != nil {
		t.Fatal(err)
	}
	irs, err := parseIptables(save, "iptables", "iptables", false)
	if err != nil {
		t.Fatal(err)
	}
	host := Read(context.Background(), nsTools(ns))
	if len(host.Problems) > 0 {
		t.Errorf("host: %s", strings.Join(host.Problems, "; "))
	}
	report := fmt.Sprintf("host read %s; empty %s\n", strings.Join(host.Read, ", "), strings.Join(host.Empty, ", "))
	for _, p := range probes {
		for _, rs := range []*Ruleset{nrs, irs} {
			report += verdictLine(t, rs.from, rs.Decide(src(p.src), p.port), p.src, p.port, want)
		}
		report += verdictLine(t, "host", hostVerdict(host.Rulesets, p.src, p.port), p.src, p.port, want)
	}
	return report
}

// nsTools runs nft, iptables-save and ip6tables-save inside ns, as Read
// would run them on a node. The legacy programs are left out: the
// namespace's legacy tables exist or not depending on the modules the
// host has loaded, and they are empty here.
func nsTools(ns *testenv.NS) Tools {
	return Tools{
		LookPath: func(name string) (string, error) {
			switch name {
			case "nft", "iptables-save", "ip6tables-save":
				return exec.LookPath(name)
			}
			return "", exec.ErrNotFound
		},
		Command: func(_ context.Context, path string, args ...string) ([]byte, error) {
			out, err := ns.Command(path, args...).Output()
			if err != nil {
				return nil, fmt.Errorf("%s in netns %s: %w", path, ns.Name, err)
			}
			return out, nil
		},
	}
}

// hostVerdict is what the doctor makes of several views: the first that
// drops the probe, else the first undecided, else accept (at every view).
func hostVerdict(views []*Ruleset, s string, port uint16) Verdict {
	var undecided *Verdict
	var all []string
	for _, rs := range views {
		all = append(all, rs.from)
		v := rs.Decide(src(s), port)
		switch {
		case v.Decision == Drop:
			return v
		case v.Decision == Undecided && undecided == nil:
			undecided = &v
		}
	}
	if undecided != nil {
		return *undecided
	}
	return Verdict{Decision: Accept, Where: strings.Join(all, ", ")}
}

// verdictLine is one line of a .verdicts file; it checks the decision
// against want ("reading src port").
func verdictLine(t *testing.T, reading string, v Verdict, s string, port uint16, want map[string]Decision) string {
	t.Helper()
	if w, ok := want[fmt.Sprintf("%s %s %d", reading, s, port)]; ok && v.Decision != w {
		t.Errorf("%s: %s tcp/%d: %s at %s (%s), want %s", reading, s, port, v.Decision, v.Where, v.Why, w)
	}
	return fmt.Sprintf("%s tcp/%d %s: %s at %s (%s) fix %q\n", reading, port, s, v.Decision, v.Where, v.Why, v.Fix)
}

// golden compares got with testdata/golden/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./pkg/firewall/ -run TestGoldenRulesets -update writes it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from what the tools built now (go test ./pkg/firewall/ -run TestGoldenRulesets -update rewrites it):\n%s", path, diffLines(string(want), got))
	}
}

// diffLines shows the first line that differs.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(al), len(bl))
}
