//go:build linux

// The tool is Linux-only (network namespaces, routes); its tests build it
// with the go command, which the Windows test binaries do not have.

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadArguments: exit 2 and one line, before anything is built.
func TestBadArguments(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "rehearsal")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"port 0", []string{"--port", "0"}, "ports are 1-65535"},
		{"stray argument", []string{"extra"}, "no positional arguments"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
		// Options the rehearsal refuses: bad arguments too, root or not.
		{"unknown cloud", []string{"--cloud", "foo"}, `cloud "foo": use azure, gcp or aws`},
		{"ipv6 on gcp", []string{"--cloud", "gcp", "--ipv6"}, "--ipv6: the IPv6 rehearsal is Azure's"},
		{"aws with a vip in the file", []string{"--cloud", "aws", "-c", vipFile(t)}, "an AWS Network Load Balancer has no Floating IP"},
		{"missing config file", []string{"-c", "/nonexistent/lbhc.yaml"}, "/nonexistent/lbhc.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(exe, tc.args...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %v, output %q; want exit 2 and %q", err, out, tc.want)
			}
			if strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
				t.Errorf("more than one line: %q", out)
			}
		})
	}
}

// vipFile is a config file with a vip, readable only by its owner (the
// loader refuses a file others may write when run as root).
func vipFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "lbhc-12345.yaml")
	if err := os.WriteFile(f, []byte("port: 12345\nvip: 10.10.5.200\ninterface: eth1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestHelp: -h exits 0 and gives the timeout's real default.
func TestHelp(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "rehearsal")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(exe, "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(default: half the interval)") {
		t.Errorf("-h: %v\n%s", err, out)
	}
}
