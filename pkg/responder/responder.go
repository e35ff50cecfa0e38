// Package responder is the load balancer's health-probe server: it answers
// the probe on the active node so the load balancer sends the virtual IP's
// traffic there and nowhere else. It needs no privileges.
//
// Two protocols are served. In "tcp" mode a probe succeeds on the handshake
// alone; the server writes an optional fixed message and closes, never
// echoing. In "http" mode a minimal, hand-rolled HTTP/1.x parser answers GET
// or HEAD of one path with 200 (503 while draining) and closes after one
// response.
//
// Either way the close is clean: the answer, then a FIN, then whatever the
// client still sends (a PROXY header, a request string, a second pipelined
// request) is read and dropped until the client closes, within the read
// limit and the deadline. A socket closed with unread input would send a
// reset instead of a FIN, and a load balancer may count a reset as a failed
// probe.
//
// Every connection runs in its own goroutine under a deadline and reads at most
// a few KiB, so a silent or hostile client cannot hold up other probes. An
// optional source allow-list is enforced twice: in user space on accept, and
// on Linux by a classic BPF filter on the listening socket that drops SYNs from
// other sources, because a plain TCP probe succeeds on the handshake alone.
// Both match the source address alone: a link-local source (Azure probes
// IPv6 from fe80::1234:5678:9abc) arrives zoned (fe80::1234:5678:9abc%eth0),
// and its zone is dropped before matching, while the zone stays in the last
// probe source shown to the admin.
//
// Counters distinguish probes from the load balancer from self-probes. A
// source is "local" exactly when it is 127.0.0.1, ::1 or the connection's own
// local address; any other source, including other loopback addresses such as
// 127.0.0.2, counts as an answered (non-local) probe.
package responder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Limits and defaults for Options.
const (
	MaxMessage      = 1024 // bytes of Options.Message at most
	MaxAllow        = 32   // prefixes in Options.Allow at most
	DefaultDeadline = 2 * time.Second
	DefaultMaxRead  = 4096
	DefaultMaxConns = 4096
)

// Options configures a Server. Zero values take the documented defaults.
type Options struct {
	Protocol string         // "tcp" or "http"
	Addr     netip.AddrPort // bind address and port; an unspecified address listens on all addresses (dual-stack when the host has IPv6)
	Message  []byte         // TCP mode: bytes written on accept (may be empty); at most MaxMessage bytes
	HTTPPath string         // HTTP mode: the path answered with 200, default "/"
	Allow    []netip.Prefix // empty = any source; else only these sources plus 127.0.0.1, ::1 and a specific bind address
	Deadline time.Duration  // per-connection deadline, default 2s
	MaxRead  int            // bytes read per connection at most, default 4096
	MaxConns int            // concurrent connections at most, default 4096; beyond it new connections are closed at once (Overload)
	Log      logrus.FieldLogger
	// Changed, when set, gets a value (never blocking) when a counter
	// changes, so a stats writer can sleep until there is news: one value
	// until the next Stats call, so a busy port costs an atomic load per
	// probe, not a channel send.
	Changed chan<- struct{}

	// noKernelFilter skips the socket filter so tests can reach the
	// user-space allow check with a disallowed source.
	noKernelFilter bool
}

// Stats are the server's counters, for quickCheck to show an admin.
type Stats struct {
	Answered   uint64     // probes answered from non-local sources
	Local      uint64     // self-probes answered (source 127.0.0.1, ::1 or the connection's own local address)
	Rejected   uint64     // connections from outside Allow closed in user space, or HTTP requests that were not a valid probe (400, 404, 405)
	Overload   uint64     // connections closed at once because MaxConns were in flight
	LastProbe  time.Time  // time of the last answered non-local probe (zero if none)
	LastSource netip.Addr // source of that probe; a link-local one keeps its zone (fe80::1234:5678:9abc%eth0)
	Since      time.Time  // when listening started
}

// BindError is returned by Listen when the port cannot be bound. It names the
// port and, where it can be found, the process holding it.
type BindError struct {
	Addr   netip.AddrPort
	Holder string // e.g. "nginx (pid 4321)", "" when unknown
	Err    error
}

func (e *BindError) Error() string {
	switch {
	case e.InUse():
		msg := fmt.Sprintf("port %d is already in use", e.Addr.Port())
		if e.Holder != "" {
			msg += " by " + e.Holder
		}
		return msg + ": stop that program, or give the load balancer's probe and port another free port"
	case isAddrNotAvail(e.Err):
		return fmt.Sprintf("bind %s: %v: %s is not an address of this node: set bind to one of its addresses, or leave bind empty", e.Addr, Reason(e.Err), e.Addr.Addr())
	}
	return fmt.Sprintf("bind %s: %v", e.Addr, Reason(e.Err))
}

func (e *BindError) Unwrap() error { return e.Err }

// InUse reports whether another socket already holds the port.
func (e *BindError) InUse() bool { return isAddrInUse(e.Err) }

// Server answers health probes on one listening socket.
type Server struct {
	opts     Options
	log      logrus.FieldLogger
	notified atomic.Bool      // a value was sent on Options.Changed since the last Stats
	debug    bool             // log each probe: checked once, as WithField allocates even when the level is off
	lc       net.ListenConfig // how to listen again after a pause (the filter attached before bind)
	hostport string
	addr     netip.AddrPort
	bind     netip.Addr     // specific bind address, invalid when listening on all
	allow    []netip.Prefix // normalised; empty = any source
	since    time.Time

	draining atomic.Bool
	unable   atomic.Bool // SetAble(false): tcp listener closed, http answers 503
	active   atomic.Int64

	answered, local, rejected, overload atomic.Uint64
	last                                atomic.Pointer[lastProbe]

	mu        sync.Mutex
	ln        net.Listener  // nil while paused (tcp mode, unable)
	wake      chan struct{} // Serve waits here while paused
	closed    bool
	serving   bool
	serveDone chan struct{}
	conns     sync.WaitGroup

	endMu    sync.Mutex
	ending   map[net.Conn]struct{} // answered, reading until the client closes (finish)
	stopping bool                  // Close began: finish closes at once

	bufs sync.Pool // read buffers of MaxRead bytes: HTTP requests, and what finish drops
}

type lastProbe struct {
	at  time.Time
	src netip.Addr
}

// Listen validates opts, binds the port with the allow filter attached before
// bind (so no SYN from another source slips through), and returns a server
// ready to Serve.
func Listen(opts Options) (*Server, error) {
	if err := normalise(&opts); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Log, debug: debugEnabled(opts.Log), serveDone: make(chan struct{}), wake: make(chan struct{}, 1)}
	s.bufs.New = func() any { b := make([]byte, opts.MaxRead); return &b }

	bindAddr := opts.Addr.Addr().Unmap()
	if bindAddr.IsValid() && !bindAddr.IsUnspecified() {
		s.bind = bindAddr
	}
	if len(opts.Allow) > 0 {
		s.allow = append(s.allow, opts.Allow...)
		s.allow = append(s.allow, netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 32), netip.PrefixFrom(netip.IPv6Loopback(), 128))
		if s.bind.IsValid() {
			s.allow = append(s.allow, netip.PrefixFrom(s.bind, s.bind.BitLen()))
		}
	}

	if len(s.allow) > 0 && !opts.noKernelFilter {
		ctl, err := filterControl(s.allow)
		if err != nil {
			return nil, fmt.Errorf("responder: allow filter: %w", err)
		}
		s.lc.Control = ctl
	}

	// ":port" lets the net package pick [::] with v4-mapped addresses when
	// the host has IPv6, and 0.0.0.0 otherwise.
	s.hostport = fmt.Sprintf(":%d", opts.Addr.Port())
	if s.bind.IsValid() {
		s.hostport = opts.Addr.String()
	}
	ln, err := s.listen(opts.Addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.addr = ln.Addr().(*net.TCPAddr).AddrPort()
	if opts.Addr.Port() == 0 { // listen again on the port we got
		s.hostport = s.hostport[:strings.LastIndexByte(s.hostport, ':')+1] + strconv.Itoa(int(s.addr.Port()))
	}
	s.since = time.Now()
	s.log.WithFields(logrus.Fields{"addr": s.addr.String(), "protocol": opts.Protocol}).Debug("responder listening")
	return s, nil
}

// listen binds the port; a failure is a *BindError naming the holder.
func (s *Server) listen(want netip.AddrPort) (net.Listener, error) {
	ln, err := s.lc.Listen(context.Background(), "tcp", s.hostport)
	if err == nil {
		return ln, nil
	}
	be := &BindError{Addr: want, Err: err}
	if !be.Addr.Addr().IsValid() {
		be.Addr = netip.AddrPortFrom(netip.IPv4Unspecified(), want.Port())
	}
	if be.InUse() {
		be.Holder = PortHolder(want.Port())
	}
	return nil, be
}

// normalise fills defaults and rejects options that cannot work.
func normalise(o *Options) error {
	o.Protocol = strings.ToLower(o.Protocol)
	switch o.Protocol {
	case "tcp", "http":
	default:
		return fmt.Errorf("responder: protocol %q: want tcp or http", o.Protocol)
	}
	if len(o.Message) > MaxMessage {
		return fmt.Errorf("responder: message is %d bytes, at most %d", len(o.Message), MaxMessage)
	}
	o.Message = bytes.Clone(o.Message) // the caller may reuse its slice
	if o.HTTPPath == "" {
		o.HTTPPath = "/"
	}
	if err := validPath(o.HTTPPath); err != nil {
		return fmt.Errorf("responder: http path %q: %w", o.HTTPPath, err)
	}
	if len(o.Allow) > MaxAllow {
		return fmt.Errorf("responder: allow has %d prefixes, at most %d", len(o.Allow), MaxAllow)
	}
	allow := make([]netip.Prefix, 0, len(o.Allow))
	for _, p := range o.Allow {
		if !p.IsValid() {
			return fmt.Errorf("responder: allow prefix %q is not valid", p.String())
		}
		allow = append(allow, normalPrefix(p))
	}
	o.Allow = allow
	switch {
	case o.Deadline < 0:
		return fmt.Errorf("responder: deadline %v is negative", o.Deadline)
	case o.Deadline == 0:
		o.Deadline = DefaultDeadline
	}
	switch {
	case o.MaxRead < 0:
		return fmt.Errorf("responder: max read %d is negative", o.MaxRead)
	case o.MaxRead == 0:
		o.MaxRead = DefaultMaxRead
	}
	switch {
	case o.MaxConns < 0:
		return fmt.Errorf("responder: max conns %d is negative", o.MaxConns)
	case o.MaxConns == 0:
		o.MaxConns = DefaultMaxConns
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		o.Log = l
	}
	return nil
}

// normalPrefix masks p and turns a v4-mapped IPv6 prefix into the IPv4 prefix
// it means, since IPv4 clients of a dual-stack socket arrive as IPv4 packets.
func normalPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return netip.PrefixFrom(a, p.Bits()).Masked()
}

// Addr is the bound address, with the port resolved when 0 was asked.
func (s *Server) Addr() netip.AddrPort { return s.addr }

// SetDraining makes HTTP mode answer 503 to the probe path while on, so the
// load balancer moves traffic away before the listener closes.
func (s *Server) SetDraining(on bool) { s.draining.Store(on) }

// Stats returns a snapshot of the counters; safe for concurrent use.
func (s *Server) Stats() Stats {
	s.notified.Store(false) // before the reads: a change after them notifies again
	st := Stats{
		Answered: s.answered.Load(),
		Local:    s.local.Load(),
		Rejected: s.rejected.Load(),
		Overload: s.overload.Load(),
		Since:    s.since,
	}
	if lp := s.last.Load(); lp != nil {
		st.LastProbe, st.LastSource = lp.at, lp.src
	}
	return st
}

// Serve accepts connections until Close and returns nil after Close.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("responder: Serve called twice")
	}
	s.serving = true
	s.mu.Unlock()
	defer close(s.serveDone)

	var backoff time.Duration
	for {
		ln, stop := s.listener()
		if stop {
			return nil
		}
		if ln == nil {
			<-s.wake // paused: SetAble(true) or Close ends the wait
			continue
		}
		c, err := ln.Accept()
		if err != nil {
			if l, stop := s.listener(); stop || l != ln {
				continue // closed, or paused by SetAble(false)
			}
			// Resource exhaustion (EMFILE and the like) passes; back off
			// instead of spinning, as net/http does.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			s.log.WithError(err).Warnf("responder: accept failed, retrying in %v", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if s.active.Add(1) > int64(s.opts.MaxConns) {
			s.active.Add(-1)
			s.overload.Add(1)
			s.changed()
			c.Close()
			continue
		}
		s.conns.Add(1)
		go s.handle(c)
	}
}

// listener is the socket to accept on: nil while paused; stop once closed.
func (s *Server) listener() (ln net.Listener, stop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln, s.closed
}

// SetAble says whether this node can take the VIP's traffic now. While it
// cannot, the probe fails at once: in tcp mode the listener is closed, so
// the kernel refuses every new connection with a reset (a refusal fails a
// TCP probe on its first try on every cloud, where dropped SYNs would only
// count once the probe timed out, and the node's own checks see the
// refusal at once too); in http mode the probe path gets 503, which Azure
// takes as unhealthy at once, while Google Cloud and AWS count it toward
// their unhealthy thresholds (default 2). SetAble(true) listens again on the
// same address with the same filter; the error is a *BindError when
// another program took the port meanwhile (the caller retries on the next
// change). Connections already accepted finish as they would.
func (s *Server) SetAble(able bool) error {
	s.unable.Store(!able)
	if s.opts.Protocol != "tcp" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil
	case !able && s.ln != nil:
		err := s.ln.Close()
		s.ln = nil
		if err != nil {
			return fmt.Errorf("responder: close listener %s: %w", s.addr, err)
		}
	case able && s.ln == nil:
		ln, err := s.listen(s.addr)
		if err != nil {
			return err
		}
		s.ln = ln
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Close closes the listener first, so no new connection is accepted once it
// starts, then waits for in-flight connections, which their deadline bounds;
// one that was answered and only waits for the client's close is closed at
// once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	serving := s.serving
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}: // a paused Serve returns
	default:
	}

	if serving {
		<-s.serveDone // after this no more conns.Add
	}
	// Answered connections only wait for the client's close: cut that
	// short rather than wait for their deadline.
	s.endMu.Lock()
	s.stopping = true
	for c := range s.ending {
		_ = c.SetReadDeadline(time.Now())
	}
	s.endMu.Unlock()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	t := time.NewTimer(s.opts.Deadline + time.Second) // margin for scheduling; deadlines end every conn
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("responder: connections still open after the deadline")
	}
	if err != nil {
		return fmt.Errorf("responder: close listener %s: %w", s.addr, err)
	}
	return nil
}

func (s *Server) handle(c net.Conn) {
	defer func() {
		c.Close()
		s.active.Add(-1)
		s.conns.Done()
	}()
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	if !s.allowed(src) {
		s.rejected.Add(1)
		s.changed()
		s.log.WithField("source", src.String()).Debug("responder: source not allowed")
		return
	}
	_ = c.SetDeadline(time.Now().Add(s.opts.Deadline))
	if s.opts.Protocol == "http" {
		s.serveHTTP(c, src)
		return
	}
	s.count(c, src)
	if len(s.opts.Message) > 0 {
		if _, err := c.Write(s.opts.Message); err != nil {
			s.log.WithError(err).WithField("source", src.String()).Debug("responder: write message")
			return
		}
	}
	s.finish(c, nil)
}

// finish ends an answered connection without a reset (buf: a read
// buffer, or nil for a small one of its own): a FIN first (so a
// client that reads to the end gets it at once and closes), then the
// client's input is read into buf and dropped until it closes, at most
// MaxRead bytes and never past the deadline. Closing with input unread, or
// with input still arriving, makes the kernel answer with a reset instead
// (RFC 2525, 2.17), which a load balancer may count as a failed probe.
func (s *Server) finish(c net.Conn, buf []byte) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() != nil {
			return // the client is gone already
		}
	}
	if peerGone(c) {
		return // it closed or reset already (most probers do): nothing to wait for
	}
	if !s.track(c, true) {
		return // Close began
	}
	defer s.track(c, false)
	if buf == nil {
		// Not a pooled MaxRead buffer: the responder's soft memory limit
		// makes the GC run often, and each run empties sync.Pool, so a
		// 4 KiB buffer per tcp probe became 4 KiB of garbage per probe (and
		// most probers send nothing at all).
		buf = make([]byte, 128)
	}
	for left := s.opts.MaxRead; left > 0; {
		n, err := c.Read(buf[:min(len(buf), left)])
		left -= n
		if err != nil {
			return // EOF: the client closed; or a reset, or the deadline
		}
	}
}

// track adds c to the connections Close cuts short, or removes it; adding
// reports false once Close began.
func (s *Server) track(c net.Conn, add bool) bool {
	s.endMu.Lock()
	defer s.endMu.Unlock()
	if !add {
		delete(s.ending, c)
		return true
	}
	if s.stopping {
		return false
	}
	if s.ending == nil {
		s.ending = make(map[net.Conn]struct{})
	}
	s.ending[c] = struct{}{}
	return true
}

// allowed applies the allow-list in user space; implicit sources are in
// s.allow. A zoned source (a link-local peer, fe80::1234:5678:9abc%eth0)
// matches by its address, as in the kernel filter, which sees no zone:
// netip.Prefix.Contains is false for every zoned address.
func (s *Server) allowed(src netip.Addr) bool {
	if len(s.allow) == 0 {
		return true
	}
	src = src.WithZone("")
	for _, p := range s.allow {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// count records an answered probe, telling self-probes from the load balancer.
func (s *Server) count(c net.Conn, src netip.Addr) {
	if isLocal(src, c.LocalAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()) {
		s.local.Add(1)
		s.changed()
		return
	}
	s.answered.Add(1)
	s.changed()
	s.last.Store(&lastProbe{at: time.Now(), src: src})
	if s.debug {
		s.log.WithField("source", src.String()).Debug("responder: probe answered")
	}
}

// debugEnabled reports whether l logs at debug level (true when unknown).
func debugEnabled(l logrus.FieldLogger) bool {
	switch v := l.(type) {
	case *logrus.Logger:
		return v.IsLevelEnabled(logrus.DebugLevel)
	case *logrus.Entry:
		return v.Logger.IsLevelEnabled(logrus.DebugLevel)
	}
	return true
}

// changed tells Options.Changed, without blocking, that a counter moved.
func (s *Server) changed() {
	if s.opts.Changed == nil || s.notified.Load() || !s.notified.CompareAndSwap(false, true) {
		return
	}
	select {
	case s.opts.Changed <- struct{}{}:
	default:
	}
}

var (
	loop4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	loop6 = netip.IPv6Loopback()
)

// isLocal is the definition of a self-probe: exactly 127.0.0.1, ::1 or the
// connection's own local address. Other loopback sources (127.0.0.2) are not,
// nor is a link-local peer (zoned) probing a global local address.
func isLocal(src, local netip.Addr) bool {
	return src == loop4 || src == loop6 || src == local
}

// Reason strips net.OpError and os.SyscallError wrappers down to the
// system's reason, so messages read "connection refused" rather than
// "dial tcp ...: connect: connection refused".
func Reason(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err
	}
	return err
}
