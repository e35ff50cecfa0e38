package testbed

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
	"github.com/ilbvip/ilbvip/internal/testenv"
)

// TestBed checks what the scenarios do not: the nodes reach each other
// through the LB namespace (a cluster's own traffic), and Close removes the
// namespaces, every process in them and the directory, once or twice.
func TestBed(t *testing.T) {
	testenv.RequireRoot(t)
	bed, err := New(Options{Prefix: "ilbvip-t-bed-"})
	if err != nil {
		t.Fatal(err)
	}
	defer bed.Close()
	n1, n2 := bed.Node("node1"), bed.Node("node2")
	if bed.Node("node3") != nil {
		t.Error("Node(node3) is not nil")
	}

	var ln net.Listener
	if err := netnsrun.Do(n1.ns, func() error {
		ln, err = net.Listen("tcp4", n1.Addr.String()+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	if err := netnsrun.Do(n2.ns, func() error {
		c, err := net.DialTimeout("tcp4", ln.Addr().String(), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Errorf("node2 cannot reach node1 at %s through the LB: %v", ln.Addr(), err)
	}

	// A process left running in a node, as a crashed action might leave.
	sleeper := exec.Command("ip", "netns", "exec", n1.NS, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ { // until ip has entered node1 and run sleep
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", sleeper.Process.Pid)); strings.TrimSpace(string(b)) == "sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ln.Close()
	if err := bed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := sleeper.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("the process in node1 was not killed: %v", err)
	}
	if left := bed.Leftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if err := bed.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestSweepStale: what a killed process left (its pid is gone) is removed;
// what a live process owns is kept.
func TestSweepStale(t *testing.T) {
	testenv.RequireRoot(t)
	const prefix = "ilbvip-t-sweep-"
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-1-lb", prefix, gone.Process.Pid)
	live := fmt.Sprintf("%s%d-1-lb", prefix, os.Getpid())
	for _, ns := range []string{stale, live} {
		h, err := netnsrun.Add(ns)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
		if err := os.Mkdir(filepath.Join(os.TempDir(), ns+"-x"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = RemoveNS(live)
		_ = os.RemoveAll(filepath.Join(os.TempDir(), live+"-x"))
	})
	SweepStale(prefix)
	for _, tc := range []struct {
		name string
		keep bool
	}{{stale, false}, {live, true}} {
		for _, path := range []string{filepath.Join("/run/netns", tc.name), filepath.Join(os.TempDir(), tc.name+"-x")} {
			_, err := os.Stat(path)
			if kept := err == nil; kept != tc.keep {
				t.Errorf("%s: kept %v, want %v", path, kept, tc.keep)
			}
		}
	}
}
