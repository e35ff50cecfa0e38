package app

import (
	"strings"
	"testing"

	"github.com/ilbvip/ilbvip/pkg/ocf"
)

func TestUsageErrors(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"restore"}, ocf.ErrArgs, "tag: is missing"},
		{[]string{"restore", "--nope"}, ocf.ErrArgs, "flag provided but not defined"},
		{[]string{"restore", "-t", "x", "--port", "1", "extra"}, ocf.ErrArgs, `unexpected argument "extra"`},
		{[]string{"restore", "-t", "x", "--port", "0"}, ocf.ErrConfigured, `port (from flag --port): "0" is not a port number`},
		{[]string{"restore", "--version"}, ocf.Success, "restore version"},
		{[]string{"quickCheck", "serve"}, ocf.ErrArgs, "serve is internal"},
	} {
		var out, errb strings.Builder
		code := run(Restore, tc.args, &out, &errb, noEnv)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("%v: exit %d, out %q, err %q; want exit %d and %q", tc.args, code, out.String(), errb.String(), tc.code, tc.want)
		}
	}
}

func TestLineFormatterIsOneLine(t *testing.T) {
	var errb strings.Builder
	code := run(Restore, []string{"restore", "-t", "x", "--port", "99999"}, &strings.Builder{}, &errb, func(string) (string, bool) { return "", false })
	if code != ocf.ErrConfigured || strings.Count(errb.String(), "\n") != 1 || !strings.HasPrefix(errb.String(), "restore: ERROR: port") {
		t.Errorf("exit %d, %q", code, errb.String())
	}
}
