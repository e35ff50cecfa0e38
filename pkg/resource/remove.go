package resource

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/responder"
	"github.com/ilbvip/ilbvip/pkg/statedir"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// Remove takes the resource down: the run mark says "stopping" first (so
// recover no longer repairs it), the responder goes silent, remove
// confirms that nothing on this node answers the probe port any more, the
// optional drain wait passes, and then the VIP goes — only an address
// restore added, and never one that another running resource has. Absent
// parts are fine. When something still answers the port (a process it
// did not start or could not identify), remove keeps the VIP and fails
// (exit 1) naming it, so the cluster manager escalates instead of the load
// balancer sending traffic to a node it thinks is stopped.
func Remove(ctx context.Context, c *config.Config, o Options) error {
	log := o.log()
	t0 := time.Now()
	l, err := lock(ctx, c)
	if err != nil {
		return err
	}
	before, err := readMark(c.StateDir, c.Tag)
	if err != nil {
		log.WithError(err).Warn("run mark unreadable: deleting only a VIP the OS marks as ilbvip's")
	}
	if before.Run {
		stopping := before
		stopping.Run = false
		if err := stopping.write(c.StateDir, c.Tag); err != nil {
			l.Release(false)
			return err
		}
	}
	rec, _ := daemon.ReadRecord(c.StateDir, c.Tag)
	served := servedVIPs(c) // before Stop: the responders tell which VIP they watch
	r := o.responders()
	pids, err := r.stop(ctx, c)
	if err == nil {
		err = r.confirmSilent(ctx, pids, c.Port, before.Port, recPort(rec))
		if err != nil && (c.HasVIP() || before.VIP.Addr.IsValid() || len(served) > 0) {
			err = fmt.Errorf("%w (the VIP stays until remove succeeds)", err)
		}
	}
	if err != nil {
		l.Release(false)
		return err
	}
	if c.Drain > 0 && len(pids) > 0 {
		drain(ctx, t0.Add(c.Drain), log)
	}
	if err := deleteOwnVIPs(c, o.vips(), before, rec, served, log); err != nil {
		l.Release(false)
		return err
	}
	if err := removeMark(c.StateDir, c.Tag); err != nil {
		log.WithError(err).Warn("remove run mark")
	}
	l.Release(true)
	log.Infof("remove done (%d ms)", time.Since(t0).Milliseconds())
	return nil
}

// drainReserve is what the drain leaves of the budget for deleting the
// VIP and reporting.
const drainReserve = time.Second

// drain waits until the drain ends, or cuts it short so that remove still
// finishes within its budget (Pacemaker's stop timeout may be shorter than
// drain: say so, as the stop must succeed).
func drain(ctx context.Context, until time.Time, log logrus.FieldLogger) {
	if dl, ok := ctx.Deadline(); ok && dl.Add(-drainReserve).Before(until) {
		end := dl.Add(-drainReserve)
		if now := time.Now(); end.Before(now) {
			end = now // the cut is at most what is left of the drain
		}
		if cut := until.Sub(end).Round(100 * time.Millisecond); cut > 0 {
			log.Warnf("drain cut short by %s to finish within the action's budget: give the stop drain + 10s (Pacemaker: op stop timeout; LifeKeeper or by hand: action_timeout)", cut)
		}
		until = end
	}
	select {
	case <-time.After(time.Until(until)):
	case <-ctx.Done():
	}
}

func recPort(rec *daemon.Record) uint16 {
	if rec == nil {
		return 0
	}
	return rec.Port
}

// portsSilent checks each probe port the resource has or had (today's
// config, the run mark, the pid file; 0 = unknown). A responder just
// stopped may still hold its socket for a moment (its other threads end
// after the main one shows as a zombie): those are waited for, within the
// budget; a socket no process owns any more, as listeningSettled does;
// anything else listening fails at once.
func portsSilent(ctx context.Context, stopped []int, ports ...uint16) error {
	seen := map[uint16]bool{0: true}
	for _, p := range ports {
		if seen[p] {
			continue
		}
		seen[p] = true
		for {
			hs, err := portSilent(ctx, p)
			if err == nil || !allStopped(hs, stopped) || remaining(ctx) < 10*time.Millisecond {
				if err != nil {
					return err
				}
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// allStopped reports whether every holder is one of the responders remove
// just stopped.
func allStopped(hs []responder.Holder, stopped []int) bool {
	for _, h := range hs {
		if !slices.Contains(stopped, h.Pid) {
			return false
		}
	}
	return len(hs) > 0
}

// portSilent fails when a socket still listens on the probe port on an
// address a load balancer can reach: the load balancer would keep this
// node healthy without the resource.
func portSilent(ctx context.Context, port uint16) ([]responder.Holder, error) {
	hs, err := listeningSettled(ctx, port)
	if err != nil {
		return nil, fmt.Errorf("confirm that port %d is silent: %w", port, err)
	}
	if len(hs) == 0 {
		return nil, nil
	}
	return hs, &Error{Code: ocf.ErrGeneric, Err: fmt.Errorf(
		"port %d still answers after the responder stopped: %s listens on it, and the load balancer keeps sending VIP traffic to every node that answers: stop it",
		port, holderNames(hs))}
}

// holderNames names listeners for a message; an ilbvip responder of
// another tag or state directory says how it is stopped.
func holderNames(hs []responder.Holder) string {
	names := make([]string, len(hs))
	for i, h := range hs {
		names[i] = h.String()
		if strings.HasPrefix(h.Name, "ilbvip:") {
			names[i] += " (an ilbvip responder of another tag or state_dir: run remove with its own)"
		}
	}
	return strings.Join(names, ", ")
}

// servedVIPs are the VIPs this resource's live responders watch, as
// their own environment says: known even when the state directory was
// lost and today's config names another VIP.
func servedVIPs(c *config.Config) []vip.Spec {
	var out []vip.Spec
	for _, r := range daemon.Responders() {
		if r.Tag != c.Tag || !sameDir(r.StateDir, c.StateDir) {
			continue
		}
		if p, err := netip.ParsePrefix(r.VIP); err == nil {
			out = append(out, vip.Spec{Addr: p.Addr(), Prefix: p.Bits(), Interface: r.Interface})
		}
	}
	return out
}

// deleteOwnVIPs deletes the VIPs this resource owns: the one its run mark
// records (today's config may name another), the ones its responders
// watched, today's when the OS marks it as ilbvip's, and, for a resource
// restored by a version without run marks, the one its pid file names.
// One that another running resource has is kept.
func deleteOwnVIPs(c *config.Config, v vipStep, before mark, rec *daemon.Record, served []vip.Spec, log logrus.FieldLogger) error {
	var cands []vip.Spec
	add := func(vs vip.Spec) {
		if !slices.ContainsFunc(cands, func(x vip.Spec) bool { return sameVIP(x, vs) }) {
			cands = append(cands, vs)
		}
	}
	if before.VIP.Addr.IsValid() {
		add(before.VIP)
	}
	for _, vs := range served {
		add(vs)
	}
	if c.HasVIP() {
		if f, err := v.Lookup(vipSpec(c)); err == nil && f.Marked {
			add(vipSpec(c))
		}
	}
	if !before.found && rec != nil && rec.VIP != "" {
		if p, err := netip.ParsePrefix(rec.VIP); err == nil {
			add(vip.Spec{Addr: p.Addr(), Prefix: p.Bits(), Interface: rec.Interface})
		}
	}
	for _, vs := range cands {
		other, err := holder(c.StateDir, c.Tag, vs.Addr)
		if err != nil {
			return err
		}
		if other != "" {
			log.Infof("vip %s kept: resource %s runs with it", vs, other)
			continue
		}
		if err := v.Delete(vs); err != nil {
			return err
		}
		if err := deleteMoved(v, vs, log); err != nil {
			return err
		}
	}
	return nil
}

// deleteMoved deletes vs where it went when its interface was renamed (or
// the address moved): only an address the OS marks as ilbvip's, with the
// same prefix.
func deleteMoved(v vipStep, vs vip.Spec, log logrus.FieldLogger) error {
	iface, prefix, found, err := v.Locate(vs.Addr)
	if err != nil || !found || iface == vs.Interface || prefix != vs.Prefix {
		return nil
	}
	moved := vip.Spec{Addr: vs.Addr, Prefix: vs.Prefix, Interface: iface}
	if f, err := v.Lookup(moved); err != nil || !f.Marked {
		return nil
	}
	log.Infof("vip %s found on %s (interface renamed?): deleting it there", vs, iface)
	return v.Delete(moved)
}

// Recover repairs only what is broken (restarts the responder, re-adds the
// VIP) in a resource that restore started and remove has not stopped, then
// checks. A resource not started on this node is left alone: 7 ("recover
// repairs, never starts"). Non-zero tells the manager to fail over.
func Recover(ctx context.Context, c *config.Config, o Options) error {
	// Looked at first without the lock, so a resource not started here
	// gets no state directory or lock file; again under the lock, as a
	// remove may have run meanwhile.
	if !startedHere(c) {
		return errNotStarted
	}
	l, err := lock(ctx, c)
	if err != nil {
		return err
	}
	defer l.Release(false)
	if !startedHere(c) {
		return errNotStarted
	}
	o.Level = 10
	st := Inspect(c, o)
	if st.Err == nil {
		o.log().Info("recover: nothing to repair")
		return nil
	}
	o.log().Infof("recover: repairing: %s", strings.TrimSuffix(st.Err.Error(), ": run recover"))
	if err := ensure(ctx, c, o, "recover"); err != nil {
		return err
	}
	if st := Inspect(c, o); st.Err != nil {
		return st.Err
	}
	return nil
}

// Recorded reports whether the state directory records anything of the
// resource (pid file, run mark) or a responder of its tag runs (found by
// its command line): what a stop with a broken configuration can act on.
// It reads only.
func Recorded(c *config.Config) bool {
	for _, ext := range []string{statedir.PidExt, RunExt} {
		if _, err := os.Lstat(statedir.Path(c.StateDir, c.Tag, ext)); err == nil {
			return true
		}
	}
	return len(daemon.FindResponders(c.Tag, c.StateDir)) > 0
}

// RunsElsewhere names the state directory (and pid) of a responder of
// this tag that runs with another state_dir than c's, "" when none does.
func RunsElsewhere(c *config.Config) string {
	for _, r := range daemon.Responders() {
		if r.Tag == c.Tag && !sameDir(r.StateDir, c.StateDir) {
			return fmt.Sprintf("state_dir %s (pid %d)", r.StateDir, r.Pid)
		}
	}
	return ""
}

// startedHere reports whether restore started the resource on this node
// and remove has not stopped it: its run mark says so, or — when the
// state directory was lost or written by a version without run marks — a
// responder of this tag still runs (found by its pid file or by its exact
// command line), which only restore starts and remove stops. A VIP alone
// is no evidence: a remove that could not finish leaves one too.
func startedHere(c *config.Config) bool {
	m, err := readMark(c.StateDir, c.Tag)
	if err == nil && m.Run {
		return true
	}
	if err == nil && m.found {
		return false // remove began: not to be started again
	}
	if rec, err := daemon.ReadRecord(c.StateDir, c.Tag); err == nil && daemon.Inspect(rec) == daemon.Running {
		return true
	}
	return len(daemon.FindResponders(c.Tag, c.StateDir)) > 0
}
