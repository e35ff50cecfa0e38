package bench

import (
	"fmt"
	"strings"
	"time"
)

// Target is one of the targets, evaluated.
type Target struct {
	What     string
	Measured string
	Met      bool
	Verdict  string // "met", or "missed by ..."
	Why      string // for a miss: what the measurements say about the cause
}

// targetDef is one target as data: what the report calls it, its limit,
// and the function that judges it from the results (false: the run did not
// measure it). Which fields an eval reads is said at each eval.
type targetDef struct {
	What  string
	Max   time.Duration // a time the measurement must not exceed
	Min   float64       // a ratio, rate or share the measurement must reach
	Bytes int64         // a size the measurement must not exceed
	eval  func(r *Results, d targetDef) (Target, bool)
	Act   string                      // wallTarget: the action of ilbvip's executables
	Start int                         // wallTarget: Go program starts the action pays
	Rest  string                      // wallTarget: what takes the rest of the time
	Dir   int                         // vipTarget: index in vipDirections
	Pick  func(Summary) time.Duration // vipTarget: the statistic judged
}

func median(s Summary) time.Duration { return s.Median }
func p99(s Summary) time.Duration    { return s.P99 }

// targets are the targets, in the report's order.
var targets = []targetDef{
	{What: "restore ≤ 20 ms (median wall)", Max: 20 * time.Millisecond, eval: wallTarget, Act: ActStart, Start: 2,
		Rest: "restore itself and the responder it starts; adding the VIP, the bind, the readiness handshake and the self-probe take"},
	{What: "restore ≥ 20× faster than the pair's start (median wall)", Min: 20, eval: restoreRatioTarget},
	{What: "quickCheck ≤ 5 ms (median wall)", Max: 5 * time.Millisecond, eval: wallTarget, Act: ActMonitor, Start: 1,
		Rest: "the checks (pid file, process, VIP, a probe of the port) take"},
	{What: "remove ≤ 20 ms (median wall)", Max: 20 * time.Millisecond, eval: wallTarget, Act: ActStop, Start: 1,
		Rest: "stopping the responder and deleting the VIP take"},
	{What: "monitoring cost ≥ 50× lower (CPU per hour, 10 s interval)", Min: 50, eval: monitoringTarget},
	{What: "100 % of probes answered within 1 s with 1,000 idle connections (ilbvip, every probe kind and worker count)", Min: 1, eval: idleProbesTarget},
	{What: "≥ 20,000 TCP probes/s on %d cores (best worker count, no idle connections)", Min: 20000, eval: probeRateTarget},
	{What: "responder RSS ≤ 10 MiB after %s probes", Bytes: 10 << 20, eval: rssTarget},
	{What: "VIP deleted → first refused probe (tcp: connection refused, http: 503) ≤ 50 ms (median)", Max: 50 * time.Millisecond, eval: vipTarget, Dir: 0, Pick: median},
	{What: "VIP deleted → first refused probe (tcp: connection refused, http: 503) ≤ 200 ms (p99)", Max: 200 * time.Millisecond, eval: vipTarget, Dir: 0, Pick: p99},
	{What: "VIP re-added → first answered probe (tcp: handshake, http: 200) ≤ 50 ms (median)", Max: 50 * time.Millisecond, eval: vipTarget, Dir: 1, Pick: median},
	{What: "VIP re-added → first answered probe (tcp: handshake, http: 200) ≤ 200 ms (p99)", Max: 200 * time.Millisecond, eval: vipTarget, Dir: 1, Pick: p99},
}

// vipDirections are the two changes the VIP-watch phase times.
var vipDirections = []func(VIPWatchRow) Summary{
	func(x VIPWatchRow) Summary { return x.Silent },
	func(x VIPWatchRow) Summary { return x.Answers },
}

// Targets evaluates the targets against the results.
func (r *Results) Targets() []Target {
	var ts []Target
	for _, d := range targets {
		if t, ok := d.eval(r, d); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// judged fills in the verdict, and for a miss the why.
func judged(t Target, missed, why string) Target {
	t.Verdict = verdict(t.Met, missed)
	if !t.Met {
		t.Why = why
	}
	return t
}

func atMost(what string, got, limit time.Duration, why string) Target {
	t := Target{What: what, Measured: fmtDur(got), Met: got <= limit}
	return judged(t, fmt.Sprintf("by %s (%.0f %%)", fmtDur(got-limit), 100*float64(got-limit)/float64(limit)), why)
}

func atLeast(what string, got, want float64, unit, format, why string) Target {
	t := Target{What: what, Measured: fmt.Sprintf(format, got) + unit, Met: got >= want}
	return judged(t, fmt.Sprintf("by "+format+"%s (%.0f %% short)", want-got, unit, 100*(want-got)/want), why)
}

func verdict(met bool, missed string) string {
	if met {
		return "met"
	}
	return "**missed** " + missed
}

// row is the action row of subject, and whether it was measured.
func (r *Results) row(action, subject string) (ActionRow, bool) {
	for _, a := range r.Actions {
		if a.Action == action && a.Subject == subject {
			return a, a.Wall.N > 0
		}
	}
	return ActionRow{}, false
}

// floor is the median wall and CPU of starting one of ilbvip's Go
// programs doing nothing, and of /bin/true; zero when not measured.
func (r *Results) floor() (goWall, goCPU, trueWall time.Duration) {
	if len(r.Floor) < 2 {
		return 0, 0, 0
	}
	return r.Floor[1].Wall.Median, r.Floor[1].CPU.Median, r.Floor[0].Wall.Median
}

// wallTarget: d.Act's median wall against d.Max; the why splits it into
// d.Start Go program starts and d.Rest.
func wallTarget(r *Results, d targetDef) (Target, bool) {
	a, ok := r.row(d.Act, SubjectExe)
	if !ok {
		return Target{}, false
	}
	goWall, _, trueWall := r.floor()
	total, n := a.Wall.Median, time.Duration(d.Start)
	starts := "one Go program start takes"
	if d.Start == 2 {
		starts = "two Go program starts take"
	}
	why := fmt.Sprintf("%s %s of it (%s each here: quickCheck --version; /bin/true takes %s), %s the remaining %s",
		starts, fmtDur(n*goWall), fmtDur(goWall), fmtDur(trueWall), d.Rest, fmtDur(total-n*goWall))
	return atMost(d.What, total, d.Max, why), true
}

// restoreRatioTarget: the pair's start ÷ restore (median wall) against d.Min.
func restoreRatioTarget(r *Results, d targetDef) (Target, bool) {
	a, ok := r.row(ActStart, SubjectExe)
	ref, refOK := r.row(ActStart, SubjectRef)
	if !ok || !refOK || a.Wall.Median <= 0 {
		return Target{}, false
	}
	goWall, _, _ := r.floor()
	why := fmt.Sprintf("the pair's start took %s here; restore cannot go below its two Go program starts, %s here", fmtDur(ref.Wall.Median), fmtDur(2*goWall))
	return atLeast(d.What, float64(ref.Wall.Median)/float64(a.Wall.Median), d.Min, "×", "%.0f", why), true
}

// monitoringTarget: the pair's CPU per hour of monitoring ÷ ilbvip's.
func monitoringTarget(r *Results, d targetDef) (Target, bool) {
	var exe, ref *CostRow
	for i, c := range r.Monitoring {
		switch c.Subject {
		case SubjectExe:
			exe = &r.Monitoring[i]
		case SubjectRef:
			ref = &r.Monitoring[i]
		}
	}
	if exe == nil || ref == nil || exe.PerHour <= 0 {
		return Target{}, false
	}
	_, goCPU, _ := r.floor()
	busy := exe.PerHour - exe.ListenerIdle
	why := fmt.Sprintf("ilbvip's %.1f s/h = %.1f s of monitor processes (%s CPU each, of which starting a Go program is %s) + %.1f s of the responder answering + %.1f s of the idle responder (Go runtime housekeeping; the responder itself sleeps until a probe comes); without the idle part the ratio would be %.0f×",
		exe.PerHour.Seconds(), 360*exe.PerMonitor.Seconds(), fmtDur(exe.PerMonitor), fmtDur(goCPU), 360*exe.ListenerPer.Seconds(), exe.ListenerIdle.Seconds(),
		float64(ref.PerHour)/float64(max(busy, 1)))
	return atLeast(d.What, float64(ref.PerHour)/float64(exe.PerHour), d.Min, "×", "%.0f", why), true
}

// idleProbesTarget: the worst share of probes answered within 1 s among
// ilbvip's rows with 1,000 idle connections.
func idleProbesTarget(r *Results, d targetDef) (Target, bool) {
	var worst *ProbeRow
	for i, p := range r.Probes {
		if strings.HasPrefix(p.Listener, "ilbvip") && p.Idle == 1000 && (worst == nil || p.Result.ShareWithin1s() < worst.Result.ShareWithin1s()) {
			worst = &r.Probes[i]
		}
	}
	if worst == nil {
		return Target{}, false
	}
	share := worst.Result.ShareWithin1s()
	t := Target{What: d.What, Measured: fmt.Sprintf("%.2f %% (worst run)", 100*share), Met: share >= d.Min}
	why := fmt.Sprintf("worst run: %s, %s, %d workers: %s of %s probes within 1 s, p99 %s; first error: %s", worst.Listener, worst.Probe, worst.Workers,
		groupDigits(worst.Result.Within1s), groupDigits(worst.Result.Probes), fmtDur(worst.Result.P99), orQ(worst.Result.FirstError))
	return judged(t, fmt.Sprintf("by %.2f points", 100*(1-share)), why), true
}

// probeRateTarget: the best TCP probe rate without idle connections. The
// rate and the CPU that explains it come from the same rows: with idle
// connections, a row's CPU per probe also pays for opening them.
func probeRateTarget(r *Results, d targetDef) (Target, bool) {
	best, seen := 0.0, false
	var lcpu, gcpu []time.Duration
	for _, p := range r.Probes {
		if p.Listener == "ilbvip" && p.Probe == "tcp" && p.Idle == 0 {
			best, seen = max(best, p.Result.Rate()), true
			lcpu, gcpu = append(lcpu, p.ListenerCPU), append(gcpu, p.GenCPU)
		}
	}
	if !seen {
		return Target{}, false
	}
	l, g := Summarize(lcpu).Median, Summarize(gcpu).Median
	why := ""
	if l+g > 0 {
		why = fmt.Sprintf("a probe costs the responder %s and the load generator %s of CPU here (medians of the tcp rows without idle connections), so %d cores allow about %.0f/s; the load generator runs on the same cores",
			fmtDur(l), fmtDur(g), r.Machine.Cores, float64(r.Machine.Cores)*float64(time.Second)/float64(l+g))
	}
	return atLeast(fmt.Sprintf(d.What, r.Machine.Cores), best, d.Min, "/s", "%.0f", why), true
}

// rssTarget: the responder's RSS after the memory run's probes, against
// d.Bytes.
func rssTarget(r *Results, d targetDef) (Target, bool) {
	for _, m := range r.Memory {
		if m.Probes > 0 {
			limit := d.Bytes
			t := Target{What: fmt.Sprintf(d.What, groupDigits(m.Probes)), Measured: fmtBytes(m.Mem.RSS), Met: m.Mem.RSS <= limit}
			why := fmt.Sprintf("RssAnon %s (Go heap and stacks) + RssFile %s (the mapped executable); %s before the probes, %s after %s, %s after %s: a level, not a leak",
				fmtBytes(m.Mem.Anon), fmtBytes(m.Mem.File), fmtBytes(m.Before.RSS), fmtBytes(m.Mid.RSS), groupDigits(m.MidProbes), fmtBytes(m.Mem.RSS), groupDigits(m.Probes))
			return judged(t, "by "+fmtBytes(m.Mem.RSS-limit), why), true
		}
	}
	return Target{}, false
}

// vipTarget: d.Pick of the direction d.Dir, judged on the worst probe mode.
func vipTarget(r *Results, d targetDef) (Target, bool) {
	get := vipDirections[d.Dir]
	var parts []string
	var worst *VIPWatchRow
	for i, x := range r.VIPWatch {
		s := get(x)
		if s.N == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s (%d runs)", x.Probe, fmtDur(d.Pick(s)), s.N))
		if worst == nil || d.Pick(s) > d.Pick(get(*worst)) {
			worst = &r.VIPWatch[i]
		}
	}
	if worst == nil {
		return Target{}, false
	}
	s := get(*worst)
	got := d.Pick(s)
	t := Target{What: d.What, Measured: strings.Join(parts, ", "), Met: got <= d.Max}
	why := fmt.Sprintf("worst: %s, %d runs: median %s, p99 %s, max %s; one probe of the client's loop takes %s (median), so the loop's granularity explains at most that much, the remaining %s is the responder's reaction (the kernel's netlink notification, its check of the VIP, closing or opening its listener, or flagging it for http), waits for CPU included (see the load average above)",
		worst.Probe, s.N, fmtDur(s.Median), fmtDur(s.P99), fmtDur(s.Max), fmtDur(worst.Step.Median), fmtDur(max(got-worst.Step.Median, 0)))
	if worst.Unseen > 0 {
		why += fmt.Sprintf("; %d waits of this mode ended at their bound (%s or %s probes) without seeing the change and count at the time they gave up",
			worst.Unseen, fmtDur(vipWaitLimit), groupDigits(vipWaitProbes))
	}
	if worst.Other > 0 {
		why += fmt.Sprintf("; %d probes neither answered nor were refused (first: %s)", worst.Other, worst.FirstOther)
	}
	return judged(t, fmt.Sprintf("by %s (%.0f %%)", fmtDur(got-d.Max), 100*float64(got-d.Max)/float64(d.Max)), why), true
}
