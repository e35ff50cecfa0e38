package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime/debug"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ilbvip/ilbvip/pkg/responder"
	"github.com/ilbvip/ilbvip/pkg/statedir"
)

// Serve is the responder process: the internal serve command. It writes
// its pid file, binds, reports "bound" (or the error) on ready, serves
// until TERM, then closes the listener first and exits. In http mode with
// a drain time it answers 503 for that long before closing. With a VIP it
// answers only while the VIP is usable (see gate).
func Serve(ready *os.File) int {
	report := func(msg string) {
		if ready != nil {
			_, _ = ready.WriteString(msg + "\n")
			_ = ready.Close()
			ready = nil
		}
	}
	var spec Spec
	if err := json.Unmarshal([]byte(os.Getenv(SpecEnv)), &spec); err != nil || spec.Tag == "" {
		report("error:other:serve is internal: restore starts it (no valid " + SpecEnv + ")")
		return 2
	}
	setProcessName("ilbvip:" + spec.Tag)
	// A soft limit keeps the long-lived responder's heap small after a burst
	// of probes; it costs nothing while the heap stays below it.
	debug.SetMemoryLimit(6 << 20)
	log := serveLogger(spec)

	changed := make(chan struct{}, 1)
	sigs, err := notifyStop() // exists before the pid file names this process
	if err != nil {
		report("error:other:" + err.Error())
		return 1
	}
	srv, pidPath, kind, err := listen(spec, log, changed)
	if err != nil {
		log.WithError(err).Error("cannot listen")
		report("error:" + kind + ":" + err.Error())
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	silence := make(chan struct{}, 1) // the gate's: written at once, not rate-limited
	g, err := watchVIP(ctx, srv, spec, log, silence)
	if err != nil {
		_ = srv.Close()
		_ = statedir.Remove(pidPath)
		log.WithError(err).Error("cannot watch the vip")
		report("error:other:" + err.Error())
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	log.Infof("listening on %s (%s), pid %d", srv.Addr(), spec.Protocol, os.Getpid())
	// The stats file exists before restore returns: quickCheck reads it.
	w := &statsWriter{path: statedir.Path(spec.StateDir, spec.Tag, statedir.StatsExt), srv: srv, g: g, log: log}
	w.write(true)
	report(readyMsg)
	return serveUntilStop(srv, spec, w, log, changed, silence, sigs, done)
}

// listen writes the pid file and binds. The pid file comes first, so a
// responder that answers is always one that stop can find; a failed bind
// removes it again. kind is the readiness report's error kind: inuse,
// perm or other.
func listen(spec Spec, log logrus.FieldLogger, changed chan<- struct{}) (srv *responder.Server, pidPath, kind string, err error) {
	opts, err := spec.options()
	if err != nil {
		return nil, "", "other", err
	}
	opts.Log, opts.Changed = log, changed
	rec, err := recordSelf()
	if err != nil {
		return nil, "", "other", err
	}
	rec.Tag, rec.Port, rec.Protocol, rec.VIP, rec.Interface, rec.Config = spec.Tag, spec.Port, spec.Protocol, spec.VIP, spec.Interface, spec.Hash()
	pidPath = statedir.Path(spec.StateDir, spec.Tag, statedir.PidExt)
	if err := statedir.WriteAtomic(pidPath, rec.Marshal()); err != nil {
		return nil, "", "other", err
	}
	srv, err = responder.Listen(opts)
	if err != nil {
		_ = statedir.Remove(pidPath)
		var be *responder.BindError
		switch {
		case errors.As(err, &be) && be.InUse():
			return nil, "", "inuse", err
		case errors.Is(err, os.ErrPermission):
			return nil, "", "perm", err
		}
		return nil, "", "other", err
	}
	return srv, pidPath, "", nil
}

// serveUntilStop keeps the stats file fresh until a stop signal, then
// closes the listener (after the drain in http mode) and returns the exit
// code.
func serveUntilStop(srv *responder.Server, spec Spec, w *statsWriter, log logrus.FieldLogger,
	changed, silence <-chan struct{}, sigs <-chan os.Signal, done <-chan error) int {
	// No periodic wake-up: an idle responder sleeps until a counter moves,
	// then writes at once or arms one timer for the rest of statsInterval.
	var pending <-chan time.Time
	for {
		select {
		case <-changed:
			// While a write is pending, Stats is not called, so the
			// responder sends no more wake-ups until it is done: a busy
			// port costs an atomic load per probe, not a channel send.
			if pending == nil && !w.write(false) {
				pending = time.After(statsInterval - time.Since(w.at))
			}
		case <-silence:
			w.write(true)
		case <-pending:
			pending = nil
			w.write(true)
		case err := <-done:
			log.WithError(err).Error("responder stopped serving")
			return 1
		case sig := <-sigs:
			if spec.Protocol == "http" && spec.Drain > 0 {
				log.Infof("%v: answering 503 for %s (drain)", sig, spec.Drain)
				// The stats file says so before the first 503: whoever
				// sees the 503 then finds the node not answering.
				w.draining = true
				w.write(true)
				srv.SetDraining(true)
				select {
				case <-time.After(spec.Drain):
				case <-sigs:
				}
			}
			_ = srv.Close()
			w.write(true)
			log.Infof("%v: listener closed, exiting", sig)
			return 0
		}
	}
}

// statsWriter writes the stats file when something changed: at most once
// per statsInterval, but at once for the first load-balancer probe (a
// restore with probe_timeout waits for it), the first self-probe (restore's,
// so quickCheck right after it shows it) and every change of the silent
// state (quickCheck reports it).
type statsWriter struct {
	path string
	srv  *responder.Server
	g    *gate
	log  logrus.FieldLogger
	last Stats
	at   time.Time
	// draining: the http drain began (the probe gets 503); set by
	// serveUntilStop, the only caller of write.
	draining bool
}

// write writes now when forced or due; false when a change is left for
// later.
func (w *statsWriter) write(force bool) bool {
	s := w.srv.Stats()
	out := Stats{Pid: os.Getpid(), Since: s.Since, Answered: s.Answered, Local: s.Local, Rejected: s.Rejected,
		Overload: s.Overload, LastProbe: s.LastProbe}
	if s.LastSource.IsValid() {
		out.LastSource = s.LastSource.String()
	}
	out.Silent, out.SilentSince, out.SilentReason = w.g.state()
	out.Draining = w.draining
	prev := w.last
	switch {
	case out == prev:
		return true
	case !force && time.Since(w.at) < statsInterval && out.Silent == prev.Silent &&
		out.SilentReason == prev.SilentReason && !(prev.LastProbe.IsZero() && !out.LastProbe.IsZero()) &&
		!(prev.Local == 0 && out.Local > 0):
		return false
	}
	w.last, w.at = out, time.Now()
	out.Written = w.at
	b, _ := json.Marshal(out)
	if err := statedir.WriteAtomic(w.path, b); err != nil {
		w.log.WithError(err).Debug("write stats")
	}
	return true
}

func (s Spec) options() (responder.Options, error) {
	o := responder.Options{
		Protocol: s.Protocol,
		Message:  []byte(s.Message),
		HTTPPath: s.HTTPPath,
		Deadline: s.ConnTimeout,
	}
	var bind netip.Addr // zero: every address
	if s.Bind != "" {
		a, err := netip.ParseAddr(s.Bind)
		if err != nil {
			return o, fmt.Errorf("bind %q: %w", s.Bind, err)
		}
		bind = a
	}
	o.Addr = netip.AddrPortFrom(bind, s.Port)
	for _, a := range s.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return o, fmt.Errorf("allow %q: %w", a, err)
		}
		o.Allow = append(o.Allow, p)
	}
	return o, nil
}

func serveLogger(spec Spec) *logrus.Entry {
	l := logrus.New()
	lvl, err := logrus.ParseLevel(spec.LogLevel)
	if err != nil {
		lvl = logrus.InfoLevel
	}
	l.SetLevel(lvl)
	if !useSyslog(l, spec.Tag) {
		path := statedir.Path(spec.StateDir, spec.Tag, statedir.LogExt)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|noFollow, 0o600)
		if err == nil {
			l.SetOutput(f)
		} else {
			l.SetOutput(os.Stderr)
		}
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	}
	return l.WithField("tag", spec.Tag)
}
