package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

// TestMetricsFlagConflicts: --metrics with another output is bad input:
// exit 2, one line naming both flags, nothing on stdout, and nothing
// created (not even the state directory).
func TestMetricsFlagConflicts(t *testing.T) {
	sd := filepath.Join(testenv.TempDir(t), "state")
	noEnv := func(string) (string, bool) { return "", false }
	for _, other := range []string{"--json", "--verbose", "-v", "--diagnose"} {
		var out, errb strings.Builder
		args := []string{"quickCheck", "-t", "x", "--port", "62500", "--state-dir", sd, "--metrics", other}
		code := run(QuickCheck, args, &out, &errb, noEnv)
		name := strings.TrimLeft(other, "-")
		if name == "v" {
			name = "verbose"
		}
		want := "quickCheck: --metrics and --" + name + " choose different outputs: use one of them\n"
		if code != 2 || out.String() != "" || errb.String() != want {
			t.Errorf("%v: exit %d, out %q, err %q; want exit 2 and %q", args, code, out.String(), errb.String(), want)
		}
	}
	if _, err := os.Stat(sd); !os.IsNotExist(err) {
		t.Errorf("a refused --metrics created the state directory: %v", err)
	}
}
