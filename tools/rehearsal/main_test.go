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
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(exe, tc.args...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %v, output %q; want exit 2 and %q", err, out, tc.want)
			}
		})
	}
}
