package netnsrun_test

import (
	"os"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/internal/testenv"
)

func TestDo(t *testing.T) {
	self := func() string { l, _ := os.Readlink("/proc/thread-self/ns/net"); return l }
	outside := self()
	var got string
	if err := netnsrun.Do(netns.None(), func() error { got = self(); return nil }); err != nil || got != outside {
		t.Fatalf("Do(None): %v, namespace %s, want the current %s", err, got, outside)
	}
	ns := testenv.NewNS(t)
	h, err := netnsrun.Open(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netnsrun.Do(h, func() error { got = self(); return nil }); err != nil || got == outside || got == "" {
		t.Fatalf("Do(%s): %v, namespace %q, want another than %s", ns.Name, err, got, outside)
	}
	if self() != outside {
		t.Error("the caller's thread changed namespace")
	}
	// fn runs on the caller's thread: a panic in it (or t.Fatal) still
	// brings that thread back.
	func() {
		defer func() { _ = recover() }()
		_ = netnsrun.Do(h, func() error { panic("fn panics") })
	}()
	if self() != outside {
		t.Error("a panic in fn left the caller's thread in the namespace")
	}
	if _, err := netnsrun.Open("ilbvip-t-no-such-namespace"); err == nil {
		t.Error("Open of a missing namespace succeeded")
	}
}
