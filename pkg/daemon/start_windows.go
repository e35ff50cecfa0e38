package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// detachFlags start the responder with no console (DETACHED_PROCESS) in its
// own process group, so no console event of the caller reaches it.
const detachFlags = windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP

// Start runs exe's serve command as a detached responder for spec and
// returns once it has bound the port (with its pid file written), or with
// the child's exact error. A child that fails is terminated and waited for.
//
// The readiness pipe's write end is inherited by the child (and only by it:
// Go passes an explicit handle list to CreateProcess) and its handle value
// travels in ReadyHandleEnv. The child first tries to leave the caller's job
// object (CREATE_BREAKAWAY_FROM_JOB), so that a cluster manager or remote
// shell that kills its job when the action ends does not take the
// responder with it; a job that forbids breakaway makes CreateProcess fail
// with access denied, and the child is then started inside it.
func Start(ctx context.Context, exe string, spec Spec) (*Record, error) {
	specJSON, r, w, err := prepareStart(spec)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	wh := windows.Handle(w.Fd())
	if err := windows.SetHandleInformation(wh, windows.HANDLE_FLAG_INHERIT, windows.HANDLE_FLAG_INHERIT); err != nil {
		w.Close()
		return nil, fmt.Errorf("start responder: readiness pipe: %w", err)
	}
	dir, err := windows.GetSystemDirectory()
	if err != nil {
		dir = ""
	}
	// A clean environment, as on Linux: the child takes its settings from
	// the spec alone. SystemRoot is what Windows DLLs need (os/exec would
	// add it too).
	env := []string{SpecEnv + "=" + string(specJSON), ReadyHandleEnv + "=" + strconv.FormatUint(uint64(wh), 10)}
	if v := os.Getenv("SystemRoot"); v != "" {
		env = append(env, "SystemRoot="+v)
	}
	newCmd := func(flags uint32) *exec.Cmd {
		return &exec.Cmd{
			Path: exe,
			Args: Args(spec.Tag, spec.StateDir),
			Env:  env,
			// The system directory: never one that an uninstall or an
			// admin wants to delete while the responder runs.
			Dir: dir,
			SysProcAttr: &syscall.SysProcAttr{
				// Exactly what FindResponders and Inspect compare.
				CmdLine:                    responderCmdLine(spec.Tag, spec.StateDir),
				CreationFlags:              flags,
				HideWindow:                 true,
				AdditionalInheritedHandles: []syscall.Handle{syscall.Handle(wh)},
			},
		}
	}
	cmd := newCmd(detachFlags | windows.CREATE_BREAKAWAY_FROM_JOB)
	err = cmd.Start()
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		cmd = newCmd(detachFlags)
		err = cmd.Start()
	}
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start responder %s: %w", exe, err)
	}

	return awaitReady(ctx, cmd, r, spec, "")
}

// readReady reads the child's one-line report until it closes the pipe, or
// until ctx ends. An anonymous pipe on Windows has no read deadline, so the
// read runs on its own; when ctx ends first, Start terminates the child,
// which closes the pipe and ends the read.
func readReady(ctx context.Context, r *os.File) (string, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(r, 4096))
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		// ERROR_BROKEN_PIPE is how a closed write end reads on Windows.
		if res.err != nil && !errors.Is(res.err, windows.ERROR_BROKEN_PIPE) {
			return "", fmt.Errorf("read responder readiness: %w", res.err)
		}
		return strings.TrimSpace(string(res.b)), nil
	case <-ctx.Done():
		return "", errors.New("responder did not report that it bound the port within the action's budget")
	}
}

// stopTarget is a responder being stopped, held open so its pid cannot be
// reused meanwhile.
type stopTarget struct {
	pid int
	h   windows.Handle
}

// StopDrained is Stop on Windows: the stop event ends the responder's
// drain there only by the budget's terminate (not cut to today's drain).
func StopDrained(ctx context.Context, stateDir, tag string, _ time.Duration) ([]int, error) {
	return Stop(ctx, stateDir, tag)
}

// Stop stops the tag's responders: the recorded one if it is still ours,
// and any other found by its exact command line (pid file lost). First the
// graceful way, the responder's stop event (it closes its listener and
// exits); then TerminateProcess before ctx ends, keeping the last tenth of
// the budget for it. It removes the pid and stats files, and never stops a
// process whose identity does not match.
func Stop(ctx context.Context, stateDir, tag string) ([]int, error) {
	targets, err := stopTargets(stateDir, tag)
	defer func() {
		for _, t := range targets {
			windows.CloseHandle(t.h)
		}
	}()
	if err != nil {
		return nil, err
	}
	pids, live := stopAndWait(ctx, targets)
	if live > 0 {
		return pids, fmt.Errorf("stop responder: %d process(es) still alive after the stop event and TerminateProcess", live)
	}
	return pids, removeStateFiles(stateDir, tag)
}

// stopTargets opens the tag's responders to stop them: the recorded one
// if it is still ours, and any other with the exact command line. The
// handles are returned with the error too: the caller closes them.
func stopTargets(stateDir, tag string) ([]stopTarget, error) {
	var targets []stopTarget
	// A responder that can be identified but not opened to stop it (no
	// administrator rights) is an error: success would leave it answering.
	cannotOpen := func(pid int) error {
		return fmt.Errorf("stop responder pid %d: access denied opening it to stop it: run as Administrator or SYSTEM", pid)
	}
	rec, err := ReadRecord(stateDir, tag)
	if err == nil {
		h, o := openProc(rec.Pid, stopAccess)
		switch {
		case h != 0 && judge(rec, o, bootFiletime()) == Running:
			targets = append(targets, stopTarget{rec.Pid, h})
		case h != 0:
			windows.CloseHandle(h)
		case Inspect(rec) == Running:
			return targets, cannotOpen(rec.Pid)
		}
	}
	want := responderCmdLine(tag, stateDir)
	for _, pid := range FindResponders(tag, stateDir) {
		if len(targets) > 0 && targets[0].pid == pid {
			continue
		}
		// Checked again on the handle: the pid may have been reused since.
		h, o := openProc(pid, stopAccess)
		if h == 0 {
			if o.Exists {
				return targets, cannotOpen(pid)
			}
			continue
		}
		if o.Exited || o.CmdLine != want {
			windows.CloseHandle(h)
			continue
		}
		targets = append(targets, stopTarget{pid, h})
	}
	return targets, nil
}

// stopAndWait sets each target's stop event (or terminates one that has
// none), waits, and terminates what still runs at killAt. live: how many
// outlived TerminateProcess too.
func stopAndWait(ctx context.Context, targets []stopTarget) (pids []int, live int) {
	for _, t := range targets {
		pids = append(pids, t.pid)
		if err := setStopEvent(t.pid); err != nil {
			// No stop event (it is not listening for one): terminate now.
			_ = windows.TerminateProcess(t.h, 1)
		}
	}
	killAt, deadline := stopTimes(ctx)
	for _, t := range targets {
		if waitExit(t.h, killAt) {
			continue
		}
		_ = windows.TerminateProcess(t.h, 1)
		if !waitExit(t.h, deadline) {
			live++
		}
	}
	return pids, live
}

// waitExit waits until the process ends or until; true when it ended.
func waitExit(h windows.Handle, until time.Time) bool {
	ms := uint32(max(time.Until(until), 0) / time.Millisecond)
	ev, err := windows.WaitForSingleObject(h, ms)
	return err == nil && ev == windows.WAIT_OBJECT_0
}

// setStopEvent sets pid's stop event (see notifyStop).
func setStopEvent(pid int) error {
	name, err := windows.UTF16PtrFromString(stopEventName(pid))
	if err != nil {
		return err
	}
	ev, err := windows.OpenEvent(windows.EVENT_MODIFY_STATE, false, name)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(ev)
	return windows.SetEvent(ev)
}
