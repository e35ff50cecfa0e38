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
			`client: "node1" answers: switchover`,
			"node1: kill -9",
			"client: GET http://10.10.5.200/ -> no answer: dropped by the LB (blackhole route)",
			"node1: recover -t vip   exit 0",
			"within the limit 1.60s (interval 300ms x threshold 2 + 1s)",
			"LB: restarted with Azure internal load balancer (Floating IP, NoHealthyBackendsBehavior AllProbedUp)",
			"e) NoHealthyBackendsBehavior AllProbedUp: after node1's probe went down",
			"never two healthy backends at once",
			"Timeline: ",
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
			o.SVG = filepath.Join(t.TempDir(), "timeline.svg")
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
			checkSVG(t, o.SVG, out.String())
		})
	}
}

// checkSVG: the transcript names the timeline picture, and it is an SVG
// with a band for each node and the client's requests.
func checkSVG(t *testing.T, path, transcript string) {
	t.Helper()
	if !strings.Contains(transcript, "Timeline: "+path+"\n") {
		t.Errorf("transcript does not name the timeline %s", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("timeline: %v", err)
	}
	for _, want := range []string{"<svg", "node1 probe", "node2 probe", "LB routes to", "client", "answered by node1", "</svg>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
}

// TestRunClouds runs the rehearsal with Google Cloud's and AWS's rules:
// the reference checks a-d with the settings ilbvip needs there, and e,
// which shows why the setting matters.
func TestRunClouds(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct {
		cloud string
		want  []string
	}{
		{"gcp", []string{
			"probes tcp on port 12345 of the VIP, through each node",
			"a failover policy with dropTrafficIfUnhealthy",
			`client: "node2" answers: switchover`,
			"client: GET http://10.10.5.200/ -> no answer: dropped by the LB (blackhole route)",
			"LB: restarted with Google Cloud internal passthrough Network Load Balancer (health checks to the VIP, no failover policy)",
			"VIP traffic -> every backend: no healthy backend, and no failover policy with dropTrafficIfUnhealthy",
			"e) no failover policy (dropTrafficIfUnhealthy off), guest agent's local route on: while no backend was healthy",
			"never two healthy backends at once",
		}},
		{"aws", []string{
			"AWS Network Load Balancer (no Floating IP, fails open)",
			"each node: no vip (responder only)",
			`client: GET http://10.10.5.200/ -> "node1"`,
			`client: "node2" answers: switchover`,
			"answered although no backend is healthy: the Network Load Balancer fails open",
			"e) fail open (the Network Load Balancer's own behaviour): while no target was healthy",
			"never two healthy backends at once",
		}},
	} {
		t.Run(tc.cloud, func(t *testing.T) {
			o := rehearsal.Options{Cloud: tc.cloud, BinDir: binDir, Interval: 300 * time.Millisecond, Threshold: 2,
				Prefix: "ilbvip-t-demo-", SVG: filepath.Join(t.TempDir(), tc.cloud+".svg")}
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			err := rehearsal.Run(ctx, o, &out)
			t.Logf("took %s; transcript:\n%s", time.Since(start).Round(time.Millisecond), out.String())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("transcript lacks %q", w)
				}
			}
			checkSVG(t, o.SVG, out.String())
		})
	}
}
