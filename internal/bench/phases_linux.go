package bench

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// cycler is one subject in the actions phase and what it measured.
type cycler struct {
	sub   subject
	want  int
	ref   bool
	got   map[string][]sample
	ready []time.Duration
}

// actions times start, monitor, recover after kill -9, and stop of every
// subject. The subjects take turns (round-robin, a few cycles each per
// round) so a change in the machine's load hits them all alike; each first
// runs one untimed warm-up cycle.
func (r *runner) actions() error {
	cs := r.cyclers()
	rounds := r.o.PairCycles
	for _, c := range cs {
		c.got = map[string][]sample{}
		rounds = min(rounds, c.want)
		if err := r.cycle(c, false); err != nil {
			return err
		}
	}
	floor := r.floorExecs()
	if err := r.runFloor(floor, false, 1); err != nil { // warms the page cache
		return err
	}
	if err := r.actionRounds(cs, floor, rounds); err != nil {
		return err
	}
	for _, f := range floor {
		r.res.Floor = append(r.res.Floor, FloorRow{What: f.what, Wall: Summarize(f.wall), CPU: Summarize(f.cpu)})
	}
	for _, c := range cs {
		r.addActionRows(c)
	}
	return nil
}

// cyclers is the actions phase's subjects, in the order of their turns.
func (r *runner) cyclers() []*cycler {
	return []*cycler{
		{sub: &ilbvipExe{e: r.e, p: r.pth, tag: "bench-exe", prt: portExe, label: SubjectExe}, want: r.o.Cycles},
		{sub: &ilbvipOCF{e: r.e, p: r.pth, tag: "bench-ocf", prt: portOCF, label: SubjectOCF}, want: r.o.Cycles},
		{sub: newPair(r.e, r.pth, SubjectRef, "nc", portPairNC, vipPairNC, r.pth.nc), want: r.o.PairCycles, ref: true},
		{sub: newPair(r.e, r.pth, SubjectRefSocat, "socat", portPairSC, vipPairSC, r.pth.socat), want: r.o.PairCycles, ref: true},
	}
}

// floorExec is one start-up floor command and what it measured.
type floorExec struct {
	what      string
	argv      []string
	wall, cpu []time.Duration
}

// floorExecs is the start-up floor, which takes its turn in every round
// too, so it is measured under the same load as the actions: /bin/true,
// and one of ilbvip's executables doing nothing (--version: the Go
// runtime and the package initialisation every action pays first).
// Results.floor reads the rows in this order.
func (r *runner) floorExecs() []floorExec {
	return []floorExec{
		{what: "exec of /bin/true", argv: []string{"/bin/true"}},
		{what: "exec of quickCheck --version (Go runtime and package init, nothing else)",
			argv: []string{filepath.Join(r.pth.bin, "quickCheck"), "--version"}},
	}
}

// runFloor runs each floor command n times; record keeps the samples.
func (r *runner) runFloor(floor []floorExec, record bool, n int) error {
	for i := range floor {
		f := &floor[i]
		for k := 0; k < n; k++ {
			s, err := r.e.step(f.what, f.argv, baseEnv())
			if err != nil {
				return err
			}
			if record {
				f.wall, f.cpu = append(f.wall, s.wall), append(f.cpu, s.cpu)
			}
		}
	}
	return nil
}

// actionRounds runs rounds of the floor and of every subject's cycles
// until each subject has its cycles, or, once each has at least three,
// the phase limit is reached.
func (r *runner) actionRounds(cs []*cycler, floor []floorExec, rounds int) error {
	t0 := time.Now()
	for round := 0; ; round++ {
		left, enough := cyclesLeft(cs)
		if !left {
			return nil
		}
		if enough && time.Since(t0) > r.o.PhaseLimit {
			r.logf("actions: phase limit %v reached after %d rounds", r.o.PhaseLimit, round)
			return nil
		}
		if err := r.runFloor(floor, true, (r.o.Cycles+rounds-1)/rounds); err != nil {
			return err
		}
		for _, c := range cs {
			if err := r.cycleRound(c, rounds); err != nil {
				return err
			}
		}
	}
}

// cyclesLeft reports whether any subject still wants cycles, and whether
// every one has enough (three) to stop at the phase limit.
func cyclesLeft(cs []*cycler) (left, enough bool) {
	enough = true
	for _, c := range cs {
		n := len(c.got[ActStart])
		left = left || n < c.want
		enough = enough && n >= 3
	}
	return left, enough
}

// cycleRound runs c's share of one round: its wanted cycles spread evenly
// over the rounds, at most up to what it wants.
func (r *runner) cycleRound(c *cycler, rounds int) error {
	per := (c.want + rounds - 1) / rounds // cycles per round
	for k := 0; k < per && len(c.got[ActStart]) < c.want; k++ {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if err := r.cycle(c, true); err != nil {
			return err
		}
	}
	return nil
}

// addActionRows adds c's rows, one per action, and its ready row to the
// results.
func (r *runner) addActionRows(c *cycler) {
	r.logf("actions: %s: %d cycles", c.sub.name(), len(c.got[ActStart]))
	for _, a := range []string{ActStart, ActMonitor, ActMetrics, ActRecover, ActStop, ActCycle} {
		if a == ActMetrics && len(c.got[a]) == 0 {
			continue // a subject without it
		}
		var wall, cpu []time.Duration
		for _, x := range c.got[a] {
			wall, cpu = append(wall, x.wall), append(cpu, x.cpu)
		}
		r.res.Actions = append(r.res.Actions, ActionRow{Action: a, Subject: c.sub.name(), Wall: Summarize(wall), CPU: Summarize(cpu), Ref: c.ref})
	}
	var starts []time.Duration
	for _, x := range c.got[ActStart] {
		starts = append(starts, x.wall)
	}
	r.res.Ready = append(r.res.Ready, ReadyRow{Subject: c.sub.name(), Ready: Summarize(c.ready), Start: Summarize(starts)})
}

// cycle runs one cycle of c's subject: start, wait until the port answers,
// monitor, kill -9 the listener, recover, wait until it answers, stop. On
// an error it stops the subject. record keeps the samples.
func (r *runner) cycle(c *cycler, record bool) (err error) {
	sub := c.sub
	defer func() {
		if err != nil {
			forceStop(sub)
		}
	}()
	begin := time.Now()
	st, err := sub.start()
	if err != nil {
		return err
	}
	at, err := r.e.untilAnswers(sub.port(), 5*time.Second)
	if err != nil {
		return fmt.Errorf("%s after start: %w", sub.name(), err)
	}
	mon, err := sub.monitor()
	if err != nil {
		return err
	}
	// quickCheck --metrics right after the plain one, on the same running
	// resource: the two rows show what the Prometheus output costs on top.
	var met sample
	if m, ok := sub.(metricser); ok {
		if met, err = m.metrics(); err != nil {
			return err
		}
	}
	if err := killListener(sub); err != nil {
		return err
	}
	rec, err := sub.recover()
	if err != nil {
		return err
	}
	if _, err := r.e.untilAnswers(sub.port(), 5*time.Second); err != nil {
		return fmt.Errorf("%s after recover: %w", sub.name(), err)
	}
	sp, err := sub.stop()
	if err != nil {
		return err
	}
	if record {
		c.got[ActStart] = append(c.got[ActStart], st)
		c.got[ActMonitor] = append(c.got[ActMonitor], mon)
		if met != (sample{}) {
			c.got[ActMetrics] = append(c.got[ActMetrics], met)
		}
		c.got[ActRecover] = append(c.got[ActRecover], rec)
		c.got[ActStop] = append(c.got[ActStop], sp)
		c.got[ActCycle] = append(c.got[ActCycle], st.add(mon).add(sp))
		c.ready = append(c.ready, at.Sub(begin))
	}
	return nil
}

// monitoring measures what monitoring costs per hour at a 10 s interval:
// the monitor actions' CPU, the listener's CPU for answering them, and the
// listener's own CPU while nothing probes it.
func (r *runner) monitoring() error {
	exe := &ilbvipExe{e: r.e, p: r.pth, tag: "bench-mon", prt: portMonIlb, label: SubjectExe}
	ocf := &ilbvipOCF{e: r.e, p: r.pth, tag: "bench-mon", prt: portMonIlb, label: SubjectOCF} // the same resource
	pr := newPair(r.e, r.pth, SubjectRef, "mon", portMonLB, vipPairMon, r.pth.nc)
	defer forceStop(exe)
	defer forceStop(pr)
	rpid, npid, err := r.startMonitored(exe, pr)
	if err != nil {
		return err
	}
	idle, window, err := r.idleCPU(rpid, npid)
	if err != nil {
		return err
	}
	ms := []*monTally{{sub: exe, lpid: rpid, label: "ilbvip responder"}, {sub: ocf, lpid: rpid, label: "ilbvip responder"},
		{sub: pr, lpid: npid, ref: true, label: "nc"}}
	if err := r.monitorRounds(ms, idle); err != nil {
		return err
	}
	r.addCostRows(ms, idle, window)
	return nil
}

// startMonitored starts ilbvip and the reference pair, returns their
// listeners' pids, and gives both a second to settle after start.
func (r *runner) startMonitored(exe *ilbvipExe, pr *pair) (rpid, npid int, err error) {
	if _, err := exe.start(); err != nil {
		return 0, 0, err
	}
	if _, err := pr.start(); err != nil {
		return 0, 0, err
	}
	if rpid, err = exe.listener(); err != nil {
		return 0, 0, err
	}
	if npid, err = pr.listener(); err != nil {
		return 0, 0, err
	}
	if err := r.sleep(time.Second); err != nil { // both settle after start
		return 0, 0, err
	}
	return rpid, npid, nil
}

// idleCPU watches both listeners for IdleWindow while nothing probes them
// and returns each one's CPU seconds per second (by pid), and the window
// as it was measured.
func (r *runner) idleCPU(rpid, npid int) (map[int]float64, time.Duration, error) {
	r0, err0 := cpuOf(rpid)
	n0, err1 := cpuOf(npid)
	w0 := time.Now()
	if err := firstErr(err0, err1); err != nil {
		return nil, 0, err
	}
	r.logf("monitoring: watching the idle listeners for %v", r.o.IdleWindow)
	if err := r.sleep(r.o.IdleWindow); err != nil {
		return nil, 0, err
	}
	r1, err0 := cpuOf(rpid)
	n1, err1 := cpuOf(npid)
	window := time.Since(w0)
	if err := firstErr(err0, err1); err != nil {
		return nil, 0, err
	}
	idle := map[int]float64{}
	idle[rpid] = (r1 - r0).Seconds() / window.Seconds()
	idle[npid] = (n1 - n0).Seconds() / window.Seconds()
	return idle, window, nil
}

// monTally is one subject of the monitoring phase and what it measured.
type monTally struct {
	sub         subject
	lpid        int
	ref         bool
	label       string
	cpu         time.Duration // the monitors' own CPU, summed
	listenerCPU time.Duration // the listener's CPU during the blocks, less its idle rate
	n           int
}

// monitorRounds runs rounds of blocks of monitors, the subjects taking
// turns, until each has run Monitors or the phase limit is reached.
func (r *runner) monitorRounds(ms []*monTally, idle map[int]float64) error {
	const rounds = 5
	per := (r.o.Monitors + rounds - 1) / rounds
	t0 := time.Now()
	for round := 0; round < rounds; round++ {
		if round >= 1 && time.Since(t0) > r.o.PhaseLimit {
			r.logf("monitoring: phase limit %v reached after %d rounds", r.o.PhaseLimit, round)
			break
		}
		for _, m := range ms {
			if err := r.monitorBlock(m, per, idle); err != nil {
				return err
			}
		}
	}
	return nil
}

// monitorBlock runs up to per of m's monitors back to back and adds their
// CPU and the listener's to m. After the block a pause lets the listener
// finish what the monitors caused (ilbvip's stats file) inside the
// block's window; the listener's idle rate over the window is left out.
func (r *runner) monitorBlock(m *monTally, per int, idle map[int]float64) error {
	c0, err := cpuOf(m.lpid)
	if err != nil {
		return err
	}
	b0 := time.Now()
	for k := 0; k < per && m.n < r.o.Monitors; k++ {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		s, err := m.sub.monitor()
		if err != nil {
			return err
		}
		m.cpu += s.cpu
		m.n++
	}
	if err := r.sleep(300 * time.Millisecond); err != nil {
		return err
	}
	c1, err := cpuOf(m.lpid)
	if err != nil {
		return err
	}
	extra := c1 - c0 - time.Duration(idle[m.lpid]*float64(time.Since(b0)))
	m.listenerCPU += max(extra, 0)
	return nil
}

// addCostRows adds each subject's monitoring cost, per monitor and per
// hour, to the results.
func (r *runner) addCostRows(ms []*monTally, idle map[int]float64, window time.Duration) {
	const monitorsPerHour = 360 // a 10 s interval
	for _, m := range ms {
		row := CostRow{Subject: m.sub.name(), PerMonitor: m.cpu / time.Duration(m.n), ListenerPer: m.listenerCPU / time.Duration(m.n),
			ListenerIdle: time.Duration(idle[m.lpid] * float64(time.Hour)), IdleWindow: window, Monitors: m.n, Ref: m.ref, ListenerLabel: m.label}
		row.PerHour = monitorsPerHour*(row.PerMonitor+row.ListenerPer) + row.ListenerIdle
		r.res.Monitoring = append(r.res.Monitoring, row)
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// target is a listener the load generator probes.
type target struct {
	listener string
	probe    string
	kind     string
	expect   string
	path     string
	sub      subject
	cpuOK    bool // the listener's own CPU is all its work (not socat, which forks per connection)
}

// probes runs the load generator from the client namespace against every
// listener, with each number of idle connections and workers. All
// listeners run at once, on their own ports, and take turns row by row.
func (r *runner) probes() error {
	// Each listener has its own port and VIP, so all run side by side.
	exe := func(i int, tag string, extra ...string) *ilbvipExe {
		return &ilbvipExe{e: r.e, p: r.pth, tag: tag, prt: portProbe + i, vip: fmt.Sprintf("10.231.0.%d", 110+i), extra: extra, label: "ilbvip"}
	}
	ts := []target{
		{"ilbvip", "tcp", KindTCP, "", "", exe(0, "bench-tcp"), true},
		{"azure-lb: nc", "tcp", KindTCP, "", "", newPair(r.e, r.pth, "azure-lb: nc", "pnc", portProbe+1, "10.231.0.111", r.pth.nc), true},
		{"azure-lb: socat", "tcp", KindTCP, "", "", newPair(r.e, r.pth, "azure-lb: socat", "psc", portProbe+2, "10.231.0.112", r.pth.socat), false},
		{"ilbvip", "tcp, message read", KindTCPMsg, "OK", "", exe(3, "bench-msg", "--message", "OK"), true},
		{"ilbvip", "http", KindHTTP, "", "/", exe(4, "bench-http", "--protocol", "http"), true},
	}
	for i := range ts {
		defer forceStop(ts[i].sub)
		if _, err := ts[i].sub.start(); err != nil {
			return err
		}
	}
	rows := map[[3]int]ProbeRow{}
	for _, idle := range r.o.IdleConns {
		for _, w := range r.o.Workers {
			for i, t := range ts {
				row, err := r.probeRow(t, idle, w)
				if err != nil {
					return err
				}
				rows[[3]int{i, idle, w}] = row
			}
		}
	}
	for i, t := range ts {
		for _, idle := range r.o.IdleConns {
			for _, w := range r.o.Workers {
				r.res.Probes = append(r.res.Probes, rows[[3]int{i, idle, w}])
			}
		}
		if pid, err := t.sub.listener(); err == nil {
			if m, err := memOf(pid); err == nil {
				r.res.Memory = append(r.res.Memory, MemRow{Listener: t.listener + " (" + t.probe + ")", When: "after its probe runs above", Mem: m})
			}
		}
	}
	for i := range ts {
		if _, err := ts[i].sub.stop(); err != nil {
			return err
		}
	}
	return nil
}

// probeRow runs the load generator once against t.
func (r *runner) probeRow(t target, idle, workers int) (ProbeRow, error) {
	spec := LoadSpec{
		Addr: net.JoinHostPort(nodeAddr, strconv.Itoa(t.sub.port())), Kind: t.kind, Expect: t.expect, Path: t.path,
		Workers: workers, Idle: idle, Duration: r.o.ProbeRun, MaxProbes: r.o.ProbeMax, Timeout: r.o.ProbeTimeout,
		Settle: 5 * time.Second,
	}
	pid, err := t.sub.listener()
	if err != nil {
		return ProbeRow{}, fmt.Errorf("%s: %w", t.listener, err)
	}
	c0, err := cpuOf(pid)
	if err != nil {
		return ProbeRow{}, err
	}
	res, genCPU, err := r.load(r.e.clientNS, spec)
	if err != nil {
		return ProbeRow{}, fmt.Errorf("%s %s: %w", t.listener, t.probe, err)
	}
	c1, err := cpuOf(pid)
	if err != nil {
		return ProbeRow{}, fmt.Errorf("%s died during its probes: %w", t.listener, err)
	}
	row := ProbeRow{Listener: t.listener, Probe: t.probe, Idle: idle, Workers: workers, Result: *res}
	if res.Probes > 0 {
		row.GenCPU = genCPU / time.Duration(res.Probes)
		if t.cpuOK {
			row.ListenerCPU = (c1 - c0) / time.Duration(res.Probes)
		}
	}
	r.logf("probes: %s %s idle %d workers %d: %.0f/s, p50 %v p99 %v, %.1f%% within 1 s; CPU per probe: listener %v, load generator %v",
		t.listener, t.probe, idle, workers, res.Rate(), res.P50, res.P99, 100*res.ShareWithin1s(), row.ListenerCPU, row.GenCPU)
	return row, nil
}
