// Command bench measures ilbvip side by side with IPaddr2 + azure-lb (nc,
// socat) in network namespaces it creates, and prints the results as
// markdown (internal/bench). make bench runs it through scripts/bench.sh,
// as root:
//
//	bench [-quick] [-cycles 30] [-pair-cycles 10] [-json results.json] ... > results.md
//
// -json also writes the results, and the targets judged from them, as JSON;
// "bench render results.json > results.md" renders such a file again as
// markdown without running anything. "bench load SPEC-JSON" is the load
// generator the run starts inside the client namespace.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ilbvip/ilbvip/internal/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "load" {
		if err := bench.LoadMain(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench load:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "render" {
		if err := render(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench render:", err)
			os.Exit(1)
		}
		return
	}
	o, jsonPath := options()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, o)
	if err == nil && jsonPath != "" {
		err = writeJSON(res, jsonPath)
	}
	if err == nil {
		err = res.Markdown(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	}
}

// options are the run's settings from the command line, and the path of
// the JSON results file ("" for none).
func options() (bench.Options, string) {
	o := bench.DefaultOptions()
	o.Log = os.Stderr
	workers, idle := ints(o.Workers), ints(o.IdleConns)
	jsonPath := flag.String("json", "", "also write the results and targets as JSON to this file")
	quick := flag.Bool("quick", false, "a short smoke run: few cycles, short windows, 20,000 probes for memory")
	flag.StringVar(&o.Bin, "bin", o.Bin, "directory with ilbvip's restore, remove, quickCheck and recover")
	flag.StringVar(&o.Agent, "agent", o.Agent, "ilbvip's OCF agent")
	flag.StringVar(&o.Command, "command", o.Command, "the command line recorded in the results")
	flag.IntVar(&o.Cycles, "cycles", o.Cycles, "timed cycles per ilbvip implementation")
	flag.IntVar(&o.PairCycles, "pair-cycles", o.PairCycles, "timed cycles per reference pair")
	flag.DurationVar(&o.PhaseLimit, "phase-limit", o.PhaseLimit, "an implementation's cycles stop after this (at least 3)")
	flag.IntVar(&o.Monitors, "monitors", o.Monitors, "monitors per implementation for the monitoring cost")
	flag.DurationVar(&o.IdleWindow, "idle-window", o.IdleWindow, "how long the idle listeners' CPU is watched")
	flag.DurationVar(&o.ProbeRun, "probe-run", o.ProbeRun, "duration of one load-generator run")
	flag.IntVar(&o.ProbeMax, "probe-max", o.ProbeMax, "probes per load-generator run at most")
	flag.Var(&workers, "workers", "comma-separated numbers of concurrent probing clients")
	flag.Var(&idle, "idle", "comma-separated numbers of idle connections held open")
	flag.IntVar(&o.RSSProbes, "rss-probes", o.RSSProbes, "probes before the responder's memory is read")
	flag.DurationVar(&o.RSSLimit, "rss-limit", o.RSSLimit, "bound on the memory run")
	flag.IntVar(&o.VIPRuns, "vip-runs", o.VIPRuns, "VIP delete/re-add runs per probe mode (the responder's reaction)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected argument %q (see -help)\n", flag.Arg(0))
		os.Exit(2)
	}
	if *quick {
		o.Cycles, o.PairCycles, o.Monitors = 5, 3, 5
		o.IdleWindow, o.ProbeRun, o.RSSProbes = 3*time.Second, time.Second, 20000
		o.VIPRuns = 10
	}
	o.Workers, o.IdleConns = workers, idle
	return o, *jsonPath
}

func writeJSON(res *bench.Results, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := res.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// render prints the markdown report of a JSON results file.
func render(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: bench render RESULTS.json")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := bench.ReadJSON(f)
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	return res.Markdown(os.Stdout)
}

// ints is a comma-separated list of integers as a flag.
type ints []int

func (v *ints) String() string {
	s := make([]string, len(*v))
	for i, n := range *v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (v *ints) Set(s string) error {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not a number: use for example 4,16", f)
		}
		out = append(out, n)
	}
	*v = out
	return nil
}
