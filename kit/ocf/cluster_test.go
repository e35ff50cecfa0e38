//go:build linux

package ocf_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/procfs"
)

// node is a one-node Pacemaker cluster started by kit/ocf/testdata/node.sh
// in the test's network namespace and its own mount and UTS namespaces.
type node struct {
	t   *testing.T
	ns  *testenv.NS
	dir string
	cmd *exec.Cmd
}

func startNode(t *testing.T, ns *testenv.NS, agent string) *node {
	t.Helper()
	script, err := filepath.Abs("testdata/node.sh")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, ns: ns, dir: t.TempDir()}
	logf, err := os.Create(filepath.Join(n.dir, "node.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	n.cmd = exec.Command("ip", "netns", "exec", ns.Name,
		"unshare", "--mount", "--uts", "--propagation", "private", script, n.dir, agent)
	n.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- n.cmd.Wait() }()
	t.Cleanup(func() { n.stop(exited) })

	t0 := time.Now()
	for {
		if _, err := os.Stat(filepath.Join(n.dir, "ready")); err == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("node.sh exited before the node was ready: %v\n%s", err, n.logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(t0) > 90*time.Second {
			t.Fatalf("node not ready after 90s\n%s", n.logs())
		}
	}
	t.Logf("cluster node up (corosync, pacemakerd, DC elected) in %s", time.Since(t0).Round(time.Millisecond))
	return n
}

// stop shuts the node down (TERM: pacemakerd, then corosync), and then
// checks that no process is left in the namespace.
func (n *node) stop(exited chan error) {
	t := n.t
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(120 * time.Second):
		t.Errorf("node.sh did not stop within 120s: killed\n%s", n.logs())
		_ = n.cmd.Process.Kill()
		<-exited
	}
	if left := pidsInNetns(t, n.ns); len(left) > 0 {
		t.Errorf("processes left in the node's namespace: %v: killed", left)
		for _, p := range left {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
	if t.Failed() {
		t.Logf("node logs:\n%s", n.logs())
	}
}

// logs is the end of node.sh's output and of Pacemaker's log, for failures.
func (n *node) logs() string {
	var b strings.Builder
	for _, f := range []string{"node.out", "corosync.out", "pacemakerd.out", "var/log/pacemaker/pacemaker.log"} {
		data, err := os.ReadFile(filepath.Join(n.dir, f))
		if err != nil {
			continue
		}
		s := string(data)
		if len(s) > 6000 {
			s = "..." + s[len(s)-6000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", f, s)
	}
	return b.String()
}

// crm runs a Pacemaker command inside the node.
func (n *node) crm(args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(n.cmd.Process.Pid), "-n", "-m", "-u"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (n *node) mustCRM(args ...string) string {
	n.t.Helper()
	out, err := n.crm(args...)
	if err != nil {
		n.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// until polls cond every 50ms for at most limit and returns how long it
// took; on timeout it fails the test with what.
func (n *node) until(what string, limit time.Duration, cond func() bool) time.Duration {
	n.t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > limit {
			crmMon, _ := n.crm("crm_mon", "-1", "--show-detail")
			n.t.Fatalf("%s: not within %s\n%s\n%s", what, limit, crmMon, n.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(t0)
}

// pidsInNetns lists the processes whose network namespace is ns.
func pidsInNetns(t *testing.T, ns *testenv.NS) []int {
	var want syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns.Name, &want); err != nil {
		t.Errorf("stat netns %s: %v", ns.Name, err)
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			if st, err := procfs.ReadStat(pid); err == nil && st.State == 'Z' {
				continue // a zombie waiting for PID 1 holds nothing
			}
			out = append(out, pid)
		}
	}
	return out
}

func TestPacemakerCluster(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "corosync", "corosync-quorumtool", "pacemakerd", "crm_mon", "cibadmin", "crm_resource",
		"crm_failcount", "crm_attribute", "unshare", "nsenter")
	const installed = "/usr/lib/ocf/resource.d/ilbvip"
	testenv.LockOCFProviders(t, false) // kit/packaging's deb test installs it meanwhile otherwise
	_, err := os.Stat(installed)
	preinstalled := err == nil

	h := newHost(t, nil)
	n := startNode(t, h.ns, h.agent)
	if out := n.mustCRM("crm_resource", "--show-metadata", "ocf:ilbvip:ilbvip"); !strings.Contains(out, `<resource-agent name="ilbvip">`) {
		t.Fatalf("Pacemaker does not find the agent at its standard path: %s", out)
	}

	// The primitive, as `pcs resource create vip ocf:ilbvip:ilbvip vip=10.10.5.200
	// interface=eth1 port=62500 op monitor interval=2s` would make it.
	nv := func(name, value string) string {
		return fmt.Sprintf(`<nvpair id="vip-ia-%s" name="%s" value="%s"/>`, name, name, value)
	}
	primitive := `<primitive id="vip" class="ocf" provider="ilbvip" type="ilbvip">` +
		`<instance_attributes id="vip-ia">` + nv("vip", "10.10.5.200") + nv("interface", "eth1") + nv("port", "62500") +
		nv("bindir", binDir) + nv("state_dir", h.sd) + `</instance_attributes>` +
		`<operations><op id="vip-monitor-2s" name="monitor" interval="2s" timeout="20s"/></operations></primitive>`
	running := func() bool {
		out, _ := n.crm("crm_resource", "--locate", "-r", "vip")
		return strings.Contains(out, "is running on: node1")
	}
	up := func() bool { return h.hasVIP() && h.answers(62500) == nil && running() }

	n.mustCRM("cibadmin", "--create", "--scope", "resources", "--xml-text", primitive)
	start := n.until("start: vip on eth1, port 62500 answering, resource running", 60*time.Second, up)
	pid := h.pid("vip")
	t.Logf("start: %s from cibadmin --create to VIP present, port answering and resource running", start.Round(time.Millisecond))

	// kill -9: the 2s monitor notices, Pacemaker restarts the resource.
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	failcount := func() string {
		out, _ := n.crm("crm_failcount", "-G", "-Q", "-r", "vip", "-N", "node1")
		return out
	}
	detect := n.until("the monitor to notice the killed responder (fail-count 1)", 60*time.Second, func() bool { return failcount() == "1" })
	recovered := detect + n.until("recovery: a new responder answering", 60*time.Second, func() bool {
		rec, err := daemon.ReadRecord(h.sd, "vip")
		return err == nil && rec.Pid != pid && up()
	})
	t.Logf("kill -9 of the responder: detected in %s, recovered (new responder answering) in %s", detect.Round(time.Millisecond), recovered.Round(time.Millisecond))
	if fc := failcount(); fc != "1" {
		t.Errorf("fail-count %q after one kill, want 1", fc)
	}
	mon := n.mustCRM("crm_mon", "-1")
	if !strings.Contains(mon, "responder pid "+strconv.Itoa(pid)+" is dead") {
		t.Errorf("crm_mon does not show the exit reason of the failed monitor:\n%s", mon)
	}
	// A recovered resource stays up (monitor passes again).
	time.Sleep(3 * time.Second)
	if fc := failcount(); fc != "1" || !up() {
		t.Errorf("after recovery: fail-count %q, up %v", fc, up())
	}

	// target-role Stopped: the VIP and the responder go.
	n.mustCRM("crm_resource", "-r", "vip", "--meta", "-p", "target-role", "-v", "Stopped")
	stop := n.until("stop: vip and responder gone", 60*time.Second, func() bool {
		out, _ := n.crm("crm_resource", "--locate", "-r", "vip")
		return strings.Contains(out, "NOT running") && !h.hasVIP() && len(h.responders("vip")) == 0
	})
	t.Logf("stop: %s from target-role Stopped to VIP and responder gone", stop.Round(time.Millisecond))
	if err := h.answers(62500); err == nil {
		t.Error("port 62500 still answers after stop")
	}
	h.nothingLeft("vip")
	// The agent's own run times, as Pacemaker recorded them.
	if ops, err := n.crm("crm_mon", "-1", "--include=operations", "--show-detail", "-t"); err == nil {
		for _, l := range strings.Split(ops, "\n") {
			if strings.Contains(l, "exec-time") {
				t.Logf("pacemaker: %s", strings.TrimSpace(l))
			}
		}
	}

	// The agent was installed in the node's mount namespace only.
	if _, err := os.Stat(installed); err == nil && !preinstalled {
		t.Errorf("%s exists outside the test's mount namespace", installed)
	}
}
