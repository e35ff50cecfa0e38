package config

import (
	"runtime"
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

// drain is judged against action_timeout only where no cluster manager
// gives the operation's own timeout: Pacemaker's start timeout says
// nothing about the stop that drains (remove cuts the wait to fit).
func TestDrainAndBudget(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	base := map[string]string{"tag": "t1", "port": "12345", "drain": "30s"}
	_, err := Load(Sources{Flags: base, Env: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "drain") || !strings.Contains(err.Error(), "action_timeout 20s") {
		t.Errorf("drain 30s with action_timeout 20s and no cluster timeout: %v", err)
	}
	c, err := Load(Sources{Flags: base, Env: env(map[string]string{PacemakerTimeoutEnv: "60000"})})
	if err != nil || c.Drain != 30*time.Second {
		t.Errorf("drain 30s under Pacemaker (operation timeout 60s): %v", err)
	}
	// probe_timeout likewise: restore judges it against the start's timeout.
	pt := map[string]string{"tag": "t1", "port": "12345", "probe_timeout": "25s"}
	if _, err := Load(Sources{Flags: pt, Env: env(map[string]string{PacemakerTimeoutEnv: "40000"})}); err != nil {
		t.Errorf("probe_timeout 25s under Pacemaker (operation timeout 40s): %v", err)
	}
	if _, err := Load(Sources{Flags: pt, Env: env(nil)}); err == nil || !strings.Contains(err.Error(), "probe_timeout") {
		t.Errorf("probe_timeout 25s with action_timeout 20s and no cluster timeout: %v", err)
	}
	c, err = Load(Sources{Flags: map[string]string{"tag": "t1", "port": "12345", "drain": "30s", "action_timeout": "45s"}, Env: env(nil)})
	if err != nil || c.Drain != 30*time.Second {
		t.Errorf("drain 30s with action_timeout 45s: %v", err)
	}
}

// LoadForStop keeps what a stop needs from a configuration that became
// wrong: tag and state_dir must be right, the rest takes defaults.
func TestLoadForStop(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	dir := osPath("/run/x")
	c, ignored, err := LoadForStop(Sources{Flags: map[string]string{"tag": "t1", "port": "0", "protocol": "udp", "state_dir": dir}, Env: noEnv})
	if err != nil || c.Tag != "t1" || c.StateDir != dir || c.Port != 0 || c.Protocol != "tcp" {
		t.Fatalf("got %+v, %v", c, err)
	}
	if len(ignored) != 2 || !strings.Contains(ignored[0].Error(), "port") || !strings.Contains(ignored[1].Error(), "protocol") {
		t.Errorf("ignored: %v", ignored)
	}
	for _, bad := range []map[string]string{
		{"tag": "bad tag", "port": "1"},
		{"tag": "t1", "state_dir": "relative/dir"},
	} {
		if _, _, err := LoadForStop(Sources{Flags: bad, Env: noEnv}); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

// One spelling per state directory: the responder's command line carries
// it, and a responder whose pid file was lost is found by that line.
func TestStateDirCleaned(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	in, want := osPath("/run//ilbvip/"), osPath("/run/ilbvip")
	c, err := Load(Sources{Flags: map[string]string{"tag": "t1", "port": "1", "state_dir": in}, Env: noEnv})
	if err != nil {
		t.Fatalf("state_dir %s: %v", in, err)
	}
	if c.StateDir != want {
		t.Errorf("state_dir %s: %q; want %s", in, c.StateDir, want)
	}
}

// osPath spells an absolute Unix path for the OS the test runs on: under
// C: with backslashes on Windows, where state_dir must be absolute too.
func osPath(unix string) string {
	if runtime.GOOS == "windows" {
		return `C:` + strings.ReplaceAll(unix, "/", `\`)
	}
	return unix
}
