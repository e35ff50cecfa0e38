//go:build linux

package rehearsal_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/lbsim"
	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/internal/rehearsal"
	"github.com/ilbvip/ilbvip/internal/testbed"
	"github.com/ilbvip/ilbvip/internal/testenv"
)

// Scenario e's load balancer: Azure's shape (2 results in a row), a faster
// interval so the test stays short.
const (
	pcmkInterval  = 500 * time.Millisecond
	pcmkThreshold = 2
	standbyRuns   = 2 // standby moves, alternating direction
	crashRuns     = 2 // node deaths; the dead node reboots in between
)

// TestPacemaker is scenario e: a real two-node Pacemaker cluster (corosync
// and pacemakerd in node1 and node2 of the bed, started by
// kit/ocf/testdata/node.sh) runs the OCF agent ocf:ilbvip:ilbvip, with the
// LB simulator in front. First `crm_attribute --node ACTIVE --name standby
// --update on` moves the resource (twice, there and back); then the active
// node dies (twice, the dead node reboots in between): its backend link goes
// down and every process in it is killed at once (corosync, pacemakerd and
// its children, the responder), as a crashed or powered-off VM. Killing only
// the cluster stack would leave the responder answering next to the
// survivor's, and with stonith disabled nothing would stop it: in a cloud
// that is fencing's job, which this bed does not simulate. Each time the
// client, through the simulator, must reach the other node.
//
// Asserted:
//   - the client reaches the other node (within 60 s), and the old node never
//     answers after the new one did;
//   - never two at once: the two probe ports, polled every 20 ms from the
//     LB's namespace, never both answer, and the simulator never sees two
//     healthy backends;
//   - standby move: from the old node's port going silent (Pacemaker's stop)
//     to the client's first answer from the new node: at most interval ×
//     threshold + 1 s;
//   - every switchover: the LB marks the old node down at most
//     interval × threshold + 1 s after its port went silent (the death, for
//     a node death), and the client gets the new node at most
//     interval × threshold + 1 s after the new node's port answers.
//
// Recorded only (t.Logf): the whole switchover from the command or the
// death to the client's first answer from the other node, Pacemaker's part
// (until the old port is silent, the new one answers), and the client's
// gap. A node death's whole switchover includes corosync's token timeout
// and Pacemaker's reaction, so interval × threshold + 1 s does not apply.
func TestPacemaker(t *testing.T) {
	testenv.RequireRoot(t)
	requireTools(t, "corosync", "corosync-quorumtool", "pacemakerd", "crm_mon", "cibadmin", "crm_resource",
		"crm_attribute", "unshare", "nsenter")
	testenv.LockOCFProviders(t, false) // kit/packaging's deb test installs it meanwhile otherwise
	_, err := os.Stat("/usr/lib/ocf/resource.d/ilbvip")
	preinstalled := err == nil
	r, bed := setup(t, nil, lbsim.Config{Interval: pcmkInterval, Threshold: pcmkThreshold})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pr := watchProbes(t, bed, port)
	c := newCluster(t, bed)

	t0 := time.Now()
	for _, n := range c.nodes {
		c.boot(n)
	}
	for _, n := range c.nodes {
		c.waitReady(n)
	}
	c.waitOnline(c.nodes[0], "node1", "node2")
	t.Logf("cluster: node1 and node2 online in %s", ms(time.Since(t0)))

	t0 = time.Now()
	c.mustCRM(c.nodes[0], "cibadmin", "--create", "--scope", "resources", "--xml-text", c.primitive())
	active := c.waitActive(ctx, c.nodes[0], 60*time.Second)
	t.Logf("cluster: vip running on %s, the client gets %q through the LB, %s after cibadmin --create",
		active.Name, active.Name, ms(time.Since(t0)))

	var moves, crashes []switchover
	for i := 0; i < standbyRuns; i++ {
		to := c.other(active)
		from := active
		s := c.switchTo(ctx, r, pr, from, to, fmt.Sprintf("crm_attribute --node %s --name standby --update on", from.Name), func() error {
			_, err := c.crm(to, "crm_attribute", "--node", from.Name, "--name", "standby", "--update", "on")
			return err
		})
		moves = append(moves, s)
		// The old node back online; stickiness keeps vip where it is.
		c.mustCRM(to, "crm_attribute", "--node", from.Name, "--name", "standby", "--update", "off")
		c.waitOnline(to, "node1", "node2")
		if on := c.locate(to); on != to.Name {
			t.Fatalf("after %s left standby, vip runs on %q, want %s (resource-stickiness)", from.Name, on, to.Name)
		}
		active = to
	}

	for i := 0; i < crashRuns; i++ {
		victim, survivor := active, c.other(active)
		var killed []string
		s := c.switchTo(ctx, r, pr, victim, survivor, "node death: backend link down, kill -9 of every process", func() error {
			var err error
			killed, err = c.kill(victim)
			return err
		})
		t.Logf("%s: killed %s", victim.Name, strings.Join(killed, ", "))
		crashes = append(crashes, s)
		active = survivor
		if i < crashRuns-1 {
			t0 := time.Now()
			c.reboot(victim)
			c.waitOnline(survivor, "node1", "node2")
			t.Logf("%s rebooted: online again in %s", victim.Name, ms(time.Since(t0)))
		}
	}

	bound := r.Bound()
	t.Logf("LB: interval %s × threshold %d + 1 s = %s; probe ports polled every 20 ms", pcmkInterval, pcmkThreshold, ms(bound))
	for _, s := range moves {
		t.Logf("standby move %s -> %s: client on %s %s after the command (gap %s, %d requests failed); "+
			"Pacemaker: %s port silent +%s, %s port answering +%s; LB: %s down %s after its port went silent, "+
			"client on %s %s after its port answered; %s from the old port going silent to the new node's first answer",
			s.from.Name, s.to.Name, s.to.Name, ms(s.total), ms(s.gap), s.failed,
			s.from.Name, ms(s.silent), s.to.Name, ms(s.started),
			s.from.Name, ms(s.lbDown), s.to.Name, ms(s.lbNew), ms(s.fromSilent))
	}
	for _, s := range crashes {
		t.Logf("node death %s -> %s: client on %s %s after the death (gap %s, %d requests failed); "+
			"Pacemaker: %s port answering +%s; LB: %s down %s after the death, client on %s %s after its port answered",
			s.from.Name, s.to.Name, s.to.Name, ms(s.total), ms(s.gap), s.failed,
			s.to.Name, ms(s.started), s.from.Name, ms(s.lbDown), s.to.Name, ms(s.lbNew))
	}
	for _, s := range moves {
		if s.fromSilent > bound {
			t.Errorf("standby move %s -> %s: the client reached %s %s after %s's port went silent, more than interval × threshold + 1 s = %s",
				s.from.Name, s.to.Name, s.to.Name, ms(s.fromSilent), s.from.Name, ms(bound))
		}
	}
	for _, s := range append(moves, crashes...) {
		if s.lbDown > bound {
			t.Errorf("%s -> %s: the LB marked %s down %s after its port went silent, more than interval × threshold + 1 s = %s",
				s.from.Name, s.to.Name, s.from.Name, ms(s.lbDown), ms(bound))
		}
		if s.lbNew > bound {
			t.Errorf("%s -> %s: the client reached %s %s after its port answered, more than interval × threshold + 1 s = %s",
				s.from.Name, s.to.Name, s.to.Name, ms(s.lbNew), ms(bound))
		}
	}
	if both := pr.bothAnswering(); len(both) > 0 {
		t.Errorf("the two nodes' probe ports answered at the same time: %s", strings.Join(both, "; "))
	}
	if two := r.TwoHealthy(); len(two) > 0 {
		t.Errorf("never two healthy backends at once, but: %v", two)
	}
	if _, err := os.Stat("/usr/lib/ocf/resource.d/ilbvip"); err == nil && !preinstalled {
		t.Error("/usr/lib/ocf/resource.d/ilbvip exists outside the nodes' mount namespaces")
	}
}

// switchover is one measured move of the client from one node to the other.
// Times are from the command (standby) or the death (t0) unless said.
type switchover struct {
	from, to   *pcmkNode
	total      time.Duration // t0 -> the client's first answer from `to`
	gap        time.Duration // the client's last answer from `from` (before t0 for a death) -> its first from `to`
	failed     int           // client requests without an answer in between
	silent     time.Duration // t0 -> from's probe port stops answering
	started    time.Duration // t0 -> to's probe port answers
	lbDown     time.Duration // from's port silent -> the LB marks `from` down
	lbNew      time.Duration // to's port answers -> the client's first answer from `to`
	fromSilent time.Duration // from's port silent -> the client's first answer from `to`
}

// switchTo runs act while a client asks every 20 ms, and measures until the
// client gets `to`. It fails the test when `to` never answers, or `from`
// answers after `to` did.
func (c *cluster) switchTo(ctx context.Context, r *rehearsal.Rehearsal, pr *probes, from, to *pcmkNode, what string, act func() error) switchover {
	t := c.t
	t.Helper()
	s := switchover{from: from, to: to}
	const limit = 60 * time.Second // Pacemaker's reaction included; measured 2-8 s
	w := c.bed.Watch(ctx, 20*time.Millisecond, 300*time.Millisecond, limit+10*time.Second)
	defer w.Stop()
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	if _, ok := w.First(from.Name, time.Time{}); !ok {
		t.Fatalf("before %s: the client gets no answer from %s", what, from.Name)
	}
	t.Logf("%s: %s", from.Name, what)
	if err := act(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	first, ok := w.First(to.Name, t0)
	for deadline := t0.Add(limit); !ok && time.Now().Before(deadline); first, ok = w.First(to.Name, t0) {
		time.Sleep(10 * time.Millisecond)
	}
	if !ok {
		mon, _ := c.crm(to, "crm_mon", "-1", "--show-detail")
		t.Fatalf("%s: the client got no answer from %s within %s\n%s\n%s", what, to.Name, limit, mon, c.logs())
	}
	time.Sleep(300 * time.Millisecond) // a few answers after the switch
	answers := w.Stop()
	s.total = first.At.Sub(t0)
	var last time.Time
	old := 0
	for _, a := range answers {
		switch {
		case a.Node == from.Name && a.At.Before(first.At):
			last = a.At
		case a.Node == from.Name:
			old++
		case a.Err != nil && !a.At.Before(t0) && a.At.Before(first.At):
			s.failed++
		}
	}
	s.gap = first.At.Sub(last)
	if old > 0 {
		t.Errorf("%s: %s still answered %d times after %s did", what, from.Name, old, to.Name)
	}
	// The ports as the LB sees them. The new node's answered by the time
	// the client got it; the old one fell silent before (Pacemaker stops
	// before it starts) or at the death.
	silent, ok := pr.silent(from.Name, t0, first.At)
	if !ok {
		t.Fatalf("%s: %s's probe port still answers", what, from.Name)
	}
	started, ok := pr.first(to.Name, true, t0)
	if !ok {
		t.Fatalf("%s: %s's probe port does not answer, yet the client got %s", what, to.Name, to.Name)
	}
	s.silent, s.started = silent.Sub(t0), started.Sub(t0)
	s.lbNew, s.fromSilent = first.At.Sub(started), first.At.Sub(silent)
	wctx, cancel := context.WithTimeout(ctx, 3*r.Bound())
	defer cancel()
	down, err := c.bed.WaitEvent(wctx, t0, testbed.Is(lbsim.Down, from.Name))
	if err != nil {
		t.Fatalf("%s: the LB did not mark %s down: %v", what, from.Name, err)
	}
	s.lbDown = down.Time.Sub(silent)
	t.Logf("%s: the client gets %q %s after it (gap %s)", what, to.Name, ms(s.total), ms(s.gap))
	return s
}

// cluster is the two Pacemaker nodes on the bed's node namespaces.
type cluster struct {
	t             *testing.T
	bed           *testbed.Bed
	script, agent string
	nodes         []*pcmkNode
}

// pcmkNode is one bed node and its current boot of node.sh.
type pcmkNode struct {
	*testbed.Node
	boots  int
	dir    string // this boot's directory: Pacemaker's and corosync's state and logs
	cmd    *exec.Cmd
	exited chan error // Wait's result, once
	dead   bool       // exited was read
}

func newCluster(t *testing.T, bed *testbed.Bed) *cluster {
	t.Helper()
	c := &cluster{t: t, bed: bed}
	var err error
	if c.script, err = filepath.Abs("../../kit/ocf/testdata/node.sh"); err != nil {
		t.Fatal(err)
	}
	if c.agent, err = filepath.Abs("../../kit/ocf/ilbvip"); err != nil {
		t.Fatal(err)
	}
	for _, n := range bed.Nodes {
		c.nodes = append(c.nodes, &pcmkNode{Node: n})
	}
	t.Cleanup(c.shutdown)
	return c
}

// boot starts node.sh in the node: its own mount and UTS namespaces, a
// fresh /run, the agent at Pacemaker's standard path there only.
func (c *cluster) boot(n *pcmkNode) {
	t := c.t
	t.Helper()
	n.boots++
	n.dir = filepath.Join(n.Dir, fmt.Sprintf("pacemaker-%d", n.boots))
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(n.dir, "node.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	args := []string{"netns", "exec", n.NS, "unshare", "--mount", "--uts", "--propagation", "private",
		c.script, n.dir, c.agent, n.Name}
	for _, m := range c.nodes {
		args = append(args, m.Name+"="+m.Addr.String())
	}
	n.cmd = exec.Command("ip", args...)
	n.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	n.cmd.Stdout, n.cmd.Stderr = out, out // a file: Wait does not wait for the daemons' copies
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.dead = false
	n.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(n.cmd, n.exited)
}

// waitReady waits for node.sh's ready file: corosync quorate, a DC elected.
func (c *cluster) waitReady(n *pcmkNode) {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(n.dir, "ready")); err == nil {
			return
		}
		select {
		case err := <-n.exited:
			n.dead = true
			t.Fatalf("%s: node.sh exited before the node was ready: %v\n%s", n.Name, err, c.logs())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not ready within 90s\n%s", n.Name, c.logs())
		}
	}
}

// shutdown stops every running node (TERM: pacemakerd, then corosync),
// KILL after a bounded wait; the bed then removes the namespaces.
func (c *cluster) shutdown() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.cmd == nil || n.dead {
			continue
		}
		wg.Add(1)
		go func(n *pcmkNode) {
			defer wg.Done()
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
			case <-time.After(60 * time.Second):
				c.t.Errorf("%s: node.sh did not stop within 60s: killed", n.Name)
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
			n.dead = true
		}(n)
	}
	wg.Wait()
	if c.t.Failed() {
		c.t.Logf("cluster logs:\n%s", c.logs())
	}
}

// kill is the node's death: its backend link goes down first (nothing it
// does afterwards reaches anyone), then every process in it is killed,
// until none is left. It returns the killed processes' names.
func (c *cluster) kill(n *pcmkNode) ([]string, error) {
	if err := ipCmd("-n", n.NS, "link", "set", testbed.BackendNIC, "down"); err != nil {
		return nil, err
	}
	var want syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+n.NS, &want); err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	names := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := map[int]string{}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() || testbed.Dead(pid) {
				continue
			}
			var st syscall.Stat_t
			if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
				comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
				pids[pid] = strings.TrimSpace(string(comm))
			}
		}
		if len(pids) == 0 {
			break
		}
		for pid, name := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				names[name] = true
			}
		}
		for pid := range pids {
			for !testbed.Dead(pid) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: processes still alive 10s after kill -9: %v", n.Name, pids)
		}
	}
	select {
	case <-n.exited:
		n.dead = true
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("%s: node.sh was killed but did not exit", n.Name)
	}
	var out []string
	for name := range names {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// reboot brings a dead node back as a rebooted VM comes: no VIP (addresses
// are not kept over a reboot; its /run went with its mount namespace), the
// backend link up with its default route, and the cluster stack started.
func (c *cluster) reboot(n *pcmkNode) {
	t := c.t
	t.Helper()
	for _, args := range [][]string{
		{"-n", n.NS, "addr", "flush", "dev", testbed.VIPNIC},
		{"-n", n.NS, "link", "set", testbed.BackendNIC, "up"},
		{"-n", n.NS, "route", "replace", "default", "via", n.LBAddr.String(), "dev", testbed.BackendNIC},
	} {
		if err := ipCmd(args...); err != nil {
			t.Fatal(err)
		}
	}
	c.boot(n)
	c.waitReady(n)
}

// primitive is vip as `pcs resource create vip ocf:ilbvip:ilbvip ... meta
// resource-stickiness=100 op monitor interval=2s` would make it. state_dir
// is under /run, which is each node's own tmpfs.
func (c *cluster) primitive() string {
	var allow []string
	for _, n := range c.nodes {
		allow = append(allow, n.LBAddr.String())
	}
	var b strings.Builder
	b.WriteString(`<primitive id="vip" class="ocf" provider="ilbvip" type="ilbvip"><instance_attributes id="vip-ia">`)
	for _, kv := range [][2]string{
		{"vip", c.bed.Opts.VIP.String()}, {"interface", testbed.VIPNIC}, {"port", strconv.Itoa(port)},
		{"allow", strings.Join(allow, ",")}, {"bindir", binDir}, {"state_dir", "/run/ilbvip"},
	} {
		fmt.Fprintf(&b, `<nvpair id="vip-ia-%s" name="%s" value="%s"/>`, kv[0], kv[0], kv[1])
	}
	b.WriteString(`</instance_attributes><meta_attributes id="vip-ma">` +
		`<nvpair id="vip-ma-stickiness" name="resource-stickiness" value="100"/></meta_attributes><operations>` +
		`<op id="vip-start" name="start" interval="0s" timeout="20s"/>` +
		`<op id="vip-stop" name="stop" interval="0s" timeout="20s"/>` +
		`<op id="vip-monitor-2s" name="monitor" interval="2s" timeout="20s"/></operations></primitive>`)
	return b.String()
}

// crm runs a Pacemaker command inside a running node.
func (c *cluster) crm(n *pcmkNode, args ...string) (string, error) {
	if n.cmd == nil || n.dead {
		return "", fmt.Errorf("%s is not running", n.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(n.cmd.Process.Pid), "-n", "-m", "-u"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s: %s: %w: %s", n.Name, strings.Join(args, " "), err, bytesTrim(out))
	}
	return strings.TrimSpace(string(out)), err
}

func (c *cluster) mustCRM(n *pcmkNode, args ...string) string {
	c.t.Helper()
	out, err := c.crm(n, args...)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, c.logs())
	}
	return out
}

var runningOn = regexp.MustCompile(`is running on: (\S+)`)

// locate is the node vip runs on, as n's Pacemaker sees it ("" for none).
func (c *cluster) locate(n *pcmkNode) string {
	out, _ := c.crm(n, "crm_resource", "--locate", "-r", "vip")
	if m := runningOn.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}

// waitOnline waits until n's crm_mon lists exactly names as online.
func (c *cluster) waitOnline(n *pcmkNode, names ...string) {
	t := c.t
	t.Helper()
	want := "Online: [ " + strings.Join(names, " ") + " ]"
	var out string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, _ = c.crm(n, "crm_mon", "-1"); strings.Contains(out, want) {
			return
		}
	}
	t.Fatalf("%s: crm_mon does not show %q within 60s:\n%s\n%s", n.Name, want, out, c.logs())
}

// waitActive waits until vip runs on a node and the client, through the
// LB, gets that node's name; it returns the node.
func (c *cluster) waitActive(ctx context.Context, via *pcmkNode, limit time.Duration) *pcmkNode {
	t := c.t
	t.Helper()
	var on, got string
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if on = c.locate(via); on == "" {
			continue
		}
		if got, err = c.bed.Get(ctx, time.Second); err == nil && got == on {
			for _, n := range c.nodes {
				if n.Name == on {
					return n
				}
			}
		}
	}
	mon, _ := c.crm(via, "crm_mon", "-1", "--show-detail")
	t.Fatalf("vip not running with the client reaching it within %s: runs on %q, client got %q (%v)\n%s\n%s",
		limit, on, got, err, mon, c.logs())
	return nil
}

func (c *cluster) other(n *pcmkNode) *pcmkNode {
	for _, m := range c.nodes {
		if m != n {
			return m
		}
	}
	return nil
}

// logs is the end of every boot's node.sh output and Pacemaker log.
func (c *cluster) logs() string {
	var b strings.Builder
	for _, n := range c.nodes {
		for i := 1; i <= n.boots; i++ {
			dir := filepath.Join(n.Dir, fmt.Sprintf("pacemaker-%d", i))
			for _, f := range []string{"node.out", "corosync.out", "pacemakerd.out", "var/log/pacemaker/pacemaker.log"} {
				data, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || len(data) == 0 {
					continue
				}
				s := string(data)
				if len(s) > 4000 {
					s = "..." + s[len(s)-4000:]
				}
				fmt.Fprintf(&b, "--- %s boot %d: %s\n%s\n", n.Name, i, f, s)
			}
		}
	}
	return b.String()
}

// probes polls each node's probe port from the LB's namespace every 20 ms,
// as the LB does (same source address), and keeps every result: when a port
// fell silent or began to answer, at a finer grain than the LB's interval.
type probes struct {
	mu      sync.Mutex
	samples map[string][]sample
}

type sample struct {
	at time.Time // when the connection attempt began
	ok bool
}

func watchProbes(t *testing.T, bed *testbed.Bed, port uint16) *probes {
	t.Helper()
	h, err := netnsrun.Open(bed.LB)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &probes{samples: map[string][]sample{}}
	var wg sync.WaitGroup
	for _, n := range bed.Nodes {
		addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(port)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One thread in the LB's namespace per node: a dead node's
			// timeouts do not delay the other's samples.
			_ = netnsrun.Do(h, func() error {
				for ctx.Err() == nil {
					at := time.Now()
					conn, err := (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext(ctx, "tcp4", addr)
					if err == nil {
						conn.Close()
					}
					if ctx.Err() != nil {
						return nil
					}
					p.mu.Lock()
					p.samples[n.Name] = append(p.samples[n.Name], sample{at, err == nil})
					p.mu.Unlock()
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
				}
				return nil
			})
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		h.Close()
	})
	return p
}

// first is when node's port first answered (ok) or failed (!ok) at or
// after since.
func (p *probes) first(node string, ok bool, since time.Time) (time.Time, bool) {
	deadline := time.Now().Add(time.Second) // the poller may be one sample behind
	for {
		p.mu.Lock()
		for _, s := range p.samples[node] {
			if s.ok == ok && !s.at.Before(since) {
				p.mu.Unlock()
				return s.at, true
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// silent is when node's port fell silent for good between since and until:
// the first failure after its last answer (a lone slow answer before the
// real stop does not count).
func (p *probes) silent(node string, since, until time.Time) (time.Time, bool) {
	last := since
	p.mu.Lock()
	for _, s := range p.samples[node] {
		if s.ok && !s.at.Before(since) && s.at.Before(until) {
			last = s.at
		}
	}
	p.mu.Unlock()
	return p.first(node, false, last)
}

// bothAnswering lists the times when both ports answered: a run of answers
// of one node overlapping a run of the other's.
func (p *probes) bothAnswering() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	type run struct{ from, to time.Time }
	runs := map[string][]run{}
	for node, ss := range p.samples {
		for i, s := range ss {
			switch {
			case !s.ok:
			case i > 0 && ss[i-1].ok:
				runs[node][len(runs[node])-1].to = s.at
			default:
				runs[node] = append(runs[node], run{s.at, s.at})
			}
		}
	}
	var out []string
	for _, a := range runs["node1"] {
		for _, b := range runs["node2"] {
			if !a.to.Before(b.from) && !b.to.Before(a.from) {
				out = append(out, fmt.Sprintf("node1 %s-%s, node2 %s-%s",
					a.from.Format("15:04:05.000"), a.to.Format("15:04:05.000"), b.from.Format("15:04:05.000"), b.to.Format("15:04:05.000")))
			}
		}
	}
	return out
}

// requireTools skips the test when a program is missing, and fails it in CI
// (scripts/install-test-deps.sh installs them).
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if testenv.InCI() {
				t.Fatalf("%s is missing: run scripts/install-test-deps.sh", n)
			}
			t.Skipf("%s is missing: run scripts/install-test-deps.sh", n)
		}
	}
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytesTrim(out))
	}
	return nil
}

func bytesTrim(b []byte) string { return strings.TrimSpace(string(b)) }

func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
