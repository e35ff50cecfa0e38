//go:build !linux

package doctor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/config"
)

// Outside Linux the report still has every line; what is not checked says
// so, and the Windows-only vip_nic reminder is there. Windows looks up the
// port's holder (the listening-socket table): a free port is OK; and the
// interface, here ifIndex 1, the loopback on Windows and under Wine.
func TestReducedSet(t *testing.T) {
	c := &config.Config{Tag: "lbhc-12345", Port: freePort(t), Protocol: "tcp", VIP: netip.MustParseAddr("10.10.5.200"),
		Prefix: 32, Interface: "1", StateDir: testenv.TempDir(t), Allow: prefixes("168.63.129.16/32")}
	r := Run(context.Background(), c, Env{})
	if r.Failed() {
		t.Errorf("nothing can fail here:\n%s", r.Human())
	}
	skipped := []string{"firewall", "tcp_timestamps", "rp_filter", "source"}
	if ck := r.check(t, "port"); portHolderSupported && (ck.Status != OK || ck.Found != fmt.Sprintf("tcp port %d is free", c.Port)) {
		t.Errorf("port: %s %q", ck.Status, ck.Found)
	} else if !portHolderSupported {
		skipped = append(skipped, "port")
	}
	for _, name := range skipped {
		if ck := r.check(t, name); ck.Status != Skip || !strings.Contains(ck.Found, "not checked on this OS") && !strings.Contains(ck.Found, "not looked up on this OS") {
			t.Errorf("%s: %s %q", name, ck.Status, ck.Found)
		}
	}
	if ck := r.check(t, "vip_nic"); !strings.Contains(ck.Found, `"1" must not be the NIC in the load balancer's backend pool`) {
		t.Errorf("vip_nic: %q", ck.Found)
	}
	if ck := r.check(t, "interface"); runtime.GOOS == "windows" && ck.Status != OK {
		t.Errorf("interface: %s %q, want the loopback (ifIndex 1) found", ck.Status, ck.Found)
	}
}

// A VIP interface this node does not have fails, naming what it has.
func TestInterfaceMissing(t *testing.T) {
	if runtime.GOOS != "windows" {
		t.Skip("interfaces are looked up on Windows only")
	}
	c := &config.Config{Tag: "lbhc-12345", Port: freePort(t), Protocol: "tcp", VIP: netip.MustParseAddr("10.10.5.200"),
		Prefix: 32, Interface: "Ethernet 99", StateDir: testenv.TempDir(t)}
	r := Run(context.Background(), c, Env{})
	if ck := r.check(t, "interface"); ck.Status != Fail || !strings.Contains(ck.Found, `interface "Ethernet 99" not found (this node has: `) {
		t.Errorf("interface: %s %q, want a failure naming what the node has", ck.Status, ck.Found)
	}
}

// Where the OS names a port's holder, a port another program listens on
// fails the port check (a wildcard listener: loopback ones cannot take the
// load balancer's probes and are not counted).
func TestPortHeldByAnother(t *testing.T) {
	ck, port := heldPortCheck(t)
	if ck.Status != Fail || !strings.Contains(ck.Found, fmt.Sprintf("tcp port %d is held by", port)) {
		t.Errorf("port: %s %q, want a failure: held", ck.Status, ck.Found)
	}
}

// The failure names the program that holds the port, by its pid.
func TestPortHeldNamesProcess(t *testing.T) {
	ck, _ := heldPortCheck(t)
	if want := fmt.Sprintf("(pid %d)", os.Getpid()); !strings.Contains(ck.Found, want) {
		t.Errorf("port: %s %q, want it to name this process %s", ck.Status, ck.Found, want)
	}
}

// heldPortCheck is the doctor's port check of a port this process listens
// on, on all addresses.
func heldPortCheck(t *testing.T) (Check, uint16) {
	t.Helper()
	if !portHolderSupported {
		t.Skip("the holder of a port is not looked up on this OS")
	}
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	c := &config.Config{Tag: "t1", Port: port, Protocol: "tcp", StateDir: testenv.TempDir(t)}
	return Run(context.Background(), c, Env{}).check(t, "port"), port
}

// freePort is a TCP port nothing listens on (it did a moment ago).
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func (r *Report) check(t *testing.T, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q", name)
	return Check{}
}
