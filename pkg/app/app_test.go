package app

import (
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

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
		{[]string{"restore", "-t", "x", "--port", "1", "extra"}, ocf.ErrArgs, `unexpected argument "extra": parameters are flags`},
		// The last of two would win silently, dropping a probe source.
		{[]string{"restore", "-t", "x", "--port", "1", "--allow", "168.63.129.16", "--allow=fe80::1234:5678:9abc"}, ocf.ErrArgs,
			"--allow is given twice: give it once, with the values as one comma-separated list (--allow 168.63.129.16,fe80::1234:5678:9abc)"},
		{[]string{"restore", "--tag", "x", "-t", "y", "--port", "1"}, ocf.ErrArgs, "-t and --tag are the same flag: give it once"},
		{[]string{"restore", "-t", "x", "-t", "y", "--port", "1"}, ocf.ErrArgs, "-t is given twice: give it once"},
		{[]string{"restore", "-t", "x", "--port", "1", "--source", "true"}, ocf.ErrArgs, `unexpected argument "true": --source is a switch: write --source alone, or --source=true`},
		{[]string{"restore", "-t", "x", "--port"}, ocf.ErrArgs, "flag needs an argument: --port"},
		{[]string{"restore", "-t", "x", "--port", "1", "--source=maybe"}, ocf.ErrArgs, `invalid boolean value "maybe" for --source`},
		// A flag without its value would take the next flag as its value.
		{[]string{"restore", "-t", "x", "--port", "1", "--vip", "--interface", "eth1"}, ocf.ErrArgs,
			`--vip has no value: it would take "--interface" as its value (write --vip=--interface if you mean that)`},
		{[]string{"restore", "-t", "x", "--port", "1", "--vipp", "10.0.0.5"}, ocf.ErrArgs, "flag provided but not defined: --vipp: did you mean --vip?"},
		{[]string{"restore", "-t", "x", "--port", "1", "-V"}, ocf.ErrArgs, "flag provided but not defined: -V: restore --help lists the flags"},
		// As source: yes in YAML and OCF_RESKEY_source=yes.
		{[]string{"restore", "-t", "x", "--port", "1", "--source=yes", "--check-config"}, ocf.Success, ""},
		{[]string{"restore", "-t", "x", "--port", "1", "--source=Off", "--check-config"}, ocf.Success, ""},
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

// Fields other than tag print sorted by name, the same way every time
// (a map's order would change from run to run).
func TestLineFormatterSortsFields(t *testing.T) {
	f := &lineFormatter{action: "restore"}
	e := &logrus.Entry{Level: logrus.WarnLevel, Message: "rollback: delete vip",
		Data: logrus.Fields{"tag": "t1", "vip": "10.0.0.5/32", "error": "busy", "attempt": 2, "pid": 4711, "interface": "eth1"}}
	want := "restore t1: WARNING: rollback: delete vip attempt=2 interface=eth1 pid=4711 vip=10.0.0.5/32 error=busy\n"
	for range 50 {
		b, err := f.Format(e)
		if err != nil || string(b) != want {
			t.Fatalf("%q, %v; want %q", b, err, want)
		}
	}
}

// --help shows how the action is called (flags only: no commands), and
// each default once.
func TestHelp(t *testing.T) {
	for _, a := range []Action{Restore, Remove, QuickCheck, Recover} {
		var out, errb strings.Builder
		code := run(a, []string{a.Name, "--help"}, &out, &errb, func(string) (string, bool) { return "", false })
		help := out.String()
		if code != ocf.Success || errb.String() != "" {
			t.Fatalf("%s --help: exit %d, stderr %q", a.Name, code, errb.String())
		}
		if want := "USAGE:\n   " + a.Name + " -t TAG [-i ID] [-c FILE] [OPTIONS]\n"; !strings.Contains(help, want) {
			t.Errorf("%s --help lacks %q:\n%s", a.Name, want, help)
		}
		if strings.Contains(help, "[command options]") || strings.Contains(help, "COMMANDS:") {
			t.Errorf("%s --help mentions commands, which it has none of (serve is internal):\n%s", a.Name, help)
		}
		for _, line := range strings.Split(help, "\n") {
			if strings.Count(line, "(default") > 1 || strings.Contains(line, "(default: false)") {
				t.Errorf("%s --help: a default shown twice or for a switch: %q", a.Name, line)
			}
		}
		for _, want := range []string{"-t, --tag TAG ", "--port PORT ", "-c, --config FILE ", "--drain DURATION ", "--protocol tcp|http ", "(default all addresses, IPv4 and IPv6)"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s --help lacks %q:\n%s", a.Name, want, help)
			}
		}
		if strings.Contains(help, " value") {
			t.Errorf("%s --help has urfave's \"value\" placeholder:\n%s", a.Name, help)
		}
		if !strings.Contains(help, "--source ") || !strings.Contains(help, "(default false)") {
			t.Errorf("%s --help lost the source flag's default:\n%s", a.Name, help)
		}
	}
}
