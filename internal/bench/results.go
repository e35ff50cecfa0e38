package bench

import "time"

// Results is everything one run measured.
type Results struct {
	Machine    Machine
	Actions    []ActionRow
	Floor      []FloorRow
	Ready      []ReadyRow
	Monitoring []CostRow
	Probes     []ProbeRow
	Memory     []MemRow
	Sizes      []SizeRow
	VIPWatch   []VIPWatchRow
	Opts       Options
	Elapsed    time.Duration
}

// Machine is where and how the run happened.
type Machine struct {
	Cores     int
	CPU       string
	Kernel    string
	Go        string
	Date      time.Time
	Command   string
	LoadStart string // /proc/loadavg at the start
	LoadEnd   string
	Packages  string // versions of the reference agents and listeners
}

// Action names, in table order.
const (
	ActStart   = "start"
	ActMonitor = "monitor"
	ActMetrics = "metrics" // quickCheck --metrics, ilbvip's executables only
	ActRecover = "recover"
	ActStop    = "stop"
	ActCycle   = "cycle"
)

// ActionRow is one action of one subject.
type ActionRow struct {
	Action  string
	Subject string
	Wall    Summary
	CPU     Summary
	Ref     bool // the reference pair (ratios are against the first reference row)
}

// FloorRow is the cost of starting a program at all on this machine, the
// floor under every action.
type FloorRow struct {
	What      string
	Wall, CPU Summary
}

// ReadyRow is how long after exec the probe port first answered.
type ReadyRow struct {
	Subject string
	Ready   Summary
	Start   Summary // the start action's own wall time, for comparison
}

// CostRow is the CPU cost of monitoring one resource for an hour at a 10 s
// interval.
type CostRow struct {
	Subject       string
	PerMonitor    time.Duration // mean CPU of one monitor action
	ListenerPer   time.Duration // the listener's CPU per monitor (answering the monitor's probe)
	ListenerIdle  time.Duration // the listener's CPU per hour when nothing probes it
	IdleWindow    time.Duration
	PerHour       time.Duration
	Monitors      int
	Ref           bool
	ListenerLabel string
}

// ProbeRow is one load-generator run against one listener.
type ProbeRow struct {
	Listener string
	Probe    string
	Idle     int
	Workers  int
	Result   LoadResult
	// CPU per probe of the listener (0 when not measured: socat forks a
	// process per connection) and of the load generator.
	ListenerCPU, GenCPU time.Duration
}

// MemRow is a listener's memory.
type MemRow struct {
	Listener   string
	When       string
	Probes     int
	Mem        Mem
	Before     Mem // before the probes (zero when not measured)
	Mid        Mem // after MidProbes (zero when not measured)
	MidProbes  int
	Elapsed    time.Duration
	FirstError string
}

// Mem is a process's memory from /proc/PID/status, in bytes.
type Mem struct {
	RSS, HWM   int64
	Anon, File int64 // RssAnon (heap, stacks) and RssFile (the mapped executable and libraries)
}

// The VIP-watch phase (vipwatch_linux.go) has its own resources (port
// portVIPWatch, VIP, tag), one per probe mode, so it disturbs nothing the
// other phases measure; its VIPs and the bounds of its probe loop are in
// the report too.
const (
	vipWatchBase    = 120                    // the VIP is 10.231.0.(120 + mode index)
	vipProbeTimeout = 200 * time.Millisecond // one probe
	// The pause between probes. Without it a tcp loop never blocks (over
	// veth the handshake completes in the prober's own thread), so on a
	// small machine it and the responder accepting its connections take
	// every core, and the responder's watcher waits for CPU: the loop
	// would delay the reaction it times (by tens of ms on 2 cores, at
	// thousands of probes per second). With it the loop still probes
	// every millisecond or so, which the table shows as one probe.
	vipProbeGap   = 100 * time.Microsecond
	vipWaitLimit  = 2 * time.Second       // one wait for the change
	vipWaitProbes = 100_000               // probes in one wait, at most
	vipFirstLimit = 5 * time.Second       // the first answer after restore
	vipPause      = 50 * time.Millisecond // after a change was seen, before the next one
)

// VIPWatchRow is how fast a responder watching its VIP reacted, seen by a
// client probing it, when the VIP left its interface and when it came
// back (both by netlink from the run, not by ilbvip's actions).
type VIPWatchRow struct {
	Probe   string  // "tcp" (refused: connection refused) or "http" (refused: 503)
	Silent  Summary // from the VIP's deletion to the first refused probe
	Answers Summary // from the VIP's re-add to the first answered probe
	Step    Summary // one probe of the loop (each wait's elapsed time / its probes): the loop's granularity
	Probes  int     // probes sent in all timed waits
	// Waits that ended at their bound without seeing the change; each is
	// counted in Silent or Answers at the time it gave up.
	Unseen int
	// Probes that neither answered nor were refused (a timeout, an
	// unexpected answer), and the first of them.
	Other      int
	FirstOther string
	Elapsed    time.Duration // the mode's whole share of the phase: restore, the runs, remove
}

// SizeRow is the size of one file.
type SizeRow struct {
	Path  string
	Bytes int64
	Note  string
}
