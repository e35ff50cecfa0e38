// Package doctor diagnoses a node for the cloud and operating-system
// mistakes that break a load-balancer VIP before they cause an outage: the
// probe port blocked by the host firewall or held by another program, a
// probe source missing from allow, TCP timestamps on behind an Azure load
// balancer, strict reverse-path filtering, ARP settings that hide the VIP,
// the VIP already on the node while the resource is stopped or chosen as a
// source address, a load balancer that never probes, and each cloud's
// rules (the cloud parameter, or DMI under auto): where its probes are sent
// and so what bind must be, its probe sources, and what a VIP means there.
// It only reads:
// nothing on the node is changed, and nothing is sent off the node unless
// the caller asks for an ARP probe (Env.ARPProbe). quickCheck --diagnose
// prints its Report.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/firewall"
	"github.com/ilbvip/ilbvip/pkg/responder"
)

// Status is a check's verdict. Only Fail makes the diagnosis fail.
type Status string

// The statuses, mildest first.
const (
	OK   Status = "ok"   // as it should be
	Skip Status = "skip" // does not apply here, or not checked on this OS
	Info Status = "info" // worth knowing, not known to break anything
	Warn Status = "warn" // likely to break the VIP, or could not be decided
	Fail Status = "fail" // breaks the VIP
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Found  string `json:"found"`
	Fix    string `json:"fix,omitempty"`
}

// Report is the diagnosis of one resource on this node.
type Report struct {
	Tag    string  `json:"tag"`
	State  string  `json:"state"` // running, stopped, or "failed: why" (checked as stopped)
	Checks []Check `json:"checks"`
}

// Count returns how many checks have status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Failed reports whether any check failed (the exit status is then 1).
func (r *Report) Failed() bool { return r.Count(Fail) > 0 }

// Human renders the report for an admin: a summary line, then one line per
// check (status, name, what was found, how to fix it).
func (r *Report) Human() string {
	var b strings.Builder
	warnings := "warnings"
	if r.Count(Warn) == 1 {
		warnings = "warning"
	}
	fmt.Fprintf(&b, "%s: diagnose (%s): %d failed, %d %s\n", r.Tag, r.State, r.Count(Fail), r.Count(Warn), warnings)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-14s  %s", c.Status, c.Name, c.Found)
		if c.Fix != "" {
			fmt.Fprintf(&b, "; fix: %s", c.Fix)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// JSON renders the report for automation.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// Env is what the checks read, injectable so tests can point it at fixtures
// and at network namespaces of their own. DefaultEnv is the real node.
type Env struct {
	// ProcSys is the sysctl tree ("/proc/sys"); its net/ part belongs to
	// the network namespace of the thread that reads it.
	ProcSys string
	// DMI is the firmware's identification ("/sys/class/dmi/id"), for
	// telling the cloud without a network call; "" skips it.
	DMI string
	// LookPath finds a program (nft, iptables-save); Command runs it,
	// without a shell, and returns its standard output.
	LookPath func(name string) (string, error)
	Command  func(ctx context.Context, path string, args ...string) ([]byte, error)
	// PortHolder names the process listening on a TCP port ("" when none
	// is found); see responder.PortHolder.
	PortHolder func(port uint16) string
	Now        func() time.Time
	// ARPProbe sends one ARP probe for an IPv4 VIP on its interface and
	// waits ARPWait for another host to answer. Off by default: it is the
	// only check that puts a packet on the network.
	ARPProbe bool
	ARPWait  time.Duration
}

// DefaultEnv reads the node itself.
func DefaultEnv() Env {
	return Env{
		ProcSys:    "/proc/sys",
		DMI:        defaultDMI,
		LookPath:   lookPath,
		Command:    runCommand,
		PortHolder: responder.PortHolder,
		Now:        time.Now,
		ARPWait:    time.Second,
	}
}

// lookPath also searches the sbin directories: cluster managers often run
// agents with a PATH without them, and nft and iptables-save live there.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}

// commandTimeout bounds each program the doctor runs.
const commandTimeout = 5 * time.Second

func runCommand(ctx context.Context, path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg != "" {
			return out, fmt.Errorf("%s %s: %w: %s", filepath.Base(path), strings.Join(args, " "), err, msg)
		}
		return out, fmt.Errorf("%s %s: %w", filepath.Base(path), strings.Join(args, " "), err)
	}
	return out, nil
}

// node is what the checks know about the resource on this node.
type node struct {
	c       *config.Config
	env     Env
	running bool
	rec     *daemon.Record // the running responder's pid file
	stats   *daemon.Stats  // its counters, nil when unreadable
	cloud   cloud
	sources []source   // the probe sources the firewall is judged for
	dest    netip.Addr // where the probes are sent, when known (probeDest)
}

// Run diagnoses resource c on this node. It never changes anything; with
// env.ARPProbe it sends one ARP probe.
func Run(ctx context.Context, c *config.Config, env Env) *Report {
	fillDefaults(&env)
	n := &node{c: c, env: env}
	r := &Report{Tag: c.Tag, State: "stopped"}
	rec, err := daemon.ReadRecord(c.StateDir, c.Tag)
	switch {
	case err == nil && daemon.Inspect(rec) == daemon.Running:
		n.running, n.rec = true, rec
		r.State = "running"
		if s, err := daemon.ReadStats(c.StateDir, c.Tag); err == nil && s.Pid == rec.Pid {
			n.stats = s
		}
	case err == nil && daemon.Inspect(rec) != daemon.PreviousBoot:
		// The checks treat it as stopped; quickCheck and recover deal
		// with the dead responder.
		r.State = fmt.Sprintf("failed: responder pid %d is %s", rec.Pid, daemon.Inspect(rec))
	}
	n.cloud = selectCloud(c, env.DMI)
	n.sources, n.dest = probeSources(c, n.cloud), probeDest(c, n.cloud)
	r.Checks = []Check{
		checkConfig(c),
		checkInterface(n),
		cloudBind(n, checkBind, locateBind),
		checkCloud(n.cloud),
		checkAllow(c, n.cloud),
		checkLBConfig(n),
		checkPort(n),
		checkFirewall(ctx, n),
		checkTimestamps(n),
		checkRPFilter(n),
		checkARP(n),
		checkVIPElsewhere(ctx, n),
		checkSource(n),
		checkLBProbes(n),
	}
	r.Checks = append(r.Checks, osChecks(n)...)
	return r
}

func fillDefaults(env *Env) {
	d := DefaultEnv()
	if env.ProcSys == "" {
		env.ProcSys = d.ProcSys
	}
	if env.LookPath == nil {
		env.LookPath = d.LookPath
	}
	if env.Command == nil {
		env.Command = d.Command
	}
	if env.PortHolder == nil {
		env.PortHolder = d.PortHolder
	}
	if env.Now == nil {
		env.Now = d.Now
	}
	if env.ARPWait <= 0 {
		env.ARPWait = d.ARPWait
	}
}

func checkConfig(c *config.Config) Check {
	from := "flags and environment"
	if c.File != "" {
		from = c.File
	}
	what := fmt.Sprintf("%s port %d", c.Protocol, c.Port)
	if c.HasVIP() {
		what += fmt.Sprintf(", vip %s/%d on %s", c.VIP, c.Prefix, c.Interface)
	} else {
		what += ", no vip (responder only)"
	}
	return Check{Name: "config", Status: OK, Found: fmt.Sprintf("valid (%s): %s", from, what)}
}

// checkPort: a stopped resource needs the port free (restore must bind it);
// a running one must hold it with its own responder.
func checkPort(n *node) Check {
	ck := Check{Name: "port"}
	if !portHolderSupported {
		ck.Status, ck.Found = Skip, fmt.Sprintf("tcp port %d: the holder of a port is not looked up on this OS", n.c.Port)
		return ck
	}
	holder := n.env.PortHolder(n.c.Port)
	switch {
	case !n.running && holder == "":
		ck.Status, ck.Found = OK, fmt.Sprintf("tcp port %d is free", n.c.Port)
	case !n.running:
		ck.Status, ck.Found = Fail, fmt.Sprintf("tcp port %d is held by %s while the resource is stopped: restore cannot listen on it", n.c.Port, holder)
		ck.Fix = "stop that program, or move the load balancer's probe and port to a free port"
	case holder == "":
		ck.Status, ck.Found = Fail, fmt.Sprintf("no process is seen listening on tcp port %d although responder pid %d runs", n.c.Port, n.rec.Pid)
		ck.Fix = "run recover (and run the doctor as root: other users cannot see which process holds a port)"
	case holderPid(holder) == n.rec.Pid:
		ck.Status, ck.Found = OK, fmt.Sprintf("tcp port %d is held by our responder %s", n.c.Port, holder)
	default:
		ck.Status, ck.Found = Fail, fmt.Sprintf("tcp port %d is held by %s, not by our responder pid %d", n.c.Port, holder, n.rec.Pid)
		ck.Fix = "stop that program, then run recover"
	}
	return ck
}

// holderPid takes the pid out of responder.PortHolder's "comm (pid N)".
func holderPid(holder string) int {
	i := strings.LastIndex(holder, "(pid ")
	if i < 0 {
		return 0
	}
	var pid int
	if _, err := fmt.Sscanf(holder[i:], "(pid %d)", &pid); err != nil {
		return 0
	}
	return pid
}

// lbQuiet is how long without an external probe makes the doctor warn:
// Azure and GCP probe every 5 s by default, AWS every 10-30 s.
const lbQuiet = 30 * time.Second

func checkLBProbes(n *node) Check {
	ck := Check{Name: "lb_probes"}
	if !n.running {
		ck.Status, ck.Found = Skip, "not running: the load balancer's probes are only answered (and counted) while the resource runs"
		return ck
	}
	return lbProbes(n.stats, n.env.Now(), n.c.Port, quietFor(n.cloud))
}

// lbProbes judges the responder's counters: the load balancer must have
// probed within quiet, unless the responder started less than that ago.
func lbProbes(s *daemon.Stats, now time.Time, port uint16, quiet time.Duration) Check {
	ck := Check{Name: "lb_probes"}
	if s == nil {
		ck.Status, ck.Found = Warn, "cannot read the responder's stats file: the last probe is unknown"
		ck.Fix = "run recover (the responder rewrites its stats file once a second when counters change)"
		return ck
	}
	rejected := ""
	if s.Rejected > 0 {
		rejected = fmt.Sprintf(" (%d refused: sources outside allow, or not the probe request)", s.Rejected)
	}
	fix := fmt.Sprintf("check the load balancer's health probe (tcp %d, this node in its backend pool), the cloud's network security rules for the probe source, allow and the host firewall (see the firewall line)", port)
	if s.LastProbe.IsZero() {
		up := now.Sub(s.Since).Truncate(time.Second)
		if up < quiet {
			ck.Status, ck.Found = OK, fmt.Sprintf("no load-balancer probe yet, but the responder started only %s ago: too early to tell%s", up, rejected)
			return ck
		}
		ck.Status, ck.Found, ck.Fix = Warn, fmt.Sprintf("no load-balancer probe since the responder started %s ago: the load balancer does not probe this node%s", up, rejected), fix
		return ck
	}
	age := now.Sub(s.LastProbe).Truncate(time.Second)
	if age > quiet {
		ck.Status, ck.Found, ck.Fix = Warn, fmt.Sprintf("last load-balancer probe %s ago from %s, none in the last %s%s", age, s.LastSource, quiet, rejected), fix
		return ck
	}
	ck.Status, ck.Found = OK, fmt.Sprintf("last load-balancer probe %s ago from %s, %d answered%s", age, s.LastSource, s.Answered, rejected)
	return ck
}

// source is one probe source the firewall is judged for: a prefix, or any
// host of a family (allow empty and the cloud's sources unknown).
type source = firewall.Source

// probeSources are the sources the load balancer probes from, as far as
// they are known: allow when set, else the cloud's documented sources, else
// any host of the family the probes come in (the VIP's or bind's; IPv4
// when neither says, as the allow check assumes).
func probeSources(c *config.Config, cl cloud) []source {
	var out []source
	for _, p := range c.Allow {
		out = append(out, source{Prefix: p.Masked(), V6: p.Addr().Is6()})
	}
	if len(out) == 0 {
		for _, p := range cl.wanted(c) {
			out = append(out, source{Prefix: p, V6: p.Addr().Is6()})
		}
	}
	if len(out) == 0 {
		out = []source{{V6: probedOverIPv6(c)}}
	}
	return out
}

// probeDest is the address the load balancer's probes are sent to, when
// it is known: bind, the one address the responder listens on; else on
// Google Cloud the VIP (health checks go to the forwarding rule's IP:
// https://cloud.google.com/load-balancing/docs/internal#health-checking).
// Elsewhere they go to the node's address in the backend pool, which of
// its addresses the doctor cannot tell: invalid.
func probeDest(c *config.Config, cl cloud) netip.Addr {
	switch {
	case c.Bind.IsValid() && !c.Bind.IsUnspecified():
		return c.Bind
	case cl.name == "gcp" && c.HasVIP():
		return c.VIP
	}
	return netip.Addr{}
}

func sourceList(ss []source) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return strings.Join(dedupe(out), ", ")
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
