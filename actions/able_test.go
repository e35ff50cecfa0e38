//go:build linux

package actions_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// The tests of issue 13: answer only while able, recover never starts,
// remove only when silent, own only what you added.

// Addresses of the probed link: the node's eth0 and the load balancer's
// end of it, in the node's eth0 subnet.
var (
	nodeEth0 = netip.MustParseAddr("10.0.1.2")
	lbEth0   = netip.MustParseAddr("10.0.1.1")
)

// lbNode is a node whose eth0 is a veth to a second namespace, the load
// balancer's, which probes the node's own eth0 address as Azure's LB does.
// The VIP goes on eth1, as in newNode.
type lbNode struct {
	*node
	lb *testenv.NS
}

func newLBNode(t *testing.T) *lbNode {
	t.Helper()
	n := newNode(t)
	lb := testenv.NewNS(t)
	n.ns.Veth(t, "eth0", netip.PrefixFrom(nodeEth0, 24).String(), lb, "lb0", netip.PrefixFrom(lbEth0, 24).String())
	return &lbNode{node: n, lb: lb}
}

// lbProbe is one health probe from the load balancer's namespace to the
// node's eth0 address.
func (n *lbNode) lbProbe(proto string, port int) error {
	var err error
	n.lb.Do(n.t, func() {
		err = responder.Probe(proto, netip.AddrPortFrom(nodeEth0, uint16(port)), "/", nil, time.Second)
	})
	return err
}

// silentProbe reports whether err is how a silent responder answers:
// tcp refuses the connection (the SYN answered with a reset, not left to
// time out), http says 503.
func silentProbe(proto string, err error) bool {
	if proto == "http" {
		return err != nil && strings.Contains(err.Error(), "http status 503")
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// eventually polls cond until it holds: at most 300 tries and 20 s, the
// generous bound of "within a moment" on a busy machine. cond returns
// what it last saw, for the failure message.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last := ""
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within 20 s; last seen: %s", what, last)
}

// waitSilent waits until the LB's probes get the silent answer (refused
// or 503). Any other failure on the way, a timeout above all, fails the
// test, except a reset: a probe whose handshake was in flight when the
// listener closed is reset, as the kernel does with a closed listener's
// queue.
func (n *lbNode) waitSilent(proto string, port int) {
	n.t.Helper()
	eventually(n.t, "probe silent", func() (bool, string) {
		err := n.lbProbe(proto, port)
		if err != nil && !silentProbe(proto, err) && !errors.Is(err, syscall.ECONNRESET) {
			n.t.Fatalf("probe failed, but not as a silent responder does (%s): %v", map[string]string{"tcp": "connection refused", "http": "503"}[proto], err)
		}
		return silentProbe(proto, err), fmtErr(err)
	})
	// And it stays so while nothing changes.
	for i := 0; i < 3; i++ {
		if err := n.lbProbe(proto, port); !silentProbe(proto, err) {
			n.t.Fatalf("probe %d after going silent: %v", i, err)
		}
	}
}

// waitAnswered waits until the LB's probes are answered again.
func (n *lbNode) waitAnswered(proto string, port int) {
	n.t.Helper()
	eventually(n.t, "probe answered", func() (bool, string) {
		err := n.lbProbe(proto, port)
		return err == nil, strings.TrimSpace(fmtErr(err))
	})
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// qcStatus is the part of quickCheck --json these tests read.
type qcStatus struct {
	State   string `json:"state"`
	Problem string `json:"problem"`
	Pid     int    `json:"pid"`
	Stats   *struct {
		Silent       bool      `json:"silent"`
		SilentSince  time.Time `json:"silent_since"`
		SilentReason string    `json:"silent_reason"`
	} `json:"stats"`
}

func (n *node) quickCheckJSON(code int, a []string) qcStatus {
	n.t.Helper()
	r := n.want("quickCheck", code, append(a, "--json")...)
	var st qcStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		n.t.Fatalf("quickCheck --json: %v: %q", err, r.stdout)
	}
	return st
}

// waitLog waits until the responder log (STATE_DIR/TAG.log: no /dev/log
// here) has a line containing all of words.
func (n *node) waitLog(tag string, words ...string) {
	n.t.Helper()
	if _, err := os.Stat("/dev/log"); err == nil {
		n.t.Log("/dev/log exists: the responder logs to syslog, not checked")
		return
	}
	eventually(n.t, "log line with "+strings.Join(words, ", "), func() (bool, string) {
		b, _ := os.ReadFile(filepath.Join(n.sd, tag+".log"))
		for _, line := range strings.Split(string(b), "\n") {
			all := true
			for _, w := range words {
				all = all && strings.Contains(line, w)
			}
			if all {
				return true, ""
			}
		}
		return false, string(b)
	})
}

// listens reports whether a socket in the node listens on port on any
// address, loopback included (ss runs inside the namespace).
func (n *node) listens(port int) bool {
	out := n.ns.MustRun(n.t, "ss", "-Hltn", "sport", "=", ":"+strconv.Itoa(port))
	return strings.TrimSpace(out) != ""
}

// filesOf lists the state directory's files of tag, its log excepted.
func (n *node) filesOf(tag string) []string {
	var out []string
	for _, f := range n.stateFiles() {
		if strings.HasPrefix(f, tag+".") {
			out = append(out, f)
		}
	}
	return out
}

// addrLine is dev's `ip -o addr` line for cidr ("" when absent), with the
// counting-down lifetimes blanked so that two readings compare.
func (n *node) addrLine(dev, cidr string) string {
	for _, l := range strings.Split(n.ns.MustRun(n.t, "ip", "-o", "addr", "show", "dev", dev), "\n") {
		if strings.Contains(l, " "+cidr+" ") {
			return lifetimes.ReplaceAllString(strings.TrimSpace(l), "${1}N")
		}
	}
	return ""
}

var lifetimes = regexp.MustCompile(`(_lft )\d+sec`)

// nothingStarted checks that tag has no responder, no listener on port and
// no file in the state directory but its log.
func (n *node) nothingStarted(tag string, port int) {
	n.t.Helper()
	if p := daemonPids(n, tag); len(p) != 0 {
		n.t.Errorf("%s: responder running: %v", tag, p)
	}
	if n.listens(port) {
		n.t.Errorf("%s: something listens on port %d:\n%s", tag, port, n.ns.MustRun(n.t, "ss", "-Hltnp"))
	}
	if f := n.filesOf(tag); len(f) != 0 {
		n.t.Errorf("%s: files left in the state directory (log excepted): %v", tag, f)
	}
}

// TestVIPDeletedSilencesProbe: the VIP deleted behind the kit's back makes
// the responder silent for the load balancer within a moment (tcp: refused,
// http: 503), quickCheck says so and why, and recover — or an admin
// adding the address again — makes the same responder answer again.
func TestVIPDeletedSilencesProbe(t *testing.T) {
	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			n := newLBNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1", "--protocol", proto)
			n.want("restore", ocf.Success, a...)
			pid := n.pidOf("t1")
			if err := n.lbProbe(proto, 12345); err != nil {
				t.Fatalf("LB probe after restore: %v", err)
			}

			n.ns.MustRun(t, "ip", "addr", "del", "10.10.5.200/32", "dev", "eth1")
			n.waitSilent(proto, 12345)
			if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "10.10.5.200") {
				t.Errorf("quickCheck with the VIP deleted: %v", r)
			}
			eventually(t, "quickCheck --json says silent", func() (bool, string) {
				st := n.quickCheckJSON(1, a)
				ok := st.State == "silent" && st.Stats != nil && st.Stats.Silent &&
					!st.Stats.SilentSince.IsZero() && strings.Contains(st.Stats.SilentReason, "10.10.5.200")
				return ok, st.State + " " + st.Problem
			})
			if r := n.want("quickCheck", ocf.ErrGeneric, append(a, "--verbose")...); !regexp.MustCompile(`(?m)^  probe      silent for \S+: .*10\.10\.5\.200`).MatchString(r.stdout) {
				t.Errorf("quickCheck --verbose lacks the silent line: %q", r.stdout)
			}
			n.waitLog("t1", "silent:", "10.10.5.200")

			n.want("recover", ocf.Success, a...)
			if got := n.pidOf("t1"); got != pid {
				t.Errorf("recover restarted the responder to re-add the VIP: pid %d -> %d", pid, got)
			}
			if !n.hasAddr("eth1", "10.10.5.200/32") {
				t.Errorf("recover did not re-add the VIP: %s", n.addrs("eth1"))
			}
			// recover returns only once the port answers.
			if err := n.lbProbe(proto, 12345); err != nil {
				t.Errorf("LB probe after recover: %v", err)
			}
			n.want("quickCheck", ocf.Success, a...)
			n.waitLog("t1", "answering again", "10.10.5.200")

			// An admin deletes it and adds it again by hand (so without
			// ilbvip's mark): the responder only needs it present.
			n.ns.MustRun(t, "ip", "addr", "del", "10.10.5.200/32", "dev", "eth1")
			n.waitSilent(proto, 12345)
			n.ns.MustRun(t, "ip", "addr", "add", "10.10.5.200/32", "dev", "eth1", "scope", "host")
			n.waitAnswered(proto, 12345)
			if got := n.pidOf("t1"); got != pid {
				t.Errorf("responder replaced: pid %d -> %d", pid, got)
			}
			eventually(t, "quickCheck healthy after the VIP came back", func() (bool, string) {
				r := n.run("quickCheck", nil, a...)
				return r.code == ocf.Success, r.String()
			})
			n.want("remove", ocf.Success, a...)
			testenv.WaitDead(t, pid)
		})
	}
}

// TestVIPInterfaceDown: the VIP's interface going down (administratively,
// or its carrier lost) while the load balancer probes eth0 silences the
// responder; back up, the same responder answers again (an IPv4 /32
// stays on a downed link).
func TestVIPInterfaceDown(t *testing.T) {
	for _, tc := range []struct{ name, dev string }{
		{"admin down", "eth1"},
		{"carrier lost", "eth1p"}, // the peer down: eth1 stays IFF_UP without carrier
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newLBNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
			n.want("restore", ocf.Success, a...)
			pid := n.pidOf("t1")
			if err := n.lbProbe("tcp", 12345); err != nil {
				t.Fatalf("LB probe after restore: %v", err)
			}
			n.ns.MustRun(t, "ip", "link", "set", tc.dev, "down")
			n.waitSilent("tcp", 12345)
			if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "eth1") {
				t.Errorf("quickCheck with eth1 down: %v", r)
			}
			eventually(t, "quickCheck --json says silent", func() (bool, string) {
				st := n.quickCheckJSON(1, a)
				ok := st.State == "silent" && st.Stats != nil && strings.Contains(st.Stats.SilentReason, "eth1")
				return ok, st.State + " " + st.Problem
			})
			n.waitLog("t1", "silent:", "eth1")
			if !n.hasAddr("eth1", "10.10.5.200/32") {
				t.Fatalf("the /32 left the downed link: %s", n.addrs("eth1"))
			}
			n.ns.MustRun(t, "ip", "link", "set", tc.dev, "up")
			n.waitAnswered("tcp", 12345)
			if got := n.pidOf("t1"); got != pid {
				t.Errorf("responder replaced: pid %d -> %d", pid, got)
			}
			eventually(t, "quickCheck healthy after the link came back", func() (bool, string) {
				r := n.run("quickCheck", nil, a...)
				return r.code == ocf.Success, r.String()
			})
			n.waitLog("t1", "answering again")
			n.want("remove", ocf.Success, a...)
		})
	}
}

// TestRecoverNeverStarts: recover repairs a resource that restore started
// and remove has not stopped; it never starts one (exit 7, nothing
// changed). A resource whose state directory was lost while it ran still
// counts as started: its responder, found by its command line, is the
// evidence.
func TestRecoverNeverStarts(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	notStarted := func(when string) {
		t.Helper()
		r := n.want("recover", ocf.NotRunning, a...)
		if !strings.Contains(r.stderr, "recover t1: not started on this node: run restore") {
			t.Errorf("recover %s: %v", when, r)
		}
		if n.hasAddr("eth1", "10.10.5.200/32") {
			t.Errorf("recover %s added the VIP: %s", when, n.addrs("eth1"))
		}
		if err := n.probe(12345, ""); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("recover %s: probe: %v, want connection refused", when, err)
		}
		n.nothingStarted("t1", 12345)
		n.want("quickCheck", ocf.NotRunning, a...)
	}
	notStarted("without restore")
	n.want("restore", ocf.Success, a...)
	n.want("remove", ocf.Success, a...)
	notStarted("after remove")

	// Restore, then the state directory goes while the resource runs:
	// recover repairs it (0) instead of treating it as never started.
	n.want("restore", ocf.Success, a...)
	pid := n.pidOf("t1")
	n.wipeState()
	n.want("recover", ocf.Success, a...)
	n.want("quickCheck", ocf.Success, a...)
	if p := daemonPids(n, "t1"); len(p) != 1 {
		t.Errorf("responders after recover: %v, want one", p)
	}
	if got := n.pidOf("t1"); got != pid {
		t.Logf("recover replaced the unrecorded responder: pid %d -> %d", pid, got)
		testenv.WaitDead(t, pid)
	}
	if _, err := os.Stat(filepath.Join(n.sd, "t1.run")); err != nil {
		t.Errorf("recover did not write the run mark anew: %v", err)
	}
	if !n.hasAddr("eth1", "10.10.5.200/32") {
		t.Errorf("vip gone after recover: %s", n.addrs("eth1"))
	}
	// With the mark restored, remove takes everything down again.
	n.want("remove", ocf.Success, a...)
	notStarted("after remove of the recovered resource")
}

// TestTwoTagsOneVIP: one VIP, one running resource per node. A second
// tag with the same VIP is refused and leaves nothing; its remove never
// deletes the VIP the first tag runs with (which carries ilbvip's mark).
func TestTwoTagsOneVIP(t *testing.T) {
	n := newNode(t)
	a1 := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	a2 := n.args("t2", 12346, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a1...)
	r := n.want("restore", ocf.ErrGeneric, a2...)
	if !strings.Contains(r.stderr, "t1") || !strings.Contains(r.stderr, "10.10.5.200") {
		t.Errorf("restore t2 with t1's VIP: %v; want t1 and the VIP named", r)
	}
	n.nothingStarted("t2", 12346)
	n.want("recover", ocf.NotRunning, a2...)
	n.nothingStarted("t2", 12346)
	n.want("remove", ocf.Success, a2...)
	if !n.hasAddr("eth1", "10.10.5.200/32") {
		t.Fatalf("remove t2 deleted t1's VIP: %s", n.addrs("eth1"))
	}
	n.want("quickCheck", ocf.Success, a1...)
	if err := n.probe(12345, ""); err != nil {
		t.Errorf("t1's probe after remove t2: %v", err)
	}
	// Once t1 is removed, the VIP is free for t2.
	n.want("remove", ocf.Success, a1...)
	n.want("restore", ocf.Success, a2...)
	n.want("quickCheck", ocf.Success, a2...)
	// t1 was restored and removed cleanly: stopped (7), even though the
	// VIP it had is now t2's.
	if r := n.run("quickCheck", nil, a1...); r.code != ocf.NotRunning {
		t.Errorf("quickCheck of the removed t1 while t2 runs with the VIP: %v, want exit 7 (cleanly stopped)", r)
	}
	n.want("remove", ocf.Success, a1...)
	if !n.hasAddr("eth1", "10.10.5.200/32") {
		t.Fatalf("remove t1 deleted t2's VIP: %s", n.addrs("eth1"))
	}
	n.want("quickCheck", ocf.Success, a2...)
	n.want("remove", ocf.Success, a2...)
	if n.hasAddr("eth1", "10.10.5.200/32") {
		t.Errorf("vip left: %s", n.addrs("eth1"))
	}
}

// TestPreexistingAddress: an address at the VIP that restore did not add
// is refused (exit 1: the same config may be right on the other node, so
// never 6) and left exactly as it was, by restore and by remove.
func TestPreexistingAddress(t *testing.T) {
	for _, tc := range []struct {
		name, vip, cidr string
		add             []string // extra `ip addr add` arguments
		want            string
	}{
		{"ipv4", "10.10.5.200", "10.10.5.200/32", nil, "ilbvip did not add it"},
		{"ipv6", "2001:db8:5::200", "2001:db8:5::200/128", []string{"nodad"}, "ilbvip did not add it"},
		{"ipv4 finite lifetime", "10.10.5.200", "10.10.5.200/32", []string{"valid_lft", "300", "preferred_lft", "300"}, "finite lifetime"},
		{"ipv6 finite lifetime", "2001:db8:5::200", "2001:db8:5::200/128", []string{"nodad", "valid_lft", "300", "preferred_lft", "300"}, "finite lifetime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			n.ns.MustRun(t, "ip", append([]string{"addr", "add", tc.cidr, "dev", "eth1"}, tc.add...)...)
			before := n.addrLine("eth1", tc.cidr)
			if !strings.Contains(before, "scope global") {
				t.Fatalf("address added by hand: %q", before)
			}
			a := n.args("t1", 12345, "--vip", tc.vip, "--interface", "eth1")
			r := n.want("restore", ocf.ErrGeneric, a...)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("restore over %s: %v; want %q", tc.cidr, r, tc.want)
			}
			check := func(when string) {
				t.Helper()
				if after := n.addrLine("eth1", tc.cidr); after != before {
					t.Errorf("address changed by %s:\n%s\n%s", when, before, after)
				}
			}
			check("restore")
			n.nothingStarted("t1", 12345)
			n.want("recover", ocf.NotRunning, a...)
			n.want("remove", ocf.Success, a...)
			check("remove")
			n.nothingStarted("t1", 12345)
		})
	}
}

// TestVIPIsNodeAddress: a VIP that is the node's own address is refused
// (exit 1, not 6), the message never advises deleting it, and neither
// restore nor remove touches the address or the default route through it.
func TestVIPIsNodeAddress(t *testing.T) {
	for _, tc := range []struct {
		name, vip, cidr, want string
		byHand                bool // added here by hand; else eth0's own (newLBNode's)
	}{
		// Known to be the node's: another prefix than the VIP's.
		{"eth0 address /24", "10.0.1.2", "10.0.1.2/24", "is an address of this node", false},
		// A /32 of the node looks like an admin's VIP: refused as not
		// ilbvip's (whose message may name `ip addr del`, as for an
		// admin's VIP).
		{"own /32", "10.0.1.3", "10.0.1.3/32", "ilbvip did not add it", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newLBNode(t)
			n.ns.MustRun(t, "ip", "route", "add", "default", "via", lbEth0.String(), "dev", "eth0")
			if tc.byHand {
				n.ns.MustRun(t, "ip", "addr", "add", tc.cidr, "dev", "eth0")
			}
			before, routes := n.addrLine("eth0", tc.cidr), n.ns.MustRun(t, "ip", "route", "show", "default")
			if before == "" || !strings.Contains(routes, "via 10.0.1.1") {
				t.Fatalf("setup: %q, %q", before, routes)
			}
			a := n.args("t1", 12345, "--vip", tc.vip, "--interface", "eth0")
			r := n.want("restore", ocf.ErrGeneric, a...)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("restore with the node's address as VIP: %v; want %q", r, tc.want)
			}
			// The message must not tell to delete the node's own address
			// ("ilbvip never ... deletes the node's own addresses" is fine).
			for _, bad := range []string{"ip addr del", "delete it", "delete the"} {
				if !tc.byHand && strings.Contains(r.stderr, bad) {
					t.Errorf("restore advises deleting the node's address (%q): %v", bad, r)
				}
			}
			n.nothingStarted("t1", 12345)
			n.want("recover", ocf.NotRunning, a...)
			n.want("remove", ocf.Success, a...)
			if after := n.addrLine("eth0", tc.cidr); after != before {
				t.Errorf("node address changed:\n%s\n%s", before, after)
			}
			if !n.hasAddr("eth0", "10.0.1.2/24") {
				t.Errorf("eth0's address gone: %s", n.addrs("eth0"))
			}
			if got := n.ns.MustRun(t, "ip", "route", "show", "default"); got != routes {
				t.Errorf("default route changed: %q -> %q", routes, got)
			}
			n.nothingStarted("t1", 12345)
		})
	}
}

// TestRemoveWithStrangerOnPort: remove confirms that nothing answers the
// probe port once its responder stopped. Another program listening there
// on a reachable address makes remove fail (1) naming it, and the VIP
// stays; a loopback-only listener is no load balancer's business.
func TestRemoveWithStrangerOnPort(t *testing.T) {
	testenv.RequireTools(t, "socat")
	for _, tc := range []struct {
		name, listen string
		blocks       bool
	}{
		{"all addresses", "TCP-LISTEN:12345,fork,reuseaddr", true},
		{"all ipv6 addresses", "TCP6-LISTEN:12345,fork,reuseaddr", true},
		{"on the vip", "TCP-LISTEN:12345,fork,reuseaddr,bind=10.10.5.200", true}, // where GCP probes
		{"loopback only", "TCP-LISTEN:12345,fork,reuseaddr,bind=127.0.0.1", false},
		{"ipv6 loopback only", "TCP6-LISTEN:12345,fork,reuseaddr,bind=[::1]", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
			n.want("restore", ocf.Success, a...)
			n.killResponder("t1")
			// The leader shows as a zombie while its other threads may still
			// be exiting with the listener open.
			eventually(t, "the killed responder's listener closed", func() (bool, string) {
				return !n.listens(12345), n.ns.MustRun(t, "ss", "-Hltnp")
			})
			other := n.startStranger(tc.listen)
			r := n.run("remove", nil, a...)
			if !tc.blocks {
				if r.code != ocf.Success {
					t.Fatalf("remove with a loopback-only listener: %v, want exit 0", r)
				}
				if n.hasAddr("eth1", "10.10.5.200/32") {
					t.Errorf("vip left: %s", n.addrs("eth1"))
				}
				return
			}
			if r.code != ocf.ErrGeneric || !strings.Contains(r.stderr, "port 12345") ||
				!strings.Contains(r.stderr, "socat (pid "+strconv.Itoa(other.pid())+")") {
				t.Fatalf("remove with socat on the port: %v; want exit 1 naming port 12345 and socat (pid %d)", r, other.pid())
			}
			if !n.hasAddr("eth1", "10.10.5.200/32") {
				t.Errorf("remove deleted the VIP while the port still answers: %s", n.addrs("eth1"))
			}
			if err := syscall.Kill(other.pid(), 0); err != nil {
				t.Errorf("remove signalled the stranger: %v", err)
			}
			other.stop()
			n.want("remove", ocf.Success, a...)
			if n.hasAddr("eth1", "10.10.5.200/32") {
				t.Errorf("vip left after the second remove: %s", n.addrs("eth1"))
			}
			n.want("quickCheck", ocf.NotRunning, a...)
		})
	}
}

// stranger is a program listening on the probe port that the kit did not
// start.
type stranger struct {
	cmd    *exec.Cmd
	stderr strings.Builder
	done   chan struct{} // closed when it exited
}

// startStranger runs socat with the listen address in the node and waits
// (bounded) until it listens; it is killed when the test ends.
func (n *node) startStranger(listen string) *stranger {
	n.t.Helper()
	// A responder just killed is a zombie while its other threads still
	// exit and hold its socket: the stranger needs the port free first
	// (CI saw socat's bind fail here once).
	eventually(n.t, "the port is free for the stranger", func() (bool, string) {
		return !n.listens(12345), n.ns.MustRun(n.t, "ss", "-Hltn")
	})
	// ip netns exec execs socat itself: the pid is socat's.
	s := &stranger{cmd: n.ns.Command("socat", listen, "OPEN:/dev/null"), done: make(chan struct{})}
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	n.t.Cleanup(s.stop)
	eventually(n.t, "socat listens", func() (bool, string) {
		select {
		case <-s.done:
			n.t.Fatalf("socat %s exited: %v: %s", listen, s.cmd.ProcessState, s.stderr.String())
		default:
		}
		return n.listens(12345), n.ns.MustRun(n.t, "ss", "-Hltn")
	})
	return s
}

func (s *stranger) pid() int { return s.cmd.Process.Pid }

// stop kills the stranger and waits (bounded) until it is gone.
func (s *stranger) stop() {
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// One VIP, one resource holds across state directories too (the holder is
// found by its responder's own environment), and against restores racing
// each other in one state directory (the claim lock).
func TestOneVIPAcrossStateDirsAndRaces(t *testing.T) {
	n := newNode(t)
	other := filepath.Join(t.TempDir(), "other-state")
	a1 := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	a2 := []string{"-t", "t2", "--port", "12346", "--vip", "10.10.5.200", "--interface", "eth1", "--state-dir", other}
	n.want("restore", ocf.Success, a1...)
	if r := n.want("restore", ocf.ErrGeneric, a2...); !strings.Contains(r.stderr, "t1 (state_dir "+n.sd+")") {
		t.Errorf("restore t2 in another state directory: %v; want t1 and its state_dir named", r)
	}
	n.want("remove", ocf.Success, a2...)
	n.want("quickCheck", ocf.Success, a1...)
	n.want("remove", ocf.Success, a1...)

	for round := range 10 {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, tag := range []string{"t1", "t2"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = n.run("restore", nil, n.args(tag, 12345+i, "--vip", "10.10.5.200", "--interface", "eth1")...).code
			}()
		}
		wg.Wait()
		if codes[0]+codes[1] != 1 {
			t.Fatalf("round %d: racing restores of one VIP exited %v, want exactly one 0 and one 1", round, codes)
		}
		for i, tag := range []string{"t1", "t2"} {
			n.want("remove", ocf.Success, n.args(tag, 12345+i, "--vip", "10.10.5.200", "--interface", "eth1")...)
		}
		if n.hasAddr("eth1", "10.10.5.200/32") {
			t.Fatalf("round %d: vip left after both removes", round)
		}
	}
}

// A resource started here whose responder is gone and cannot come back
// (another program took its port while it was silent) is failed, not
// stopped: quickCheck names the holder, and remove refuses while it holds
// the port; quickCheck then points at remove, not at recover.
func TestStartedButNoResponder(t *testing.T) {
	testenv.RequireTools(t, "socat")
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	pid := n.pidOf("t1")
	n.ns.MustRun(t, "ip", "addr", "del", "10.10.5.200/32", "dev", "eth1")
	eventually(t, "the responder lets go of the port", func() (bool, string) { return !n.listens(12345), "still listening" })
	s := n.startStranger("TCP-LISTEN:12345,fork,reuseaddr")
	r := n.want("recover", ocf.ErrGeneric, a...)
	if !strings.Contains(r.stderr, "in use by socat") {
		t.Errorf("recover with the port taken: %v", r)
	}
	testenv.WaitDead(t, pid)
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "no responder runs") || !strings.Contains(r.stderr, "socat") {
		t.Errorf("quickCheck of a started resource without responder: %v", r)
	}
	if r := n.want("remove", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "socat") {
		t.Errorf("remove with socat on the port: %v", r)
	}
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "run remove") {
		t.Errorf("quickCheck after a remove that did not finish: %v, want run remove", r)
	}
	s.stop()
	n.want("remove", ocf.Success, a...)
	n.want("quickCheck", ocf.NotRunning, a...)
}

// restore with a changed vip moves the resource to the new VIP and deletes
// the one it added before; vip equal to a cloud node's /32 address (the
// default route goes through it) is the node's own: never advised away.
func TestVIPChangedAndNodeSlash32(t *testing.T) {
	n := newNode(t)
	old := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, old...)
	moved := n.args("t1", 12345, "--vip", "10.10.5.201", "--interface", "eth1")
	n.want("restore", ocf.Success, moved...)
	if n.hasAddr("eth1", "10.10.5.200/32") || !n.hasAddr("eth1", "10.10.5.201/32") {
		t.Errorf("after restore with a new vip: %s", n.addrs("eth1"))
	}
	n.want("remove", ocf.Success, moved...)
	if n.hasAddr("eth1", "10.10.5.201/32") {
		t.Errorf("vip left: %s", n.addrs("eth1"))
	}

	n.ns.MustRun(t, "ip", "addr", "add", "10.0.9.2/32", "dev", "eth1")
	n.ns.MustRun(t, "ip", "route", "add", "10.0.9.1", "dev", "eth1")
	n.ns.MustRun(t, "ip", "route", "add", "default", "via", "10.0.9.1")
	a := n.args("t1", 12345, "--vip", "10.0.9.2", "--interface", "eth1")
	r := n.want("restore", ocf.ErrGeneric, a...)
	if !strings.Contains(r.stderr, "is an address of this node") || strings.Contains(r.stderr, "ip addr del") {
		t.Errorf("restore with the node's /32 as vip: %v", r)
	}
	if r := n.run("quickCheck", nil, append(a, "--diagnose")...); strings.Contains(r.stdout+r.stderr, "ip addr del 10.0.9.2") {
		t.Errorf("the doctor advises deleting the node's address: %v", r)
	}
	n.want("remove", ocf.Success, a...)
	if !n.hasAddr("eth1", "10.0.9.2/32") || !strings.Contains(n.ns.MustRun(t, "ip", "route"), "default via 10.0.9.1") {
		t.Errorf("the node's address or default route changed: %s", n.ns.MustRun(t, "ip", "route"))
	}
}

// The state directory wiped and the responder killed: nothing records the
// resource any more, and a VIP alone is no evidence that it should run (a
// remove that could not finish leaves one too). quickCheck fails and says
// both ways out; recover starts nothing; remove takes the VIP (marked as
// ilbvip's) down.
func TestWipedStateAndKilledResponder(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	pid := n.pidOf("t1")
	n.wipeState()
	_ = syscall.Kill(pid, syscall.SIGKILL)
	testenv.WaitDead(t, pid)
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "run remove to take it down, or restore if it should run here") {
		t.Errorf("quickCheck: %v", r)
	}
	n.want("recover", ocf.NotRunning, a...)
	n.want("remove", ocf.Success, a...)
	if n.hasAddr("eth1", "10.10.5.200/32") {
		t.Errorf("vip left: %s", n.addrs("eth1"))
	}
	n.want("quickCheck", ocf.NotRunning, a...)
}

// Whatever answers the probe port while this resource's responder does not
// (stopped, or silent in tcp mode) keeps the node healthy for the load
// balancer: quickCheck names it (a warning when stopped, a failure when the
// resource runs silent), and remove refuses while it answers.
func TestStrangerWhileStoppedOrSilent(t *testing.T) {
	testenv.RequireTools(t, "socat")
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	s := n.startStranger("TCP-LISTEN:12345,fork,reuseaddr")
	// Stopped is this resource's state (a probe's "failed" would have the
	// cluster manager stop, then fence, over a program it does not manage);
	// the warning says who answers, and remove refuses while it does.
	if r := n.want("quickCheck", ocf.NotRunning, a...); !strings.Contains(r.stderr, "WARNING: port 12345 answers the load balancer") || !strings.Contains(r.stderr, "socat") {
		t.Errorf("quickCheck of a stopped resource with socat on its port: %v", r)
	}
	n.want("remove", ocf.ErrGeneric, a...)
	s.stop()
	n.want("quickCheck", ocf.NotRunning, a...)
	n.want("restore", ocf.Success, a...)
	n.ns.MustRun(t, "ip", "addr", "del", "10.10.5.200/32", "dev", "eth1")
	eventually(t, "the responder lets go of the port", func() (bool, string) { return !n.listens(12345), "still listening" })
	n.startStranger("TCP-LISTEN:12345,fork,reuseaddr")
	if r := n.want("quickCheck", ocf.ErrGeneric, a...); !strings.Contains(r.stderr, "socat") {
		t.Errorf("quickCheck of a silent resource with socat on its port: %v", r)
	}
}

// The VIP follows the resource's own changes: an interface renamed while
// it runs, and a vip changed in the config after the state directory was
// lost; remove deletes the VIP it added in both cases, nothing else.
func TestRemoveFindsItsMovedVIP(t *testing.T) {
	n := newNode(t)
	a := n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1")
	n.want("restore", ocf.Success, a...)
	n.ns.MustRun(t, "ip", "link", "set", "eth1", "down")
	n.ns.MustRun(t, "ip", "link", "set", "eth1", "name", "vipnic")
	n.ns.MustRun(t, "ip", "link", "set", "vipnic", "up")
	n.want("remove", ocf.Success, a...)
	if strings.Contains(n.ns.MustRun(t, "ip", "-o", "addr"), "10.10.5.200/") {
		t.Errorf("vip left after remove on a renamed interface: %s", n.ns.MustRun(t, "ip", "-o", "addr"))
	}
	n.want("quickCheck", ocf.NotRunning, a...)
	n.ns.MustRun(t, "ip", "link", "set", "vipnic", "down")
	n.ns.MustRun(t, "ip", "link", "set", "vipnic", "name", "eth1")
	n.ns.MustRun(t, "ip", "link", "set", "eth1", "up")

	n.want("restore", ocf.Success, a...)
	n.wipeState()
	n.want("remove", ocf.Success, n.args("t1", 12345, "--vip", "10.10.5.211", "--interface", "eth1")...)
	if n.hasAddr("eth1", "10.10.5.200/32") {
		t.Errorf("the vip the responder watched is left: %s", n.addrs("eth1"))
	}
}

// Restores of one VIP in two state directories racing each other: the
// node-wide claim lets exactly one win.
func TestOneVIPRaceAcrossStateDirs(t *testing.T) {
	n := newNode(t)
	other := filepath.Join(t.TempDir(), "other-state")
	args := [][]string{
		n.args("t1", 12345, "--vip", "10.10.5.200", "--interface", "eth1"),
		{"-t", "t2", "--port", "12346", "--vip", "10.10.5.200", "--interface", "eth1", "--state-dir", other},
	}
	for round := range 10 {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range args {
			wg.Add(1)
			go func() { defer wg.Done(); codes[i] = n.run("restore", nil, args[i]...).code }()
		}
		wg.Wait()
		if codes[0]+codes[1] != 1 {
			t.Fatalf("round %d: racing restores in two state directories exited %v, want one 0 and one 1", round, codes)
		}
		for i := range args {
			n.want("remove", ocf.Success, args[i]...)
		}
	}
}

// A config file that became unreadable while the resource runs (a typo, a
// mode others may write) does not keep remove from stopping what the state
// directory records; with nothing recorded the error stands (and nothing
// is created).
func TestRemoveWithBrokenConfigFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(path string) error
	}{
		{"unknown key", func(p string) error { return os.WriteFile(p, []byte("port: 12345\nalow: [10.0.0.1]\n"), 0o600) }},
		{"not YAML", func(p string) error { return os.WriteFile(p, []byte("port: [\n"), 0o600) }},
		{"writable by others", func(p string) error { return os.Chmod(p, 0o666) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			cfg := filepath.Join(t.TempDir(), "t1.yaml")
			if err := os.WriteFile(cfg, []byte("port: 12345\nvip: 10.10.5.200\ninterface: eth1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			a := []string{"-t", "t1", "-c", cfg, "--state-dir", n.sd}
			n.want("restore", ocf.Success, a...)
			if err := tc.spoil(cfg); err != nil {
				t.Fatal(err)
			}
			if r := n.want("remove", ocf.Success, a...); !strings.Contains(r.stderr, "stopping what the state directory records") {
				t.Errorf("remove: %v", r)
			}
			n.nothingStarted("t1", 12345)
			if n.hasAddr("eth1", "10.10.5.200/32") {
				t.Errorf("vip left: %s", n.addrs("eth1"))
			}
			if r := n.run("remove", nil, a...); r.code == ocf.Success {
				t.Errorf("remove with nothing recorded and a broken config: %v, want the config error", r)
			}
		})
	}
}
