package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/pkg/procfs"
)

// Interface names inside each node.
const (
	BackendNIC = "eth0" // the NIC in the LB's backend pool
	VIPNIC     = "eth1" // the NIC that carries the VIP (a veth whose peer eth1p stays in the node)
)

// DefaultVIP is the VIP of the README's Azure example; DefaultVIP6 the
// IPv6 one of a dual-stack bed.
var (
	DefaultVIP  = netip.MustParseAddr("10.10.5.200")
	DefaultVIP6 = netip.MustParseAddr("fd00:5::200")
)

// Options configures a Bed. Zero values take the defaults.
type Options struct {
	// Prefix starts every namespace name, default "ilbvip-bed-"; the
	// process id follows, so a bed left by a killed process is found and
	// removed by the next New with the same prefix.
	Prefix string
	// VIP is the frontend IP, default DefaultVIP. An IPv6 VIP makes the bed
	// dual stack: the links get IPv6 addresses too (fd00:N::1 the LB's,
	// fd00:N::2 the node's, which is then Node.Addr), and the LB's links
	// also Azure's IPv6 probe source fe80::1234:5678:9abc.
	VIP     netip.Addr
	WebPort uint16 // the web server's port on the VIP, default 80
	BinDir  string // the ilbvip executables (restore, remove, quickCheck, recover)
}

// Bed is a built test bed. Close removes everything it made.
type Bed struct {
	Opts  Options
	Dir   string // temporary directory: the nodes' configs and state directories
	LB    string // the client+LB namespace
	Nodes []*Node

	lbNS netns.NsHandle
	webs []*webServer

	mu     sync.Mutex
	lb     *runningLB
	closed bool
}

// Node is one cluster node.
type Node struct {
	Name     string     // node1, node2
	NS       string     // its network namespace
	Addr     netip.Addr // backend NIC address (eth0), the LB's probe target and next hop
	LBAddr   netip.Addr // the LB's address on this node's link: the probe source, the node's default gateway
	Dir      string     // the node's own directory (configs)
	StateDir string     // the node's ilbvip state_dir

	bed *Bed
	ns  netns.NsHandle
	kit Kit
}

var seq atomic.Int32

// New builds the bed: namespaces, links, addresses, routes, sysctls and the
// two web servers. It first removes beds with the same prefix whose process
// is gone. On error it removes what it made.
func New(opts Options) (*Bed, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the test bed needs root (network namespaces)")
	}
	if opts.Prefix == "" {
		opts.Prefix = "ilbvip-bed-"
	}
	if !opts.VIP.IsValid() {
		opts.VIP = DefaultVIP
	}
	if !opts.VIP.Is4() && !opts.VIP.Is6() {
		return nil, fmt.Errorf("vip %s: not an IP address", opts.VIP)
	}
	if opts.WebPort == 0 {
		opts.WebPort = 80
	}
	SweepStale(opts.Prefix)
	base := fmt.Sprintf("%s%d-%d-", opts.Prefix, os.Getpid(), seq.Add(1))
	dir, err := os.MkdirTemp("", base) // named like the namespaces, so SweepStale finds it too
	if err != nil {
		return nil, fmt.Errorf("test bed directory: %w", err)
	}
	b := &Bed{Opts: opts, Dir: dir, LB: base + "lb", lbNS: netns.None()}
	for i := 1; i <= 2; i++ {
		name := "node" + strconv.Itoa(i)
		addr, lbAddr := netip.AddrFrom4([4]byte{10, 0, byte(i), 2}), netip.AddrFrom4([4]byte{10, 0, byte(i), 1})
		if opts.VIP.Is6() {
			addr, lbAddr = netip.AddrFrom16([16]byte{0: 0xfd, 3: byte(i), 15: 2}), netip.AddrFrom16([16]byte{0: 0xfd, 3: byte(i), 15: 1})
		}
		b.Nodes = append(b.Nodes, &Node{
			Name:     name,
			NS:       base + name,
			Addr:     addr,
			LBAddr:   lbAddr,
			Dir:      filepath.Join(dir, name),
			StateDir: filepath.Join(dir, name, "state"),
			bed:      b,
			ns:       netns.None(),
		})
	}
	if err := b.build(); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

func (b *Bed) build() error {
	var err error
	if b.lbNS, err = netnsrun.Add(b.LB); err != nil {
		return err
	}
	// The LB forwards between the nodes' links, so the nodes reach each
	// other as in one cloud network (a cluster's own traffic).
	if err := b.sysctls(b.lbNS, map[string]string{"ipv4/ip_forward": "1", "ipv6/conf/all/forwarding": "1"}); err != nil {
		return err
	}
	for _, n := range b.Nodes {
		if err := os.MkdirAll(n.Dir, 0o700); err != nil {
			return fmt.Errorf("node directory: %w", err)
		}
		if n.ns, err = netnsrun.Add(n.NS); err != nil {
			return err
		}
		if err := b.sysctls(n.ns, nil); err != nil {
			return err
		}
		for _, args := range n.links() {
			if err := ip(args...); err != nil {
				return err
			}
		}
		w, err := startWeb(n.ns, netip.AddrPortFrom(b.Opts.VIP, b.Opts.WebPort), netip.AddrPortFrom(n.Addr, b.Opts.WebPort), n.Name)
		if err != nil {
			return fmt.Errorf("%s: web server: %w", n.Name, err)
		}
		b.webs = append(b.webs, w)
	}
	return nil
}

// links are the ip commands that wire node n to the LB: a veth pair with
// IPv4 addresses, IPv6 ones too in a dual-stack bed (nodad: no duplicate
// address detection to wait for), and the node's VIP NIC.
func (n *Node) links() [][]string {
	lb := n.bed.LB
	i := n.Name[len("node"):]
	v4lb, v4 := "10.0."+i+".1", "10.0."+i+".2"
	cmds := [][]string{
		{"-n", lb, "link", "add", n.Name, "type", "veth", "peer", "name", BackendNIC, "netns", n.NS},
		{"-n", lb, "addr", "add", v4lb + "/24", "dev", n.Name},
		{"-n", lb, "link", "set", n.Name, "up"},
		{"-n", n.NS, "addr", "add", v4 + "/24", "dev", BackendNIC},
		{"-n", n.NS, "link", "set", BackendNIC, "up"},
		// Replies from the VIP leave by the backend NIC, as on a cloud VM
		// whose default route is on its primary NIC.
		{"-n", n.NS, "route", "add", "default", "via", v4lb, "dev", BackendNIC},
	}
	if n.Addr.Is6() {
		cmds = append(cmds,
			[]string{"-n", lb, "addr", "add", n.LBAddr.String() + "/64", "dev", n.Name, "nodad"},
			[]string{"-n", lb, "addr", "add", "fe80::1234:5678:9abc/64", "dev", n.Name, "nodad"},
			[]string{"-n", n.NS, "addr", "add", n.Addr.String() + "/64", "dev", BackendNIC, "nodad"},
			[]string{"-n", n.NS, "-6", "route", "add", "default", "via", n.LBAddr.String(), "dev", BackendNIC})
	}
	return append(cmds,
		[]string{"-n", n.NS, "link", "add", VIPNIC, "type", "veth", "peer", "name", VIPNIC + "p"},
		[]string{"-n", n.NS, "link", "set", VIPNIC, "up"},
		[]string{"-n", n.NS, "link", "set", VIPNIC + "p", "up"})
}

// sysctls turns reverse-path filtering off (a reply from the VIP arrives on
// the link of whichever node answers, and a switchover changes that link)
// and sets extra, all inside the namespace before its links exist, so they
// inherit the defaults.
func (b *Bed) sysctls(h netns.NsHandle, extra map[string]string) error {
	set := map[string]string{"ipv4/conf/all/rp_filter": "0", "ipv4/conf/default/rp_filter": "0"}
	for k, v := range extra {
		set[k] = v
	}
	return netnsrun.Do(h, func() error {
		for k, v := range set {
			// /proc/sys/net belongs to the namespace of the thread that opens it.
			if err := os.WriteFile("/proc/sys/net/"+k, []byte(v), 0o644); err != nil {
				return fmt.Errorf("sysctl net.%s: %w", strings.ReplaceAll(k, "/", "."), err)
			}
		}
		return nil
	})
}

// Node returns the node by name, nil if there is none.
func (b *Bed) Node(name string) *Node {
	for _, n := range b.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Close stops the LB simulator and the web servers, kills every process in
// the bed's namespaces, deletes the namespaces and the directory. It can be
// called more than once.
func (b *Bed) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	var errs []error
	b.StopLB()
	for _, w := range b.webs {
		w.close()
	}
	names := []string{b.LB}
	for _, n := range b.Nodes {
		names = append(names, n.NS)
		if n.ns.IsOpen() {
			n.ns.Close()
		}
	}
	if b.lbNS.IsOpen() {
		b.lbNS.Close()
	}
	for _, name := range names {
		if _, err := RemoveNS(name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(b.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", b.Dir, err))
	}
	return errors.Join(errs...)
}

// Leftovers names what Close should have removed and did not: the bed's
// namespaces and directory.
func (b *Bed) Leftovers() []string {
	var left []string
	names := []string{b.LB}
	for _, n := range b.Nodes {
		names = append(names, n.NS)
	}
	for _, name := range names {
		if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
			left = append(left, "network namespace "+name)
		}
	}
	if _, err := os.Stat(b.Dir); err == nil {
		left = append(left, b.Dir)
	}
	return left
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// RemoveNS kills every process in the named network namespace (netnsrun.Add
// made it), deletes it and returns the killed pids; a namespace that does
// not exist is fine. It runs no program, so the benchmarks, which reap
// every child themselves, remove theirs with it too.
func RemoveNS(name string) (killed []int, err error) {
	path := filepath.Join("/run/netns", name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	killed = killAll(path)
	if err := netns.DeleteNamed(name); err != nil {
		return killed, fmt.Errorf("delete network namespace %s: %w", name, err)
	}
	return killed, nil
}

// killAll sends SIGKILL to every process whose network namespace is the one
// at path (never to this process), waits until they are dead or zombies
// (bounded: PID 1 here may reap late) and returns their pids.
func killAll(path string) []int {
	var want syscall.Stat_t
	if err := syscall.Stat(path, &want); err != nil {
		return nil
	}
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			pids = append(pids, pid)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for !Dead(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return pids
}

// Dead reports whether pid is gone or a zombie.
func Dead(pid int) bool { return !procfs.Alive(pid) }

// SweepStale removes the namespaces (with their processes) and directories
// of beds with this prefix whose process no longer runs: what a killed test
// or demo left.
func SweepStale(prefix string) {
	stale := func(name string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			return false
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			return false
		}
		return Dead(pid) // a live pid may be reused, but then it is kept: never remove a live bed
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if stale(e.Name()) {
			_, _ = RemoveNS(e.Name())
		}
	}
	ents, _ = os.ReadDir(os.TempDir())
	for _, e := range ents {
		if e.IsDir() && stale(e.Name()) {
			_ = os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}

// Sleep sleeps d or until ctx is done (then ctx's error): the test bed's
// and the rehearsal's waits end at once on Ctrl-C or a deadline.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
