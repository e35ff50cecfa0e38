package bench

import (
	"strings"
	"testing"
	"time"
)

func one(d time.Duration) Summary { return Summarize([]time.Duration{d}) }

// results builds a run where ilbvip's restore takes restore and the pair's
// start 400 ms, with the rest fixed.
func results(restore time.Duration, rss int64) *Results {
	ms := time.Millisecond
	r := &Results{Machine: Machine{Cores: 2}, Opts: DefaultOptions()}
	for _, a := range []struct {
		act, sub  string
		wall, cpu time.Duration
		ref       bool
	}{
		{ActStart, SubjectExe, restore, restore, false},
		{ActMonitor, SubjectExe, 4 * ms, 3 * ms, false},
		{ActStop, SubjectExe, 30 * ms, 10 * ms, false},
		{ActStart, SubjectRef, 400 * ms, 300 * ms, true},
	} {
		r.Actions = append(r.Actions, ActionRow{Action: a.act, Subject: a.sub, Wall: one(a.wall), CPU: one(a.cpu), Ref: a.ref})
	}
	r.Floor = []FloorRow{{What: "true", Wall: one(ms), CPU: one(ms)}, {What: "go", Wall: one(3 * ms), CPU: one(2 * ms)}}
	r.Monitoring = []CostRow{
		{Subject: SubjectExe, PerHour: 2 * time.Second, ListenerIdle: time.Second},
		{Subject: SubjectRef, PerHour: 120 * time.Second, Ref: true},
	}
	r.Probes = []ProbeRow{
		{Listener: "ilbvip", Probe: "tcp", Idle: 0, Workers: 4, Result: LoadResult{Probes: 30000, OK: 30000, Within1s: 30000, Elapsed: time.Second},
			ListenerCPU: 20 * time.Microsecond, GenCPU: 30 * time.Microsecond},
		{Listener: "ilbvip", Probe: "tcp", Idle: 1000, Workers: 4, Result: LoadResult{Probes: 100, OK: 99, Within1s: 99, Elapsed: time.Second}},
	}
	r.Memory = []MemRow{{Listener: "ilbvip", Probes: 1000, Mem: Mem{RSS: rss}}}
	return r
}

func TestTargets(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		r       *Results
		verdict map[string]string // target prefix: verdict prefix
	}{
		{"fast", results(10*ms, 8<<20), map[string]string{
			"restore ≤ 20 ms":        "met",
			"restore ≥ 20× faster":   "met", // 400 / 10 = 40×
			"quickCheck ≤ 5 ms":      "met",
			"remove ≤ 20 ms":         "**missed** by 10.0 ms (50 %)",
			"monitoring cost ≥ 50×":  "met", // 120 / 2 = 60×
			"100 % of probes":        "**missed** by 1.00 points",
			"≥ 20,000 TCP probes/s":  "met", // 30000/s
			"responder RSS ≤ 10 MiB": "met",
		}},
		{"slow", results(40*ms, 12<<20), map[string]string{
			"restore ≤ 20 ms":        "**missed** by 20.0 ms (100 %)",
			"restore ≥ 20× faster":   "**missed** by 10× (50 % short)", // 400 / 40 = 10×
			"responder RSS ≤ 10 MiB": "**missed** by 2.0 MiB",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]Target{}
			for _, x := range tc.r.Targets() {
				got[x.What] = x
			}
			for prefix, want := range tc.verdict {
				found := false
				for what, x := range got {
					if strings.HasPrefix(what, prefix) {
						found = true
						if !strings.HasPrefix(x.Verdict, want) {
							t.Errorf("%s: verdict %q, want %q", what, x.Verdict, want)
						}
						if (x.Why == "") != x.Met {
							t.Errorf("%s: met %v but why %q: a miss needs a why, a hit none", what, x.Met, x.Why)
						}
					}
				}
				if !found {
					t.Errorf("no target starting with %q in %v", prefix, got)
				}
			}
			var b strings.Builder
			tc.r.Markdown(&b)
			for _, want := range []string{"## Targets", "## Actions", "### Start-up floor", "## Monitoring cost", "## The probe listener", "## Memory and size"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("markdown lacks %q", want)
				}
			}
		})
	}
}

// A missed probe rate is explained by the CPU per probe of the rows the
// rate comes from (no idle connections), not by rows that also paid for
// opening idle connections.
func TestTargetsProbeCPU(t *testing.T) {
	r := results(10*time.Millisecond, 8<<20)
	r.Probes[0].Result.OK = 10000 // 10,000/s: missed
	r.Probes[1].ListenerCPU, r.Probes[1].GenCPU = time.Millisecond, time.Millisecond
	for _, x := range r.Targets() {
		if strings.HasPrefix(x.What, "≥ 20,000 TCP probes/s") {
			if x.Met {
				t.Fatalf("%s: met at 10,000/s", x.What)
			}
			if want := "costs the responder 20 µs and the load generator 30 µs"; !strings.Contains(x.Why, want) {
				t.Errorf("why %q, want it to contain %q", x.Why, want)
			}
			return
		}
	}
	t.Error("no probe rate target")
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtDur(0), "0"},
		{fmtDur(1500 * time.Nanosecond), "1.5 µs"},
		{fmtDur(250 * time.Microsecond), "250 µs"},
		{fmtDur(2345 * time.Microsecond), "2.35 ms"},
		{fmtDur(65700 * time.Microsecond), "65.7 ms"},
		{fmtDur(2380 * time.Millisecond), "2.38 s"},
		{fmtDur(-3 * time.Millisecond), "-3.00 ms"},
		{fmtRatio(7.25), "7.2×"},
		{fmtRatio(15.4), "15×"},
		{fmtBytes(512), "512 B"},
		{fmtBytes(43 << 10), "43 KiB"},
		{fmtBytes(12<<20 + 1<<19), "12.5 MiB"},
		{groupDigits(1000000), "1,000,000"},
		{groupDigits(999), "999"},
		{groupDigits(-1234), "-1,234"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// The VIP-watch rows: one target per direction and statistic, judged on
// the worst probe mode, with a why that names it and the loop's
// granularity; no rows, no targets and no section.
func TestTargetsVIPWatch(t *testing.T) {
	ms := time.Millisecond
	sum := func(median, p99 time.Duration) Summary {
		return Summary{N: 30, Median: median, P95: p99, P99: p99, Min: median / 2, Max: p99 + ms}
	}
	r := results(10*ms, 8<<20)
	r.VIPWatch = []VIPWatchRow{
		{Probe: "tcp", Silent: sum(2*ms, 10*ms), Answers: sum(60*ms, 300*ms), Step: one(400 * time.Microsecond), Probes: 900, Unseen: 1,
			Other: 3, FirstOther: "connection reset by peer"},
		{Probe: "http", Silent: sum(3*ms, 40*ms), Answers: sum(2*ms, 20*ms), Step: one(time.Millisecond), Probes: 200, Elapsed: 3 * time.Second},
		{Probe: "none", Silent: Summary{}, Answers: Summary{}}, // not measured: not judged
	}
	want := map[string]struct {
		measured, verdict string
		why               []string
	}{
		"VIP deleted → first refused probe (tcp: connection refused, http: 503) ≤ 50 ms (median": {"tcp 2.00 ms (30 runs), http 3.00 ms (30 runs)", "met", nil},
		"VIP deleted → first refused probe (tcp: connection refused, http: 503) ≤ 200 ms (p99":   {"tcp 10.0 ms (30 runs), http 40.0 ms (30 runs)", "met", nil},
		"VIP re-added → first answered probe (tcp: handshake, http: 200) ≤ 50 ms (median": {"tcp 60.0 ms (30 runs), http 2.00 ms (30 runs)", "**missed** by 10.0 ms (20 %)",
			[]string{"worst: tcp, 30 runs: median 60.0 ms, p99 300.0 ms, max 301.0 ms", "takes 400 µs (median)", "remaining 59.6 ms",
				"1 waits of this mode ended at their bound (2.00 s or 100,000 probes)", "3 probes neither answered nor were refused (first: connection reset by peer)"}},
		"VIP re-added → first answered probe (tcp: handshake, http: 200) ≤ 200 ms (p99": {"tcp 300.0 ms (30 runs), http 20.0 ms (30 runs)", "**missed** by 100.0 ms (50 %)",
			[]string{"worst: tcp", "remaining 299.6 ms"}},
	}
	seen := 0
	for _, x := range r.Targets() {
		if !strings.HasPrefix(x.What, "VIP ") {
			continue
		}
		seen++
		var w *struct {
			measured, verdict string
			why               []string
		}
		for prefix, v := range want {
			if strings.HasPrefix(x.What, prefix) {
				w = &v
			}
		}
		if w == nil {
			t.Errorf("unexpected target %q", x.What)
			continue
		}
		if x.Measured != w.measured {
			t.Errorf("%s: measured %q, want %q", x.What, x.Measured, w.measured)
		}
		if !strings.HasPrefix(x.Verdict, w.verdict) {
			t.Errorf("%s: verdict %q, want %q", x.What, x.Verdict, w.verdict)
		}
		if (x.Why == "") != x.Met {
			t.Errorf("%s: met %v but why %q", x.What, x.Met, x.Why)
		}
		for _, part := range w.why {
			if !strings.Contains(x.Why, part) {
				t.Errorf("%s: why %q lacks %q", x.What, x.Why, part)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("%d VIP targets, want %d", seen, len(want))
	}

	var b strings.Builder
	r.Markdown(&b)
	for _, row := range []string{
		"## Answering only while able: the VIP leaving and coming back",
		"| tcp | 30 | 2.00 ms | 10.0 ms | 11.0 ms | 60.0 ms | 300.0 ms | 301.0 ms | 400 µs | 900 | 1 | 3 (first: connection reset by peer) |",
		"| http | 30 | 3.00 ms | 40.0 ms | 41.0 ms | 2.00 ms | 20.0 ms | 21.0 ms | 1.00 ms | 200 | 0 | 0 |",
		"30 runs per mode after one untimed warm-up",
		"It took 3.00 s (restore and remove included).",
	} {
		if !strings.Contains(b.String(), row) {
			t.Errorf("markdown lacks %q", row)
		}
	}

	r.VIPWatch = nil
	for _, x := range r.Targets() {
		if strings.HasPrefix(x.What, "VIP ") {
			t.Errorf("target %q without VIP-watch rows", x.What)
		}
	}
	b.Reset()
	r.Markdown(&b)
	if strings.Contains(b.String(), "the VIP leaving and coming back") {
		t.Error("VIP-watch section without rows")
	}
}
