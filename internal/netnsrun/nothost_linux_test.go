package netnsrun_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/internal/testenv"
)

// TestNotHost: the test's own namespace (the host's) is refused, one the
// test creates is accepted.
func TestNotHost(t *testing.T) {
	if testenv.InNamedNetns() {
		testenv.SkipOrFail(t, "the test runs inside a named namespace, not the host's")
	}
	if err := netnsrun.NotHost(netns.None()); !errors.Is(err, netnsrun.ErrHostNamespace) {
		t.Errorf("NotHost in the test's own namespace: %v, want a refusal", err)
	}
	ns := testenv.NewNS(t)
	h, err := netnsrun.Open(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netnsrun.NotHost(h); err != nil {
		t.Errorf("NotHost in %s, made for the test: %v", ns.Name, err)
	}
}

// TestNotHostFailsClosed: where init's namespace cannot be read (as on
// hosts that deny /proc/1/ns even to root), an unnamed namespace is refused
// as undecidable, a named one is accepted, and init's is refused even when
// it has a name (ip netns attach can name the host's).
func TestNotHostFailsClosed(t *testing.T) {
	ns := testenv.NewNS(t)
	h, err := netnsrun.Open(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fake, named := t.TempDir(), t.TempDir()
	if err := os.Symlink("/proc/thread-self", filepath.Join(fake, "thread-self")); err != nil {
		t.Fatal(err)
	}
	defer func(d []string, r string) { *netnsrun.NamedDirs, *netnsrun.ProcRoot = d, r }(*netnsrun.NamedDirs, *netnsrun.ProcRoot)
	*netnsrun.NamedDirs, *netnsrun.ProcRoot = []string{named}, fake // no 1, no 2: nothing to compare with

	if err := netnsrun.NotHost(h); !errors.Is(err, netnsrun.ErrHostNamespace) {
		t.Errorf("unnamed, init unreadable: %v, want a refusal", err)
	}
	if err := os.Symlink(filepath.Join("/run/netns", ns.Name), filepath.Join(named, "bed")); err != nil {
		t.Fatal(err)
	}
	if err := netnsrun.NotHost(h); err != nil {
		t.Errorf("named, init unreadable: %v, want nil", err)
	}
	// PID 1 "lives" in the test namespace: then it is the host's, named or not.
	if err := os.MkdirAll(filepath.Join(fake, "1/ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("/run/netns", ns.Name), filepath.Join(fake, "1/ns/net")); err != nil {
		t.Fatal(err)
	}
	if err := netnsrun.NotHost(h); !errors.Is(err, netnsrun.ErrHostNamespace) {
		t.Errorf("named but init's: %v, want a refusal", err)
	}
}
