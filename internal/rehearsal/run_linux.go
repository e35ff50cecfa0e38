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

	"github.com/ilbvip/ilbvip/internal/lbsim"
	"github.com/ilbvip/ilbvip/internal/testbed"
	"github.com/ilbvip/ilbvip/pkg/config"
)

// Run builds a bed and rehearses o's cloud: a) node1 active, b) a
// switchover to node2 and c) back, d) kill -9 of node1's responder and
// recover, then e) the cloud's scenario that shows why its load-balancer
// setting matters (see Rehearsal.Why). It prints the transcript to out,
// writes the timeline picture (o.SVG) and removes every namespace, process
// and file it made, also when ctx is cancelled (Ctrl-C) or a step fails.
func Run(ctx context.Context, o Options, out io.Writer) (err error) {
	begin := time.Now()
	// Bad arguments first: they are wrong with or without root.
	cloud, err := o.cloud()
	if err != nil {
		return err
	}
	kit, vip, err := o.kit(cloud)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	if o.Prefix == "" {
		o.Prefix = "ilbvip-demo-"
	}
	bed, err := testbed.New(testbed.Options{Prefix: o.Prefix, VIP: vip, BinDir: o.BinDir})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanUp(bed, begin, out); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := bed.SetKit(kit.Kit); err != nil {
		return err
	}
	r, err := Start(bed, o.lb(cloud, kit, bed), o.probePort(kit), out)
	if err != nil {
		return err
	}
	r.titles(cloud)
	r.header(kit, o.probePort(kit))
	sum, err := r.rehearse(ctx)
	defer r.writeSVG(o.svgPath(cloud), out)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		return err
	}
	return r.conclude(sum)
}

// cleanUp closes the bed and says so, or returns what it left behind.
func cleanUp(bed *testbed.Bed, begin time.Time, out io.Writer) error {
	cerr := bed.Close()
	if left := bed.Leftovers(); cerr != nil || len(left) > 0 {
		return errors.Join(cerr, fmt.Errorf("left behind: %s", strings.Join(left, ", ")))
	}
	fmt.Fprintf(out, "\nCleaned up: the 3 network namespaces, every process in them, the nodes' state directories. Took %.1fs.\n", time.Since(begin).Seconds())
	return nil
}

// titles names the timeline picture after the cloud and its LB settings.
func (r *Rehearsal) titles(cloud string) {
	r.TL.Title = "ilbvip failover rehearsal: " + cloudTitle(cloud)
	r.TL.Subtitle = fmt.Sprintf("%s; probe every %s, threshold %d. Bands: each node's probe state and the actions on it; where the LB sends new connections; each client request.",
		describeLB(r.LB), r.LB.Interval, r.LB.Threshold)
}

// rehearse runs the scenarios and returns the summary's lines.
func (r *Rehearsal) rehearse(ctx context.Context) ([]string, error) {
	n1, n2 := r.Bed.Node("node1"), r.Bed.Node("node2")
	var sum []string
	r.Heading("a) node1 active: restore on node1; the client fetches the page through the %s", r.front())
	a, err := r.Activate(ctx, n1)
	if err != nil {
		return sum, fmt.Errorf("scenario a: %w", err)
	}
	sum = append(sum, fmt.Sprintf("a) node1 answered; the LB sent it the traffic %s after restore began", ms(a.Routed)))
	for _, step := range []struct {
		name     string
		from, to *testbed.Node
	}{{"b", n1, n2}, {"c", n2, n1}} {
		r.Heading("%s) switchover: remove on %s, then restore on %s (a client asks every 20ms)", step.name, step.from.Name, step.to.Name)
		s, err := r.Switchover(ctx, step.from, step.to)
		if err != nil {
			return sum, fmt.Errorf("scenario %s: %w", step.name, err)
		}
		sum = append(sum, r.switchLine(step.name, step.to.Name, s))
	}
	r.Heading("d) kill -9: node1's probe responder is killed; recover brings it back")
	d, err := r.Crash(ctx, n1)
	if err != nil {
		return sum, fmt.Errorf("scenario d: %w", err)
	}
	sum = append(sum, fmt.Sprintf("d) the LB marked node1 down %s after kill -9; recover took %s, traffic back %s after it began", ms(d.Down), ms(d.Recover), ms(d.Back)))
	r.Heading("e) why it matters (%s): %s", cloudTitle(r.LB.Cloud), whyTitle(r.LB.Cloud))
	u, err := r.Why(ctx, n1, n2)
	if err != nil {
		return sum, fmt.Errorf("scenario e: %w", err)
	}
	return append(sum, whyLine(r.LB.Cloud, u)), nil
}

func (r *Rehearsal) switchLine(name, to string, s Switch) string {
	verdict := "within"
	if s.FirstNew > r.Bound() {
		verdict = "OVER"
	}
	line := fmt.Sprintf("%s) switchover %s (remove began -> first answer from %s), no answer for %s: %s the limit %s (interval %s x threshold %d + 1s)",
		name, ms(s.FirstNew), to, ms(s.Gap), verdict, ms(r.Bound()), r.LB.Interval, r.LB.Threshold)
	if s.OldAfter > 0 {
		line += fmt.Sprintf("; the old node answered %d times after that: %s", s.OldAfter, r.Sim.Rules().Why)
	}
	return line
}

// conclude stops the LB and prints the summary; an error when a rule was
// broken.
func (r *Rehearsal) conclude(sum []string) error {
	if err := r.Bed.StopLB(); err != nil {
		return fmt.Errorf("lb simulator: %w", err)
	}
	two := r.TwoHealthy()
	if len(two) == 0 {
		sum = append(sum, "never two healthy backends at once")
	} else {
		sum = append(sum, fmt.Sprintf("TWO HEALTHY BACKENDS AT ONCE: %v", two))
	}
	r.Heading("Summary")
	over := false
	for _, line := range sum {
		r.Printf("  %s\n", line)
		over = over || strings.Contains(line, ": OVER the limit")
	}
	if len(two) > 0 || over {
		return errors.New("the rehearsal broke the rules above")
	}
	return nil
}

// writeSVG writes the timeline picture and says where.
func (r *Rehearsal) writeSVG(path string, out io.Writer) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err == nil {
		r.TL.WriteSVG(f, time.Now())
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintf(out, "\nTimeline: not written: %v\n", err)
		return
	}
	fmt.Fprintf(out, "\nTimeline: %s\n", path)
}

// kitPlan is the kit's side of the rehearsal.
type kitPlan struct {
	testbed.Kit
	port           uint16
	protocol, path string
	describe       string
}

// kit works out the kit's settings: from the admin's file (validated by
// the kit's own loader) or from o.Settings. Behind an AWS Network Load
// Balancer, which has no Floating IP, the kit runs as a responder only.
func (o Options) kit(cloud string) (kitPlan, netip.Addr, error) {
	vip := testbed.DefaultVIP
	noVIP := cloud == lbsim.AWS
	if o.IPv6 {
		if cloud != lbsim.Azure {
			return kitPlan{}, vip, usagef("--ipv6: the IPv6 rehearsal is Azure's (use --cloud azure)")
		}
		vip = testbed.DefaultVIP6
	}
	if o.ConfigFile == "" {
		set := map[string]string{"port": "12345"}
		if o.IPv6 {
			set["allow"] = lbsim.AzureProbe6.String()
		}
		for k, v := range o.Settings {
			if v != "" {
				set[k] = v
			}
		}
		p, err := strconv.ParseUint(set["port"], 10, 16)
		if err != nil || p == 0 {
			return kitPlan{}, vip, usagef("port %q: use 1-65535", set["port"])
		}
		k := kitPlan{Kit: testbed.Kit{Tag: o.Tag, Settings: set, NoVIP: noVIP}, port: uint16(p), protocol: set["protocol"], path: set["http_path"]}
		k.describe = describe(set)
		return k, vip, nil
	}
	return o.kitFromFile(cloud, vip)
}

// kitFromFile is kit for an admin's own config file.
func (o Options) kitFromFile(cloud string, vip netip.Addr) (kitPlan, netip.Addr, error) {
	noVIP := cloud == lbsim.AWS
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
		return kitPlan{}, vip, &usageError{fmt.Errorf("%s: %w", o.ConfigFile, err)}
	}
	if cfg.HasVIP() {
		switch {
		case noVIP:
			return kitPlan{}, vip, usagef("vip %s (from %s): an AWS Network Load Balancer has no Floating IP, so a VIP on the node carries none of its traffic: leave vip unset (responder only)", cfg.VIP, o.ConfigFile)
		case cfg.VIP.Is6() && cloud != lbsim.Azure:
			return kitPlan{}, vip, usagef("vip %s (from %s): the rehearsal has IPv6 for Azure only", cfg.VIP, o.ConfigFile)
		}
		vip = cfg.VIP
	}
	k := kitPlan{
		Kit:      testbed.Kit{Tag: tag, File: o.ConfigFile, Bind: cfg.Bind.IsValid(), NoVIP: noVIP},
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
	set2 := "vip, interface, state_dir, allow set by the test bed"
	if noVIP {
		set2 = "state_dir, allow set by the test bed; no vip: responder only"
	}
	if cfg.Bind.IsValid() && !cfg.Bind.IsUnspecified() {
		// The file's bind is an address of the admin's node, not of the bed.
		set2 += fmt.Sprintf("; bind %s replaced by the node's backend address", cfg.Bind)
	}
	k.describe = o.ConfigFile + " (" + describe(set) + "; " + set2 + ")"
	return k, vip, nil
}

// lb is the load balancer of the rehearsal: the admin's probe settings and
// the cloud's reference settings.
func (o Options) lb(cloud string, k kitPlan, bed *testbed.Bed) lbsim.Config {
	lb := lbsim.Config{Cloud: cloud, Interval: o.Interval, Timeout: o.Timeout, Threshold: o.Threshold, Protocol: k.protocol, Path: k.path}
	if o.Protocol != "" {
		lb.Protocol = o.Protocol
	}
	if o.Path != "" {
		lb.Path = o.Path
	}
	if lb.Interval == 0 {
		lb.Interval = 500 * time.Millisecond // short, not the cloud's: a demo
	}
	if lb.Threshold == 0 {
		lb.Threshold = 2 // both directions, on every cloud: the bound below stays one number
	}
	if lb.Timeout == 0 {
		// The simulator applies a round's results together, when its
		// slowest probe ends: a probe that times out (Google Cloud's to a
		// node without the VIP) would hold back the other's result by a
		// whole interval.
		lb.Timeout = lb.Interval / 2
	}
	switch cloud {
	case lbsim.GCP:
		lb.DropTrafficIfUnhealthy = true
	case lbsim.AWS:
		lb.Listeners = []uint16{bed.Opts.WebPort}
	}
	return lb
}

func (o Options) probePort(k kitPlan) uint16 {
	if o.ProbePort != 0 {
		return o.ProbePort
	}
	return k.port
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
	to := fmt.Sprintf("port %d of each node", port)
	if r.Sim.Rules().ProbeToVIP {
		to = fmt.Sprintf("port %d of the VIP, through each node", port)
	}
	r.Printf("ilbvip failover rehearsal: two nodes behind a simulated %s\n", describeLB(r.LB))
	r.Printf("  client+LB  probes %s on %s every %s (timeout %s); %d results in a row flip a backend\n",
		probe, to, r.LB.Interval, r.LB.Timeout, r.LB.Threshold)
	if r.Sim.Rules().FloatingIP {
		r.Printf("             VIP %s is routed, unchanged, to one healthy node; %s when none is\n", b.Opts.VIP, noneText(r.Sim.Rules()))
	} else {
		r.Printf("             the NLB's frontend %s is proxied to one healthy node's own address; to every node when none is healthy\n", netip.AddrPortFrom(b.Opts.VIP, b.Opts.WebPort))
	}
	for _, n := range b.Nodes {
		if !r.Sim.Rules().FloatingIP {
			r.Printf("  %-10s backend NIC %s %s, web page on %s says %q\n", n.Name, testbed.BackendNIC, n.Addr, netip.AddrPortFrom(n.Addr, b.Opts.WebPort), n.Name)
			continue
		}
		r.Printf("  %-10s backend NIC %s %s, VIP NIC %s, web page on %s says %q\n", n.Name, testbed.BackendNIC, n.Addr, testbed.VIPNIC,
			netip.AddrPortFrom(b.Opts.VIP, b.Opts.WebPort), n.Name)
	}
	var lbs []string
	for _, n := range b.Nodes {
		lbs = append(lbs, n.LBAddr.String())
	}
	allow := strings.Join(lbs, ",") + " (the LB's addresses)"
	if a := k.Settings["allow"]; a == lbsim.AzureProbe6.String() {
		allow = a + " (Azure's IPv6 probe source)"
	} else if a != "" {
		allow = a
	}
	r.Printf("  kit        resource %q: %s\n", b.Nodes[0].Tag(), k.describe)
	if k.NoVIP {
		r.Printf("             each node: no vip (responder only), allow %s, its own state_dir\n", allow)
		return
	}
	r.Printf("             each node: vip %s on %s, allow %s, its own state_dir\n", b.Opts.VIP, testbed.VIPNIC, allow)
}

func noneText(r lbsim.Rules) string {
	if r.ToAllWhenNoneHealthy {
		return "sent to every node (" + r.Why + ")"
	}
	return "dropped"
}
