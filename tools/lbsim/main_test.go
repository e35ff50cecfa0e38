//go:build linux

// The tool is Linux-only (network namespaces, routes); its tests build it
// with the go command, which the Windows test binaries do not have.

package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func build(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "lbsim")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return exe
}

// TestBadArguments: one line naming the flag and the fix, exit 2, nothing done.
func TestBadArguments(t *testing.T) {
	exe := build(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no vip", []string{"--backend", "n1=10.0.1.2:1"}, `--vip "": give the frontend IP`},
		{"no backend", []string{"--vip", "10.10.5.200"}, "backends: give 1 to"},
		{"bad backend", []string{"--vip", "10.10.5.200", "--backend", "10.0.1.2:1"}, "want name=address:port"},
		{"bad threshold", []string{"--vip", "10.10.5.200", "--backend", "n1=10.0.1.2:1", "--threshold", "-1"}, "threshold -1: use 1 to 100"},
		{"bad healthy threshold", []string{"--vip", "10.10.5.200", "--backend", "n1=10.0.1.2:1", "--healthy-threshold", "101"}, "healthy threshold 101: use 1 to 100"},
		{"bad interval", []string{"--vip", "10.10.5.200", "--backend", "n1=10.0.1.2:1", "--interval", "1ms"}, "interval 1ms: use 10ms"},
		{"stray argument", []string{"--vip", "10.10.5.200", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(exe, tc.args...).CombinedOutput()
			if strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
				t.Errorf("more than one line: %q", out)
			}
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2; output %s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output %q, want %q in it", out, tc.want)
			}
		})
	}
}

// TestHelp: --help is not an error (exit 0) and says where the command runs.
func TestHelp(t *testing.T) {
	out, err := exec.Command(build(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	for _, want := range []string{"ip netns exec LB lbsim", "inside a network namespace", "-unhealthy-threshold"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
}
