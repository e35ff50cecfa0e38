package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/pkg/procfs"
)

// Ports in the node namespace (private to the run, so any free port does).
const (
	portExe      = 62501
	portOCF      = 62502
	portPairNC   = 62503
	portPairSC   = 62504
	portMonIlb   = 62510
	portMonLB    = 62511
	portProbe    = 62520 // + target index
	portRSS      = 62540
	portVIPWatch = 62550 // + mode index (tcp, http)
)

// runner carries one run's state.
type runner struct {
	ctx  context.Context
	o    Options
	p    *procs
	e    *env
	pth  paths
	self string // this executable, re-run as the load generator
	res  *Results
}

func (r *runner) logf(format string, a ...any) {
	if r.o.Log != nil {
		fmt.Fprintf(r.o.Log, "bench: "+format+"\n", a...)
	}
}

// Run measures everything, in namespaces it creates and removes, and
// returns the results. It needs root, ilbvip's built executables, and
// Debian's resource-agents, netcat-openbsd and socat.
func Run(ctx context.Context, o Options) (*Results, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("bench: needs root (network namespaces, addresses, the reference agents): run make bench as root")
	}
	pth, err := findPaths(o)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: own executable: %w", err)
	}
	p, err := newProcs()
	if err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, o: o, p: p, pth: pth, self: self, res: &Results{Opts: o}}
	r.res.Machine = machine(p, o.Command)
	t0 := time.Now()
	e, err := newEnv(p, r.logf)
	if err != nil {
		return nil, err
	}
	defer e.close()
	r.e = e

	for _, phase := range []struct {
		name string
		fn   func() error
	}{
		{"actions", r.actions},
		{"monitoring cost", r.monitoring},
		{"probes", r.probes},
		{"memory", r.memory},
		{"sizes", r.sizes},
		// Last, on its own port and VIP: it deletes and re-adds a VIP
		// under a watching responder, which nothing above should see.
		{"vip watch", r.vipWatch},
	} {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bench: interrupted before %s: %w", phase.name, err)
		}
		r.logf("%s ...", phase.name)
		if err := phase.fn(); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", phase.name, err)
		}
	}
	r.res.Machine.LoadEnd = loadavg()
	r.res.Elapsed = time.Since(t0)
	return r.res, nil
}

func findPaths(o Options) (paths, error) {
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return paths{}, err
	}
	agent, err := filepath.Abs(o.Agent)
	if err != nil {
		return paths{}, err
	}
	pth := paths{bin: bin, agent: agent, heartbeat: "/usr/lib/ocf/resource.d/heartbeat", ocfRoot: "/usr/lib/ocf",
		nc: "/usr/bin/nc", socat: "/usr/bin/socat"}
	need := []struct{ path, fix string }{
		{filepath.Join(bin, "restore"), "run make build"},
		{filepath.Join(bin, "remove"), "run make build"},
		{filepath.Join(bin, "quickCheck"), "run make build"},
		{filepath.Join(bin, "recover"), "run make build"},
		{agent, "give the OCF agent's path (kit/ocf/ilbvip)"},
		{filepath.Join(pth.heartbeat, "IPaddr2"), "apt-get install resource-agents"},
		{filepath.Join(pth.heartbeat, "azure-lb"), "apt-get install resource-agents"},
		{pth.nc, "apt-get install netcat-openbsd"},
		{pth.socat, "apt-get install socat"},
		{"/usr/sbin/ip", "apt-get install iproute2"},
	}
	for _, n := range need {
		if st, err := os.Stat(n.path); err != nil || st.Mode()&0o111 == 0 {
			return paths{}, fmt.Errorf("bench: %s is missing or not executable: %s", n.path, n.fix)
		}
	}
	return pth, nil
}

// machine records where the run happens.
func machine(p *procs, command string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC(), Command: command, LoadStart: loadavg()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := p.must(netns.None(), "/usr/bin/dpkg-query", "-W", "-f", "${Package} ${Version}, ", "resource-agents", "netcat-openbsd", "socat"); err == nil {
		m.Packages = strings.TrimSuffix(strings.TrimSpace(out), ",")
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// sleep waits d unless the run is interrupted.
func (r *runner) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// load runs the load generator (this executable, "load") inside ns.
// It returns the result and the generator's own CPU time.
func (r *runner) load(ns netns.NsHandle, spec LoadSpec) (*LoadResult, time.Duration, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, 0, err
	}
	limit := spec.Settle + spec.Duration + 2*spec.Timeout + time.Duration(spec.Idle/256+1)*time.Second + 30*time.Second
	res, err := r.p.run(ns, limit, []string{r.self, "load", string(js)}, append(baseEnv(), "GOMAXPROCS="+strconv.Itoa(runtime.NumCPU())))
	if err != nil {
		return nil, 0, err
	}
	text := res.out()
	if res.code != 0 {
		return nil, 0, fmt.Errorf("load generator exited %d: %s", res.code, clip(text))
	}
	out := []byte(text)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var lr LoadResult
	if err := json.Unmarshal(out, &lr); err != nil {
		return nil, 0, fmt.Errorf("load generator output %q: %w", clip(text), err)
	}
	return &lr, res.cpu, nil
}

// memory reads the responder's memory before, after a tenth of, and after
// RSSProbes probes over loopback inside the node: a level that holds from
// the tenth to the end is the working set, not a leak.
func (r *runner) memory() error {
	sub := &ilbvipExe{e: r.e, p: r.pth, tag: "bench-rss", prt: portRSS, extra: []string{"--message", "OK"}, label: "ilbvip"}
	defer forceStop(sub)
	if _, err := sub.start(); err != nil {
		return err
	}
	pid, err := sub.listener()
	if err != nil {
		return err
	}
	row := MemRow{Listener: "ilbvip responder (tcp, message read, 16 workers, loopback)", When: "after the probes"}
	if row.Before, err = memOf(pid); err != nil {
		return err
	}
	first := max(r.o.RSSProbes/10, 1)
	end := time.Now().Add(r.o.RSSLimit)
	r.logf("memory: %d probes (at most %v)", r.o.RSSProbes, r.o.RSSLimit)
	for i, n := range []int{first, r.o.RSSProbes - first} {
		if n <= 0 {
			continue
		}
		left := time.Until(end)
		if left < time.Second {
			break
		}
		spec := LoadSpec{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(portRSS)), Kind: KindTCPMsg, Expect: "OK",
			Workers: 16, Duration: left, MaxProbes: n, Timeout: r.o.ProbeTimeout, Settle: 5 * time.Second}
		res, _, err := r.load(r.e.nodeNS, spec)
		if err != nil {
			return err
		}
		if !procfs.Alive(pid) {
			return fmt.Errorf("the responder (pid %d) died during the probes", pid)
		}
		m, err := memOf(pid)
		if err != nil {
			return err
		}
		row.Probes += res.Probes
		row.Elapsed += res.Elapsed
		if row.FirstError == "" {
			row.FirstError = res.FirstError
		}
		if i == 0 {
			row.Mid, row.MidProbes = m, res.Probes
		}
		row.Mem = m
	}
	r.res.Memory = append([]MemRow{row}, r.res.Memory...)
	r.logf("memory: %d probes in %v, RSS %d KiB -> %d KiB after %d -> %d KiB (peak %d KiB)", row.Probes, row.Elapsed.Round(time.Millisecond),
		row.Before.RSS>>10, row.Mid.RSS>>10, row.MidProbes, row.Mem.RSS>>10, row.Mem.HWM>>10)
	_, err = sub.stop()
	return err
}

// sizes records the executables' sizes, and the listeners' for contrast.
func (r *runner) sizes() error {
	for _, f := range []struct{ path, name, note string }{
		{filepath.Join(r.pth.bin, "restore"), "bin/restore", "static, stripped (-s -w), as make build makes it"},
		{filepath.Join(r.pth.bin, "remove"), "bin/remove", "static, stripped (-s -w)"},
		{filepath.Join(r.pth.bin, "quickCheck"), "bin/quickCheck", "static, stripped (-s -w)"},
		{filepath.Join(r.pth.bin, "recover"), "bin/recover", "static, stripped (-s -w)"},
		{r.pth.agent, "kit/ocf/ilbvip", "the OCF agent (shell)"},
		{r.pth.nc, r.pth.nc, "dynamically linked: shared libraries not counted"},
		{r.pth.socat, r.pth.socat, "dynamically linked: shared libraries not counted"},
	} {
		st, err := os.Stat(f.path)
		if err != nil {
			return err
		}
		r.res.Sizes = append(r.res.Sizes, SizeRow{Path: f.name, Bytes: st.Size(), Note: f.note})
	}
	return nil
}
