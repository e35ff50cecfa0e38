package vip

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/vishvananda/netlink"
)

// watchChild marks the test binary re-run inside the test's namespace:
// Watch's goroutine checks the VIP from whatever thread it runs on, so the
// whole process must be in the namespace, as the responder is.
const watchChild = "ILBVIP_TEST_WATCH_CHILD"

// TestWatch follows a VIP through the changes an admin or an agent makes:
// added, interface down and up, deleted, the interface deleted and
// re-created; every change reaches fn, and nothing after ctx ends.
func TestWatch(t *testing.T) {
	if os.Getenv(watchChild) == "1" {
		watchSteps(t)
		return
	}
	testenv.RequireRoot(t)
	ns := testenv.NewNS(t)
	ns.VethSelf(t, "vip0", "vip0p")
	cmd := ns.Command(os.Args[0], "-test.run=^TestWatch$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), watchChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in the namespace:\n%s", out)
	if err != nil {
		t.Fatalf("watch steps: %v", err)
	}
}

func watchSteps(t *testing.T) {
	s := Spec{Addr: vip4, Prefix: 32, Interface: "vip0"}
	got := make(chan error, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Watch(ctx, s, func(err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	// want waits (bounded) for a verdict matching is; verdicts on the way
	// (intermediate states of one change) are skipped.
	want := func(step string, is func(error) bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case err := <-got:
				if is(err) {
					return
				}
			case <-deadline:
				t.Fatalf("%s: no matching verdict within 5 s", step)
			}
		}
	}
	ok := func(err error) bool { return err == nil }
	missing := func(err error) bool { return errors.Is(err, ErrMissing) }
	down := func(err error) bool { return errors.Is(err, ErrInterfaceDown) }
	want("at once", missing)
	link := func() netlink.Link {
		l, err := netlink.LinkByName("vip0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if err := Add(s); err != nil {
		t.Fatal(err)
	}
	want("added", ok)
	if err := netlink.LinkSetDown(link()); err != nil {
		t.Fatal(err)
	}
	want("interface down", down)
	if err := netlink.LinkSetUp(link()); err != nil {
		t.Fatal(err)
	}
	want("interface up", ok)
	if err := Delete(s); err != nil {
		t.Fatal(err)
	}
	want("deleted", missing)
	// Another address on the interface is no news for this VIP.
	other := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("10.10.5.201"), Mask: net.CIDRMask(32, 32)}}
	if err := netlink.AddrAdd(link(), other); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkDel(link()); err != nil {
		t.Fatal(err)
	}
	want("interface deleted", func(err error) bool { return errors.Is(err, ErrNoInterface) })
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vip0"}, PeerName: "vip0p"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"vip0", "vip0p"} {
		l, err := netlink.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := Add(s); err != nil {
		t.Fatal(err)
	}
	want("re-created and added", ok)
	cancel()
	time.Sleep(100 * time.Millisecond)
	for len(got) > 0 {
		<-got
	}
	if err := Delete(s); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		t.Errorf("a verdict after ctx ended: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}
