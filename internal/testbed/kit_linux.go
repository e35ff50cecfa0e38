package testbed

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ilbvip/ilbvip/pkg/daemon"
)

// Kit is the ilbvip resource the nodes run.
type Kit struct {
	Tag string // default "vip"
	// Settings are YAML keys for the nodes' config file (port, protocol,
	// http_path, drain, ...). The bed adds its own: vip, interface,
	// state_dir and, unless Settings has it, allow (the LB's addresses, so
	// the probe source filter is exercised).
	Settings map[string]string
	// File is an admin's own config file instead of Settings: the nodes
	// read it with -c and the bed's settings are given as flags, which win
	// over the file. With Bind, the responder binds the node's backend
	// address (for a file that sets bind to a real node's address).
	File string
	Bind bool
	// NoVIP runs the kit as a responder only (no vip, no interface), as
	// behind an AWS Network Load Balancer, which has no Floating IP.
	NoVIP bool
}

// SetKit writes each node's config for k.
func (b *Bed) SetKit(k Kit) error {
	if k.Tag == "" {
		k.Tag = "vip"
	}
	for _, n := range b.Nodes {
		n.kit = k
		if k.File != "" {
			continue
		}
		set := map[string]string{}
		for key, v := range k.Settings {
			set[key] = v
		}
		for key, v := range n.bedSettings() {
			if _, given := set[key]; !given || key != "allow" {
				set[key] = v
			}
		}
		keys := make([]string, 0, len(set))
		for key := range set {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		var sb strings.Builder
		fmt.Fprintf(&sb, "# %s of the ilbvip test bed\n", n.Name)
		for _, key := range keys {
			fmt.Fprintf(&sb, "%s: %q\n", key, set[key])
		}
		if err := os.WriteFile(n.ConfigFile(), []byte(sb.String()), 0o600); err != nil {
			return fmt.Errorf("%s: write config: %w", n.Name, err)
		}
	}
	return nil
}

// bedSettings are what the bed decides for the kit on this node.
func (n *Node) bedSettings() map[string]string {
	var lbs []string
	for _, m := range n.bed.Nodes {
		lbs = append(lbs, m.LBAddr.String())
	}
	s := map[string]string{
		"vip":       n.bed.Opts.VIP.String(),
		"interface": VIPNIC,
		"state_dir": n.StateDir,
		"allow":     strings.Join(lbs, ","),
	}
	if n.kit.NoVIP {
		delete(s, "vip")
		delete(s, "interface")
	}
	if n.kit.Bind {
		s["bind"] = n.Addr.String()
	}
	return s
}

// Tag is the kit's resource tag on this node.
func (n *Node) Tag() string { return n.kit.Tag }

// ConfigFile is the config the node's actions read.
func (n *Node) ConfigFile() string {
	if n.kit.File != "" {
		return n.kit.File
	}
	return filepath.Join(n.Dir, n.kit.Tag+".yaml")
}

// KitArgs are the arguments every action gets on this node.
func (n *Node) KitArgs() []string {
	a := []string{"-t", n.kit.Tag, "-c", n.ConfigFile()}
	if n.kit.File != "" {
		set := n.bedSettings()
		for _, key := range []string{"vip", "interface", "state_dir", "allow", "bind"} {
			if v, ok := set[key]; ok {
				a = append(a, "--"+strings.ReplaceAll(key, "_", "-"), v)
			}
		}
	}
	return a
}

// Result is one action's outcome.
type Result struct {
	Action         string
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

func (r Result) String() string {
	s := fmt.Sprintf("%s: exit %d", r.Action, r.Code)
	if out := strings.TrimSpace(r.Stdout + r.Stderr); out != "" {
		s += ": " + out
	}
	return s
}

// Action runs an ilbvip executable (restore, remove, quickCheck, recover)
// inside the node with KitArgs and extra, in a clean environment as a
// cluster manager would. The error is for an action that could not run.
func (n *Node) Action(ctx context.Context, action string, extra ...string) (Result, error) {
	if n.bed.Opts.BinDir == "" {
		return Result{}, errors.New("test bed: Options.BinDir (the ilbvip executables) is not set")
	}
	args := append(n.KitArgs(), extra...)
	cmd := n.Command(ctx, filepath.Join(n.bed.Opts.BinDir, action), args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	r := Result{Action: action, Stdout: so.String(), Stderr: se.String(), Took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("%s: run %s: %w", n.Name, action, err)
	}
	return r, nil
}

// Command runs a program inside the node's network namespace (ip netns
// exec), for example a cluster manager's command line tools.
func (n *Node) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.NS, name}, args...)...)
}

// GuestAgentRoute adds (or deletes) what Google's guest agent installs on
// every backend of an internal passthrough Network Load Balancer: a local
// route for the forwarding rule's IP (protocol 66), with which the node
// accepts the VIP's traffic whether or not it holds the VIP.
func (n *Node) GuestAgentRoute(add bool) error {
	op := "append" // next to the kernel's own local route when the node holds the VIP
	if !add {
		op = "del"
	}
	return ip("-n", n.NS, "route", op, "local", n.bed.Opts.VIP.String(), "dev", BackendNIC, "proto", "66", "table", "local")
}

// ResponderPid is the pid in the node's pid file.
func (n *Node) ResponderPid() (int, error) {
	rec, err := daemon.ReadRecord(n.StateDir, n.kit.Tag)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", n.Name, err)
	}
	return rec.Pid, nil
}

// HasVIP reports whether the VIP is on the node's VIP NIC.
func (n *Node) HasVIP() (bool, error) {
	h, err := netlink.NewHandleAt(n.ns)
	if err != nil {
		return false, fmt.Errorf("%s: netlink: %w", n.Name, err)
	}
	defer h.Close()
	l, err := h.LinkByName(VIPNIC)
	if err != nil {
		return false, fmt.Errorf("%s: %s: %w", n.Name, VIPNIC, err)
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return false, fmt.Errorf("%s: addresses of %s: %w", n.Name, VIPNIC, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == n.bed.Opts.VIP {
			return true, nil
		}
	}
	return false, nil
}
