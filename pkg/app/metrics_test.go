package app

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/internal/promcheck"
	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
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
		if code != ocf.ErrArgs || out.String() != "" || errb.String() != want {
			t.Errorf("%v: exit %d, out %q, err %q; want exit 2 and %q", args, code, out.String(), errb.String(), want)
		}
	}
	if _, err := os.Stat(sd); !os.IsNotExist(err) {
		t.Errorf("a refused --metrics created the state directory: %v", err)
	}
}

// TestOutputFlagConflicts: every pair of quickCheck's outputs is refused
// alike (exit 2, one line, nothing created), not only those with
// --metrics: --json --verbose and --diagnose --verbose printed one output
// and dropped the other silently. --arp-probe belongs to --diagnose.
// --diagnose --json (the report as JSON) and --diagnose --arp-probe pass
// the check: a port out of range then makes them exit 6, not 2.
func TestOutputFlagConflicts(t *testing.T) {
	sd := filepath.Join(testenv.TempDir(t), "state")
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		flags []string
		code  int
		want  string
	}{
		{[]string{"--json", "--verbose"}, ocf.ErrArgs, "quickCheck: --json and --verbose choose different outputs: use one of them\n"},
		{[]string{"--verbose", "--diagnose"}, ocf.ErrArgs, "quickCheck: --diagnose and --verbose choose different outputs: use one of them\n"},
		{[]string{"--metrics", "--arp-probe"}, ocf.ErrArgs, "quickCheck: --arp-probe works only with --diagnose\n"},
		{[]string{"--arp-probe"}, ocf.ErrArgs, "quickCheck: --arp-probe works only with --diagnose\n"},
		{[]string{"--diagnose", "--json"}, ocf.ErrConfigured, ""},
		{[]string{"--diagnose", "--arp-probe"}, ocf.ErrConfigured, ""},
	} {
		var out, errb strings.Builder
		args := append([]string{"quickCheck", "-t", "x", "--port", "70000", "--state-dir", sd}, tc.flags...)
		code := run(QuickCheck, args, &out, &errb, noEnv)
		if code != tc.code || out.String() != "" || tc.code == ocf.ErrArgs && errb.String() != tc.want {
			t.Errorf("%v: exit %d, out %q, err %q; want exit %d and %q", tc.flags, code, out.String(), errb.String(), tc.code, tc.want)
		}
	}
	if _, err := os.Stat(sd); !os.IsNotExist(err) {
		t.Errorf("a refused quickCheck created the state directory: %v", err)
	}
}

// TestMetricsConfigError: a configuration that cannot be loaded (a typo in
// the file, a -c file missing, a file others may write) still gives
// metrics when the tag is valid: up 0 and ilbvip_config_error 1 with the
// tag, so the textfile collector's file is not left empty and an alert can
// fire; the exit code and the error on stderr stay quickCheck's. An
// invalid tag has nothing to label the metrics with: nothing on stdout.
// Without --metrics stdout stays empty.
func TestMetricsConfigError(t *testing.T) {
	dir := testenv.TempDir(t)
	sd := filepath.Join(dir, "state")
	file := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	typo := file("typo.yaml", "port: 62500\nporbe_timeout: 5m\n", 0o600)
	writable := file("writable.yaml", "port: 62500\n", 0o600)
	testenv.WritableByOthers(t, writable)
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		name    string
		args    []string
		env     func(string) (string, bool)
		code    int
		stderr  string
		metrics bool
	}{
		{"typo", []string{"-t", "lbhc-1", "-c", typo}, noEnv, ocf.ErrConfigured, "unknown key", true},
		{"-c missing", []string{"-t", "lbhc-1", "-c", filepath.Join(dir, "none.yaml")}, noEnv, ocf.ErrInstalled, "config file not found", true},
		{"writable by others", []string{"-t", "lbhc-1", "-c", writable}, noEnv, ocf.ErrInstalled, testenv.WritableByOthersMessage, true},
		{"bad port, tag from OCF_RESKEY_tag", []string{"--port", "70000"}, func(k string) (string, bool) {
			return map[string]string{"OCF_RESKEY_tag": "lbhc-1"}[k], k == "OCF_RESKEY_tag"
		}, ocf.ErrConfigured, "not a port number", true},
		{"invalid tag", []string{"-t", "bad tag!", "--port", "62500"}, noEnv, ocf.ErrConfigured, "tag", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "writable by others" && runtime.GOOS != "windows" {
				testenv.RequireRoot(t) // only root's quickCheck refuses such a file (Windows: every action is elevated)
			}
			args := append([]string{"quickCheck", "--state-dir", sd}, tc.args...)
			var out, errb strings.Builder
			code := run(QuickCheck, append(args, "--metrics"), &out, &errb, tc.env)
			if code != tc.code || !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errb.String(), tc.code, tc.stderr)
			}
			if !tc.metrics {
				if out.String() != "" {
					t.Errorf("metrics without a valid tag: %q", out.String())
				}
				return
			}
			fams := promcheck.Check(t, out.String())
			tag := map[string]string{"tag": "lbhc-1"}
			if v, ok := promcheck.Value(t, fams, "ilbvip_config_error", tag); !ok || v != 1 {
				t.Errorf("ilbvip_config_error = %v (present %v), want 1:\n%s", v, ok, out.String())
			}
			if v, ok := promcheck.Value(t, fams, "ilbvip_up", tag); !ok || v != 0 {
				t.Errorf("ilbvip_up = %v (present %v), want 0", v, ok)
			}
			out.Reset()
			if code := run(QuickCheck, args, &out, &errb, tc.env); code != tc.code || out.String() != "" {
				t.Errorf("without --metrics: exit %d, stdout %q", code, out.String())
			}
		})
	}
	if _, err := os.Stat(sd); !os.IsNotExist(err) {
		t.Errorf("quickCheck of a broken configuration created the state directory: %v", err)
	}
}
