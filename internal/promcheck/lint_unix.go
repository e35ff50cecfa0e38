//go:build !windows

package promcheck

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// Lint runs `promtool check metrics` on text and fails the test when it
// finds anything (a parse error or a lint problem). Without promtool the
// test skips, and fails in CI (the Debian package prometheus has it).
func Lint(t testing.TB, text string) {
	t.Helper()
	testenv.RequireTools(t, "promtool")
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
		t.Fatalf("promtool check metrics: %v: %s\n%s", err, out.String(), text)
	}
}
