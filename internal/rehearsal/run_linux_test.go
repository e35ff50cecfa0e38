//go:build linux

package rehearsal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/rehearsal"
	"github.com/ilbvip/ilbvip/internal/testenv"
)

// TestRun runs the rehearsal of `make demo`, with the kit's settings from
// flags or from an admin's own config file, and checks the transcript and
// that nothing is left behind.
func TestRun(t *testing.T) {
	testenv.RequireRoot(t)
	// An admin's file as it would be on an Azure node: its interface, allow
	// and bind do not exist in the bed, which overrides them.
	file := filepath.Join(t.TempDir(), "web-8080.yaml")
	if err := os.WriteFile(file, []byte(`port: 8080
protocol: http
http_path: /healthz
allow: [168.63.129.16]
vip: 10.10.5.201
interface: eth5
bind: 10.10.5.10
drain: 300ms
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    rehearsal.Options
		want []string // in the transcript
		err  string   // "" for success
	}{
		{"flags", rehearsal.Options{Settings: map[string]string{"port": "12345"}}, []string{
			`client: GET http://10.10.5.200/ -> "node1"`,
			"node1: remove -t vip   exit 0",
			"node2: restore -t vip   exit 0",
			"LB: node2 up",
			`client: "node2" answers: switchover`,
			"node2: kill -TERM",
			"node2 still holds 10.10.5.200 on eth1",
			"client: GET http://10.10.5.200/ -> no answer: dropped by the LB (blackhole route)",
			"node2: quickCheck -t vip   exit 1",
			"within the limit 1.60s (interval 300ms x threshold 2 + 1s)",
			"never two healthy backends at once",
			"Cleaned up",
		}, ""},
		{"config file", rehearsal.Options{ConfigFile: file}, []string{
			"probes http GET /healthz on port 8080",
			"kit        resource \"web-8080\": " + file + " (port 8080, protocol http, http_path /healthz, drain 300ms;",
			`client: GET http://10.10.5.201/ -> "node2"`,
			"never two healthy backends at once",
		}, ""},
		{"probe path mismatch", rehearsal.Options{ConfigFile: file, Path: "/"}, []string{"Cleaned up"},
			"scenario a: LB: node1 did not turn healthy within 5.20s: its last probe: http status 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.BinDir, o.Interval, o.Threshold, o.Prefix = binDir, 300*time.Millisecond, 2, "ilbvip-t-demo-"
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			err := rehearsal.Run(ctx, o, &out)
			t.Logf("took %s; transcript:\n%s", time.Since(start).Round(time.Millisecond), out.String())
			if tc.err == "" && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Run: %v, want error with %q", err, tc.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("transcript lacks %q", w)
				}
			}
			if ents, _ := filepath.Glob("/run/netns/ilbvip-t-demo-*"); len(ents) > 0 {
				t.Errorf("namespaces left: %v", ents)
			}
		})
	}
}
