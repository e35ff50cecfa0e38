// Package procfs reads what the kit needs to know of a process from Linux's
// /proc: its state letter and its start time, which together tell a live
// process from a zombie and from a later process that got the same pid.
// It is the one parser of /proc/PID/stat for the responder's identity
// (pkg/daemon), the test bed, the benchmarks and the tests. On other
// systems ReadStat fails as for a process that does not exist.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is the part of /proc/PID/stat the kit reads.
type Stat struct {
	// State is the state letter (field 3): R, S, D, T, Z (zombie), X
	// (dead), ...
	State byte
	// Start is the start time (field 22) in clock ticks after boot: with
	// the pid it names one process, whatever later reuses the pid.
	Start uint64
}

// ReadStat reads and parses /proc/PID/stat; an error wraps the file's
// (fs.ErrNotExist once the process is gone and reaped).
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// ParseStat parses the text of /proc/PID/stat. The command name (field 2)
// may hold spaces and parentheses, so fields are counted after the last
// ')'.
func ParseStat(b []byte) (Stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return Stat{}, fmt.Errorf("no fields after the command name")
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("starttime: %w", err)
	}
	return Stat{State: f[0][0], Start: start}, nil
}

// Exited reports whether the process has exited: a zombie waiting to be
// reaped, or dead (X; x on kernels 2.6.33 to 3.13). It holds nothing any
// more but its pid.
func (s Stat) Exited() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// Alive reports whether pid is a process that has not exited: it exists
// and is not a zombie.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && !st.Exited()
}
