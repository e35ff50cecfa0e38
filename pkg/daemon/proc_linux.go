package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ilbvip/ilbvip/pkg/procfs"
)

// BootToken names this boot: the kernel's boot id. A file that records it
// can tell whether it was written before the last reboot (SameBoot).
func BootToken() string { return bootID() }

// SameBoot reports whether token (from BootToken) names this boot; an
// unknown boot on either side counts as the same.
func SameBoot(token string) bool {
	b := bootID()
	return token == "" || b == "" || token == b
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Inspect tells whether the recorded responder is still that process and
// alive. A zombie counts as dead: kill -0 succeeds on it, the state letter
// does not lie. Besides pid and start time, the command line must be the
// responder's: a pid file forged or copied to name another process still
// does not get that process signalled.
func Inspect(r *Record) State {
	if b := bootID(); r.Boot != "" && b != "" && r.Boot != b {
		return PreviousBoot
	}
	st, err := procfs.ReadStat(r.Pid)
	if err != nil {
		return Dead
	}
	if st.Start != r.Start {
		return Stranger
	}
	if st.Exited() {
		return Dead
	}
	if args := cmdline(r.Pid); len(args) < 4 || args[0] != ProcessName || args[1] != "serve" || args[3] != r.Tag {
		return Stranger
	}
	return Running
}

func cmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func netns(pid string) string {
	s, _ := os.Readlink("/proc/" + pid + "/ns/net")
	return s
}

// FindResponders lists live responders for tag and stateDir in this network
// namespace, found by their exact command line. It is how remove still
// stops a responder whose pid file was lost (state directory wiped).
func FindResponders(tag, stateDir string) []int {
	want := Args(tag, stateDir)
	self := netns("thread-self") // this thread's namespace, not the main thread's
	var out []int
	for _, pid := range otherPids() {
		if _, ok := responderStart(pid, want, self); ok {
			out = append(out, pid)
		}
	}
	return out
}

// otherPids lists the processes in /proc but this one.
func otherPids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

// Responders lists every live responder of this network namespace, of
// any tag and state directory, with the VIP it serves as its own
// environment says (the Spec restore gave it), so it is known even when its
// state directory is lost. Processes that cannot be read are skipped.
func Responders() []Responder {
	self := netns("thread-self")
	var out []Responder
	for _, pid := range otherPids() {
		a := cmdline(pid)
		if len(a) != 6 || !slices.Equal(a, Args(a[3], a[5])) {
			continue
		}
		if _, ok := responderStart(pid, a, self); !ok {
			continue
		}
		r := Responder{Pid: pid, Tag: a[3], StateDir: a[5]}
		if sp, ok := environSpec(pid); ok {
			r.VIP, r.Interface = sp.VIP, sp.Interface
		}
		out = append(out, r)
	}
	return out
}

// environSpec reads the Spec from a process's environment.
func environSpec(pid int) (Spec, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return Spec{}, false
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, SpecEnv+"="); ok {
			var sp Spec
			return sp, json.Unmarshal([]byte(v), &sp) == nil
		}
	}
	return Spec{}, false
}

// responderStart returns the start time of pid when it is a live responder
// with exactly the command line want in network namespace ns.
func responderStart(pid int, want []string, ns string) (uint64, bool) {
	if !slices.Equal(cmdline(pid), want) || netns(strconv.Itoa(pid)) != ns {
		return 0, false
	}
	st, err := procfs.ReadStat(pid)
	if err != nil || st.Exited() {
		return 0, false
	}
	return st.Start, true
}

// recordSelf builds the identity of the calling process.
func recordSelf() (*Record, error) {
	st, err := procfs.ReadStat(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("read own start time: %w", err)
	}
	return &Record{Pid: os.Getpid(), Start: st.Start, Boot: bootID()}, nil
}

// alive reports whether pid is a live (non-zombie) process with the given
// start time.
func alive(pid int, start uint64) bool {
	st, err := procfs.ReadStat(pid)
	return err == nil && st.Start == start && !st.Exited()
}
