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

// SizeRow is the size of one file.
type SizeRow struct {
	Path  string
	Bytes int64
	Note  string
}
