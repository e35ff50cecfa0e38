package bench

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Options is one run's settings; DefaultOptions are make bench's.
type Options struct {
	Bin     string // directory with restore, remove, quickCheck, recover (built by make build)
	Agent   string // ilbvip's OCF agent (kit/ocf/ilbvip)
	Command string // the command line to record in the results

	Cycles     int           // timed cycles per ilbvip subject (after one warm-up)
	PairCycles int           // timed cycles per reference pair
	PhaseLimit time.Duration // a subject's cycles stop after this (with at least 3 done)

	Monitors     int           // monitors per subject for the monitoring cost
	IdleWindow   time.Duration // how long the listeners' idle CPU is watched
	ProbeRun     time.Duration // one load-generator run
	ProbeMax     int           // probes per load-generator run at most
	Workers      []int         // concurrent probing clients
	IdleConns    []int         // idle connections held open during a run
	RSSProbes    int           // probes before the responder's memory is read
	RSSLimit     time.Duration // bound on that run
	ProbeTimeout time.Duration // a probe unanswered after this has failed
	VIPRuns      int           // times the VIP is deleted and re-added under a watching responder, per probe mode

	Log io.Writer `json:"-"` // progress lines
}

// DefaultOptions are the settings of make bench.
func DefaultOptions() Options {
	return Options{
		Bin:          "bin",
		Agent:        "kit/ocf/ilbvip",
		Command:      "make bench",
		Cycles:       30,
		PairCycles:   10,
		PhaseLimit:   3 * time.Minute,
		Monitors:     30,
		IdleWindow:   20 * time.Second,
		ProbeRun:     3 * time.Second,
		ProbeMax:     300_000,
		Workers:      []int{4, 16},
		IdleConns:    []int{0, 100, 1000},
		RSSProbes:    1_000_000,
		RSSLimit:     5 * time.Minute,
		ProbeTimeout: 2 * time.Second,
		VIPRuns:      30,
	}
}

// Check validates the options: every loop they drive must stay bounded.
func (o *Options) Check() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.Cycles < 1 || o.Cycles > 1000 {
		bad("cycles %d: use 1-1000", o.Cycles)
	}
	if o.PairCycles < 1 || o.PairCycles > 100 {
		bad("pair cycles %d: use 1-100", o.PairCycles)
	}
	if o.PhaseLimit < time.Second || o.PhaseLimit > time.Hour {
		bad("phase limit %v: use 1s-1h", o.PhaseLimit)
	}
	if o.Monitors < 1 || o.Monitors > 1000 {
		bad("monitors %d: use 1-1000", o.Monitors)
	}
	if o.IdleWindow < time.Second || o.IdleWindow > 10*time.Minute {
		bad("idle window %v: use 1s-10m", o.IdleWindow)
	}
	if o.ProbeRun < 100*time.Millisecond || o.ProbeRun > 5*time.Minute {
		bad("probe run %v: use 100ms-5m", o.ProbeRun)
	}
	if o.ProbeMax < 1 || o.ProbeMax > 10_000_000 {
		bad("probe max %d: use 1-10000000", o.ProbeMax)
	}
	if o.RSSProbes < 1 || o.RSSProbes > 10_000_000 {
		bad("rss probes %d: use 1-10000000", o.RSSProbes)
	}
	if o.RSSLimit < time.Second || o.RSSLimit > time.Hour {
		bad("rss limit %v: use 1s-1h", o.RSSLimit)
	}
	if o.ProbeTimeout <= time.Second || o.ProbeTimeout > time.Minute {
		bad("probe timeout %v: use more than 1s (the 1 s share needs it), at most 1m", o.ProbeTimeout)
	}
	if o.VIPRuns < 1 || o.VIPRuns > 1000 {
		bad("vip runs %d: use 1-1000", o.VIPRuns)
	}
	for _, w := range o.Workers {
		if w < 1 || w > 1024 {
			bad("workers %d: use 1-1024", w)
		}
	}
	for _, n := range o.IdleConns {
		if n < 0 || n > 10000 {
			bad("idle connections %d: use 0-10000", n)
		}
	}
	if len(o.Workers) == 0 || len(o.IdleConns) == 0 {
		bad("workers and idle connections need at least one value each")
	}
	return errors.Join(errs...)
}
