// Package daemon runs the probe responder as a detached process: restore
// re-executes its own binary with the internal serve command, waits on a
// readiness pipe for "bound" or the exact bind error, and the pid file
// records the process identity (pid, start time, boot id, tag) so that
// stop never signals a process that is not ours.
package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/ilbvip/ilbvip/pkg/statedir"
)

// ProcessName is argv[0] of every responder, so ps shows what it is and the
// tag follows in its arguments.
const ProcessName = "ilbvip-responder"

// SpecEnv carries the responder's Spec (JSON) from restore to serve, so the
// child uses exactly the configuration restore validated.
const SpecEnv = "ILBVIP_SERVE_SPEC"

// Spec is everything the responder process needs.
type Spec struct {
	Tag         string        `json:"tag"`
	StateDir    string        `json:"state_dir"`
	Protocol    string        `json:"protocol"`
	Bind        string        `json:"bind,omitempty"`
	Port        uint16        `json:"port"`
	Message     string        `json:"message,omitempty"`
	HTTPPath    string        `json:"http_path,omitempty"`
	Allow       []string      `json:"allow,omitempty"`
	ConnTimeout time.Duration `json:"conn_timeout"`
	Drain       time.Duration `json:"drain,omitempty"`
	LogLevel    string        `json:"log_level"`
	VIP         string        `json:"vip,omitempty"` // recorded for remove, "10.10.5.200/32"
	Interface   string        `json:"interface,omitempty"`
}

// Hash identifies the responder settings: restore restarts a responder
// whose settings changed.
func (s Spec) Hash() string {
	b, _ := json.Marshal(s)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Args is the responder's command line: ps shows it, and stop recognises
// a responder whose pid file is lost by exactly these arguments.
func Args(tag, stateDir string) []string {
	return []string{ProcessName, "serve", "--tag", tag, "--state-dir", stateDir}
}

// Responder is a live responder found among the node's processes.
type Responder struct {
	Pid       int
	Tag       string
	StateDir  string
	VIP       string // "10.10.5.200/32", "" without a VIP or when unknown
	Interface string // the VIP's interface
}

// Record is the pid file's content.
type Record struct {
	Pid       int
	Start     uint64 // process start time, clock ticks after boot
	Boot      string // kernel boot id
	Tag       string
	Port      uint16
	Protocol  string
	VIP       string // "10.10.5.200/32", "" without VIP
	Interface string
	Config    string // Spec.Hash
}

// Marshal renders the record as key=value lines, pid first.
func (r *Record) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "pid=%d\nstart=%d\nboot=%s\ntag=%s\nport=%d\nprotocol=%s\nvip=%s\ninterface=%s\nconfig=%s\n",
		r.Pid, r.Start, r.Boot, r.Tag, r.Port, r.Protocol, r.VIP, r.Interface, r.Config)
	return b.Bytes()
}

// ErrCorrupt is returned for a pid file that cannot be parsed: its process
// cannot be identified, so it is never signalled.
var ErrCorrupt = errors.New("pid file is corrupt")

// ParseRecord reads a pid file's content.
func ParseRecord(b []byte) (*Record, error) {
	r := &Record{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || seen[k] {
			return nil, fmt.Errorf("%w: line %q", ErrCorrupt, line)
		}
		seen[k] = true
		var err error
		switch k {
		case "pid":
			r.Pid, err = strconv.Atoi(v)
			if err == nil && r.Pid <= 1 {
				err = errors.New("pid out of range")
			}
		case "start":
			r.Start, err = strconv.ParseUint(v, 10, 64)
		case "port":
			var p uint64
			p, err = strconv.ParseUint(v, 10, 16)
			r.Port = uint16(p)
		case "boot":
			r.Boot = v
		case "tag":
			r.Tag = v
		case "protocol":
			r.Protocol = v
		case "vip":
			r.VIP = v
		case "interface":
			r.Interface = v
		case "config":
			r.Config = v
		default:
			// Unknown keys come from a newer version: keep going.
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s=%q", ErrCorrupt, k, v)
		}
	}
	if !seen["pid"] || !seen["start"] || !seen["tag"] {
		return nil, fmt.Errorf("%w: pid, start or tag missing", ErrCorrupt)
	}
	return r, nil
}

// ReadRecord reads tag's pid file in dir. A missing file is fs.ErrNotExist.
func ReadRecord(dir, tag string) (*Record, error) {
	path := statedir.Path(dir, tag, statedir.PidExt)
	b, err := statedir.Read(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r, err := ParseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Tag != tag {
		return nil, fmt.Errorf("%s: %w: it names tag %q", path, ErrCorrupt, r.Tag)
	}
	return r, nil
}

// State is what became of a recorded responder.
type State int

// The states of a recorded responder.
const (
	Running      State = iota // alive, and the very process that was recorded
	Dead                      // gone, or a zombie waiting to be reaped
	Stranger                  // the pid now belongs to another process
	PreviousBoot              // recorded before the last reboot
)

func (s State) String() string {
	return [...]string{"running", "dead", "pid reused by another process", "from a previous boot"}[s]
}

// Stats is the responder's counters as it writes them for quickCheck.
type Stats struct {
	Pid        int       `json:"pid"`
	Since      time.Time `json:"since"`
	Answered   uint64    `json:"answered"`
	Local      uint64    `json:"local"`
	Rejected   uint64    `json:"rejected"`
	Overload   uint64    `json:"overload"`
	LastProbe  time.Time `json:"last_probe,omitzero"`
	LastSource string    `json:"last_source,omitempty"`
	// Silent: the responder does not answer the probe because this node
	// cannot take the VIP's traffic (tcp: refused; http: 503), since
	// SilentSince, for SilentReason ("check vip ...: interface eth1 is down").
	Silent       bool      `json:"silent,omitempty"`
	SilentSince  time.Time `json:"silent_since,omitzero"`
	SilentReason string    `json:"silent_reason,omitempty"`
	// Draining: remove's drain in http mode: the probe gets 503 until the
	// listener closes, so the load balancer no longer takes this node.
	Draining bool      `json:"draining,omitempty"`
	Written  time.Time `json:"written"`
}

// ReadStats reads tag's stats file.
func ReadStats(dir, tag string) (*Stats, error) {
	b, err := statedir.Read(statedir.Path(dir, tag, statedir.StatsExt))
	if err != nil {
		return nil, err
	}
	var s Stats
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("stats file: %w", err)
	}
	return &s, nil
}

// statsInterval is how often, at most, the responder refreshes its stats
// file: fine enough for "last probe 3 s ago".
const statsInterval = time.Second

// StartError is a responder that could not start; Kind says why, so the
// caller can choose the exit code ("inuse", "perm" or "other").
type StartError struct {
	Kind string
	Msg  string
}

func (e *StartError) Error() string { return e.Msg }

// stopTimes splits Stop's budget: the graceful stop until killAt, the
// forced one until deadline; the last tenth (at least 300 ms) is kept for
// the forced stop.
func stopTimes(ctx context.Context) (killAt, deadline time.Time) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	// A stop out of budget still kills and waits for the end: it must not
	// leave a responder answering (or a pid file naming a live one). The
	// overrun comes out of the margin config.Budget keeps back from
	// Pacemaker's timeout (a tenth, at most 2 s), so the action still ends
	// before the cluster manager gives up on it, for timeouts of 3 s up.
	if least := time.Now().Add(minForcedStop); deadline.Before(least) {
		deadline = least
	}
	return deadline.Add(-max(time.Until(deadline)/10, minForcedStop)), deadline
}

// minForcedStop is the least time a stop keeps for the forced end.
const minForcedStop = 300 * time.Millisecond

// removeStateFiles deletes what a stopped responder leaves: its pid and
// stats files, and their temporary files where it was killed mid-write.
func removeStateFiles(stateDir, tag string) error {
	for _, ext := range []string{statedir.PidExt, statedir.StatsExt} {
		if err := statedir.Remove(statedir.Path(stateDir, tag, ext)); err != nil {
			return err
		}
		if err := statedir.RemoveTemps(stateDir, tag, ext); err != nil {
			return err
		}
	}
	return nil
}

// ErrUnsupported is returned where this OS cannot run the responder as a
// detached process yet.
var ErrUnsupported = errors.New("running the responder as a detached process is not supported on this OS yet")

// readyMsg is what the child writes on the readiness pipe once bound.
const readyMsg = "bound"
