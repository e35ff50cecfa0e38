package app

import (
	"strings"
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		timeout time.Duration
		env     map[string]string
		want    time.Duration
	}{
		{20 * time.Second, nil, 18 * time.Second},
		{100 * time.Second, nil, 98 * time.Second},
		{20 * time.Second, map[string]string{"OCF_RESKEY_CRM_meta_timeout": "5000"}, 4500 * time.Millisecond},
		{20 * time.Second, map[string]string{"OCF_RESKEY_CRM_meta_timeout": "junk"}, 18 * time.Second},
	} {
		if got := Budget(tc.timeout, env(tc.env)); got != tc.want {
			t.Errorf("Budget(%v, %v) = %v, want %v", tc.timeout, tc.env, got, tc.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"restore"}, 2, "tag: is missing"},
		{[]string{"restore", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"restore", "-t", "x", "--port", "1", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"restore", "-t", "x", "--port", "0"}, 6, `port (from flag --port): "0" is not a port number`},
		{[]string{"restore", "--version"}, 0, "restore version"},
		{[]string{"quickCheck", "serve"}, 2, "serve is internal"},
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
	if code != 6 || strings.Count(errb.String(), "\n") != 1 || !strings.HasPrefix(errb.String(), "restore: ERROR: port") {
		t.Errorf("exit %d, %q", code, errb.String())
	}
}
