package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
	"github.com/ilbvip/ilbvip/pkg/ocf"
)

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("../../testdata/config/bad/*.yaml")
	if err != nil || len(files) < 25 {
		t.Fatalf("want at least 25 bad configs, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("first line must be '# want: <error>', got %q", first)
			}
			want = strings.ReplaceAll(want, "FILE", f)
			src := Sources{Flags: map[string]string{"tag": "t1"}, ConfigFile: f, Env: noEnv, Euid: -1}
			if why, ok := linuxOnlyRule(string(b)); ok && runtime.GOOS != "linux" {
				// The rule must really be Linux's alone: the file loads here.
				if _, err := Load(src); err != nil {
					t.Fatalf("Linux-only rule (%s) applied on %s: %v", why, runtime.GOOS, err)
				}
				return
			}
			c, err := Load(src)
			if err == nil {
				t.Fatalf("loaded %+v, want error %q", c, want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q\nwant it to contain %q", err, want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != ocf.ErrConfigured {
				t.Fatalf("error %T %v: want *Error with code %d", err, err, ocf.ErrConfigured)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// linuxOnlyRule reads a bad config's optional second line, "# linux only:
// WHY": a file that only Linux refuses.
func linuxOnlyRule(file string) (string, bool) {
	lines := strings.SplitN(file, "\n", 3)
	if len(lines) < 2 {
		return "", false
	}
	return strings.CutPrefix(lines[1], "# linux only: ")
}

func TestGoodConfigs(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"full.yaml", func(t *testing.T, c *Config) {
			want := Config{Tag: "t1", Port: 12345, Protocol: "tcp", Message: "hello", HTTPPath: "/",
				VIP: netip.MustParseAddr("10.10.5.200"), Prefix: 32, Interface: "eth1", Drain: 2 * time.Second,
				ConnTimeout: 2 * time.Second, ActionTimeout: 20 * time.Second, StateDir: defaultStateDirHere(), LogLevel: "info"}
			if c.Tag != want.Tag || c.Port != want.Port || c.Protocol != want.Protocol || c.Message != want.Message ||
				c.VIP != want.VIP || c.Prefix != want.Prefix || c.Interface != want.Interface || c.Drain != want.Drain ||
				c.ConnTimeout != want.ConnTimeout || c.ActionTimeout != want.ActionTimeout || c.StateDir != want.StateDir ||
				c.LogLevel != want.LogLevel || c.HTTPPath != "/" || c.Source {
				t.Fatalf("got %+v", c)
			}
			if len(c.Allow) != 1 || c.Allow[0] != netip.MustParsePrefix("168.63.129.16/32") {
				t.Fatalf("allow %v", c.Allow)
			}
		}},
		{"http-v6.yaml", func(t *testing.T, c *Config) {
			if c.Protocol != "http" || c.HTTPPath != "/healthz" || c.Prefix != 128 || !c.Source || len(c.Allow) != 2 {
				t.Fatalf("got %+v", c)
			}
			if c.Origin["prefix"] != "default" {
				t.Fatalf("prefix origin %q", c.Origin["prefix"])
			}
		}},
		{"responder-only.yaml", func(t *testing.T, c *Config) {
			if c.HasVIP() || c.Port != 62500 || c.Interface != "" {
				t.Fatalf("got %+v", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := "../../testdata/config/good/" + tc.file
			c, err := Load(Sources{Flags: map[string]string{"tag": "t1"}, ConfigFile: f, Env: noEnv, Euid: -1})
			if err != nil {
				t.Fatal(err)
			}
			if c.File != f {
				t.Fatalf("File %q", c.File)
			}
			tc.check(t, c)
		})
	}
}

func TestPrecedence(t *testing.T) {
	dir := testenv.TempDir(t)
	f := filepath.Join(dir, "x.yaml")
	if err := os.WriteFile(f, []byte("port: 1\nmessage: file\ndrain: 1s\nlog_level: error\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(Sources{
		Flags:      map[string]string{"tag": "t1", "port": "3"},
		Env:        envOf(map[string]string{"OCF_RESKEY_port": "2", "OCF_RESKEY_message": "env", "OCF_RESKEY_drain": ""}),
		Info:       map[string]string{"message": "info", "log_level": "warn"},
		ConfigFile: f, Euid: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3 || c.Message != "env" || c.LogLevel != "warn" || c.Drain != time.Second || c.ConnTimeout != 2*time.Second {
		t.Fatalf("got %+v", c)
	}
	for k, want := range map[string]string{"port": "flag --port", "message": "OCF_RESKEY_message", "log_level": "info field", "drain": f, "conn_timeout": "default"} {
		if c.Origin[k] != want {
			t.Errorf("origin of %s = %q, want %q", k, c.Origin[k], want)
		}
	}
}

func TestBadSources(t *testing.T) {
	tests := []struct {
		name string
		src  Sources
		want string
		code int
	}{
		{"no tag", Sources{}, "tag: is missing: give the resource's tag with -t TAG", ocf.ErrArgs},
		{"tag with slash", Sources{Flags: map[string]string{"tag": "../etc/passwd"}}, `tag (from flag --tag): "../etc/passwd" contains '.'`, ocf.ErrConfigured},
		{"tag with separator", Sources{Flags: map[string]string{"tag": "a/b"}}, `contains '/'`, ocf.ErrConfigured},
		{"tag with shell", Sources{Flags: map[string]string{"tag": "a;rm"}}, `contains ';'`, ocf.ErrConfigured},
		{"tag with dollar", Sources{Env: envOf(map[string]string{"OCF_RESKEY_tag": "a$(id)"})}, `tag (from OCF_RESKEY_tag): "a$(id)" contains '$'`, ocf.ErrConfigured},
		{"tag too long", Sources{Flags: map[string]string{"tag": strings.Repeat("a", 65)}}, "use at most 64", ocf.ErrConfigured},
		{"env port", Sources{Flags: map[string]string{"tag": "t"}, Env: envOf(map[string]string{"OCF_RESKEY_port": "x"})}, `port (from OCF_RESKEY_port): "x" is not a port number`, ocf.ErrConfigured},
		{"info key", Sources{Flags: map[string]string{"tag": "t"}, Info: map[string]string{"prot": "tcp"}}, `prot (from info field): is not a parameter: did you mean "port"?`, ocf.ErrConfigured},
		{"missing -c", Sources{Flags: map[string]string{"tag": "t"}, ConfigFile: "/nonexistent/t.yaml"}, "/nonexistent/t.yaml: config file not found: create it or fix -c", ocf.ErrInstalled},
		{"dir as -c", Sources{Flags: map[string]string{"tag": "t"}, ConfigFile: "/"}, "/: is not a regular file", ocf.ErrInstalled},
		{"no port", Sources{Flags: map[string]string{"tag": "t"}}, "port: is missing", ocf.ErrConfigured},
		// A value is quoted as the user typed it, not lower-cased.
		{"cloud as typed", Sources{Flags: map[string]string{"tag": "t"}, Env: envOf(map[string]string{"OCF_RESKEY_cloud": "GCPX"})}, `cloud (from OCF_RESKEY_cloud): "GCPX" is not a cloud`, ocf.ErrConfigured},
		{"protocol as typed", Sources{Flags: map[string]string{"tag": "t", "protocol": "HTTPS"}}, `"HTTPS" is not a protocol`, ocf.ErrConfigured},
		{"log level as typed", Sources{Flags: map[string]string{"tag": "t", "log_level": "Verbose"}}, `"Verbose" is not a log level`, ocf.ErrConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.src.Env == nil {
				tc.src.Env = noEnv
			}
			tc.src.Euid = -1
			_, err := Load(tc.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want *Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) || ce.Code != tc.code {
				t.Fatalf("error %q code %d, want %q code %d", err, ce.Code, tc.want, tc.code)
			}
		})
	}
}

func TestDefaultFileAbsentIsFine(t *testing.T) {
	c, err := Load(Sources{Env: envOf(map[string]string{"OCF_RESKEY_tag": "nosuchtag-xyz", "OCF_RESKEY_port": "62500"}), Euid: -1})
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "" || c.Port != 62500 {
		t.Fatalf("got %+v", c)
	}
}

func TestValidInterfaceByOS(t *testing.T) {
	tests := []struct {
		os, name string
		ok       bool
	}{
		{"linux", "eth1", true}, {"linux", "eth0.100", true}, {"linux", "Ethernet 2", false},
		{"linux", "..", false}, {"linux", "a/b", false}, {"linux", "x\x00", false},
		{"windows", "Ethernet 2", true}, {"windows", "12", true}, {"windows", `a\b`, false},
		{"windows", "a&b", false}, {"windows", "", false},
	}
	for _, tc := range tests {
		if err := ValidInterface(tc.os, tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidInterface(%s, %q) = %v, want ok=%v", tc.os, tc.name, err, tc.ok)
		}
	}
}

func TestPathDefaultsByOS(t *testing.T) {
	env := func(k string) string { return map[string]string{"ProgramData": `D:\PD`}[k] }
	if got := defaultStateDir("windows", env); got != `D:\PD\ilbvip` {
		t.Errorf("windows state dir %q", got)
	}
	if got := configDir("windows", func(string) string { return "" }); got != `C:\ProgramData\ilbvip` {
		t.Errorf("windows config dir %q", got)
	}
	if got := joinPath("windows", `D:\PD\ilbvip\`, "t.yaml"); got != `D:\PD\ilbvip\t.yaml` {
		t.Errorf("windows join %q", got)
	}
	if got := defaultStateDir("linux", env); got != "/run/ilbvip" {
		t.Errorf("linux state dir %q", got)
	}
	for p, want := range map[string]bool{`C:\x`: true, `c:/x`: true, `\\srv\share`: true, `x\y`: false, `/x`: false} {
		if isAbs("windows", p) != want {
			t.Errorf("isAbs(windows, %q) != %v", p, want)
		}
	}
}

func TestEveryParamDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Params {
		if seen[p.Name] || p.Short == "" || p.Long == "" || p.set == nil || p.Kind == "" {
			t.Errorf("param %q: duplicate or missing name, help, kind or setter", p.Name)
		}
		seen[p.Name] = true
		if p.Default != "" {
			var c Config
			if err := p.set(&c, p.Default); err != nil {
				t.Errorf("param %q: default %q does not validate: %v", p.Name, p.Default, err)
			}
		}
	}
}

func TestReadmeReferenceIsFresh(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := UpdateReadme(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(b) {
		t.Fatal("README.md's parameter reference is stale: run make docs")
	}
}

func FuzzParseYAML(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/config/*/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := ParseYAML(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") && !strings.Contains(err.Msg, "YAML") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for k := range vals {
			if _, ok := Lookup(k); !ok {
				t.Fatalf("accepted unknown key %q", k)
			}
		}
	})
}

// defaultStateDirHere is the default state_dir of the OS the test runs on.
func defaultStateDirHere() string {
	if runtime.GOOS == "windows" {
		return os.Getenv("ProgramData") + `\ilbvip`
	}
	return "/run/ilbvip"
}

// Durations: Go's form, or a bare number of seconds, decimals too.
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"500ms": 500 * time.Millisecond, "5": 5 * time.Second, "0.5": 500 * time.Millisecond, "1m": time.Minute} {
		if d, err := parseDuration(in, 0, time.Hour); err != nil || d != want {
			t.Errorf("%q: %v %v, want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"-1", "x", "5 s", "1e9"} {
		if _, err := parseDuration(in, 0, time.Hour); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
