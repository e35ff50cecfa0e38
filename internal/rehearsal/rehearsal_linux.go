package rehearsal

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ilbvip/ilbvip/internal/lbsim"
	"github.com/ilbvip/ilbvip/internal/testbed"
)

// Rehearsal drives the kit on a bed with the LB simulator in front.
type Rehearsal struct {
	Bed *testbed.Bed
	Sim *lbsim.Sim
	LB  lbsim.Config // the simulator's settings, defaults filled in
	TL  *Timeline    // everything that happened, for the picture

	out   io.Writer
	mu    sync.Mutex // serialises out: LB events print from the simulator
	start time.Time
	port  uint16
	user  func(lbsim.Event) // the caller's OnEvent, kept across RestartLB
}

// Start starts the LB simulator on bed (probe port port) and returns a
// rehearsal that narrates to out (io.Discard for none).
func Start(bed *testbed.Bed, lb lbsim.Config, port uint16, out io.Writer) (*Rehearsal, error) {
	r := &Rehearsal{Bed: bed, out: out, start: time.Now(), port: port, user: lb.OnEvent}
	r.TL = &Timeline{Start: r.start}
	for _, n := range bed.Nodes {
		r.TL.Backends = append(r.TL.Backends, n.Name)
	}
	if err := r.startLB(lb); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Rehearsal) startLB(lb lbsim.Config) error {
	user := r.user
	lb.OnEvent = func(e lbsim.Event) {
		r.TL.event(e)
		r.say(e.Time, "LB: %s", e)
		if user != nil {
			user(e)
		}
	}
	sim, err := r.Bed.StartLB(lb, r.port)
	if err != nil {
		return err
	}
	r.Sim, r.LB = sim, sim.Config()
	return nil
}

// RestartLB stops the simulator and starts it with lb: a setting changed
// in the cloud. Backends start down again, as after any change of the
// probe. The events of both runs stay in the timeline.
func (r *Rehearsal) RestartLB(lb lbsim.Config) error {
	if err := r.Bed.StopLB(); err != nil {
		return fmt.Errorf("lb simulator: %w", err)
	}
	now := time.Now() // the new simulator starts with every backend down
	for _, b := range r.TL.Backends {
		r.TL.event(lbsim.Event{Time: now, Kind: lbsim.Down, Backend: b})
	}
	r.TL.event(lbsim.Event{Time: now, Kind: lbsim.Dropped})
	return r.startLB(lb)
}

// Bound is the limit for a switchover: interval × threshold + 1 s,
// with the larger threshold where they differ (the old node going down and
// the new one coming up overlap).
func (r *Rehearsal) Bound() time.Duration {
	return r.LB.Interval*time.Duration(max(r.LB.HealthyThreshold, r.LB.UnhealthyThreshold)) + time.Second
}

// say prints one transcript line stamped with the time since Start.
func (r *Rehearsal) say(at time.Time, format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "  [%6.2fs] %s\n", at.Sub(r.start).Seconds(), fmt.Sprintf(format, a...))
}

// headingLabel is a title's part before ":", whole words only (a cut
// mid-word, "(Google Cl", reads as a bug), with "…" when words were left out.
func headingLabel(title string) string {
	const most = 40
	label, _, _ := strings.Cut(title, ":")
	if len(label) <= most {
		return label
	}
	if i := strings.LastIndexByte(label[:most], ' '); i > 0 {
		return label[:i] + "…"
	}
	return label[:most] + "…"
}

// Heading prints a scenario's title and marks its start in the timeline
// (with the title's first words).
func (r *Rehearsal) Heading(format string, a ...any) {
	title := fmt.Sprintf(format, a...)
	if title != "Summary" {
		r.TL.mark(Mark{At: time.Now(), Label: headingLabel(title)})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "\n%s\n", title)
}

// Note marks something done to a node (kill -9, a route) in the timeline.
func (r *Rehearsal) Note(at time.Time, node, label string) {
	r.TL.mark(Mark{At: at, Node: node, Label: label})
}

// Printf prints free text (indented by the caller).
func (r *Rehearsal) Printf(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, format, a...)
}

// action runs an ilbvip action on a node, prints it, and fails on an exit
// code other than want.
func (r *Rehearsal) action(ctx context.Context, node *testbed.Node, action string, want int) (testbed.Result, error) {
	begin := time.Now()
	res, err := node.Action(ctx, action)
	if err != nil {
		return res, err
	}
	label := action
	if res.Code != 0 {
		label += fmt.Sprintf(" (exit %d)", res.Code)
	}
	r.TL.mark(Mark{At: begin, Node: node.Name, Label: label, Bad: res.Code != want})
	at := time.Now() // stamped when it ended, so the transcript stays in order
	line := fmt.Sprintf("%s: %s -t %s   exit %d (%s)", node.Name, action, node.Tag(), res.Code, ms(res.Took))
	if msg := firstLine(res.Stderr + res.Stdout); msg != "" && res.Code != 0 {
		line += ": " + msg
	}
	r.say(at, "%s", line)
	if res.Code != want {
		return res, fmt.Errorf("%s: %s exited %d, want %d: %s", node.Name, action, res.Code, want, strings.TrimSpace(res.Stderr+res.Stdout))
	}
	return res, nil
}

// get fetches the page once and prints who answered.
func (r *Rehearsal) get(ctx context.Context, timeout time.Duration) (string, error) {
	at := time.Now()
	name, err := r.Bed.Get(ctx, timeout)
	r.TL.answers(testbed.Answer{Sent: at, At: time.Now(), Node: name, Err: err})
	if err != nil {
		r.say(at, "client: GET http://%s/ -> no answer: %v", hostOf(r.Bed.Opts.VIP), err)
	} else {
		r.say(at, "client: GET http://%s/ -> %q", hostOf(r.Bed.Opts.VIP), name)
	}
	return name, err
}

// getNode fetches until node answers, a few tries apart (the first packet
// after a route change may still wait for ARP).
func (r *Rehearsal) getNode(ctx context.Context, node string) error {
	var got string
	var err error
	for try := 0; try < 3; try++ {
		if got, err = r.get(ctx, time.Second); err == nil && got == node {
			return nil
		}
		if werr := testbed.Sleep(ctx, 100*time.Millisecond); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("client: no answer through the VIP, want %s: %w", node, err)
	}
	return fmt.Errorf("client: %s answered through the VIP, want %s", got, node)
}

// waitLB waits for an LB event, at most a generous multiple of the bound.
func (r *Rehearsal) waitLB(ctx context.Context, since time.Time, kind lbsim.Kind, backend string) (lbsim.Event, error) {
	wait := 2*r.Bound() + 2*time.Second
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	e, err := r.Bed.WaitEvent(ctx, since, testbed.Is(kind, backend))
	if err == nil {
		return e, nil
	}
	if ctx.Err() != nil && (kind == lbsim.Up || kind == lbsim.Routed) {
		if perr := r.Sim.LastError(backend); perr != nil {
			return e, fmt.Errorf("LB: %s did not turn healthy within %s: its last probe: %v", backend, ms(wait), perr)
		}
	}
	if ctx.Err() != nil {
		return e, fmt.Errorf("LB: no %q event for %s within %s", kind, backend, ms(wait))
	}
	return e, fmt.Errorf("LB: %w", err)
}

// TwoHealthy returns the simulator's "two backends healthy at once" events.
func (r *Rehearsal) TwoHealthy() []lbsim.Event {
	var out []lbsim.Event
	for _, e := range r.Sim.Events() {
		if e.Kind == lbsim.TwoHealthy {
			out = append(out, e)
		}
	}
	return out
}

// Active is the outcome of scenario a.
type Active struct {
	Restore time.Duration // the restore action
	Routed  time.Duration // from the start of restore to the LB routing the VIP to the node
}

// Activate is scenario a: restore on node; the LB marks it up and the client
// gets the node's name through the VIP.
func (r *Rehearsal) Activate(ctx context.Context, node *testbed.Node) (Active, error) {
	t0 := time.Now()
	res, err := r.action(ctx, node, "restore", 0)
	if err != nil {
		return Active{}, err
	}
	e, err := r.waitLB(ctx, t0, lbsim.Routed, node.Name)
	if err != nil {
		return Active{}, err
	}
	return Active{Restore: res.Took, Routed: e.Time.Sub(t0)}, r.getNode(ctx, node.Name)
}

// Switch is the outcome of scenario b.
type Switch struct {
	Remove, Restore time.Duration // the two actions
	Down, Up        time.Duration // from the start of remove to the LB marking the old node down, the new one up
	FirstNew        time.Duration // from the start of remove to the first answer from the new node: the switchover
	Gap             time.Duration // no answer: from the old node's last answer to the new node's first
	OldAfter        int           // answers from the old node after the new one answered (must be 0)
	Failed          int           // client requests without an answer during the switchover
}

// Switchover is scenario b: remove on from, then restore on to, while a
// client asks every 20 ms; the client gets to's name.
//
// Its time depends on where remove and restore fall between two probe
// rounds, as on a real load balancer: to counts as up threshold rounds after
// the first round that finds it restored, so a restore that ends just after
// a round starts costs one interval more. On Google Cloud that is what c)
// shows (1.3 s, not 0.8 s): its rounds end a timeout late (the node without
// the VIP never answers, and a round is applied when its slowest probe
// ends), so the steps start later in the interval, and c)'s restore ends
// just after a round began, whose probe through node1 found no VIP yet (a
// timeout). The bound, interval × threshold + 1 s, covers the extra round.
func (r *Rehearsal) Switchover(ctx context.Context, from, to *testbed.Node) (Switch, error) {
	var s Switch
	w := r.Bed.Watch(ctx, 20*time.Millisecond, 300*time.Millisecond, 3*r.Bound()+10*time.Second)
	defer w.Stop()
	if err := testbed.Sleep(ctx, 100*time.Millisecond); err != nil { // the client sees from first
		return s, err
	}
	t0 := time.Now()
	res, err := r.action(ctx, from, "remove", 0)
	if err != nil {
		return s, err
	}
	s.Remove = res.Took
	if res, err = r.action(ctx, to, "restore", 0); err != nil {
		return s, err
	}
	s.Restore = res.Took
	up, err := r.waitLB(ctx, t0, lbsim.Up, to.Name)
	if err != nil {
		return s, err
	}
	s.Up = up.Time.Sub(t0)
	if down, err := r.waitLB(ctx, t0, lbsim.Down, from.Name); err == nil {
		s.Down = down.Time.Sub(t0)
	} else {
		return s, err
	}
	deadline := time.Now().Add(3 * time.Second)
	first, ok := w.First(to.Name, t0)
	for ; !ok && time.Now().Before(deadline); first, ok = w.First(to.Name, t0) {
		if err := testbed.Sleep(ctx, 10*time.Millisecond); err != nil {
			return s, err
		}
	}
	if err := testbed.Sleep(ctx, 100*time.Millisecond); err != nil { // a few answers after the switch
		return s, err
	}
	answers := w.Stop()
	r.TL.answers(answers...)
	if !ok {
		return s, fmt.Errorf("client: no answer from %s within 3 s after the LB marked it up", to.Name)
	}
	s.FirstNew = first.At.Sub(t0)
	s.tally(answers, from.Name, t0, first.At)
	r.say(first.At, "client: %q answers: switchover %s after remove began, no answer for %s (%d requests failed; limit %s)",
		to.Name, ms(s.FirstNew), ms(s.Gap), s.Failed, ms(r.Bound()))
	switch {
	case s.OldAfter > 0 && r.Sim.Rules().ToAllWhenNoneHealthy:
		// The cloud sends new connections to every backend while none is
		// healthy (AWS fails open): the old node may answer in that window.
		r.say(time.Now(), "client: %s answered %d times after %s did: no backend was healthy for a moment, and %s", from.Name, s.OldAfter, to.Name, r.Sim.Rules().Why)
	case s.OldAfter > 0:
		return s, fmt.Errorf("client: %s still answered %d times after %s took over", from.Name, s.OldAfter, to.Name)
	}
	return s, r.getNode(ctx, to.Name)
}

// tally counts the client's answers around a switchover that began at t0
// and whose new node first answered at first: the gap since the old node's
// last answer, the failed requests, the old node's answers after first.
func (s *Switch) tally(answers []testbed.Answer, from string, t0, first time.Time) {
	last := t0
	for _, a := range answers {
		switch {
		case a.At.Before(t0):
		case a.Node == from && a.At.Before(first):
			last = a.At
		case a.Node == from:
			s.OldAfter++
		case a.Err != nil && a.At.Before(first):
			s.Failed++
		}
	}
	s.Gap = first.Sub(last)
}

// Lost is the outcome of scenario c.
type Lost struct {
	Down time.Duration // from stopping the responder to the LB marking the node down
}

// LoseProbe is scenario c, the article's deleted health-check resource: the
// node's probe responder stops (SIGTERM, as a clean stop of the health-check
// resource would), the VIP and the web server stay, and still the client
// gets no answer, because the LB routes by the probe alone.
func (r *Rehearsal) LoseProbe(ctx context.Context, node *testbed.Node) (Lost, error) {
	pid, err := node.ResponderPid()
	if err != nil {
		return Lost{}, err
	}
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return Lost{}, fmt.Errorf("%s: stop the responder (pid %d): %w", node.Name, pid, err)
	}
	r.say(t0, "%s: kill -TERM %d   (the probe responder stops; the VIP and the web server stay)", node.Name, pid)
	r.Note(t0, node.Name, "kill -TERM responder")
	e, err := r.waitLB(ctx, t0, lbsim.Down, node.Name)
	if err != nil {
		return Lost{}, err
	}
	l := Lost{Down: e.Time.Sub(t0)}
	if err := r.waitNoneHealthy(ctx, t0); err != nil {
		return l, err
	}
	if r.Sim.Rules().FloatingIP {
		has, err := node.HasVIP()
		if err != nil {
			return l, err
		}
		if !has {
			return l, fmt.Errorf("%s: the VIP went away: the scenario needs it to stay", node.Name)
		}
		r.say(time.Now(), "%s still holds %s on %s", node.Name, r.Bed.Opts.VIP, testbed.VIPNIC)
	}
	if err := r.expectNoAnswer(ctx); err != nil {
		return l, err
	}
	if _, err := r.action(ctx, node, "quickCheck", 1); err != nil {
		return l, err
	}
	return l, nil
}

// waitNoneHealthy waits for the LB to drop the VIP's traffic, or to send
// it to every backend where the cloud does that with none healthy.
func (r *Rehearsal) waitNoneHealthy(ctx context.Context, since time.Time) error {
	kind := lbsim.Dropped
	if r.Sim.Rules().ToAllWhenNoneHealthy {
		kind = lbsim.ToAll
	}
	_, err := r.waitLB(ctx, since, kind, "")
	return err
}

// expectNoAnswer asks once while no backend is healthy: where the cloud
// drops the traffic nobody may answer; where it sends it to every backend
// (AWS fails open) the answer is shown, not judged.
func (r *Rehearsal) expectNoAnswer(ctx context.Context) error {
	name, err := r.get(ctx, 500*time.Millisecond)
	switch {
	case err == nil && r.Sim.Rules().ToAllWhenNoneHealthy:
		r.say(time.Now(), "client: %s answered although no backend is healthy: %s", name, r.Sim.Rules().Why)
	case err == nil:
		return fmt.Errorf("client: %s answered through the VIP although no backend is healthy", name)
	}
	return nil
}

// Crashed is the outcome of scenario d.
type Crashed struct {
	Down    time.Duration // from kill -9 to the LB marking the node down
	Recover time.Duration // the recover action
	Back    time.Duration // from the start of recover to the LB routing to the node again
}

// Crash is scenario d: kill -9 of the node's responder; the LB marks it down
// after about interval × threshold; recover brings it back and traffic
// returns.
func (r *Rehearsal) Crash(ctx context.Context, node *testbed.Node) (Crashed, error) {
	var c Crashed
	pid, err := node.ResponderPid()
	if err != nil {
		return c, err
	}
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return c, fmt.Errorf("%s: kill the responder (pid %d): %w", node.Name, pid, err)
	}
	r.say(t0, "%s: kill -9 %d   (the probe responder crashes)", node.Name, pid)
	r.Note(t0, node.Name, "kill -9 responder")
	e, err := r.waitLB(ctx, t0, lbsim.Down, node.Name)
	if err != nil {
		return c, err
	}
	c.Down = e.Time.Sub(t0)
	if err := r.waitNoneHealthy(ctx, t0); err != nil {
		return c, err
	}
	if err := r.expectNoAnswer(ctx); err != nil {
		return c, err
	}
	t1 := time.Now()
	res, err := r.action(ctx, node, "recover", 0)
	if err != nil {
		return c, err
	}
	c.Recover = res.Took
	if e, err = r.waitLB(ctx, t1, lbsim.Routed, node.Name); err != nil {
		return c, err
	}
	c.Back = e.Time.Sub(t1)
	return c, r.getNode(ctx, node.Name)
}

// hostOf writes an address as a URL's host: IPv6 in brackets.
func hostOf(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
