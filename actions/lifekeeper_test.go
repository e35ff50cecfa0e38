//go:build linux

package actions_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// lkNode is a node driven exactly as LifeKeeper drives a gen/app resource:
// `ACTION -t TAG -i ID`, with LKROOT in the environment and the parameters
// in the tag's info field, which a fake $LKROOT/bin/ins_list prints. The
// state directory is the default /run/ilbvip; tags are unique per test.
type lkNode struct {
	*node
	lkroot, tag string
}

func newLKNode(t *testing.T) *lkNode {
	n := newNode(t)
	n.sd = "/run/ilbvip"
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	tag := "lk-" + hex.EncodeToString(b)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The real ins_list prints one line per resource, fields separated by
	// the -f character; the info field is the sixth.
	script := "#!/bin/sh\n[ \"$1\" = -t ] && [ \"$3\" = -f: ] || exit 2\n" +
		"printf '%s:gen:app:%s:%s-id:%s:ISP\\n' \"$(uname -n | tr a-z A-Z)\" \"$2\" \"$2\" \"$(cat \"$LKROOT/info\")\"\n"
	if err := os.WriteFile(filepath.Join(root, "bin", "ins_list"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l := &lkNode{node: n, lkroot: root, tag: tag}
	t.Cleanup(func() {
		for _, pid := range daemonPids(n, tag) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		files, _ := filepath.Glob(filepath.Join(n.sd, tag+".*"))
		for _, f := range files {
			os.Remove(f)
		}
	})
	return l
}

func (l *lkNode) setInfo(info string) {
	if err := os.WriteFile(filepath.Join(l.lkroot, "info"), []byte(info), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// lk runs an action as LifeKeeper does, through the gen/app script in
// kit/lifekeeper, and checks its exit code.
func (l *lkNode) lk(action string, code int) result {
	l.t.Helper()
	wrapper, err := filepath.Abs(filepath.Join("..", "kit", "lifekeeper", action))
	if err != nil {
		l.t.Fatal(err)
	}
	r := l.runPath(wrapper, []string{"LKROOT=" + l.lkroot, "ILBVIP_BINDIR=" + binDir}, "-t", l.tag, "-i", l.tag+"-id")
	if r.code != code {
		l.t.Fatalf("%s -t %s: %v, want exit %d", action, l.tag, r, code)
	}
	return r
}

func TestLifeKeeperInfoField(t *testing.T) {
	for _, tc := range []struct {
		name, info, vip string
		port            int
		msg             string
	}{
		{"port only", "12345", "", 12345, ""},
		{"port and message", "12345 hello", "", 12345, "hello"},
		{"key=value", "port=12346 vip=10.10.5.200 interface=eth1", "10.10.5.200/32", 12346, ""},
		{"port then key=value", "12347 message=ok vip=10.10.5.201 interface=eth1", "10.10.5.201/32", 12347, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLKNode(t)
			l.setInfo(tc.info)
			for i := 0; i < 2; i++ { // every action twice: LifeKeeper may repeat them
				l.lk("quickCheck", 7)
				l.lk("remove", 0)
			}
			for i := 0; i < 2; i++ {
				l.lk("restore", 0)
			}
			if tc.vip != "" && !l.hasAddr("eth1", tc.vip) {
				t.Fatalf("vip %s not on eth1: %s", tc.vip, l.addrs("eth1"))
			}
			if err := l.probe(tc.port, tc.msg); err != nil {
				t.Fatalf("probe: %v", err)
			}
			if tc.msg != "" {
				var got string
				l.ns.Do(t, func() {
					c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(tc.port), time.Second)
					if err != nil {
						return
					}
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(time.Second))
					b := make([]byte, 100)
					nr, _ := c.Read(b)
					got = string(b[:nr])
				})
				if got != tc.msg {
					t.Errorf("TCP client received %q, want %q", got, tc.msg)
				}
			}
			l.lk("quickCheck", 0)
			pid := l.pidOf(l.tag)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			testenv.WaitDead(t, pid) // SIGKILL is asynchronous
			l.lk("quickCheck", 1)
			l.lk("recover", 0)
			l.lk("quickCheck", 0)
			l.lk("recover", 0) // nothing to repair
			for i := 0; i < 2; i++ {
				l.lk("remove", 0)
			}
			l.lk("quickCheck", 7)
			if tc.vip != "" && l.hasAddr("eth1", tc.vip) {
				t.Errorf("vip left: %s", l.addrs("eth1"))
			}
		})
	}
}

func TestLifeKeeperBadInfoField(t *testing.T) {
	for _, tc := range []struct{ info, want string }{
		{"hello 12345", `info field of lk-`},
		{"port=12345 prot=tcp", `unknown parameter "prot"`},
		{"70000", `port (from info field): "70000" is not a port number`},
		{"12345 vip=10.10.5.200", "interface: is missing"},
	} {
		info := tc.info
		t.Run(info, func(t *testing.T) {
			l := newLKNode(t)
			l.setInfo(info)
			before := l.addrs("eth1")
			for _, a := range []string{"restore", "quickCheck", "recover", "remove"} {
				r := l.lk(a, 6)
				if !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("%s: %q: want one line with %q", a, r.stderr, tc.want)
				}
			}
			if after := l.addrs("eth1"); after != before {
				t.Errorf("addresses changed: %s -> %s", before, after)
			}
			if files, _ := filepath.Glob(filepath.Join(l.sd, l.tag+".*")); len(files) != 0 {
				t.Errorf("files left: %v", files)
			}
		})
	}
}

// TestProbeTimeout checks SIOS LB Health Check's behaviour: with
// probe_timeout, restore waits for a probe from another host and fails
// without one, and quickCheck fails once the probes stop.
func TestProbeTimeout(t *testing.T) {
	l := newLKNode(t)
	lb := testenv.NewNS(t)
	l.ns.Veth(t, "eth0", "10.0.0.2/24", lb, "lb0", "10.0.0.1/24")
	l.setInfo("12345 vip=10.10.5.200 interface=eth1 probe_timeout=1s")

	r := l.lk("restore", 1)
	if !strings.Contains(r.stderr, "no completed probe connection from outside this node on port 12345 within probe_timeout 1s") {
		t.Errorf("restore without probes: %q", r.stderr)
	}
	if l.hasAddr("eth1", "10.10.5.200/32") || len(daemonPids(l.node, l.tag)) != 0 {
		t.Fatal("failed restore left the vip or the responder")
	}

	// The load balancer: probes from its own namespace every 100 ms.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		target := netip.MustParseAddrPort("10.0.0.2:12345")
		for ctx.Err() == nil {
			lb.Do(t, func() { _ = responder.Probe("tcp", target, "", nil, 300*time.Millisecond) })
			time.Sleep(100 * time.Millisecond)
		}
	}()
	l.lk("restore", 0)
	l.lk("quickCheck", 0)
	cancel()
	<-stopped
	// Probes stopped: within probe_timeout plus the stats refresh, quickCheck fails.
	var last result
	for i := 0; i < 40; i++ {
		if last = l.run("quickCheck", []string{"LKROOT=" + l.lkroot}, "-t", l.tag); last.code != ocf.Success {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last.code != ocf.ErrGeneric || !strings.Contains(last.stderr, "probe_timeout") {
		t.Fatalf("quickCheck after the probes stopped: %v", last)
	}
	l.lk("remove", 0)
}

// A stop must not depend on LifeKeeper answering: with ins_list failing
// (its daemon down, say), remove stops what the state directory records.
func TestLifeKeeperRemoveWithoutInsList(t *testing.T) {
	l := newLKNode(t)
	l.setInfo("12345 vip=10.10.5.200 interface=eth1")
	l.lk("restore", 0)
	broken := "#!/bin/sh\necho 'lcd not running' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(l.lkroot, "bin", "ins_list"), []byte(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := l.lk("remove", 0); !strings.Contains(r.stderr, "stopping what the state directory records") {
		t.Errorf("remove with ins_list failing: %v", r)
	}
	if l.hasAddr("eth1", "10.10.5.200/32") || len(daemonPids(l.node, l.tag)) != 0 {
		t.Errorf("remove left the vip or the responder: %s", l.addrs("eth1"))
	}
}
