// Command lbsim runs the load-balancer simulator (internal/lbsim) in the current
// network namespace, with one cloud's rules: it probes the backends, routes
// the VIP to one healthy backend (a VIP/32 route; a blackhole, or every
// backend, when none is healthy; a proxy to the target's own address for
// AWS) and logs every transition. Run it inside a namespace, as root; it
// refuses the host's own, and any it cannot tell apart from the host's:
//
//	ip netns exec LB lbsim --vip 10.10.5.200 \
//	    --backend node1=10.0.1.2:12345 --backend node2=10.0.2.2:12345 \
//	    --interval 500ms --threshold 2 --duration 60s
//	ip netns exec LB lbsim --cloud gcp --drop-traffic-if-unhealthy ...
//	ip netns exec LB lbsim --cloud aws --listener 80 ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/lbsim"
	"github.com/ilbvip/ilbvip/internal/netnsrun"
)

type backends []lbsim.Backend

type ports []uint16

func (p *ports) String() string { return fmt.Sprint(*p) }
func (p *ports) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%q is not a port: use 1-65535", s)
	}
	*p = append(*p, uint16(n))
	return nil
}

func (b *backends) String() string { return fmt.Sprint(*b) }
func (b *backends) Set(s string) error {
	be, err := lbsim.ParseBackend(s)
	if err != nil {
		return err
	}
	*b = append(*b, be)
	return nil
}

func main() {
	var cfg lbsim.Config
	var vip string
	var duration time.Duration
	var bs backends
	var listeners ports
	fs := flagSet(&cfg, &vip, &duration, &bs, &listeners)
	fs.SetOutput(io.Discard) // a bad argument is one line, not the whole usage
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.Usage()
			os.Exit(0) // asked for: nothing is wrong
		}
		fmt.Fprintf(os.Stderr, "lbsim: %v (see -h)\n", err)
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "lbsim: unexpected argument %q (see -h)\n", fs.Arg(0))
		os.Exit(2)
	}
	var err error
	if cfg.VIP, err = netip.ParseAddr(vip); err != nil {
		fmt.Fprintf(os.Stderr, "lbsim: --vip %q: give the frontend IP, for example --vip 10.10.5.200\n", vip)
		os.Exit(2)
	}
	cfg.Backends, cfg.Listeners = bs, listeners
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000"})
	cfg.Log = log
	sim, err := lbsim.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lbsim: %s\n", strings.TrimPrefix(err.Error(), "lbsim: "))
		os.Exit(2)
	}
	// It sets routes: never in the host's own namespace, only in one made
	// for the purpose; when that cannot be told, not at all (fail closed).
	if err := netnsrun.NotHost(netns.None()); err != nil {
		fmt.Fprintf(os.Stderr, "lbsim: %v (it would route the VIP there): run it inside a namespace, ip netns exec LB lbsim ...\n", err)
		os.Exit(4)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	if err := sim.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "lbsim: %v\n", err)
		os.Exit(1)
	}
}

// flagSet declares the command line into cfg and the other targets.
func flagSet(cfg *lbsim.Config, vip *string, duration *time.Duration, bs *backends, listeners *ports) *flag.FlagSet {
	fs := flag.NewFlagSet("lbsim", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ip netns exec LB lbsim --vip IP --backend NAME=ADDR:PORT ... [flags]

lbsim simulates a cloud load balancer: it probes the backends and routes the
VIP. It must run inside a network namespace made for it (ip netns exec): it
refuses the host's own namespace, and any it cannot tell apart from it (exit 4).

`)
		fs.PrintDefaults()
	}
	fs.StringVar(vip, "vip", "", "the frontend IP (required)")
	fs.Var(bs, "backend", "a backend as name=address:port (probe port); repeat for each")
	fs.StringVar(&cfg.Protocol, "protocol", "tcp", "probe protocol: tcp (handshake) or http (GET; healthy on 200, AWS 200-399)")
	fs.StringVar(&cfg.Path, "path", "/", "http: the probe's path")
	fs.DurationVar(&cfg.Interval, "interval", 0, "probe interval (default: the cloud's, azure and gcp 5s, aws 30s)")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "one probe at most (default: the interval)")
	fs.IntVar(&cfg.Threshold, "threshold", 0, "results in a row that flip a backend up or down, both directions (default: the cloud's)")
	fs.IntVar(&cfg.HealthyThreshold, "healthy-threshold", 0, "successes in a row that bring a backend up (default: --threshold, else the cloud's: azure and gcp 2, aws 5)")
	fs.IntVar(&cfg.UnhealthyThreshold, "unhealthy-threshold", 0, "failures in a row that take a backend down (default: --threshold, else the cloud's: 2)")
	fs.StringVar(&cfg.Cloud, "cloud", "azure", "the cloud's rules: azure, gcp or aws")
	fs.StringVar(&cfg.NoHealthyBackendsBehavior, "no-healthy-backends-behavior", "", "azure: AllProbedDown (default: drop) or AllProbedUp (send to every backend)")
	fs.BoolVar(&cfg.DropTrafficIfUnhealthy, "drop-traffic-if-unhealthy", false, "gcp: a failover policy with dropTrafficIfUnhealthy (default: none, so every backend gets traffic when none is healthy)")
	fs.Var(listeners, "listener", "aws: a Network Load Balancer listener port, proxied to the target's own address; repeat for each")
	fs.DurationVar(duration, "duration", 0, "stop after this long (default: until SIGINT/SIGTERM)")
	return fs
}
