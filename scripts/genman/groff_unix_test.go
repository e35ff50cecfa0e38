//go:build !windows

package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// groff checks that the page renders without a warning.
func groff(t *testing.T, page string) {
	t.Helper()
	testenv.RequireTools(t, "groff")
	cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}
