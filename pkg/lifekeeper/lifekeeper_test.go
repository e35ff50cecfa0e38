package lifekeeper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

func TestParseInfo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{"", map[string]string{}, ""},
		{"12345", map[string]string{"port": "12345"}, ""},
		{"  12345  ", map[string]string{"port": "12345"}, ""},
		{"12345 hello", map[string]string{"port": "12345", "message": "hello"}, ""},
		{"12345 hello  world", map[string]string{"port": "12345", "message": "hello  world"}, ""},
		{"12345 status=ok", map[string]string{"port": "12345", "message": "status=ok"}, ""},
		{"12345 vip=10.10.5.200 interface=eth1", map[string]string{"port": "12345", "vip": "10.10.5.200", "interface": "eth1"}, ""},
		{"port=12345 protocol=http http_path=/health", map[string]string{"port": "12345", "protocol": "http", "http_path": "/health"}, ""},
		{"hello 12345", nil, `"hello" is neither PORT [MESSAGE] nor key=value`},
		{"prot=12345", nil, `unknown parameter "prot"`},
		{"port=1 port=2", nil, "port given twice"},
		{"12345 port=2", nil, "port given twice"},
		{"port=1 allow=168.63.129.16 allow=10.0.0.0/8", nil, "allow given twice: keep one, with the values as one comma-separated list (allow=168.63.129.16,10.0.0.0/8)"},
		{"port=", nil, "has no value"},
		{"tag=x port=1", nil, "the tag is LifeKeeper's"},
		// Windows' interface names hold spaces: quoting them must not turn
		// the pairs into a message that drops the VIP.
		{`12345 vip=10.10.5.200 interface="Ethernet 2" allow=168.63.129.16`, nil, "cannot be quoted or hold spaces"},
		{`12345 vip=10.10.5.200 interface='Ethernet 2'`, nil, "give interface as its ifIndex"},
		{"12345 vip=10.10.5.200 interface=Ethernet 2", nil, `"2" is neither PORT [MESSAGE] nor key=value`},
		{"12345 protocl=http", nil, `unknown parameter "protocl"`},
		{"12345 vip=10.10.5.200 interface=12", map[string]string{"port": "12345", "vip": "10.10.5.200", "interface": "12"}, ""},
	} {
		got, err := ParseInfo(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInfo) {
				t.Errorf("ParseInfo(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseInfo(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestPickInfo(t *testing.T) {
	for _, tc := range []struct {
		out, host, want, err string
	}{
		{"", "node1", "", ""},
		{"node1:gen:app:lbhc:lbhc-id:12345 hello:ISP\n", "x", "12345 hello", ""},
		{"NODE1:gen:app:t:i:111:ISP\nnode2:gen:app:t:i:222:OSU\n", "node1", "111", ""},
		{"node1:gen:app:t:i:111:ISP\nNode2:gen:app:t:i:222:OSU\n", "NODE2", "222", ""},
		{"a:b:c:t:i:1\nb:b:c:t:i:2\n", "z", "", "none for this host"},
		{"a:b:c\n", "a", "", "has 3 fields"},
	} {
		got, err := pickInfo(tc.out, "t", tc.host)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("pickInfo(%q, %q) = %q, %v; want error %q", tc.out, tc.host, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("pickInfo(%q, %q) = %q, %v; want %q", tc.out, tc.host, got, err, tc.want)
		}
	}
}

func TestInfoFieldRunsInsList(t *testing.T) {
	root := testenv.TempDir(t)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeInsList(t, root, fakeAnswer)
	env := func(k string) (string, bool) {
		if k == "LKROOT" {
			return root, true
		}
		return "", false
	}
	p, ok := Enabled(env)
	if !ok {
		t.Fatal("Enabled: false")
	}
	got, err := InfoField(context.Background(), p, "lbhc-12345", "node1")
	if err != nil || got != "12345 hello" {
		t.Fatalf("InfoField = %q, %v", got, err)
	}
	if _, ok := Enabled(func(string) (string, bool) { return "/nonexistent", true }); ok {
		t.Error("Enabled without ins_list")
	}
	writeInsList(t, root, fakeBroken)
	if _, err := InfoField(context.Background(), p, "t", "node1"); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("failing ins_list: %v", err)
	}
}

func FuzzParseInfo(f *testing.F) {
	for _, s := range []string{"12345", "12345 hello", "port=1 vip=10.0.0.1 interface=eth1", "x=y", "1 a=b c", "\x00", "12345 \t\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseInfo(s)
		if err != nil {
			if !errors.Is(err, ErrInfo) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		if _, bad := m["tag"]; bad {
			t.Fatal("tag accepted from the info field")
		}
	})
}

// Without LKROOT in the environment (an admin's shell), ins_list is looked
// for below LifeKeeper's default installation directory.
func TestEnabledDefaultRoot(t *testing.T) {
	root := testenv.TempDir(t)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	saved := DefaultRoot
	defer func() { DefaultRoot = saved }()
	DefaultRoot = root
	if _, ok := Enabled(noEnv); ok {
		t.Error("Enabled without ins_list below the default root")
	}
	want := writeInsList(t, root, fakeEmpty)
	if p, ok := Enabled(noEnv); !ok || p != want {
		t.Errorf("Enabled = %q, %t; want the default root's ins_list", p, ok)
	}
	DefaultRoot = ""
	if _, ok := Enabled(noEnv); ok {
		t.Error("Enabled with no LKROOT and no default root")
	}
}

// A hung ins_list (on Linux a shell script whose child sleeps, holding its
// output) costs at most InsListTimeout and a moment, not the child's whole sleep.
func TestInsListHungIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("waits InsListTimeout")
	}
	root := testenv.TempDir(t)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := writeInsList(t, root, fakeHung)
	t0 := time.Now()
	_, err := InfoField(context.Background(), p, "t", "node1")
	if err == nil || !strings.Contains(err.Error(), "no answer within 5s") {
		t.Fatalf("a hung ins_list: %v, want an error saying it did not answer within 5s", err)
	}
	if took := time.Since(t0); took > InsListTimeout+5*time.Second {
		t.Errorf("a hung ins_list held the action for %s", took)
	}
}
