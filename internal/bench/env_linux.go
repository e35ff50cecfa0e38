package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/internal/testbed"
	"github.com/ilbvip/ilbvip/pkg/procfs"
)

// Addresses in the run's namespaces (a private /24 on the veth pair).
const (
	nodeAddr   = "10.231.0.1"
	clientAddr = "10.231.0.2"
	vipIlbvip  = "10.231.0.100" // every ilbvip resource (one runs at a time)
	vipPairNC  = "10.231.0.101" // the pairs' VIPs: IPaddr2 instances may run side by side
	vipPairSC  = "10.231.0.102"
	vipPairMon = "10.231.0.103"
	vipNIC     = "eth1" // the node's end of the veth pair: carries the VIPs
)

// env is the run's world: a node namespace (VIP interface, listeners) and
// a client namespace (probes, idle connections), joined by a veth pair.
type env struct {
	p        *procs
	id       string // random, in every name the run creates
	node     string
	client   string
	nodeNS   netns.NsHandle
	clientNS netns.NsHandle
	stateDir string
	files    []string // files outside stateDir to remove at the end (azure-lb pid files)
	logf     func(format string, args ...any)
}

func newEnv(p *procs, logf func(string, ...any)) (*env, error) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	e := &env{p: p, id: id, node: "ilbvip-bench-" + id, client: "ilbvip-benchc-" + id, logf: logf,
		nodeNS: netns.None(), clientNS: netns.None()}
	dir, err := os.MkdirTemp("", "ilbvip-bench-")
	if err != nil {
		return nil, err
	}
	e.stateDir = filepath.Join(dir, "state")
	// The test bed's namespace code: it runs no program, so every child of
	// this process stays the reaper's (procs).
	if e.nodeNS, err = netnsrun.Add(e.node); err == nil {
		e.clientNS, err = netnsrun.Add(e.client)
	}
	if err != nil {
		e.close()
		return nil, err
	}
	steps := [][]string{
		{"ip", "-n", e.node, "link", "add", vipNIC, "type", "veth", "peer", "name", "eth1c", "netns", e.client},
		{"ip", "-n", e.node, "addr", "add", nodeAddr + "/24", "dev", vipNIC, "nodad"},
		{"ip", "-n", e.client, "addr", "add", clientAddr + "/24", "dev", "eth1c", "nodad"},
		{"ip", "-n", e.node, "link", "set", vipNIC, "up"},
		{"ip", "-n", e.client, "link", "set", "eth1c", "up"},
	}
	for _, s := range steps {
		s[0] = "/usr/sbin/ip"
		if _, err := p.must(netns.None(), s...); err != nil {
			e.close()
			return nil, fmt.Errorf("set up namespaces: %w", err)
		}
	}
	return e, nil
}

// close kills every process still inside the run's namespaces (all of them
// started by this run), deletes the namespaces and the run's files. It is
// safe to call more than once and after a partial set-up.
func (e *env) close() {
	for _, h := range []*netns.NsHandle{&e.nodeNS, &e.clientNS} {
		if h.IsOpen() {
			h.Close()
			*h = netns.None()
		}
	}
	for _, n := range []string{e.node, e.client} {
		killed, err := testbed.RemoveNS(n)
		for _, pid := range killed {
			e.logf("cleanup: killed pid %d left in the run's namespace", pid)
		}
		if err != nil {
			e.logf("cleanup: %v", err)
		}
	}
	for _, f := range e.files {
		_ = os.Remove(f)
	}
	e.files = nil
	if e.stateDir != "" {
		_ = os.RemoveAll(filepath.Dir(e.stateDir))
	}
}

// waitGone waits until none of pids is alive, at most limit.
func waitGone(pids []int, limit time.Duration) bool {
	end := time.Now().Add(limit)
	for {
		live := false
		for _, pid := range pids {
			if procfs.Alive(pid) {
				live = true
			}
		}
		if !live {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// cpuOf is the CPU time pid has used so far, all its threads, in
// nanoseconds (/proc/PID/task/*/schedstat; not tick-sampled).
func cpuOf(pid int) (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	var sum time.Duration
	for _, t := range ents {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // a thread that just ended
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum, nil
}

// memOf reads pid's memory from /proc/PID/status.
func memOf(pid int) (Mem, error) {
	var m Mem
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m, fmt.Errorf("memory of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 1 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n * 1024
		case "VmHWM":
			m.HWM = n * 1024
		case "RssAnon":
			m.Anon = n * 1024
		case "RssFile":
			m.File = n * 1024
		}
	}
	return m, nil
}

// pidFromFile reads the first number in a pid file (azure-lb writes just
// the pid).
func pidFromFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("%s: empty", path)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s: no pid in %q", path, b)
	}
	return pid, nil
}
