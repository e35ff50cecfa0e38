package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
)

// --check-config is the OCF agent's validate-all: it loads and validates,
// and does nothing else.
func TestCheckConfig(t *testing.T) {
	sd := filepath.Join(testenv.TempDir(t), "state")
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"restore", "-t", "x", "--port", "62500", "--state-dir", sd, "--check-config"}, ocf.Success, ""},
		{[]string{"remove", "-t", "x", "--port", "62500", "--state-dir", sd, "--check-config"}, ocf.Success, ""},
		{[]string{"restore", "-t", "x", "--port", "70000", "--state-dir", sd, "--check-config"}, ocf.ErrConfigured, `port (from flag --port): "70000" is not a port number`},
		{[]string{"restore", "-t", "x", "--port", "1", "--vip", "10.0.0.1", "--state-dir", sd, "--check-config"}, ocf.ErrConfigured, "interface: is missing"},
		{[]string{"restore", "-t", "x", "-c", "/nonexistent.yaml", "--check-config"}, ocf.ErrInstalled, "config file not found"},
	} {
		var out, errb strings.Builder
		code := run(Restore, tc.args, &out, &errb, noEnv)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) || (tc.code == ocf.Success && out.String()+errb.String() != "") {
			t.Errorf("%v: exit %d, out %q, err %q; want exit %d and %q", tc.args, code, out.String(), errb.String(), tc.code, tc.want)
		}
	}
	if _, err := os.Stat(sd); !os.IsNotExist(err) {
		t.Errorf("--check-config created the state directory: %v", err)
	}
}
