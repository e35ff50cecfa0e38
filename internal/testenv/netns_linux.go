package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
)

// NS is a named network namespace made for one test. Its name has the
// prefix "ilbvip-t-" so a leak is easy to spot with `ip netns`.
type NS struct {
	Name   string
	Handle netns.NsHandle
}

// NewNS creates a named network namespace with lo up and deletes it when the
// test ends. It needs root.
func NewNS(t testing.TB) *NS {
	t.Helper()
	RequireRoot(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "ilbvip-t-" + hex.EncodeToString(b)
	h, err := netnsrun.Add(name)
	if err != nil {
		t.Fatal(err)
	}
	ns := &NS{Name: name, Handle: h}
	t.Cleanup(func() {
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return ns
}

// Do runs fn on a thread that is inside the namespace (netnsrun.Do: the
// calling goroutine, so fn may call t.Fatal).
func (n *NS) Do(t testing.TB, fn func()) {
	t.Helper()
	if err := netnsrun.Do(n.Handle, func() error { fn(); return nil }); err != nil {
		t.Fatalf("netns %s: %v", n.Name, err)
	}
}

// Command returns a command that runs inside the namespace (ip netns exec).
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output.
func (n *NS) Run(name string, args ...string) (string, error) {
	out, err := n.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// MustRun is Run that fails the test on error.
func (n *NS) MustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Run(name, args...)
	if err != nil {
		t.Fatalf("in netns %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return out
}

// Veth creates a veth pair: name in n with addr (CIDR, may be empty), peer
// in peerNS with peerAddr, both up.
func (n *NS) Veth(t testing.TB, name, addr string, peerNS *NS, peer, peerAddr string) {
	t.Helper()
	n.MustRun(t, "ip", "link", "add", name, "type", "veth", "peer", "name", peer, "netns", peerNS.Name)
	n.MustRun(t, "ip", "link", "set", name, "up")
	peerNS.MustRun(t, "ip", "link", "set", peer, "up")
	if addr != "" {
		n.MustRun(t, "ip", "addr", "add", addr, "dev", name, "nodad")
	}
	if peerAddr != "" {
		peerNS.MustRun(t, "ip", "addr", "add", peerAddr, "dev", peer, "nodad")
	}
}

// VethSelf creates a veth pair with both ends inside n, up, without addresses.
func (n *NS) VethSelf(t testing.TB, name, peer string) {
	t.Helper()
	n.MustRun(t, "ip", "link", "add", name, "type", "veth", "peer", "name", peer)
	n.MustRun(t, "ip", "link", "set", name, "up")
	n.MustRun(t, "ip", "link", "set", peer, "up")
}

// InNamedNetns reports whether the test process runs in a namespace `ip
// netns` names (then it is not the host's, and a test that exercises a
// refusal there cannot run).
func InNamedNetns() bool {
	var self syscall.Stat_t
	if syscall.Stat("/proc/thread-self/ns/net", &self) != nil {
		return false
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/run/netns", e.Name()), &st) == nil && st.Dev == self.Dev && st.Ino == self.Ino {
			return true
		}
	}
	return false
}
