package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Probe kinds the load generator sends.
const (
	KindTCP    = "tcp"     // handshake only, then reset: what a load balancer's TCP probe checks
	KindTCPMsg = "tcp+msg" // handshake, then read to EOF and compare with Expect
	KindHTTP   = "http"    // GET Path, read to EOF, want status 200
)

// LoadSpec is one load generator run: Workers probe Addr back to back,
// while Idle connections opened first are held open, until Duration or
// MaxProbes, whichever comes first.
type LoadSpec struct {
	Addr      string        `json:"addr"`
	Kind      string        `json:"kind"`
	Expect    string        `json:"expect,omitempty"` // KindTCPMsg: the exact bytes the server sends
	Path      string        `json:"path,omitempty"`   // KindHTTP
	Workers   int           `json:"workers"`
	Idle      int           `json:"idle"`
	Duration  time.Duration `json:"duration"`
	MaxProbes int           `json:"max_probes"`
	Timeout   time.Duration `json:"timeout"` // per probe; a probe still unanswered then has failed
	// Settle bounds the wait, before the run, for one probe to succeed
	// (a listener still busy with the previous run's connections).
	Settle time.Duration `json:"settle"`
}

// LoadResult is what a run measured. Latencies are of every probe, a
// failed one counted at the time it failed (at most Timeout).
type LoadResult struct {
	Probes     int           `json:"probes"`
	OK         int           `json:"ok"`
	Within1s   int           `json:"within_1s"` // succeeded in at most 1 s
	Elapsed    time.Duration `json:"elapsed"`
	P50        time.Duration `json:"p50"`
	P99        time.Duration `json:"p99"`
	IdleOpen   int           `json:"idle_open"`   // idle connections established before the probes started
	IdleClosed int           `json:"idle_closed"` // of those, closed by the server during the run
	Settled    bool          `json:"settled"`     // a probe succeeded before the run
	FirstError string        `json:"first_error,omitempty"`
}

// Rate is successful probes per second of the run.
func (r LoadResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ShareWithin1s is the share of all probes answered within 1 s.
func (r LoadResult) ShareWithin1s() float64 {
	if r.Probes == 0 {
		return 0
	}
	return float64(r.Within1s) / float64(r.Probes)
}

func (s *LoadSpec) check() error {
	switch {
	case s.Kind != KindTCP && s.Kind != KindTCPMsg && s.Kind != KindHTTP:
		return fmt.Errorf("load: kind %q: use %s, %s or %s", s.Kind, KindTCP, KindTCPMsg, KindHTTP)
	case s.Workers < 1 || s.Workers > 1024:
		return fmt.Errorf("load: workers %d: use 1-1024", s.Workers)
	case s.Idle < 0 || s.Idle > 10000:
		return fmt.Errorf("load: idle %d: use 0-10000", s.Idle)
	case s.Duration <= 0 || s.Duration > 10*time.Minute:
		return fmt.Errorf("load: duration %v: use up to 10m", s.Duration)
	case s.MaxProbes < 1 || s.MaxProbes > 10_000_000:
		return fmt.Errorf("load: max probes %d: use 1-10000000", s.MaxProbes)
	case s.Timeout <= 0 || s.Timeout > time.Minute:
		return fmt.Errorf("load: timeout %v: use up to 1m", s.Timeout)
	case s.Settle < 0 || s.Settle > time.Minute:
		return fmt.Errorf("load: settle %v: use up to 1m", s.Settle)
	}
	return nil
}

// RunLoad runs spec against its address and returns what it measured.
// Every loop in it is bounded by spec's duration, count and timeouts.
func RunLoad(spec LoadSpec) (*LoadResult, error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	res := &LoadResult{}
	res.Settled = settle(spec)

	idle := openIdle(spec)
	res.IdleOpen = len(idle.conns)

	t := newLoadTally(spec.Workers)
	res.Elapsed = t.run(spec)
	res.IdleClosed = idle.close()
	t.addTo(res)
	return res, nil
}

// settle probes until one probe succeeds or spec.Settle has passed (the
// listener may still be busy with the previous run's connections) and
// reports whether one succeeded.
func settle(spec LoadSpec) bool {
	settleEnd := time.Now().Add(spec.Settle)
	for {
		if probe(spec, time.Now()) == nil {
			return true
		}
		if time.Now().After(settleEnd) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loadTally is what the workers of one run measured. Each worker has its
// own slot in every slice, so they need no lock.
type loadTally struct {
	lats     [][]time.Duration
	oks      []int
	within   []int
	next     atomic.Int64 // probes claimed so far, against spec.MaxProbes
	firstErr atomic.Value // the first failed probe's message
}

func newLoadTally(workers int) *loadTally {
	return &loadTally{
		lats:   make([][]time.Duration, workers),
		oks:    make([]int, workers),
		within: make([]int, workers),
	}
}

// run starts spec.Workers workers, waits for all of them and returns how
// long that took.
func (t *loadTally) run(spec LoadSpec) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(spec.Duration)
	for w := range spec.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.work(spec, w, end)
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// work is worker w: it probes back to back until end, or until the run's
// spec.MaxProbes probes are claimed.
func (t *loadTally) work(spec LoadSpec, w int, end time.Time) {
	l := make([]time.Duration, 0, 1024)
	for t.next.Add(1) <= int64(spec.MaxProbes) {
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		err := probe(spec, t0)
		d := time.Since(t0)
		l = append(l, d)
		if err != nil {
			t.firstErr.CompareAndSwap(nil, err.Error())
			continue
		}
		t.oks[w]++
		if d <= time.Second {
			t.within[w]++
		}
	}
	t.lats[w] = l
}

// addTo adds the workers' counts, latencies and first error to res.
func (t *loadTally) addTo(res *LoadResult) {
	var all []time.Duration
	for w := range t.lats {
		all = append(all, t.lats[w]...)
		res.OK += t.oks[w]
		res.Within1s += t.within[w]
	}
	s := Summarize(all)
	res.Probes, res.P50, res.P99 = s.N, s.Median, s.P99
	if e, ok := t.firstErr.Load().(string); ok {
		res.FirstError = e
	}
}

// probe sends one probe of spec's kind, started at t0.
func probe(spec LoadSpec, t0 time.Time) error {
	d := net.Dialer{Deadline: t0.Add(spec.Timeout)}
	c, err := d.Dial("tcp", spec.Addr)
	if err != nil {
		return err
	}
	tc := c.(*net.TCPConn)
	// Close with a reset: no TIME_WAIT on either side, so a long run does
	// not run out of ports (a load balancer's TCP probe resets, too).
	defer func() { _ = tc.SetLinger(0); tc.Close() }()
	if spec.Kind == KindTCP {
		return nil
	}
	_ = c.SetDeadline(t0.Add(spec.Timeout))
	if spec.Kind == KindHTTP {
		req := "GET " + spec.Path + " HTTP/1.1\r\nHost: " + spec.Addr + "\r\nUser-Agent: ilbvip-bench\r\nConnection: close\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(io.LimitReader(c, 8192))
	if err != nil {
		return err
	}
	switch spec.Kind {
	case KindHTTP:
		if !bytes.HasPrefix(b, []byte("HTTP/1.1 200 ")) && !bytes.HasPrefix(b, []byte("HTTP/1.0 200 ")) {
			return fmt.Errorf("http: unexpected answer %.40q", b)
		}
	default:
		if string(b) != spec.Expect {
			return fmt.Errorf("tcp: got %.40q, want %q", b, spec.Expect)
		}
	}
	return nil
}

// idleSet is connections held open, each with a reader that notices when
// the server closes it.
type idleSet struct {
	conns  []*net.TCPConn
	closed atomic.Int64
	wg     sync.WaitGroup
}

// openIdle opens spec.Idle connections concurrently, each given at most a
// second; those that fail are not retried.
func openIdle(spec LoadSpec) *idleSet {
	s := &idleSet{}
	if spec.Idle == 0 {
		return s
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256) // bounds concurrent handshakes
	for range spec.Idle {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", spec.Addr, time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			s.conns = append(s.conns, c.(*net.TCPConn))
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, c := range s.conns {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, 512)
			for {
				if _, err := c.Read(buf); err != nil {
					// Our own Close ends the read with net.ErrClosed.
					if !errors.Is(err, net.ErrClosed) {
						s.closed.Add(1)
					}
					return
				}
			}
		}()
	}
	return s
}

// close resets every idle connection and returns how many the server had
// closed before.
func (s *idleSet) close() int {
	n := int(s.closed.Load())
	for _, c := range s.conns {
		_ = c.SetLinger(0)
		c.Close()
	}
	s.wg.Wait()
	return n
}

// LoadMain is the load generator as a command: it reads a LoadSpec (JSON)
// from args[0] and prints the LoadResult as JSON on out.
func LoadMain(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: bench load SPEC-JSON")
	}
	var spec LoadSpec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		return fmt.Errorf("load: spec: %w", err)
	}
	res, err := RunLoad(spec)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}
