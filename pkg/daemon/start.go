//go:build linux || windows

package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/ilbvip/ilbvip/pkg/statedir"
)

// prepareStart encodes the spec for the child and makes the readiness
// pipe; the caller closes r, and w once the child has it.
func prepareStart(spec Spec) (specJSON []byte, r, w *os.File, err error) {
	if specJSON, err = json.Marshal(spec); err != nil {
		return nil, nil, nil, fmt.Errorf("start responder: %w", err)
	}
	if r, w, err = os.Pipe(); err != nil {
		return nil, nil, nil, fmt.Errorf("start responder: readiness pipe: %w", err)
	}
	return specJSON, r, w, nil
}

// awaitReady reads the started child's readiness report. On "bound" it
// returns the pid file the child wrote; otherwise it kills and reaps the
// child, removes a pid file that names it, and returns the child's exact
// error (logHint names where else its log may be).
func awaitReady(ctx context.Context, cmd *exec.Cmd, r *os.File, spec Spec, logHint string) (*Record, error) {
	msg, rerr := readReady(ctx, r)
	if rerr == nil && msg == readyMsg {
		rec, err := ReadRecord(spec.StateDir, spec.Tag)
		if err == nil && rec.Pid == cmd.Process.Pid {
			_ = cmd.Process.Release()
			return rec, nil
		}
		rerr = fmt.Errorf("responder pid %d reported ready but its pid file is wrong: %v", cmd.Process.Pid, err)
	}
	// It failed: make sure it is gone, and its pid file with it.
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if rec, err := ReadRecord(spec.StateDir, spec.Tag); err == nil && rec.Pid == cmd.Process.Pid {
		_ = statedir.Remove(statedir.Path(spec.StateDir, spec.Tag, statedir.PidExt))
	}
	if rerr != nil {
		return nil, rerr
	}
	kind, text, ok := strings.Cut(strings.TrimPrefix(msg, "error:"), ":")
	if !strings.HasPrefix(msg, "error:") || !ok {
		kind, text = "other", "responder exited before it was ready"
		if msg != "" {
			text += ": " + msg
		}
		text += " (see its log: " + statedir.Path(spec.StateDir, spec.Tag, statedir.LogExt) + logHint + ")"
	}
	return nil, &StartError{Kind: kind, Msg: text}
}
