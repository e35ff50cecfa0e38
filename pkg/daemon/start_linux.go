package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ilbvip/ilbvip/pkg/procfs"
	"golang.org/x/sys/unix"
)

// Start runs exe's serve command as a detached responder for spec and
// returns once it has bound the port (with its pid file written), or with
// the child's exact error. A child that fails is killed and reaped.
func Start(ctx context.Context, exe string, spec Spec) (*Record, error) {
	specJSON, r, w, err := prepareStart(spec)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path: exe,
		Args: Args(spec.Tag, spec.StateDir),
		// A clean environment: the child takes its settings from the spec
		// alone, never from OCF_RESKEY_* or a file that may change.
		Env:         []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", SpecEnv + "=" + string(specJSON)},
		Dir:         "/",
		ExtraFiles:  []*os.File{w}, // fd 3 in the child
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start responder %s: %w", exe, err)
	}
	w.Close()

	return awaitReady(ctx, cmd, r, spec, " or syslog")
}

// readReady reads the child's one-line report until it closes the pipe.
func readReady(ctx context.Context, r *os.File) (string, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = r.SetReadDeadline(dl)
	}
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", errors.New("responder did not report that it bound the port within the action's budget")
	}
	if err != nil {
		return "", fmt.Errorf("read responder readiness: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Stop stops the tag's responders: the recorded one if it is still ours,
// and any other found by its command line (pid file lost). TERM first, then
// KILL before ctx ends. It removes the pid and stats files, and never
// signals a process whose identity does not match: each target is held by a
// pidfd opened before its identity is checked, so a pid reused meanwhile
// cannot be hit.
func Stop(ctx context.Context, stateDir, tag string) ([]int, error) {
	return StopDrained(ctx, stateDir, tag, 0)
}

// StopDrained is Stop for a responder that may answer 503 for a drain
// after TERM (http mode; the drain it was started with): a second TERM
// after drain ends that wait, so the drain of today's configuration
// counts, not the one of the start.
func StopDrained(ctx context.Context, stateDir, tag string, drain time.Duration) ([]int, error) {
	var targets []target
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	rec, err := ReadRecord(stateDir, tag)
	if err == nil {
		if t, ok := openTarget(rec.Pid, func() bool { return Inspect(rec) == Running }); ok {
			targets = append(targets, t)
		}
	}
	want, ns := Args(tag, stateDir), netns("thread-self")
	for _, pid := range FindResponders(tag, stateDir) {
		if rec != nil && pid == rec.Pid {
			continue
		}
		if t, ok := openTarget(pid, func() bool { _, ok := responderStart(pid, want, ns); return ok }); ok {
			targets = append(targets, t)
		}
	}
	var pids []int
	for _, t := range targets {
		pids = append(pids, t.pid)
		t.signal(unix.SIGTERM)
	}
	killAt, deadline := stopTimes(ctx)
	// TERM again after the drain, every 100 ms: the kernel merges a TERM
	// that arrives before the first was taken.
	resendAt, killed := time.Now().Add(drain), false
	for delay := time.Millisecond; ; delay = min(delay*2, 20*time.Millisecond) {
		live := 0
		for _, t := range targets {
			if t.running() {
				live++
			}
		}
		if live == 0 {
			break
		}
		if now := time.Now(); now.After(deadline) {
			return pids, fmt.Errorf("stop responder: %d process(es) still alive after TERM and KILL", live)
		} else if !killed && now.After(resendAt) && now.Before(killAt) {
			for _, t := range targets {
				t.signal(unix.SIGTERM)
			}
			resendAt = now.Add(100 * time.Millisecond)
		} else if !killed && now.After(killAt) {
			for _, t := range targets {
				t.signal(unix.SIGKILL)
			}
			killed = true
		}
		time.Sleep(delay)
	}
	return pids, removeStateFiles(stateDir, tag)
}

// target is a process Stop may signal.
type target struct {
	pid   int
	start uint64
	fd    int // pidfd, -1 on kernels without pidfd_open (before 5.3)
}

// openTarget opens pid with a pidfd and then checks ours(): from then on
// the pidfd names that very process even if it dies and its pid is reused.
func openTarget(pid int, ours func() bool) (target, bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil && !errors.Is(err, unix.ENOSYS) {
		return target{}, false // gone already
	}
	if err != nil {
		fd = -1
	}
	st, serr := procfs.ReadStat(pid)
	if serr != nil || !ours() {
		if fd >= 0 {
			unix.Close(fd)
		}
		return target{}, false
	}
	return target{pid: pid, start: st.Start, fd: fd}, true
}

func (t target) signal(sig unix.Signal) {
	if t.fd >= 0 {
		_ = unix.PidfdSendSignal(t.fd, sig, nil, 0)
	} else if alive(t.pid, t.start) {
		_ = unix.Kill(t.pid, sig)
	}
}

// running reports whether the process has not exited; a zombie has.
func (t target) running() bool {
	if t.fd < 0 {
		return alive(t.pid, t.start)
	}
	// A pidfd becomes readable when its process exits. A poll that a
	// signal interrupts (the Go runtime preempts with SIGURG) says nothing:
	// ask again, never take it for an exit.
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return alive(t.pid, t.start)
		}
		return n == 0
	}
}

func (t target) close() {
	if t.fd >= 0 {
		unix.Close(t.fd)
	}
}
