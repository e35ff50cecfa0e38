// Package resource implements the four actions of an ilbvip resource —
// Restore, Remove, QuickCheck, Recover — with the ordering, locking,
// rollback and idempotence the action contract demands, and maps every
// outcome to an OCF exit code.
//
// It keeps the rule above the others, "exactly one node answers the load
// balancer's probe, and it is the node that can take the VIP's traffic"
// (DESIGN.md), with these decisions:
//   - Restore marks the resource as started here (the run mark, TAG.run);
//     Remove clears it first; Recover repairs only a marked resource and
//     otherwise exits 7 without touching anything.
//   - Remove returns 0 only once nothing listens on the probe port on an
//     address a load balancer can reach; otherwise it keeps the VIP and
//     fails, naming the listener.
//   - One VIP belongs to one running resource of a node (state directory).
//   - Own only what you added: Restore adds the VIP itself (marked by the
//     OS where it can, and in the run mark) or refuses an address that is
//     already there with another owner; Remove deletes only what it owns.
//
// The responder keeps the remaining part itself: it answers only while the
// VIP is usable (pkg/daemon's gate).
package resource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/responder"
	"github.com/ilbvip/ilbvip/pkg/statedir"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// Error carries the exit code an outcome maps to.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrNotRunning is QuickCheck's answer for a cleanly stopped resource.
var ErrNotRunning = &Error{Code: ocf.NotRunning, Err: errors.New("not running")}

// ExitCode maps an action's error to its OCF exit code.
func ExitCode(err error) int {
	if err == nil {
		return ocf.Success
	}
	var re *Error
	if errors.As(err, &re) {
		return re.Code
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	var se *daemon.StartError
	if errors.As(err, &se) && se.Kind == "perm" {
		return ocf.ErrPerm
	}
	switch {
	case errors.Is(err, vip.ErrNoInterface):
		return ocf.ErrInstalled
	case errors.Is(err, vip.ErrUnsupported), errors.Is(err, daemon.ErrUnsupported):
		return ocf.ErrUnimplemented
	case errors.Is(err, os.ErrPermission):
		return ocf.ErrPerm
	}
	return ocf.ErrGeneric
}

// Options are the action settings that are not resource parameters.
type Options struct {
	Exe   string             // binary started as the responder (os.Executable)
	Log   logrus.FieldLogger // action log (stderr)
	Level int                // QuickCheck depth: 0 process and VIP; 10 also probes the port

	// The VIP and responder steps of restore and remove; nil: the node's
	// (pkg/vip, pkg/daemon). Only the unit tests set them.
	vipStep       vipStep
	responderStep responderStep
}

func (o *Options) vips() vipStep {
	if o.vipStep == nil {
		return nodeVIP{}
	}
	return o.vipStep
}

func (o *Options) responders() responderStep {
	if o.responderStep == nil {
		return daemonResponder{}
	}
	return o.responderStep
}

func (o *Options) log() logrus.FieldLogger {
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(nopWriter{})
		return l
	}
	return o.Log
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// spec is the responder's settings derived from the config.
func spec(c *config.Config) daemon.Spec {
	s := daemon.Spec{
		Tag: c.Tag, StateDir: c.StateDir, Protocol: c.Protocol, Port: c.Port, Message: c.Message,
		ConnTimeout: c.ConnTimeout, Drain: c.Drain, LogLevel: c.LogLevel,
	}
	if c.Protocol == "http" {
		s.HTTPPath = c.HTTPPath
	}
	if c.Bind.IsValid() && !c.Bind.IsUnspecified() {
		s.Bind = c.Bind.String()
	}
	for _, p := range c.Allow {
		s.Allow = append(s.Allow, p.String())
	}
	if c.HasVIP() {
		s.VIP = netip.PrefixFrom(c.VIP, c.Prefix).String()
		s.Interface = c.Interface
	}
	return s
}

func vipSpec(c *config.Config) vip.Spec {
	return vip.Spec{Addr: c.VIP, Prefix: c.Prefix, Interface: c.Interface, Source: c.Source}
}

// probeAddr is where the node probes its own responder.
func probeAddr(c *config.Config) netip.AddrPort {
	if c.Bind.IsValid() && !c.Bind.IsUnspecified() {
		return netip.AddrPortFrom(c.Bind, c.Port)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), c.Port)
}

// selfProbe probes the responder as the load balancer would, once.
func selfProbe(c *config.Config, timeout time.Duration) error {
	path := ""
	if c.Protocol == "http" {
		path = c.HTTPPath
	}
	if err := responder.Probe(c.Protocol, probeAddr(c), path, []byte(c.Message), timeout); err != nil {
		return fmt.Errorf("port %d does not answer the probe: %w", c.Port, err)
	}
	return nil
}

// connectFailFor is how long a self-probe that cannot connect is retried:
// the responder reported "bound", so a connection still refused,
// unreachable or unanswered after that is stopped by something else (a
// firewall rule), and waiting out the action's budget would only delay
// the failover.
const connectFailFor = time.Second

// selfProbeUntil retries the self-probe until it answers or ctx ends: the
// responder reported "bound", so this rarely takes a second try.
func selfProbeUntil(ctx context.Context, c *config.Config) error {
	var err error
	start := time.Now()
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		to := max(min(time.Second, remaining(ctx)), 100*time.Millisecond)
		if err = selfProbe(c, to); err == nil {
			return nil
		}
		var ce *responder.ConnectError
		if remaining(ctx) < delay || (errors.As(err, &ce) && time.Since(start) > connectFailFor) {
			return err
		}
		time.Sleep(delay)
	}
}

// rollbackReserve is what a wait inside restore leaves of the budget for
// undoing what restore did (stop the responder, delete the VIP).
const rollbackReserve = time.Second

// waitForLBProbe waits until a probe from another host reached the new
// responder (probe_timeout, SIOS LB Health Check's behaviour): only then
// does the load balancer send traffic here. The wait ends early enough to
// leave rollbackReserve of the budget, and says so when that cut it.
func waitForLBProbe(ctx context.Context, c *config.Config, pid int) error {
	deadline, cut := time.Now().Add(c.ProbeTimeout), false
	if dl, ok := ctx.Deadline(); ok && dl.Add(-rollbackReserve).Before(deadline) {
		deadline, cut = dl.Add(-rollbackReserve), true
	}
	start := time.Now()
	for {
		if s, err := daemon.ReadStats(c.StateDir, c.Tag); err == nil && s.Pid == pid && !s.LastProbe.IsZero() {
			return nil
		}
		if time.Now().After(deadline) {
			within := fmt.Sprintf("within probe_timeout %s", c.ProbeTimeout)
			if cut {
				within = fmt.Sprintf("within %s (probe_timeout %s, cut to fit the action's budget: give restore probe_timeout + 5s)", time.Since(start).Round(100*time.Millisecond), c.ProbeTimeout)
			}
			return fmt.Errorf("no completed probe connection from outside this node on port %d %s (%s; SYNs alone, or sources outside allow, do not count): check the load balancer's probe port and protocol, allow, and the host firewall",
				c.Port, within, map[string]string{"tcp": "a completed handshake counts", "http": "a GET or HEAD of http_path counts"}[c.Protocol])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func remaining(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), 0)
	}
	return 10 * time.Second
}

func lock(ctx context.Context, c *config.Config) (*statedir.Lock, error) {
	if err := statedir.Ensure(c.StateDir); err != nil {
		return nil, err
	}
	l, err := statedir.Acquire(ctx, c.StateDir, c.Tag)
	if err != nil {
		return nil, fmt.Errorf("%w (waited the action's budget)", err)
	}
	return l, nil
}

// Restore brings the resource up: VIP first, then the responder, then a
// self-probe; success only once the port answers. A resource that is
// already up is left alone. On failure it removes what it added.
func Restore(ctx context.Context, c *config.Config, o Options) error {
	if err := preflight(c, o.vips()); err != nil {
		return err
	}
	l, err := lock(ctx, c)
	if err != nil {
		return err
	}
	err = ensure(ctx, c, o, "restore")
	// A failed restore of a stopped resource leaves no file but the log.
	_, perr := os.Lstat(statedir.Path(c.StateDir, c.Tag, statedir.PidExt))
	l.Release(err != nil && isNotExist(perr))
	return err
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
