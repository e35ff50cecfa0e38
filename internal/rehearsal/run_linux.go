package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ilbvip/ilbvip/internal/testbed"
	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/lbsim"
)

// Run builds a bed, runs scenarios a (node1 active), b (switchover to
// node2) and c (node2's probe responder stops, its VIP stays), prints the
// transcript to out, and removes every namespace, process and file it made,
// also when ctx is cancelled (Ctrl-C) or a step fails.
func Run(ctx context.Context, o Options, out io.Writer) (err error) {
	begin := time.Now()
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	kit, vip, err := o.kit()
	if err != nil {
		return err
	}
	if o.Prefix == "" {
		o.Prefix = "ilbvip-demo-"
	}
	bed, err := testbed.New(testbed.Options{Prefix: o.Prefix, VIP: vip, BinDir: o.BinDir})
	if err != nil {
		return err
	}
	defer func() {
		cerr := bed.Close()
		left := bed.Leftovers()
		switch {
		case cerr != nil || len(left) > 0:
			err = errors.Join(err, cerr, fmt.Errorf("left behind: %s", strings.Join(left, ", ")))
		default:
			fmt.Fprintf(out, "\nCleaned up: the 3 network namespaces, every process in them, the nodes' state directories. Took %.1fs.\n", time.Since(begin).Seconds())
		}
	}()
	if err := bed.SetKit(kit.Kit); err != nil {
		return err
	}
	lb := lbsim.Config{Interval: o.Interval, Timeout: o.Timeout, Threshold: o.Threshold, Protocol: kit.protocol, Path: kit.path}
	if o.Protocol != "" {
		lb.Protocol = o.Protocol
	}
	if o.Path != "" {
		lb.Path = o.Path
	}
	if lb.Interval == 0 {
		lb.Interval = 500 * time.Millisecond
	}
	port := kit.port
	if o.ProbePort != 0 {
		port = o.ProbePort
	}
	r, err := Start(bed, lb, port, out)
	if err != nil {
		return err
	}
	r.header(kit, port)
	n1, n2 := bed.Node("node1"), bed.Node("node2")
	var sum []string
	fail := func(scenario string, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s", scenario)
		}
		return fmt.Errorf("scenario %s: %w", scenario, err)
	}

	r.Heading("a) node1 active: restore on node1; the client fetches the page through the VIP")
	a, err := r.Activate(ctx, n1)
	if err != nil {
		return fail("a", err)
	}
	sum = append(sum, fmt.Sprintf("a) node1 answered; the LB sent it the VIP's traffic %s after restore began", ms(a.Routed)))

	r.Heading("b) switchover: remove on node1, then restore on node2 (a client asks every 20ms)")
	s, err := r.Switchover(ctx, n1, n2)
	if err != nil {
		return fail("b", err)
	}
	verdict := "within"
	if s.FirstNew > r.Bound() {
		verdict = "OVER"
	}
	sum = append(sum, fmt.Sprintf("b) switchover %s (remove began -> first answer from node2), no answer for %s: %s the limit %s (interval %s x threshold %d + 1s)",
		ms(s.FirstNew), ms(s.Gap), verdict, ms(r.Bound()), r.LB.Interval, r.LB.Threshold))

	r.Heading("c) node2's probe responder stops, its VIP stays (the article's deleted health-check resource)")
	l, err := r.LoseProbe(ctx, n2)
	if err != nil {
		return fail("c", err)
	}
	sum = append(sum, fmt.Sprintf("c) the LB marked node2 down %s after its responder stopped; the client got no answer although node2 held the VIP", ms(l.Down)))
	if _, err := r.action(ctx, n2, "remove", 0); err != nil { // the kit's own clean-up: the VIP goes
		return fail("c", err)
	}
	if err := bed.StopLB(); err != nil {
		return fmt.Errorf("lb simulator: %w", err)
	}
	two := r.TwoHealthy()
	if len(two) == 0 {
		sum = append(sum, "never two healthy backends at once")
	} else {
		sum = append(sum, fmt.Sprintf("TWO HEALTHY BACKENDS AT ONCE: %v", two))
	}
	r.Heading("Summary")
	for _, line := range sum {
		r.Printf("  %s\n", line)
	}
	if len(two) > 0 || s.FirstNew > r.Bound() {
		return errors.New("the rehearsal broke the rules above")
	}
	return nil
}

// kitPlan is the kit's side of the rehearsal.
type kitPlan struct {
	testbed.Kit
	port           uint16
	protocol, path string
	describe       string
}

// kit works out the kit's settings: from the admin's file (validated by
// the kit's own loader) or from o.Settings.
func (o Options) kit() (kitPlan, netip.Addr, error) {
	vip := testbed.DefaultVIP
	if o.ConfigFile == "" {
		set := map[string]string{"port": "12345"}
		for k, v := range o.Settings {
			if v != "" {
				set[k] = v
			}
		}
		p, err := strconv.ParseUint(set["port"], 10, 16)
		if err != nil || p == 0 {
			return kitPlan{}, vip, fmt.Errorf("port %q: use 1-65535", set["port"])
		}
		k := kitPlan{Kit: testbed.Kit{Tag: o.Tag, Settings: set}, port: uint16(p), protocol: set["protocol"], path: set["http_path"]}
		k.describe = describe(set)
		return k, vip, nil
	}
	tag := o.Tag
	if tag == "" {
		tag = strings.TrimSuffix(filepath.Base(o.ConfigFile), ".yaml")
	}
	cfg, err := config.Load(config.Sources{
		Flags:      map[string]string{"tag": tag},
		Env:        func(string) (string, bool) { return "", false },
		ConfigFile: o.ConfigFile,
		Euid:       os.Geteuid(),
	})
	if err != nil {
		return kitPlan{}, vip, fmt.Errorf("%s: %w", o.ConfigFile, err)
	}
	if cfg.HasVIP() {
		if !cfg.VIP.Is4() {
			return kitPlan{}, vip, fmt.Errorf("vip %s (from %s): the rehearsal is IPv4 only for now", cfg.VIP, o.ConfigFile)
		}
		vip = cfg.VIP
	}
	k := kitPlan{
		Kit:      testbed.Kit{Tag: tag, File: o.ConfigFile, Bind: cfg.Bind.IsValid()},
		port:     cfg.Port,
		protocol: cfg.Protocol,
		path:     cfg.HTTPPath,
	}
	set := map[string]string{"port": strconv.Itoa(int(cfg.Port)), "protocol": cfg.Protocol}
	if cfg.Protocol == "http" {
		set["http_path"] = cfg.HTTPPath
	}
	if cfg.Drain > 0 {
		set["drain"] = cfg.Drain.String()
	}
	k.describe = o.ConfigFile + " (" + describe(set) + "; vip, interface, state_dir, allow set by the test bed)"
	return k, vip, nil
}

func describe(set map[string]string) string {
	var parts []string
	for _, k := range []string{"port", "protocol", "http_path", "message", "drain"} {
		if v, ok := set[k]; ok {
			parts = append(parts, k+" "+v)
		}
	}
	return strings.Join(parts, ", ")
}

func (r *Rehearsal) header(k kitPlan, port uint16) {
	b := r.Bed
	probe := r.LB.Protocol
	if probe == "http" {
		probe += " GET " + r.LB.Path
	}
	r.Printf("ilbvip failover rehearsal: two nodes behind a simulated cloud internal load balancer with Floating IP\n")
	r.Printf("  client+LB  probes %s on port %d of each node every %s (timeout %s); %d results in a row flip a backend\n",
		probe, port, r.LB.Interval, r.LB.Timeout, r.LB.Threshold)
	r.Printf("             VIP %s is routed, unchanged, to one healthy node; dropped when none is\n", b.Opts.VIP)
	for _, n := range b.Nodes {
		r.Printf("  %-10s backend NIC %s %s, VIP NIC %s, web page on %s:%d says %q\n", n.Name, testbed.BackendNIC, n.Addr, testbed.VIPNIC, b.Opts.VIP, b.Opts.WebPort, n.Name)
	}
	var lbs []string
	for _, n := range b.Nodes {
		lbs = append(lbs, n.LBAddr.String())
	}
	r.Printf("  kit        resource %q: %s\n", b.Nodes[0].Tag(), k.describe)
	r.Printf("             each node: vip %s on %s, allow %s (the LB's addresses), its own state_dir\n",
		b.Opts.VIP, testbed.VIPNIC, strings.Join(lbs, ","))
}
