package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ilbvip/ilbvip/internal/netnsrun"
)

// procs starts programs (in a network namespace when asked) and reaps
// every child, its own and the orphans it inherits as a child subreaper.
// One goroutine waits for any child, so it owns every wait: nothing else in
// the process may wait for a child (no os/exec).
type procs struct {
	mu      sync.Mutex
	waiting map[int]chan exitInfo
	kick    chan struct{}
	devNull *os.File
}

// exitInfo is how a child ended and what it cost.
type exitInfo struct {
	status syscall.WaitStatus
	cpu    time.Duration // user + system, the child's and its waited-for children's
	at     time.Time
}

func newProcs() (*procs, error) {
	// Orphans (the detached responder, nc, socat, send_arp) become our
	// children and are reaped at once: PID 1 here reaps late, and a zombie
	// answers kill -0, which is all azure-lb's monitor checks.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	dn, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	p := &procs{waiting: map[int]chan exitInfo{}, kick: make(chan struct{}, 1), devNull: dn}
	go p.reap()
	return p, nil
}

func (p *procs) reap() {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, 0, &ru)
		at := time.Now()
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ECHILD):
			// No child now; the next one comes from start, which kicks.
			select {
			case <-p.kick:
			case <-time.After(100 * time.Millisecond):
			}
			continue
		case err != nil:
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.mu.Lock()
		ch, ok := p.waiting[pid]
		delete(p.waiting, pid)
		p.mu.Unlock()
		if ok {
			ch <- exitInfo{status: ws, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), at: at}
		}
	}
}

// child is a started program.
type child struct {
	pid   int
	start time.Time
	exit  chan exitInfo
	out   *bytes.Buffer // stdout and stderr, filled until every holder of the pipe closed it
	outMu *sync.Mutex
	eof   chan struct{}
}

// start runs argv (argv[0] an absolute path) with env, inside ns unless ns
// is netns.None(); stdin is /dev/null, stdout and stderr go to a pipe that
// child.output collects.
func (p *procs) start(ns netns.NsHandle, argv, env []string) (*child, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c := &child{exit: make(chan exitInfo, 1), out: &bytes.Buffer{}, outMu: &sync.Mutex{}, eof: make(chan struct{})}
	attr := &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []uintptr{p.devNull.Fd(), w.Fd(), w.Fd()},
	}
	// The lock keeps the reaper from seeing the pid before it is registered.
	p.mu.Lock()
	err = netnsrun.Do(ns, func() error {
		c.start = time.Now()
		pid, err := syscall.ForkExec(argv[0], argv, attr)
		c.pid = pid
		return err
	})
	if err == nil {
		p.waiting[c.pid] = c.exit
	}
	p.mu.Unlock()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
	go func() {
		defer close(c.eof)
		defer r.Close()
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			c.outMu.Lock()
			if c.out.Len() < 1<<20 {
				c.out.Write(buf[:n])
			}
			c.outMu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c, nil
}

// wait waits for the child to end, killing it after limit.
func (c *child) wait(limit time.Duration) (exitInfo, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case e := <-c.exit:
		return e, nil
	case <-t.C:
		_ = syscall.Kill(c.pid, syscall.SIGKILL)
		e := <-c.exit
		return e, fmt.Errorf("killed after %v", limit)
	}
}

// output is what the child wrote. A background grandchild may still hold
// the pipe (IPaddr2's send_arp), so it waits for the end only briefly.
func (c *child) output() string {
	select {
	case <-c.eof:
	case <-time.After(200 * time.Millisecond):
	}
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return strings.TrimSpace(c.out.String())
}

// result is one finished run of a program.
type result struct {
	code int // exit code; 128+signal when killed by a signal
	wall time.Duration
	cpu  time.Duration
	c    *child
}

// out is what the program wrote. It may wait briefly for a background
// grandchild that holds the pipe, so the timed paths call it only when
// they need it (a failure, the load generator's answer).
func (r result) out() string {
	if r.c == nil {
		return ""
	}
	return r.c.output()
}

// run starts argv, waits for it (killing it after limit) and returns the
// result. A program that cannot start, or is killed for the limit, is an
// error; an exit code is not.
func (p *procs) run(ns netns.NsHandle, limit time.Duration, argv, env []string) (result, error) {
	c, err := p.start(ns, argv, env)
	if err != nil {
		return result{}, err
	}
	e, werr := c.wait(limit)
	r := result{wall: e.at.Sub(c.start), cpu: e.cpu, c: c}
	switch {
	case e.status.Exited():
		r.code = e.status.ExitStatus()
	case e.status.Signaled():
		r.code = 128 + int(e.status.Signal())
	}
	if werr != nil {
		return r, fmt.Errorf("%s: %w (output: %s)", strings.Join(argv, " "), werr, clip(r.out()))
	}
	return r, nil
}

// must runs argv and fails unless it exits 0.
func (p *procs) must(ns netns.NsHandle, argv ...string) (string, error) {
	r, err := p.run(ns, time.Minute, argv, baseEnv())
	if err != nil {
		return "", err
	}
	if r.code != 0 {
		return r.out(), fmt.Errorf("%s: exit %d: %s", strings.Join(argv, " "), r.code, clip(r.out()))
	}
	return r.out(), nil
}

// baseEnv is the environment every program gets (a cluster manager's is as
// small).
func baseEnv() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
}

// clip shortens program output for an error message.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 600 {
		s = s[:600] + " ..."
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
