// Package lbsim simulates a cloud internal load balancer for tests and the
// demo, with each cloud's rules (see Rules): Azure's Standard load balancer
// with Floating IP (the default), Google Cloud's internal passthrough
// Network Load Balancer and AWS's Network Load Balancer.
//
// It probes every backend's probe port as the cloud does (a TCP handshake,
// or an HTTP GET whose status the cloud's rule accepts), every Interval
// with a Timeout: at the backend's own address (Azure, AWS) or at the VIP
// through that backend (Google Cloud). HealthyThreshold successes in a row
// bring a backend up and UnhealthyThreshold failures take it down (Azure's
// probeThreshold is one number for both; Google's healthy and unhealthy
// thresholds and AWS's threshold counts are two); a
// refused or reset connection is a failure, and on Azure an HTTP answer
// other than 200 takes a backend down at once. Backends start down.
//
// With Floating IP the VIP's traffic goes to one healthy backend without
// changing the destination address: the simulator sets a VIP/32 route via
// that backend's address. AWS has no Floating IP: the simulator stands in
// for the Network Load Balancer with a TCP proxy on the frontend address
// (the VIP, in the simulator's namespace) that connects to the target's own
// address. With no healthy backend the traffic is dropped (a blackhole
// route), or sent to every backend where the cloud does that (a multipath
// route, or the proxy's round robin): Azure with NoHealthyBackendsBehavior
// AllProbedUp, Google Cloud without a failover policy that sets
// dropTrafficIfUnhealthy, and AWS, which fails open. The choice is sticky:
// the active backend keeps the traffic while it stays up, which is what a
// load balancer in front of a cluster with one healthy node does.
//
// All backends are probed together once per interval, and a round's results
// are applied together, so "two backends healthy at once" means two nodes
// answered the probe in the same round. Every transition is logged with a
// timestamp and reported as an Event, so tests can assert that never two
// backends were healthy and measure how long a failover took.
package lbsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netns"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
)

// Limits of Config.
const (
	MinInterval  = 10 * time.Millisecond
	MaxInterval  = time.Hour
	MaxThreshold = 100
	MaxBackends  = 64
)

// Backend is one member of the backend pool.
type Backend struct {
	Name string
	// Addr is the backend NIC's address and the probe port. The address is
	// also the next hop of the VIP's traffic (Floating IP: the packets keep
	// the VIP as destination).
	Addr netip.AddrPort
}

func (b Backend) String() string { return b.Name + "=" + b.Addr.String() }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)

// ParseBackend parses "name=address:port", e.g. "node1=10.0.1.2:12345"
// ("node1=[fd00:1::2]:12345" for IPv6).
func ParseBackend(s string) (Backend, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		return Backend{}, fmt.Errorf("backend %q: want name=address:port, for example node1=10.0.1.2:12345", s)
	}
	if !nameRE.MatchString(name) {
		return Backend{}, fmt.Errorf("backend %q: name %q: use letters, digits, '.', '_', '-' (at most 32)", s, name)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Port() == 0 {
		return Backend{}, fmt.Errorf("backend %q: %q is not address:port (port 1-65535), for example 10.0.1.2:12345", s, addr)
	}
	return Backend{Name: name, Addr: ap}, nil
}

// Router sends the VIP's traffic where the simulator decides.
type Router interface {
	// Route sends the VIP's new connections to the backends in to (one,
	// or all of them when none is healthy and the cloud sends to all),
	// or drops them when to is empty.
	Route(to []Backend) error
	// Close removes what Route made.
	Close() error
}

// Config configures a Sim. Zero values take the documented defaults.
type Config struct {
	VIP      netip.Addr    // the frontend IP
	Backends []Backend     // the backend pool, in order of preference
	Protocol string        // probe protocol: "tcp" (default) or "http"
	Path     string        // http: the probe's path, default "/"
	Interval time.Duration // default: the cloud's (Defaults)
	Timeout  time.Duration // one probe at most; default and maximum: Interval
	// Threshold is results in a row that flip a backend in both
	// directions (Azure's probeThreshold is one number); HealthyThreshold
	// and UnhealthyThreshold, when set, override it for one direction
	// (Google Cloud's and AWS's two thresholds). Unset ones take the
	// cloud's defaults (Defaults).
	Threshold          int
	HealthyThreshold   int // successes in a row that bring a backend up
	UnhealthyThreshold int // failures in a row that take it down
	// Cloud is azure (default), gcp or aws: the rules the simulator
	// follows (see Rules).
	Cloud string
	// NoHealthyBackendsBehavior is Azure's probe setting: AllProbedDown
	// (default) or AllProbedUp.
	NoHealthyBackendsBehavior string
	// DropTrafficIfUnhealthy: Google Cloud: the backend service has a
	// failover policy with dropTrafficIfUnhealthy (the setup ilbvip needs).
	// Without it, new connections go to every backend when none is healthy
	// (without a failover policy; a policy without dropTrafficIfUnhealthy
	// sends them to the primary backends, and the simulator has no backup
	// backends, so it is the same here).
	DropTrafficIfUnhealthy bool
	// Listeners are an AWS Network Load Balancer's listener ports: the
	// proxy forwards them to the same port on the target's own address.
	Listeners []uint16
	// Netns is the named network namespace (as `ip netns` names it) the
	// simulator probes from and routes in; "" is the current one.
	Netns string
	// Router routes the VIP; nil: a VIP/32 route with netlink in Netns
	// (Linux only).
	Router Router
	Log    logrus.FieldLogger // nil: no log
	// OnEvent, when set, sees every event in order, from the simulator's
	// goroutine; it must not block for long.
	OnEvent func(Event)
}

// Kind is what an Event reports.
type Kind string

// Event kinds.
const (
	Up         Kind = "up"          // a backend turned healthy
	Down       Kind = "down"        // a backend turned unhealthy
	Routed     Kind = "routed"      // the VIP's traffic now goes to Backend
	Dropped    Kind = "dropped"     // no backend is healthy: the VIP's traffic is dropped
	ToAll      Kind = "to-all"      // no backend is healthy: the VIP's traffic goes to every backend
	TwoHealthy Kind = "two-healthy" // more than one backend is healthy at once
)

// Event is one transition.
type Event struct {
	Time    time.Time
	Kind    Kind
	Backend string   // Up, Down, Routed: the backend
	Healthy []string // the healthy backends after the event
	Detail  string   // Down: the last probe's error; Routed: the next hop
}

func (e Event) String() string {
	switch e.Kind {
	case Up:
		return e.Backend + " up"
	case Down:
		return e.Backend + " down: " + e.Detail
	case Routed:
		return "VIP traffic -> " + e.Backend + " (via " + e.Detail + ")"
	case Dropped:
		return "VIP traffic dropped: no healthy backend"
	case ToAll:
		return "VIP traffic -> every backend: no healthy backend, and " + e.Detail
	case TwoHealthy:
		return "two backends healthy at once: " + strings.Join(e.Healthy, ", ")
	}
	return string(e.Kind)
}

// Sim is a running (or ready) simulator.
type Sim struct {
	cfg    Config
	rules  Rules
	log    logrus.FieldLogger
	states []state
	active int  // index of the backend that gets the traffic, -1: dropped, -2: every backend
	routed bool // a route (or blackhole) was set
	twice  bool // two backends are healthy now (reported once per episode)

	mu      sync.Mutex
	events  []Event
	lastErr map[string]error // each backend's last probe error, nil after a success
}

type state struct {
	up       bool
	ok, fail int // results in a row
	lastErr  error
}

// New validates cfg and returns a simulator that Run starts.
func New(cfg Config) (*Sim, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	return &Sim{cfg: cfg, rules: cfg.rules(), log: log, states: make([]state, len(cfg.Backends)), active: -1, lastErr: map[string]error{}}, nil
}

func (c *Config) check() error {
	if !c.VIP.IsValid() {
		return errors.New("vip is missing: give the frontend IP, for example 10.10.5.200")
	}
	if len(c.Backends) == 0 || len(c.Backends) > MaxBackends {
		return fmt.Errorf("backends: give 1 to %d, for example node1=10.0.1.2:12345", MaxBackends)
	}
	seen := map[string]bool{}
	for _, b := range c.Backends {
		if seen[b.Name] {
			return fmt.Errorf("backend %s: the name is used twice: give each backend its own name", b.Name)
		}
		seen[b.Name] = true
		if b.Addr.Addr().Is4() != c.VIP.Is4() {
			return fmt.Errorf("backend %s: %s and the vip %s are of different IP families: use one family", b, b.Addr.Addr(), c.VIP)
		}
	}
	switch c.Protocol = strings.ToLower(c.Protocol); c.Protocol {
	case "":
		c.Protocol = "tcp"
	case "tcp", "http":
	default:
		return fmt.Errorf("protocol %q: use tcp or http", c.Protocol)
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.Protocol == "http" && (!strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, " \t\r\n")) {
		return fmt.Errorf("path %q: start with '/', no spaces", c.Path)
	}
	if err := c.checkCloud(); err != nil {
		return err
	}
	return c.checkProbe()
}

// checkProbe fills in the cloud's probe defaults and checks the timing.
func (c *Config) checkProbe() error {
	d := Defaults(c.Cloud)
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Interval < MinInterval || c.Interval > MaxInterval {
		return fmt.Errorf("interval %s: use %s to %s", c.Interval, MinInterval, MaxInterval)
	}
	if c.Timeout == 0 {
		c.Timeout = c.Interval
	}
	if c.Timeout < 0 || c.Timeout > c.Interval {
		return fmt.Errorf("timeout %s: use more than 0 and at most the interval %s", c.Timeout, c.Interval)
	}
	for _, t := range []struct {
		name string
		v    *int
		def  int
	}{{"threshold", &c.Threshold, 0}, {"healthy threshold", &c.HealthyThreshold, d.HealthyThreshold}, {"unhealthy threshold", &c.UnhealthyThreshold, d.UnhealthyThreshold}} {
		if *t.v < 0 || *t.v > MaxThreshold {
			return fmt.Errorf("%s %d: use 1 to %d", t.name, *t.v, MaxThreshold)
		}
		if *t.v == 0 && t.def > 0 {
			*t.v = c.Threshold // Threshold, when given, stands for both directions
			if *t.v == 0 {
				*t.v = t.def
			}
		}
	}
	if c.Threshold == 0 && c.HealthyThreshold == c.UnhealthyThreshold {
		c.Threshold = c.HealthyThreshold
	}
	return nil
}

// Config returns the configuration with its defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

// Rules returns the cloud's rules the simulator follows.
func (s *Sim) Rules() Rules { return s.rules }

// Run probes and routes until ctx is done, then removes its route and
// returns nil. It returns an error when the namespace cannot be entered or a
// route cannot be set.
func (s *Sim) Run(ctx context.Context) error {
	h, err := netnsrun.Open(s.cfg.Netns)
	if err != nil {
		return err
	}
	if h.IsOpen() {
		defer h.Close()
	}
	router := s.cfg.Router
	if router == nil {
		// It sets routes (and sysctls): only in a namespace made for the
		// purpose, never the host's, and when that is undecidable, not at all.
		if err := netnsrun.NotHost(h); err != nil {
			return fmt.Errorf("lbsim: %w (it would route the VIP there): run it inside a namespace (ip netns exec LB lbsim)", err)
		}
		if router, err = newRouter(h, &s.cfg, s.rules, s.log); err != nil {
			return err
		}
	}
	defer func() {
		if err := router.Close(); err != nil {
			s.log.Warnf("remove the VIP route: %v", err)
		}
	}()
	s.log.Infof("%s: probing %d backends (%s, every %s, timeout %s, %d successes in a row bring a backend up, %d failures take it down) for VIP %s",
		s.cfg.Cloud, len(s.cfg.Backends), s.cfg.Protocol, s.cfg.Interval, s.cfg.Timeout, s.cfg.HealthyThreshold, s.cfg.UnhealthyThreshold, s.cfg.VIP)
	if err := s.reroute(router, time.Now()); err != nil { // drop until a backend is up
		return err
	}
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	for {
		results := s.probeAll(h)
		if err := s.apply(router, results, time.Now()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// probeAll probes every backend at once and waits for all of them (each is
// bounded by the timeout).
func (s *Sim) probeAll(h netns.NsHandle) []error {
	res := make([]error, len(s.cfg.Backends))
	var wg sync.WaitGroup
	for i, b := range s.cfg.Backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = s.probe(h, i, b)
		}()
	}
	wg.Wait()
	return res
}

// apply feeds one round of results into the backends' states, then
// reports overlaps and moves the route.
func (s *Sim) apply(router Router, results []error, now time.Time) error {
	s.mu.Lock()
	for i, err := range results {
		s.lastErr[s.cfg.Backends[i].Name] = err
	}
	s.mu.Unlock()
	var downs, ups []int
	for i, err := range results {
		st := &s.states[i]
		if err == nil {
			st.ok, st.fail = st.ok+1, 0
			if !st.up && st.ok >= s.cfg.HealthyThreshold {
				st.up = true
				ups = append(ups, i)
			}
			continue
		}
		st.ok, st.fail, st.lastErr = 0, st.fail+1, err
		var se *StatusError
		fast := s.rules.FailFastHTTP && errors.As(err, &se)
		if st.up && (st.fail >= s.cfg.UnhealthyThreshold || fast) {
			st.up = false
			downs = append(downs, i)
		} else {
			s.log.Debugf("probe %s: %v", s.cfg.Backends[i].Name, err)
		}
	}
	for _, i := range downs {
		s.emit(Event{Time: now, Kind: Down, Backend: s.cfg.Backends[i].Name, Detail: s.states[i].lastErr.Error()})
	}
	for _, i := range ups {
		s.emit(Event{Time: now, Kind: Up, Backend: s.cfg.Backends[i].Name})
	}
	healthy := s.healthy()
	if len(healthy) > 1 && !s.twice {
		s.emit(Event{Time: now, Kind: TwoHealthy})
	}
	s.twice = len(healthy) > 1
	return s.reroute(router, now)
}

// reroute keeps the active backend while it is up (sticky), else picks the
// first healthy one, else drops the traffic or sends it to every backend,
// as the cloud does.
func (s *Sim) reroute(router Router, now time.Time) error {
	next := -1
	if s.active >= 0 && s.states[s.active].up {
		next = s.active
	} else {
		for i := range s.states {
			if s.states[i].up {
				next = i
				break
			}
		}
	}
	if next < 0 && s.rules.ToAllWhenNoneHealthy {
		next = -2
	}
	if s.routed && next == s.active {
		return nil
	}
	switch next {
	case -1:
		if err := router.Route(nil); err != nil {
			return fmt.Errorf("drop the VIP's traffic: %w", err)
		}
		s.active, s.routed = -1, true
		s.emit(Event{Time: now, Kind: Dropped})
	case -2:
		if err := router.Route(s.cfg.Backends); err != nil {
			return fmt.Errorf("send the VIP's traffic to every backend: %w", err)
		}
		s.active, s.routed = -2, true
		s.emit(Event{Time: now, Kind: ToAll, Detail: s.rules.Why})
	default:
		b := s.cfg.Backends[next]
		if err := router.Route([]Backend{b}); err != nil {
			return fmt.Errorf("route the VIP to %s: %w", b, err)
		}
		s.active, s.routed = next, true
		s.emit(Event{Time: now, Kind: Routed, Backend: b.Name, Detail: b.Addr.Addr().String()})
	}
	return nil
}

func (s *Sim) healthy() []string {
	var out []string
	for i, st := range s.states {
		if st.up {
			out = append(out, s.cfg.Backends[i].Name)
		}
	}
	return out
}

func (s *Sim) emit(e Event) {
	e.Healthy = s.healthy()
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	if e.Kind == TwoHealthy {
		s.log.Warn(e.String())
	} else {
		s.log.Info(e.String())
	}
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

// StatusError is an HTTP probe answered with a status the cloud does not
// take as healthy.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("http status %d", e.Code) }

// LastError is backend's last probe error: nil after a success or before
// the first probe. It says why a backend does not turn healthy.
func (s *Sim) LastError(backend string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr[backend]
}

// Events returns a copy of the events so far, oldest first.
func (s *Sim) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}
