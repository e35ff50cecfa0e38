package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ilbvip/ilbvip/pkg/statedir"
)

// StartError is a responder that could not start; Kind says why, so the
// caller can choose the exit code ("inuse", "perm" or "other").
type StartError struct {
	Kind string
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }

// Start runs exe's serve command as a detached responder for spec and
// returns once it has bound the port (with its pid file written), or with
// the child's exact error. A child that fails is killed and reaped.
func Start(ctx context.Context, exe string, spec Spec) (*Record, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("start responder: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start responder: readiness pipe: %w", err)
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
// signals a process whose identity does not match.
func Stop(ctx context.Context, stateDir, tag string) ([]int, error) {
	type target struct {
		pid   int
		start uint64
	}
	var targets []target
	rec, err := ReadRecord(stateDir, tag)
	if err == nil && Inspect(rec) == Running {
		targets = append(targets, target{rec.Pid, rec.Start})
	}
	for _, pid := range FindResponders(tag, stateDir) {
		if rec != nil && pid == rec.Pid {
			continue
		}
		if _, start, err := procStat(pid); err == nil {
			targets = append(targets, target{pid, start})
		}
	}
	var pids []int
	for _, t := range targets {
		pids = append(pids, t.pid)
		_ = syscall.Kill(t.pid, syscall.SIGTERM)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	// Keep the last tenth of the budget (at least 300 ms) for KILL.
	margin := max(time.Until(deadline)/10, 300*time.Millisecond)
	killAt := deadline.Add(-margin)
	killed := false
	for delay := time.Millisecond; ; delay = min(delay*2, 20*time.Millisecond) {
		live := 0
		for _, t := range targets {
			if alive(t.pid, t.start) {
				live++
				if killed {
					continue
				}
				if time.Now().After(killAt) {
					_ = syscall.Kill(t.pid, syscall.SIGKILL)
				}
			}
		}
		if live == 0 {
			break
		}
		if time.Now().After(killAt) {
			killed = true
		}
		if time.Now().After(deadline) {
			return pids, fmt.Errorf("stop responder: %d process(es) still alive after TERM and KILL", live)
		}
		time.Sleep(delay)
	}
	for _, ext := range []string{statedir.PidExt, statedir.StatsExt} {
		if err := statedir.Remove(statedir.Path(stateDir, tag, ext)); err != nil {
			return pids, err
		}
	}
	return pids, nil
}
