package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Subjects as the tables name them; ratios compare ilbvip against the pair
// with nc, the usual setup.
const (
	SubjectExe      = "ilbvip executables"
	SubjectOCF      = "ilbvip OCF agent"
	SubjectRef      = "IPaddr2 + azure-lb (nc)"
	SubjectRefSocat = "IPaddr2 + azure-lb (socat)"
)

var actionLabel = map[string]string{
	ActStart:   "restore / start (VIP + listener)",
	ActMonitor: "quickCheck / monitor",
	ActMetrics: "quickCheck --metrics (Prometheus text)",
	ActRecover: "recover after kill -9 of the listener",
	ActStop:    "remove / stop",
	ActCycle:   "one cycle: start + monitor + stop",
}

// Target is one of the targets, evaluated.
type Target struct {
	What     string
	Measured string
	Met      bool
	Verdict  string // "met", or "missed by ..."
	Why      string // for a miss: what the measurements say about the cause
}

// floor is the median wall and CPU of starting one of ilbvip's Go
// programs doing nothing, and of /bin/true; zero when not measured.
func (r *Results) floor() (goWall, goCPU, trueWall time.Duration) {
	if len(r.Floor) < 2 {
		return 0, 0, 0
	}
	return r.Floor[1].Wall.Median, r.Floor[1].CPU.Median, r.Floor[0].Wall.Median
}

// Targets evaluates the targets against the results.
func (r *Results) Targets() []Target {
	var ts []Target
	row := func(action, subject string) (ActionRow, bool) {
		for _, a := range r.Actions {
			if a.Action == action && a.Subject == subject {
				return a, a.Wall.N > 0
			}
		}
		return ActionRow{}, false
	}
	add := func(t Target, missed, why string) {
		t.Verdict = verdict(t.Met, missed)
		if !t.Met {
			t.Why = why
		}
		ts = append(ts, t)
	}
	atMost := func(what string, got, limit time.Duration, why string) {
		t := Target{What: what, Measured: fmtDur(got), Met: got <= limit}
		add(t, fmt.Sprintf("by %s (%.0f %%)", fmtDur(got-limit), 100*float64(got-limit)/float64(limit)), why)
	}
	atLeast := func(what string, got, want float64, unit, format, why string) {
		t := Target{What: what, Measured: fmt.Sprintf(format, got) + unit, Met: got >= want}
		add(t, fmt.Sprintf("by "+format+"%s (%.0f %% short)", want-got, unit, 100*(want-got)/want), why)
	}
	goWall, goCPU, trueWall := r.floor()
	startNote := func(total time.Duration, n int, rest string) string {
		starts := "one Go program start takes"
		if n == 2 {
			starts = "two Go program starts take"
		}
		return fmt.Sprintf("%s %s of it (%s each here: quickCheck --version; /bin/true takes %s), %s the remaining %s",
			starts, fmtDur(time.Duration(n)*goWall), fmtDur(goWall), fmtDur(trueWall), rest, fmtDur(total-time.Duration(n)*goWall))
	}
	if a, ok := row(ActStart, SubjectExe); ok {
		atMost("restore ≤ 20 ms (median wall)", a.Wall.Median, 20*time.Millisecond,
			startNote(a.Wall.Median, 2, "restore itself and the responder it starts; adding the VIP, the bind, the readiness handshake and the self-probe take"))
		if ref, ok := row(ActStart, SubjectRef); ok && a.Wall.Median > 0 {
			atLeast("restore ≥ 20× faster than the pair's start (median wall)", float64(ref.Wall.Median)/float64(a.Wall.Median), 20, "×", "%.0f",
				fmt.Sprintf("the pair's start took %s here; restore cannot go below its two Go program starts, %s here", fmtDur(ref.Wall.Median), fmtDur(2*goWall)))
		}
	}
	if a, ok := row(ActMonitor, SubjectExe); ok {
		atMost("quickCheck ≤ 5 ms (median wall)", a.Wall.Median, 5*time.Millisecond, startNote(a.Wall.Median, 1, "the checks (pid file, process, VIP, a probe of the port) take"))
	}
	if a, ok := row(ActStop, SubjectExe); ok {
		atMost("remove ≤ 20 ms (median wall)", a.Wall.Median, 20*time.Millisecond, startNote(a.Wall.Median, 1, "stopping the responder and deleting the VIP take"))
	}
	var exe, ref *CostRow
	for i, c := range r.Monitoring {
		switch c.Subject {
		case SubjectExe:
			exe = &r.Monitoring[i]
		case SubjectRef:
			ref = &r.Monitoring[i]
		}
	}
	if exe != nil && ref != nil && exe.PerHour > 0 {
		busy := exe.PerHour - exe.ListenerIdle
		why := fmt.Sprintf("ilbvip's %.1f s/h = %.1f s of monitor processes (%s CPU each, of which starting a Go program is %s) + %.1f s of the responder answering + %.1f s of the idle responder (Go runtime housekeeping; the responder itself sleeps until a probe comes); without the idle part the ratio would be %.0f×",
			exe.PerHour.Seconds(), 360*exe.PerMonitor.Seconds(), fmtDur(exe.PerMonitor), fmtDur(goCPU), 360*exe.ListenerPer.Seconds(), exe.ListenerIdle.Seconds(),
			float64(ref.PerHour)/float64(max(busy, 1)))
		atLeast("monitoring cost ≥ 50× lower (CPU per hour, 10 s interval)", float64(ref.PerHour)/float64(exe.PerHour), 50, "×", "%.0f", why)
	}
	var worst *ProbeRow
	for i, p := range r.Probes {
		if strings.HasPrefix(p.Listener, "ilbvip") && p.Idle == 1000 && (worst == nil || p.Result.ShareWithin1s() < worst.Result.ShareWithin1s()) {
			worst = &r.Probes[i]
		}
	}
	if worst != nil {
		share := worst.Result.ShareWithin1s()
		t := Target{What: "100 % of probes answered within 1 s with 1,000 idle connections (ilbvip, every probe kind and worker count)",
			Measured: fmt.Sprintf("%.2f %% (worst run)", 100*share), Met: share == 1}
		why := fmt.Sprintf("worst run: %s, %s, %d workers: %s of %s probes within 1 s, p99 %s; first error: %s", worst.Listener, worst.Probe, worst.Workers,
			groupDigits(worst.Result.Within1s), groupDigits(worst.Result.Probes), fmtDur(worst.Result.P99), orQ(worst.Result.FirstError))
		add(t, fmt.Sprintf("by %.2f points", 100*(1-share)), why)
	}
	// The rate and the CPU that explains it come from the same rows: with
	// idle connections, a row's CPU per probe also pays for opening them.
	best, seen := 0.0, false
	var lcpu, gcpu []time.Duration
	for _, p := range r.Probes {
		if p.Listener == "ilbvip" && p.Probe == "tcp" && p.Idle == 0 {
			best, seen = max(best, p.Result.Rate()), true
			lcpu, gcpu = append(lcpu, p.ListenerCPU), append(gcpu, p.GenCPU)
		}
	}
	if seen {
		l, g := Summarize(lcpu).Median, Summarize(gcpu).Median
		why := ""
		if l+g > 0 {
			why = fmt.Sprintf("a probe costs the responder %s and the load generator %s of CPU here (medians of the tcp rows without idle connections), so %d cores allow about %.0f/s; the load generator runs on the same cores",
				fmtDur(l), fmtDur(g), r.Machine.Cores, float64(r.Machine.Cores)*float64(time.Second)/float64(l+g))
		}
		atLeast(fmt.Sprintf("≥ 20,000 TCP probes/s on %d cores (best worker count, no idle connections)", r.Machine.Cores), best, 20000, "/s", "%.0f", why)
	}
	for _, m := range r.Memory {
		if m.Probes > 0 {
			t := Target{What: fmt.Sprintf("responder RSS ≤ 10 MiB after %s probes", groupDigits(m.Probes)), Measured: fmtBytes(m.Mem.RSS), Met: m.Mem.RSS <= 10<<20}
			why := fmt.Sprintf("RssAnon %s (Go heap and stacks) + RssFile %s (the mapped executable); %s before the probes, %s after %s, %s after %s: a level, not a leak",
				fmtBytes(m.Mem.Anon), fmtBytes(m.Mem.File), fmtBytes(m.Before.RSS), fmtBytes(m.Mid.RSS), groupDigits(m.MidProbes), fmtBytes(m.Mem.RSS), groupDigits(m.Probes))
			add(t, "by "+fmtBytes(m.Mem.RSS-10<<20), why)
			break
		}
	}
	for _, d := range vipDirections {
		for _, st := range []struct {
			name, label string
			limit       time.Duration
			pick        func(Summary) time.Duration
		}{
			{"median", "50 ms", 50 * time.Millisecond, func(s Summary) time.Duration { return s.Median }},
			{"p99", "200 ms", 200 * time.Millisecond, func(s Summary) time.Duration { return s.P99 }},
		} {
			var parts []string
			var worst *VIPWatchRow
			for i, x := range r.VIPWatch {
				s := d.get(x)
				if s.N == 0 {
					continue
				}
				parts = append(parts, fmt.Sprintf("%s %s (%d runs)", x.Probe, fmtDur(st.pick(s)), s.N))
				if worst == nil || st.pick(s) > st.pick(d.get(*worst)) {
					worst = &r.VIPWatch[i]
				}
			}
			if worst == nil {
				continue
			}
			got, s := st.pick(d.get(*worst)), d.get(*worst)
			t := Target{What: fmt.Sprintf("%s ≤ %s (%s)", d.what, st.label, st.name),
				Measured: strings.Join(parts, ", "), Met: got <= st.limit}
			why := fmt.Sprintf("worst: %s, %d runs: median %s, p99 %s, max %s; one probe of the client's loop takes %s (median), so the loop's granularity explains at most that much, the remaining %s is the responder's reaction (the kernel's netlink notification, its check of the VIP, closing or opening its listener, or flagging it for http), waits for CPU included (see the load average above)",
				worst.Probe, s.N, fmtDur(s.Median), fmtDur(s.P99), fmtDur(s.Max), fmtDur(worst.Step.Median), fmtDur(max(got-worst.Step.Median, 0)))
			if worst.Unseen > 0 {
				why += fmt.Sprintf("; %d waits of this mode ended at their bound (%s or %s probes) without seeing the change and count at the time they gave up",
					worst.Unseen, fmtDur(vipWaitLimit), groupDigits(vipWaitProbes))
			}
			if worst.Other > 0 {
				why += fmt.Sprintf("; %d probes neither answered nor were refused (first: %s)", worst.Other, worst.FirstOther)
			}
			add(t, fmt.Sprintf("by %s (%.0f %%)", fmtDur(got-st.limit), 100*float64(got-st.limit)/float64(st.limit)), why)
		}
	}
	return ts
}

// vipDirections are the two changes the VIP-watch phase times.
var vipDirections = []struct {
	what string
	get  func(VIPWatchRow) Summary
}{
	{"VIP deleted → first refused probe (tcp: connection refused, http: 503)", func(x VIPWatchRow) Summary { return x.Silent }},
	{"VIP re-added → first answered probe (tcp: handshake, http: 200)", func(x VIPWatchRow) Summary { return x.Answers }},
}

func verdict(met bool, missed string) string {
	if met {
		return "met"
	}
	return "**missed** " + missed
}

// Markdown writes the results as a markdown document.
func (r *Results) Markdown(w io.Writer) {
	m := r.Machine
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# ilbvip benchmarks: side by side with IPaddr2 + azure-lb\n\n")
	p("Generated by `%s` (scripts/bench.sh, tools/bench); do not edit by hand, run it again.\n\n", m.Command)
	p("- date: %s\n", m.Date.Format("2006-01-02 15:04 MST"))
	p("- machine: %d cores (%s), kernel %s, %s\n", m.Cores, orQ(m.CPU), orQ(m.Kernel), m.Go)
	p("- reference: %s\n", orQ(m.Packages))
	p("- load average (1, 5, 15 min): %s at the start, %s at the end; the run took %s\n", m.LoadStart, m.LoadEnd, r.Elapsed.Round(time.Second))
	p("- command: `%s`\n\n", m.Command)

	p("## Targets\n\nMeasured on this machine in this run; the last column, filled in for a miss, is what the measurements below say about the cause.\n\n")
	p("| target | measured | verdict | why |\n|---|---|---|---|\n")
	for _, t := range r.Targets() {
		p("| %s | %s | %s | %s |\n", t.What, t.Measured, t.Verdict, t.Why)
	}

	p("\n## Actions\n\n")
	p("Wall time from exec to exit; CPU is user + system of the action and everything it waited for, plus the CPU the detached listener (ilbvip's responder, nc, socat) had used when the action returned. ")
	p("ilbvip: %d cycles per row, the pair: %d, after one untimed warm-up cycle each; the implementations take turns, a few cycles each per round, so a change in the machine's load hits all alike. ", r.Opts.Cycles, r.Opts.PairCycles)
	p("The pair's recover is what Pacemaker does when azure-lb's monitor fails: azure-lb stop, then start. The last column is the pair with nc divided by the row (median wall / median CPU).\n\n")
	p("| action | implementation | n | wall median | wall p95 | CPU median | CPU p95 | pair (nc) ÷ this |\n|---|---|---|---|---|---|---|---|\n")
	for _, a := range r.Actions {
		ratio := "—"
		if !a.Ref {
			for _, ref := range r.Actions {
				if ref.Action == a.Action && ref.Subject == SubjectRef && a.Wall.Median > 0 && a.CPU.Median > 0 {
					ratio = fmt.Sprintf("%s wall, %s CPU", fmtRatio(float64(ref.Wall.Median)/float64(a.Wall.Median)),
						fmtRatio(float64(ref.CPU.Median)/float64(a.CPU.Median)))
				}
			}
		}
		p("| %s | %s | %d | %s | %s | %s | %s | %s |\n", actionLabel[a.Action], a.Subject, a.Wall.N,
			fmtDur(a.Wall.Median), fmtDur(a.Wall.P95), fmtDur(a.CPU.Median), fmtDur(a.CPU.P95), ratio)
	}

	p("\n### Start-up floor\n\nWhat starting a program costs on this machine at all, measured the same way, in the node, taking its turn in every round of the actions above (%d runs each): every action pays it at least once, restore and recover twice (the responder is a second start of the same binary).\n\n", r.floorRuns())
	p("| program | wall median | wall p95 | CPU median | CPU p95 |\n|---|---|---|---|---|\n")
	for _, f := range r.Floor {
		p("| %s | %s | %s | %s | %s |\n", f.What, fmtDur(f.Wall.Median), fmtDur(f.Wall.P95), fmtDur(f.CPU.Median), fmtDur(f.CPU.P95))
	}

	p("\n### Ready to answer\n\nFrom the start action's exec until a TCP handshake on the probe port succeeds (polled from inside the node every 0.2 ms). azure-lb's start returns as soon as nc or socat is forked, before it listens.\n\n")
	p("| implementation | start returns (median) | port answers: median | p95 |\n|---|---|---|---|\n")
	for _, rr := range r.Ready {
		p("| %s | %s | %s | %s |\n", rr.Subject, fmtDur(rr.Start.Median), fmtDur(rr.Ready.Median), fmtDur(rr.Ready.P95))
	}

	p("\n## Monitoring cost\n\n")
	p("CPU per hour at a 10 s monitor interval = 360 × (mean CPU of one monitor + the listener's CPU for answering it) + the listener's CPU per hour while idle ")
	p("(per-thread schedstat, nanoseconds, over a %s idle window). The listener's share of a monitor is its CPU during a block of monitors (and 0.3 s after) less its idle rate. The implementations take turns in blocks. ilbvip's monitor probes the port (OCF_CHECK_LEVEL 10); azure-lb's only runs kill -0; IPaddr2's reads the addresses. ", fmtDur(r.monitoringWindow()))
	p("azure-lb's monitor is the same with socat, so only nc is shown.\n\n")
	p("| implementation | monitors | CPU per monitor (mean) | listener per monitor | listener idle per hour | CPU per hour | pair ÷ this |\n|---|---|---|---|---|---|---|\n")
	var refCost time.Duration
	for _, c := range r.Monitoring {
		if c.Subject == SubjectRef {
			refCost = c.PerHour
		}
	}
	for _, c := range r.Monitoring {
		ratio := "—"
		if !c.Ref && c.PerHour > 0 {
			ratio = fmtRatio(float64(refCost) / float64(c.PerHour))
		}
		p("| %s | %d | %s | %s (%s) | %s | **%.2f s** (%.3f %% of a core) | %s |\n", c.Subject, c.Monitors, fmtDur(c.PerMonitor),
			fmtDur(c.ListenerPer), c.ListenerLabel, fmtDur(c.ListenerIdle), c.PerHour.Seconds(), 100*c.PerHour.Seconds()/3600, ratio)
	}

	p("\n## The probe listener\n\n")
	p("A load generator in a second network namespace probes the listener over a veth pair, back to back from N workers, for %s per row (at most %s probes). ",
		fmtDur(r.Opts.ProbeRun), groupDigits(r.Opts.ProbeMax))
	p("tcp: a handshake, then a reset (what a load balancer's TCP probe checks; the reset leaves no TIME_WAIT). tcp, message read: also read ilbvip's message to EOF. http: GET /, want 200, read to EOF. ")
	p("Before the probes, the idle connections are opened (each given 1 s) and then held open by the client, never written to; a server may close them (ilbvip closes a tcp one at once and an http one after conn_timeout, 2 s; socat after its 0.5 s timeout; nc never). ")
	p("A probe fails after %s; p50 and p99 count a failed probe at the time it failed. probes/s counts successful probes. ", fmtDur(r.Opts.ProbeTimeout))
	p("All listeners run side by side (own port, own VIP) and take turns row by row. The load generator shares the machine's %d cores with the listener: the last column is the CPU per probe of each (the listener's from schedstat; socat's is not measured, it forks a process per connection), so 2 cores ÷ (listener + generator) bounds the rate this machine can show.\n\n", r.Machine.Cores)
	p("| listener | probe | idle connections (held / closed by server) | workers | probes/s | p50 | p99 | answered within 1 s | CPU per probe: listener / load generator |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Probes {
		res := x.Result
		idle := fmt.Sprintf("%s (%s / %s)", groupDigits(x.Idle), groupDigits(res.IdleOpen), groupDigits(res.IdleClosed))
		if x.Idle == 0 {
			idle = "0"
		}
		lcpu := "—"
		if x.ListenerCPU > 0 {
			lcpu = fmtDur(x.ListenerCPU)
		}
		p("| %s | %s | %s | %d | %s | %s | %s | %.2f %% (%s of %s) | %s / %s |\n", x.Listener, x.Probe, idle, x.Workers,
			groupDigits(int(res.Rate()+0.5)), fmtDur(res.P50), fmtDur(res.P99), 100*res.ShareWithin1s(), groupDigits(res.Within1s), groupDigits(res.Probes),
			lcpu, fmtDur(x.GenCPU))
	}
	p("| azure-lb: nc, azure-lb: socat | http | — | — | n/a | n/a | n/a | n/a: they have no HTTP mode | |\n")

	if len(r.VIPWatch) > 0 {
		r.vipWatchMarkdown(w)
	}

	p("\n## Memory and size\n\nVmRSS from /proc/PID/status; anon is the heap and stacks, file the mapped executable and libraries.\n\n")
	p("| listener | probes | RSS before | RSS after a tenth | RSS after (anon + file) | peak RSS (VmHWM) |\n|---|---|---|---|---|---|\n")
	for _, x := range r.Memory {
		probes, before, mid := x.When, "—", "—"
		if x.Probes > 0 {
			probes = fmt.Sprintf("%s in %s", groupDigits(x.Probes), fmtDur(x.Elapsed))
			before = fmtBytes(x.Before.RSS)
			mid = fmt.Sprintf("%s (%s probes)", fmtBytes(x.Mid.RSS), groupDigits(x.MidProbes))
		}
		p("| %s | %s | %s | %s | %s (%s + %s) | %s |\n", x.Listener, probes, before, mid, fmtBytes(x.Mem.RSS), fmtBytes(x.Mem.Anon), fmtBytes(x.Mem.File), fmtBytes(x.Mem.HWM))
	}
	p("\n| file | size | |\n|---|---|---|\n")
	for _, s := range r.Sizes {
		p("| `%s` | %s | %s |\n", s.Path, fmtBytes(s.Bytes), s.Note)
	}

	p("\n## How it is measured\n\n")
	p("- Everything runs in two network namespaces the run creates and deletes: the node (lo, and eth1, one end of a veth pair, 10.231.0.1, carrying the VIPs, all in 10.231.0.0/24) and the client (the other end, 10.231.0.2). The host's network is not touched.\n")
	p("- The agents run as Pacemaker runs them: exec with the action as argument, OCF_ROOT=/usr/lib/ocf, OCF_RESOURCE_INSTANCE, OCF_RESKEY_* (IPaddr2: ip, cidr_netmask=32, nic=eth1; azure-lb: port, nc=/usr/bin/nc or /usr/bin/socat; ilbvip: port, vip, interface, state_dir, bindir), OCF_RESKEY_CRM_meta_timeout=20000, stdin /dev/null, output to a pipe. ")
	p("HA_LOGFACILITY is not set, so the reference agents log to stderr instead of running logger for each line, which only makes them cheaper. The executables get the same parameters as flags.\n")
	p("- The run is a child subreaper and reaps orphans at once, as systemd does: the detached responder, nc and socat become its children when the agent exits. Without that, a killed nc stays a zombie until PID 1 reaps it, and azure-lb's kill -0 sees it alive.\n")
	p("- CPU of a detached listener is not in the action's rusage; it is read from /proc/PID/task/*/schedstat right after the action and added. Work the listener does later (nc binding its port after azure-lb returned) is not counted.\n")
	p("- IPaddr2 runs with its defaults, which send 5 gratuitous ARPs in the background (send_arp, not waited for, so not counted); ilbvip's arp_count defaults to 0, as cloud networks ignore them.\n")
	p("- The machine may be shared: compare rows of one run, not runs from different days; the load average above says how busy it was.\n")
}

// vipWatchMarkdown writes the VIP-watch section.
func (r *Results) vipWatchMarkdown(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\n## Answering only while able: the VIP leaving and coming back\n\n")
	p("A responder started by restore with --vip and --interface watches its VIP (netlink address and link notifications) and is silent while the VIP is not on its interface: in tcp mode it closes its listener, so new connections are refused (a reset); in http mode it answers 503. ")
	p("The run deletes the VIP (its own, 10.231.0.%d and up, /32 scope host on eth1) by netlink in the node namespace, and the client namespace probes the node's address on eth1 (10.231.0.1, the responder's port) in a loop until a probe is refused; ", vipWatchBase)
	p("then it adds the VIP again the way restore adds it (/32, scope host, by netlink: not by recover, so no program start is timed, only the responder's reaction; just ilbvip's IFA_PROTO mark is missing, which the responder does not look at) and probes until one is answered. ")
	p("Each probe is bounded by %s, each wait by %s and %s probes (a wait that ends there counts at the time it gave up, under waits unseen). ", fmtDur(vipProbeTimeout), fmtDur(vipWaitLimit), groupDigits(vipWaitProbes))
	p("The loop sleeps %s between probes: without a pause a tcp loop never blocks (over veth the handshake completes in the prober's own thread), and on a small machine it and the responder accepting its connections take every core, so the responder's watcher would wait for CPU and the loop would delay the very reaction it times. ", fmtDur(vipProbeGap))
	p("A tcp probe whose handshake completed just before the listener closed is reset by the kernel when it closes (the dial sees connection reset by peer): neither answered nor refused, so it is counted in the last column and the loop goes on. ")
	p("A time runs from just before the netlink request to when the deciding probe returned; one probe (the mean per wait, median over the waits) is the loop's granularity. ")
	var took time.Duration
	for _, x := range r.VIPWatch {
		took += x.Elapsed
	}
	p("%d runs per mode after one untimed warm-up, %s apart; this phase runs after everything above, one mode at a time, on its own port and VIP, so the numbers above are not affected by it. It took %s (restore and remove included).\n\n", r.Opts.VIPRuns, fmtDur(vipPause), fmtDur(took))
	p("| probe | runs | VIP deleted → first refused probe: median | p99 | max | VIP re-added → first answered probe: median | p99 | max | one probe (median) | probes sent | waits unseen | probes neither answered nor refused |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.VIPWatch {
		other := groupDigits(x.Other)
		if x.Other > 0 {
			other += " (first: " + x.FirstOther + ")"
		}
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", x.Probe, x.Silent.N,
			fmtDur(x.Silent.Median), fmtDur(x.Silent.P99), fmtDur(x.Silent.Max),
			fmtDur(x.Answers.Median), fmtDur(x.Answers.P99), fmtDur(x.Answers.Max),
			fmtDur(x.Step.Median), groupDigits(x.Probes), x.Unseen, other)
	}
}

func (r *Results) floorRuns() int {
	for _, f := range r.Floor {
		return f.Wall.N
	}
	return 0
}

func (r *Results) monitoringWindow() time.Duration {
	for _, c := range r.Monitoring {
		return c.IdleWindow
	}
	return 0
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// fmtDur prints a duration with 2-3 significant digits in ms or s.
func fmtDur(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d == 0:
		s = "0"
	case d < 10*time.Microsecond:
		s = fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < time.Millisecond:
		s = fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		s = fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		s = fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		s = fmt.Sprintf("%.2f s", d.Seconds())
	}
	if neg {
		return "-" + s
	}
	return s
}

func fmtRatio(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f×", x)
	}
	return fmt.Sprintf("%.1f×", x)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// groupDigits prints 1234567 as 1,234,567.
func groupDigits(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
