package main

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// TestRefusesHostNamespace: the command sets routes, so it never runs in the
// host's own network namespace: run in the test's (the host's), it refuses
// with exit 4 and leaves no route, also where /proc/1/ns/net is unreadable
// (it fails closed). Inside a namespace the test creates it runs.
func TestRefusesHostNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	if testenv.InNamedNetns() {
		testenv.SkipOrFail(t, "the test runs inside a named namespace, not the host's")
	}
	exe := build(t)
	args := []string{"--vip", "10.10.5.201", "--backend", "n1=127.0.0.1:1", "--interval", "50ms", "--duration", "300ms"}
	out, err := exec.Command(exe, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 || !strings.Contains(string(out), "refusing to run in the host's network namespace") {
		t.Fatalf("exit %v, output %s; want exit 4 and a refusal", err, out)
	}
	if r, _ := exec.Command("ip", "route", "show", "table", "all", "10.10.5.201/32").CombinedOutput(); len(r) != 0 {
		t.Errorf("a route in the host's namespace: %s", r)
	}
	lb := testenv.NewNS(t)
	if out, err := lb.Command(exe, args...).CombinedOutput(); err != nil {
		t.Fatalf("inside %s: %v\n%s", lb.Name, err, out)
	}
}

// TestRunInNamespace runs the command as the issue shows it: inside the LB
// namespace, for a bounded time, logging each transition with a timestamp.
func TestRunInNamespace(t *testing.T) {
	exe := build(t)
	lb, node := testenv.NewNS(t), testenv.NewNS(t)
	lb.Veth(t, "node1", "10.0.1.1/24", node, "eth0", "10.0.1.2/24")
	var srv *responder.Server
	node.Do(t, func() {
		var err error
		srv, err = responder.Listen(responder.Options{Protocol: "http", Addr: netip.MustParseAddrPort("10.0.1.2:8080"), HTTPPath: "/healthz"})
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
	})
	go func() { _ = srv.Serve() }()
	defer srv.Close()
	cmd := lb.Command(exe, "--vip", "10.10.5.200", "--backend", "node1=10.0.1.2:8080", "--backend", "node2=10.0.2.2:8080",
		"--protocol", "http", "--path", "/healthz", "--interval", "50ms", "--threshold", "2", "--duration", "1s")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("lbsim: %v\n%s", err, out)
	}
	for _, want := range []string{"VIP traffic dropped: no healthy backend", "node1 up", "VIP traffic -> node1 (via 10.0.1.2)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "node2 up") {
		t.Errorf("node2 (no route to it) came up:\n%s", out)
	}
	if r := lb.MustRun(t, "ip", "route", "show", "10.10.5.200/32"); r != "" {
		t.Errorf("route left after --duration: %q", r)
	}
}
