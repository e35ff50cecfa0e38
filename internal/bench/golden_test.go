package bench

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden.md from the current report")

// fullResults fills every section of the report, a miss and a met target
// in each kind, so the golden file pins the whole document.
func fullResults() *Results {
	ms := time.Millisecond
	r := results(10*ms, 12<<20)
	r.Machine = Machine{Cores: 2, CPU: "Test CPU", Kernel: "6.1.0", Go: "go1.24.0", Date: time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC),
		Command: "make bench", LoadStart: "0.10 0.20 0.30", LoadEnd: "1.00 0.90 0.80", Packages: "resource-agents 4.12"}
	r.Elapsed = 754 * time.Second
	r.Actions = append(r.Actions,
		ActionRow{Action: ActMetrics, Subject: SubjectExe, Wall: one(5 * ms), CPU: one(4 * ms)},
		ActionRow{Action: ActMonitor, Subject: SubjectRef, Wall: one(40 * ms), CPU: one(30 * ms), Ref: true},
		ActionRow{Action: ActStop, Subject: SubjectRef, Wall: one(90 * ms), CPU: one(60 * ms), Ref: true},
		ActionRow{Action: ActStart, Subject: SubjectOCF, Wall: one(70 * ms), CPU: one(50 * ms)})
	r.Ready = []ReadyRow{{Subject: SubjectExe, Ready: one(9 * ms), Start: one(10 * ms)}, {Subject: SubjectRef, Ready: one(450 * ms), Start: one(400 * ms)}}
	r.Monitoring[0].PerMonitor, r.Monitoring[0].ListenerPer, r.Monitoring[0].ListenerLabel = 2*ms, 50*time.Microsecond, "responder"
	r.Monitoring[0].IdleWindow, r.Monitoring[0].Monitors = 20*time.Second, 30
	r.Monitoring[1].PerMonitor, r.Monitoring[1].ListenerLabel, r.Monitoring[1].Monitors = 300*ms, "nc", 30
	r.Probes[1].Result.IdleOpen, r.Probes[1].Result.IdleClosed, r.Probes[1].Result.FirstError = 1000, 1000, "dial: timeout"
	r.Probes[1].ListenerCPU, r.Probes[1].GenCPU = 0, 40*time.Microsecond
	r.Memory = append(r.Memory, MemRow{Listener: "nc", When: "idle", Mem: Mem{RSS: 1 << 20, HWM: 2 << 20, Anon: 100 << 10, File: 900 << 10}})
	r.Memory[0].Before, r.Memory[0].Mid, r.Memory[0].MidProbes, r.Memory[0].Elapsed = Mem{RSS: 6 << 20}, Mem{RSS: 11 << 20}, 100, 2*time.Second
	r.Memory[0].Mem = Mem{RSS: 12 << 20, HWM: 13 << 20, Anon: 8 << 20, File: 4 << 20}
	r.Sizes = []SizeRow{{Path: "bin/restore", Bytes: 5 << 20, Note: "static"}}
	r.VIPWatch = []VIPWatchRow{
		{Probe: "tcp", Silent: one(2 * ms), Answers: one(60 * ms), Step: one(400 * time.Microsecond), Probes: 900, Unseen: 1,
			Other: 3, FirstOther: "connection reset by peer", Elapsed: 2 * time.Second},
		{Probe: "http", Silent: one(3 * ms), Answers: one(2 * ms), Step: one(ms), Probes: 200, Elapsed: 3 * time.Second},
	}
	return r
}

// slowResults misses every target whose why the full run does not show.
func slowResults() *Results {
	r := fullResults()
	r.Actions[0].Wall, r.Actions[1].Wall = one(40*time.Millisecond), one(8*time.Millisecond)
	r.Monitoring[0].PerHour = 10 * time.Second
	r.Probes[0].Result.OK = 10000
	r.VIPWatch[0].Silent = one(300 * time.Millisecond)
	return r
}

// TestMarkdownGolden: the rendered reports are the golden files, byte for
// byte (go test -run TestMarkdownGolden -update rewrites them after a
// wanted change).
func TestMarkdownGolden(t *testing.T) {
	for name, r := range map[string]*Results{"report.golden.md": fullResults(), "report-slow.golden.md": slowResults()} {
		t.Run(name, func(t *testing.T) { golden(t, r, filepath.Join("testdata", name)) })
	}
}

func golden(t *testing.T, r *Results, path string) {
	var b bytes.Buffer
	r.Markdown(&b)
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		got := filepath.Join(t.TempDir(), "report.md")
		_ = os.WriteFile(got, b.Bytes(), 0o644)
		t.Errorf("the report differs from %s: diff it with %s", path, got)
	}
}

// TestJSONRoundTrip: results saved as JSON render the same report again.
func TestJSONRoundTrip(t *testing.T) {
	r := fullResults()
	var js, want, got bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Markdown(&want); err != nil {
		t.Fatal(err)
	}
	if err := back.Markdown(&got); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("the report from the JSON differs:\n%s", got.String())
	}
	if !bytes.Contains(js.Bytes(), []byte(`"Verdict": "**missed** by 10.0 ms (50 %)"`)) {
		t.Errorf("the JSON lacks the targets' verdicts:\n%s", js.String())
	}
	if _, err := ReadJSON(strings.NewReader(`{}`)); err == nil {
		t.Error("ReadJSON of {} succeeded")
	}
}
