package netnsrun

import (
	"os"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

func TestDo(t *testing.T) {
	self := func() string { l, _ := os.Readlink("/proc/thread-self/ns/net"); return l }
	outside := self()
	var got string
	if err := Do(netns.None(), func() error { got = self(); return nil }); err != nil || got != outside {
		t.Fatalf("Do(None): %v, namespace %s, want the current %s", err, got, outside)
	}
	ns := testenv.NewNS(t)
	h, err := Open(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := Do(h, func() error { got = self(); return nil }); err != nil || got == outside || got == "" {
		t.Fatalf("Do(%s): %v, namespace %q, want another than %s", ns.Name, err, got, outside)
	}
	if self() != outside {
		t.Error("the caller's thread changed namespace")
	}
	if _, err := Open("ilbvip-t-no-such-namespace"); err == nil {
		t.Error("Open of a missing namespace succeeded")
	}
}
