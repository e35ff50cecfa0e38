package resource

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ilbvip/ilbvip/pkg/config"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/responder"
	"github.com/ilbvip/ilbvip/pkg/statedir"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// Status is what QuickCheck found, for --verbose and --json.
type Status struct {
	Tag       string        `json:"tag"`
	State     string        `json:"state"` // running, stopped, failed, silent (failed, and the probe is not answered: see Stats)
	Problem   string        `json:"problem,omitempty"`
	Problems  []string      `json:"problems,omitempty"`
	Pid       int           `json:"pid,omitempty"`
	Uptime    time.Duration `json:"uptime_ns,omitempty"`
	Protocol  string        `json:"protocol"`
	Port      uint16        `json:"port"`
	VIP       string        `json:"vip,omitempty"`
	Interface string        `json:"interface,omitempty"`
	VIPState  string        `json:"vip_state,omitempty"` // present, absent, or the problem
	Warning   string        `json:"warning,omitempty"`   // a hazard outside this resource (a stranger on its probe port)
	// Stranger: another program listens on the probe port while the
	// resource's own responder does not answer (stopped, dead, silent, or
	// its self-probe failed), so the load balancer takes this node as
	// healthy all the same.
	Stranger bool          `json:"stranger,omitempty"`
	Stats    *daemon.Stats `json:"stats,omitempty"`
	Cloud    string        `json:"cloud,omitempty"` // the cloud profile (quickCheck sets it for --verbose and --json)
	Err      error         `json:"-"`
}

// QuickCheck is the read-only health check: nil when healthy,
// ErrNotRunning when cleanly stopped, otherwise an error saying what is
// wrong and how to fix it.
func QuickCheck(c *config.Config, o Options) (*Status, error) {
	st := Inspect(c, o)
	return st, st.Err
}

// Inspect looks at the responder process, its port and the VIP without
// changing anything.
func Inspect(c *config.Config, o Options) *Status {
	st := &Status{Tag: c.Tag, Protocol: c.Protocol, Port: c.Port}
	var problems []string
	if _, err := statedir.Check(c.StateDir); err != nil {
		problems = append(problems, err.Error())
	}
	m, merr := readMark(c.StateDir, c.Tag)
	rec, responderUp := inspectResponder(c, st, m, &problems)
	silent := st.Stats != nil && st.Stats.Silent
	vipPresent, vipOK := false, true
	if c.HasVIP() {
		vipPresent, vipOK = inspectVIP(c, st, responderUp, silent, &problems)
	}
	ownAnswers := false
	if responderUp {
		ownAnswers = inspectAnswering(c, o, st, rec, silent, vipOK, &problems)
	} else if vipPresent && leftBehind(c, m, merr) {
		problems = append(problems, leftBehindProblem(c, m))
	}
	if !ownAnswers {
		lookForStranger(c, st, &problems)
	}
	if m.found && !m.Run {
		// remove began and did not finish: recover would refuse (7).
		for i, p := range problems {
			problems[i] = strings.Replace(p, ": run recover", ": remove did not finish: run remove", 1)
		}
	}
	st.judge(problems, responderUp)
	return st
}

// inspectAnswering checks a running responder: silent (and why), the
// self-probe at level 10, the load balancer's probes. It reports whether
// the responder answers the probe as far as quickCheck can tell: not
// silent, and the self-probe (when made) answered.
func inspectAnswering(c *config.Config, o Options, st *Status, rec *daemon.Record, silent, vipOK bool, problems *[]string) bool {
	answers := !silent
	switch {
	case silent && vipOK:
		*problems = append(*problems, fmt.Sprintf("responder pid %d is silent (for %s): %s: run recover",
			rec.Pid, ago(time.Since(st.Stats.SilentSince)), st.Stats.SilentReason))
	case !silent && o.Level >= 10:
		if err := selfProbe(c, min(2*time.Second, c.ConnTimeout+time.Second)); err != nil {
			*problems = append(*problems, fmt.Sprintf("responder pid %d runs but %v", rec.Pid, explainSelfProbe(err, c)))
			answers = false
		}
	}
	if p := lbProbeProblem(c, st.Stats, time.Now()); p != "" {
		*problems = append(*problems, p)
	}
	return answers
}

// lookForStranger: whoever answers the probe port while this resource's
// responder does not (stopped, dead, silent, its pid file lost) keeps the
// node healthy for the load balancer. It is the worse news where the
// resource fails, so it comes first; a stopped resource stays stopped (7
// is the state of this resource, and a probe's "failed" would make the
// cluster manager stop, then fence, for a program it does not manage) and
// says so in a warning. Only done when the own responder does not answer,
// so a healthy quickCheck reads no socket table.
func lookForStranger(c *config.Config, st *Status, problems *[]string) {
	hs := strangers(context.Background(), c, st.Pid) // quickCheck has no deadline of its own; orphanGrace bounds it
	if len(hs) == 0 {
		return
	}
	st.Stranger = true
	p := strangerProblem(c, hs)
	if len(*problems) == 0 {
		st.Warning = p
		return
	}
	for _, q := range *problems {
		if strings.Contains(q, hs[0].String()) {
			return // named already, with the fix for this resource's state
		}
	}
	*problems = append([]string{p}, *problems...)
}

// inspectResponder finds the responder (pid file, else its command line)
// and, when it runs, its stats.
func inspectResponder(c *config.Config, st *Status, m mark, problems *[]string) (*daemon.Record, bool) {
	rec, err := daemon.ReadRecord(c.StateDir, c.Tag)
	switch {
	case isNotExist(err):
		if pids := daemon.FindResponders(c.Tag, c.StateDir); len(pids) > 0 {
			st.Pid = pids[0]
			*problems = append(*problems, fmt.Sprintf("responder pid %d runs without its pid file (state directory lost?): run recover", pids[0]))
		} else if m.found {
			*problems = append(*problems, notAnswering(c, m))
		}
		return nil, false
	case err != nil:
		*problems = append(*problems, fmt.Sprintf("%v: run remove, then restore", err))
		if pids := daemon.FindResponders(c.Tag, c.StateDir); len(pids) > 0 {
			st.Pid = pids[0] // it still answers: not a stranger, and --metrics says so
		}
		return nil, false
	}
	switch s := daemon.Inspect(rec); s {
	case daemon.Running:
	case daemon.PreviousBoot:
		return nil, false // a pid file from before a reboot: nothing of it runs
	default:
		*problems = append(*problems, fmt.Sprintf("responder pid %d is %s: run recover", rec.Pid, s))
		return nil, false
	}
	st.Pid = rec.Pid
	if s, err := daemon.ReadStats(c.StateDir, c.Tag); err == nil && s.Pid == rec.Pid {
		st.Stats = s
		st.Uptime = time.Since(s.Since).Truncate(time.Second)
	}
	return rec, true
}

// judge sets the state from the problems: the first is the cause, the rest
// usually follow from it.
func (st *Status) judge(problems []string, responderUp bool) {
	switch {
	case len(problems) > 0:
		st.State, st.Problem, st.Problems = "failed", problems[0], problems
		if st.Stats != nil && st.Stats.Silent {
			st.State = "silent"
		}
		st.Err = &Error{Code: ocf.ErrGeneric, Err: errors.New(problems[0])}
	case !responderUp:
		st.State, st.Err = "stopped", ErrNotRunning
		if st.VIPState == "present" {
			// Not this resource's doing (else leftBehind made it a
			// problem): say so, not "no vip".
			st.Err = &Error{Code: ocf.NotRunning, Err: fmt.Errorf("stopped: no responder on port %d; vip %s is on %s but this resource did not add it (by hand, or another program): it leaves it alone",
				st.Port, st.VIP, st.Interface)}
		}
	default:
		st.State = "running"
	}
}

// leftBehind reports whether a VIP present without a responder is this
// resource's doing: it is started here, or its run mark still names the
// VIP, or — with no mark at all (state directory lost) — the OS marks the
// address as ilbvip's and no other running resource has it. An address
// another resource or an admin has is not: this resource is then cleanly
// stopped (7).
func leftBehind(c *config.Config, m mark, merr error) bool {
	switch {
	case merr != nil || m.Run || sameVIP(m.VIP, vipSpec(c)):
		return true
	case m.found:
		return false
	}
	f, err := vip.Lookup(vipSpec(c))
	if err != nil || !f.Marked {
		return false
	}
	other, err := holder(c.StateDir, c.Tag, c.VIP)
	return err == nil && other == ""
}

// leftBehindProblem: a VIP present without a responder. When the state
// directory records the resource, recover repairs it; when nothing does
// (state directory lost), recover will not start anything, so the choice
// is the admin's or the cluster manager's.
func leftBehindProblem(c *config.Config, m mark) string {
	if m.found {
		return fmt.Sprintf("vip %s is present but no responder answers port %d: run recover", vipSpec(c), c.Port)
	}
	return fmt.Sprintf("vip %s (added by ilbvip) is present but no responder answers port %d and nothing records this resource here (state directory lost?): run remove to take it down, or restore if it should run here", vipSpec(c), c.Port)
}

// strangers are the listeners on the probe port other than own (the
// resource's responder, when one runs) and other than any responder of
// this resource that its pid file does not name (the file corrupt or
// lost): found by its command line, a /proc scan paid only when something
// else listens.
func strangers(ctx context.Context, c *config.Config, own int) []responder.Holder {
	hs, err := listeningSettled(ctx, c.Port)
	if err != nil {
		return nil
	}
	others := slices.DeleteFunc(hs, func(h responder.Holder) bool {
		return own != 0 && h.Pid == own // its own, listening again a moment before its stats say so
	})
	if len(others) > 0 {
		mine := daemon.FindResponders(c.Tag, c.StateDir)
		others = slices.DeleteFunc(others, func(h responder.Holder) bool { return slices.Contains(mine, h.Pid) })
	}
	return others
}

// orphanGrace bounds the wait for a listener that no process owns: a
// responder that died a moment ago (killed, or stopped by remove) has
// closed its descriptors, but its socket lives until the kernel finishes
// its exit, and no process shows it then. As root every other listener has
// an owner, so a healthy node never pays the wait (under Wine every socket
// is wineserver's, owner 0: a stranger there costs the wait once).
const orphanGrace = 500 * time.Millisecond

// listeningSettled lists the listeners on port, waiting up to orphanGrace
// (and not past ctx's deadline) for those without an owning process to go.
// quickCheck and remove both judge the port through it.
func listeningSettled(ctx context.Context, port uint16) ([]responder.Holder, error) {
	end := time.Now().Add(orphanGrace)
	if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
		end = dl
	}
	for {
		hs, err := responder.Listening(port)
		orphan := slices.ContainsFunc(hs, func(h responder.Holder) bool { return h.Pid == 0 })
		if err != nil || !orphan || time.Now().After(end) {
			return hs, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// strangerProblem: the load balancer takes this node as healthy all the
// same, thanks to hs.
func strangerProblem(c *config.Config, hs []responder.Holder) string {
	return fmt.Sprintf("port %d answers the load balancer although this resource's responder does not: %s listens on it: stop it", c.Port, holderNames(hs))
}

// notAnswering says what is wrong with a resource that has a run mark but
// no responder: started here and its responder gone (a recover that could
// not start one), or a remove that did not finish; it names whatever holds
// the port.
func notAnswering(c *config.Config, m mark) string {
	msg, fix := "restore started the resource here but no responder runs", "run recover"
	if !m.Run {
		msg, fix = "remove began but did not finish", "run remove"
	}
	if h := responder.PortHolder(c.Port); h != "" {
		msg += fmt.Sprintf(", and port %d is held by %s", c.Port, h)
	}
	return msg + ": " + fix
}

// inspectVIP checks the VIP for Inspect: present, and whether it is
// usable (false also when a problem was recorded).
func inspectVIP(c *config.Config, st *Status, responderUp, silent bool, problems *[]string) (present, ok bool) {
	vs := vipSpec(c)
	st.VIP, st.Interface = netip.PrefixFrom(c.VIP, c.Prefix).String(), c.Interface
	err := vip.Check(vs)
	switch {
	case err == nil:
		st.VIPState = "present"
		return true, true
	case errors.Is(err, vip.ErrMissing), errors.Is(err, vip.ErrNoInterface) && !responderUp:
		st.VIPState = "absent"
		switch {
		case responderUp && silent:
			*problems = append(*problems, fmt.Sprintf("vip %s is missing, so the responder has been silent for %s: run recover",
				vs, ago(time.Since(st.Stats.SilentSince))))
		case responderUp:
			*problems = append(*problems, fmt.Sprintf("vip %s is missing while the responder answers: run recover", vs))
		}
		return false, !responderUp
	}
	st.VIPState = err.Error()
	*problems = append(*problems, err.Error())
	return false, false
}

// lbProbeProblem says what is wrong when probe_timeout is set and the load
// balancer has not probed for that long (counting from the responder's
// start when it never did).
func lbProbeProblem(c *config.Config, s *daemon.Stats, now time.Time) string {
	if c.ProbeTimeout <= 0 {
		return ""
	}
	if s == nil {
		return "cannot read the responder's stats to check probe_timeout: run recover"
	}
	last, what := s.LastProbe, "last load-balancer probe"
	if last.IsZero() {
		last, what = s.Since, "no load-balancer probe since the responder started"
	}
	if age := now.Sub(last); age > c.ProbeTimeout {
		return fmt.Sprintf("%s %s ago, longer than probe_timeout %s: the load balancer does not probe this node (check its probe, allow, the firewall)", what, age.Truncate(time.Second), c.ProbeTimeout)
	}
	return ""
}

// Human renders the status for an admin.
func (st *Status) Human(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", st.Tag, st.State)
	if st.Problem != "" {
		fmt.Fprintf(&b, ": %s", st.Problem)
	}
	b.WriteString("\n")
	for _, p := range st.Problems[min(1, len(st.Problems)):] {
		fmt.Fprintf(&b, "  also       %s\n", p)
	}
	if st.Cloud != "" {
		fmt.Fprintf(&b, "  cloud      %s\n", st.Cloud)
	}
	if st.VIP != "" {
		fmt.Fprintf(&b, "  vip        %s on %s: %s\n", st.VIP, st.Interface, st.VIPState)
	} else {
		b.WriteString("  vip        none (responder only)\n")
	}
	if st.Pid != 0 {
		fmt.Fprintf(&b, "  responder  pid %d, %s port %d", st.Pid, st.Protocol, st.Port)
		if st.Uptime > 0 {
			fmt.Fprintf(&b, ", up %s", st.Uptime)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "  responder  not running (%s port %d)\n", st.Protocol, st.Port)
	}
	if st.Warning != "" {
		fmt.Fprintf(&b, "  warning    %s\n", st.Warning)
	}
	if s := st.Stats; s != nil && s.Silent {
		fmt.Fprintf(&b, "  probe      silent for %s: %s\n", ago(now.Sub(s.SilentSince)), s.SilentReason)
	}
	if s := st.Stats; s != nil {
		last := "no load-balancer probe yet"
		if !s.LastProbe.IsZero() {
			last = fmt.Sprintf("last LB probe %s ago from %s", now.Sub(s.LastProbe).Truncate(time.Second), s.LastSource)
		}
		fmt.Fprintf(&b, "  probes     %d answered, %s, %d rejected, %d self-probes\n", s.Answered, last, s.Rejected, s.Local)
	}
	return b.String()
}

// ago rounds a duration for a message: tenths of a second while short,
// whole seconds after that.
func ago(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Truncate(time.Second)
}
