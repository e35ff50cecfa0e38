package rehearsal

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ilbvip/ilbvip/internal/lbsim"
	"github.com/ilbvip/ilbvip/internal/testbed"
)

// Unprobed is the outcome of a cloud's "why the setting matters" scenario:
// what the client got while no backend was healthy.
type Unprobed struct {
	Setting string         // the cloud setting shown
	Window  time.Duration  // how long the client asked while no backend was healthy
	By      map[string]int // answers by node
	Failed  int            // requests without an answer
}

// Why runs the scenario of the rehearsal's cloud that shows why its
// setting matters, with active the node that runs the resource and
// standby the other; active's resource ends stopped.
//
//   - Azure: NoHealthyBackendsBehavior AllProbedUp. active's responder
//     stops while its VIP stays (the article's lost health-check resource):
//     the LB keeps sending it new connections although its probe is down,
//     where AllProbedDown sends none.
//   - Google Cloud: no failover policy, and the guest agent's local route
//     for the forwarding rule's IP left on both nodes. remove on active
//     begins a switchover: while no backend is healthy the LB sends new
//     connections to both, and both answer, standby too.
//   - AWS: the Network Load Balancer fails open. remove on active: while no
//     target is healthy both nodes get connections, the stopped one too.
func (r *Rehearsal) Why(ctx context.Context, active, standby *testbed.Node) (Unprobed, error) {
	switch r.LB.Cloud {
	case lbsim.Azure:
		return r.whyAzure(ctx, active)
	case lbsim.GCP:
		return r.whyGCP(ctx, active, standby)
	}
	return r.whyAWS(ctx, active)
}

func (r *Rehearsal) whyAzure(ctx context.Context, active *testbed.Node) (Unprobed, error) {
	u := Unprobed{Setting: "NoHealthyBackendsBehavior AllProbedUp"}
	if err := r.reconfigure(ctx, func(c *lbsim.Config) { c.NoHealthyBackendsBehavior = lbsim.AllProbedUp }, active); err != nil {
		return u, err
	}
	pid, err := active.ResponderPid()
	if err != nil {
		return u, err
	}
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return u, fmt.Errorf("%s: stop the responder (pid %d): %w", active.Name, pid, err)
	}
	r.say(t0, "%s: kill -TERM %d   (the probe responder stops; the VIP and the web server stay)", active.Name, pid)
	r.Note(t0, active.Name, "kill -TERM responder")
	if err := r.window(ctx, t0, &u); err != nil {
		return u, err
	}
	if u.By[active.Name] == 0 {
		return u, fmt.Errorf("with %s the LB should still send %s new connections after its probe went down; it answered none (%s)", u.Setting, active.Name, countsText(u.By, u.Failed))
	}
	_, err = r.action(ctx, active, "remove", 0)
	return u, err
}

func (r *Rehearsal) whyGCP(ctx context.Context, active, standby *testbed.Node) (Unprobed, error) {
	u := Unprobed{Setting: "no failover policy (dropTrafficIfUnhealthy off), guest agent's local route on"}
	if err := r.reconfigure(ctx, func(c *lbsim.Config) { c.DropTrafficIfUnhealthy = false }, active); err != nil {
		return u, err
	}
	for _, n := range []*testbed.Node{active, standby} {
		if err := n.GuestAgentRoute(true); err != nil {
			return u, err
		}
		r.say(time.Now(), "%s: ip route append local %s dev %s proto 66 table local   (what Google's guest agent adds)", n.Name, r.Bed.Opts.VIP, testbed.BackendNIC)
		r.Note(time.Now(), n.Name, "guest agent route")
	}
	defer func() {
		for _, n := range []*testbed.Node{active, standby} {
			_ = n.GuestAgentRoute(false)
		}
	}()
	t0 := time.Now()
	if _, err := r.action(ctx, active, "remove", 0); err != nil {
		return u, err
	}
	if err := r.window(ctx, t0, &u); err != nil {
		return u, err
	}
	if u.By[standby.Name] == 0 {
		return u, fmt.Errorf("without a failover policy the LB should send %s (not started, with the guest agent's route) new connections while no backend is healthy; it answered none (%s)", standby.Name, countsText(u.By, u.Failed))
	}
	return u, nil
}

func (r *Rehearsal) whyAWS(ctx context.Context, active *testbed.Node) (Unprobed, error) {
	u := Unprobed{Setting: "fail open (the Network Load Balancer's own behaviour)"}
	t0 := time.Now()
	if _, err := r.action(ctx, active, "remove", 0); err != nil {
		return u, err
	}
	if err := r.window(ctx, t0, &u); err != nil {
		return u, err
	}
	if u.By[active.Name] == 0 {
		return u, fmt.Errorf("failing open, the NLB should send %s (stopped) new connections while no target is healthy; it answered none (%s)", active.Name, countsText(u.By, u.Failed))
	}
	return u, nil
}

// reconfigure restarts the simulator with a changed setting and waits
// until it routes to active again.
func (r *Rehearsal) reconfigure(ctx context.Context, change func(*lbsim.Config), active *testbed.Node) error {
	lb := r.LB
	change(&lb)
	t0 := time.Now()
	r.say(t0, "LB: restarted with %s", describeLB(lb))
	if err := r.RestartLB(lb); err != nil {
		return err
	}
	_, err := r.waitLB(ctx, t0, lbsim.Routed, active.Name)
	return err
}

// window waits until no backend is healthy and the LB sends the VIP's
// traffic to every backend, then lets a client ask every 50 ms for four
// probe intervals and tallies who answered.
func (r *Rehearsal) window(ctx context.Context, since time.Time, u *Unprobed) error {
	if _, err := r.waitLB(ctx, since, lbsim.ToAll, ""); err != nil {
		return errors.Join(err, errors.New("the LB never sent the VIP's traffic to every backend"))
	}
	u.Window = 4 * r.LB.Interval
	w := r.Bed.Watch(ctx, 50*time.Millisecond, 300*time.Millisecond, u.Window)
	if err := testbed.Sleep(ctx, u.Window); err != nil {
		w.Stop()
		return err
	}
	answers := w.Stop()
	r.TL.answers(answers...)
	u.By = map[string]int{}
	for _, a := range answers {
		if a.Err != nil || a.Node == "" {
			u.Failed++
		} else {
			u.By[a.Node]++
		}
	}
	r.say(time.Now(), "client: while no backend was healthy, for %s: %s", ms(u.Window), countsText(u.By, u.Failed))
	return nil
}
