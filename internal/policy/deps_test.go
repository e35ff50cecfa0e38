//go:build !windows

// The test runs the go command, which the Windows test binaries (under
// Wine) do not have; it lists the executables' packages as make build
// builds them on this machine.

package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// heavy are packages the executables must not link: their package
// initialisation would cost every start of every action, quickCheck every
// few seconds on every node included (pkg/metrics writes the Prometheus
// format itself; only its tests use the Prometheus project's parser).
var heavy = []string{"google.golang.org/protobuf", "github.com/prometheus/"}

// TestActionsLinkNoProtobuf lists what the four executables and the tools
// link, as make build builds them, and fails on a heavy package.
func TestActionsLinkNoProtobuf(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags", "urfave_cli_no_docs", "../../actions/...", "../../tools/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 50 {
		t.Fatalf("go list -deps found only %d packages: wrong path?", len(pkgs))
	}
	for _, p := range pkgs {
		for _, h := range heavy {
			if strings.HasPrefix(p, h) {
				t.Errorf("the executables link %s: keep it to tests (see pkg/metrics)", p)
			}
		}
	}
}
