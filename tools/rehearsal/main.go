// Command rehearsal runs the failover rehearsal of `make demo`: two nodes in
// network namespaces behind the load-balancer simulator with one cloud's
// rules: node1 active, a switchover to node2 and back, node1's responder
// killed and recovered, then the cloud's scenario that shows why its
// load-balancer setting matters. It prints a transcript, writes the
// timeline as an SVG picture and removes everything it made. Root only.
//
//	rehearsal [--cloud azure|gcp|aws] [-c /etc/ilbvip/TAG.yaml] [--interval 500ms] [--threshold 2] [--svg FILE] ...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ilbvip/ilbvip/internal/rehearsal"
)

func main() {
	var o rehearsal.Options
	var port uint
	var probePort uint
	var proto, path string
	fs := flag.NewFlagSet("rehearsal", flag.ContinueOnError)
	fs.StringVar(&o.ConfigFile, "c", "", "an ilbvip config file to rehearse with (the test bed sets vip if absent, interface, state_dir, allow)")
	fs.StringVar(&o.Tag, "t", "", "the resource's tag (default: the config file's name without .yaml, else \"vip\")")
	fs.UintVar(&port, "port", 12345, "without -c: the kit's probe port")
	fs.StringVar(&proto, "protocol", "tcp", "without -c: the kit's probe protocol, tcp or http")
	fs.StringVar(&path, "http-path", "", "without -c: the kit's http_path (protocol http)")
	fs.DurationVar(&o.Interval, "interval", 0, "the LB's probe interval (default 500ms)")
	fs.DurationVar(&o.Timeout, "timeout", 0, "the LB's probe timeout (default: half the interval)")
	fs.IntVar(&o.Threshold, "threshold", 0, "probe results in a row that flip a backend (default 2)")
	fs.UintVar(&probePort, "probe-port", 0, "the LB's probe port (default: the kit's port)")
	fs.StringVar(&o.Protocol, "probe-protocol", "", "the LB's probe protocol, tcp or http (default: the kit's)")
	fs.StringVar(&o.Path, "probe-path", "", "the LB's HTTP probe path (default: the kit's http_path)")
	fs.StringVar(&o.Cloud, "cloud", "azure", "the load balancer's cloud: azure, gcp or aws")
	fs.BoolVar(&o.IPv6, "ipv6", false, "azure: rehearse an IPv6 VIP (fd00:5::200) on a dual-stack bed, probed from fe80::1234:5678:9abc")
	fs.StringVar(&o.SVG, "svg", "", "where to write the timeline picture (default $TMPDIR/ilbvip-rehearsal-CLOUD.svg; - for none)")
	fs.StringVar(&o.BinDir, "bin", "", "directory of restore, remove, quickCheck, recover (default: this program's directory)")
	fs.SetOutput(io.Discard) // a bad flag is one line, not the whole usage
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "rehearsal: %v (see -h)\n", err)
		os.Exit(2)
	}
	if fs.NArg() > 0 || port == 0 || port > 65535 || probePort > 65535 {
		fmt.Fprintln(os.Stderr, "rehearsal: bad arguments: ports are 1-65535 and no positional arguments are taken (see -h)")
		os.Exit(2)
	}
	o.ProbePort = uint16(probePort)
	if o.ConfigFile == "" {
		o.Settings = map[string]string{"port": fmt.Sprint(port), "protocol": proto, "http_path": path}
	}
	if o.BinDir == "" {
		if exe, err := os.Executable(); err == nil {
			o.BinDir = filepath.Dir(exe)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rehearsal.Run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "rehearsal: %v\n", err)
		switch {
		case errors.Is(err, rehearsal.ErrUsage):
			os.Exit(2)
		case errors.Is(err, rehearsal.ErrNotRoot):
			os.Exit(4)
		}
		os.Exit(1)
	}
}
