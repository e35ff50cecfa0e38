//go:build !windows

// Package prometheus_test checks the alert rules shipped for Prometheus
// with promtool: they load, they fire when they should and not otherwise
// (ilbvip-alerts_test.yml), and the README shows them as they are.
package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

func promtool(t *testing.T, args ...string) {
	t.Helper()
	testenv.RequireTools(t, "promtool")
	out, err := exec.Command("promtool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRulesLoad(t *testing.T) { promtool(t, "check", "rules", "ilbvip-alerts.yml") }

func TestRulesFire(t *testing.T) { promtool(t, "test", "rules", "ilbvip-alerts_test.yml") }

// TestREADMEShowsTheRules: the README's copy of the rules is the file's
// (from "groups:" on).
func TestREADMEShowsTheRules(t *testing.T) {
	rules, err := os.ReadFile("ilbvip-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(rules), "groups:")
	if !ok {
		t.Fatal("ilbvip-alerts.yml has no groups:")
	}
	if !strings.Contains(string(readme), "```yaml\ngroups:"+body+"```") {
		t.Error("README.md does not show kit/prometheus/ilbvip-alerts.yml as it is (from groups: on, in a yaml block): copy it again")
	}
}
