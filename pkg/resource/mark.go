package resource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/ocf"
	"github.com/ilbvip/ilbvip/pkg/statedir"
	"github.com/ilbvip/ilbvip/pkg/vip"
)

// RunExt is the suffix of a resource's run mark in the state directory.
const RunExt = ".run"

// mark is what restore records and remove clears (TAG.run): that the
// cluster manager started the resource on this node, and whether restore
// added the VIP itself. recover repairs only a marked resource ("recover
// repairs, never starts"), and remove deletes only a VIP that restore
// added ("own only what you added"). A mark from before the last reboot is
// void: nothing has been started since, and the addresses are gone.
type mark struct {
	Run   bool     // restore ran and remove has not begun since
	Port  uint16   // the probe port the resource answers on
	VIP   vip.Spec // the VIP restore added or found marked as ilbvip's, and so owns (Addr invalid: none)
	found bool     // read from a file of this boot
}

// readMark reads tag's mark; a missing file, or one from before the last
// reboot, is the zero mark.
func readMark(dir, tag string) (mark, error) {
	b, err := statedir.Read(statedir.Path(dir, tag, RunExt))
	if isNotExist(err) {
		return mark{}, nil
	}
	if err != nil {
		return mark{}, err
	}
	return parseMark(b)
}

func parseMark(b []byte) (mark, error) {
	var m mark
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	if !daemon.SameBoot(kv["boot"]) {
		return mark{}, nil
	}
	m.Run, m.found = kv["run"] == "1", true
	if p, err := strconv.ParseUint(kv["port"], 10, 16); err == nil {
		m.Port = uint16(p)
	}
	if s := kv["vip"]; s != "" {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return mark{}, fmt.Errorf("run mark: vip %q: %w", s, err)
		}
		m.VIP = vip.Spec{Addr: p.Addr(), Prefix: p.Bits(), Interface: kv["interface"]}
	}
	return m, nil
}

// write records m for tag, atomically.
func (m mark) write(dir, tag string) error {
	b := fmt.Appendf(nil, "boot=%s\nrun=%s\nport=%d\n", daemon.BootToken(), flag(m.Run), m.Port)
	if m.VIP.Addr.IsValid() {
		b = fmt.Appendf(b, "vip=%s\ninterface=%s\n", netip.PrefixFrom(m.VIP.Addr, m.VIP.Prefix), m.VIP.Interface)
	}
	return statedir.WriteAtomic(statedir.Path(dir, tag, RunExt), b)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// removeMark deletes the run mark and what an action killed while writing
// it left (callers hold the tag's lock, so no one is writing it now).
func removeMark(dir, tag string) error {
	if err := statedir.Remove(statedir.Path(dir, tag, RunExt)); err != nil {
		return err
	}
	return statedir.RemoveTemps(dir, tag, RunExt)
}

// holder names another running resource of this node that has addr as its
// VIP, "" when none does ("one VIP, one running resource per node"). A
// resource runs when its mark says so, when its recorded responder is
// alive (a resource restored by a version without marks), or — whatever
// its state directory, and even when that was lost — when a responder
// process serves that VIP (Linux: read from its environment).
func holder(dir, tag string, addr netip.Addr) (string, error) {
	for _, r := range daemon.Responders() {
		p, err := netip.ParsePrefix(r.VIP)
		if err != nil || p.Addr() != addr || r.Tag == tag && sameDir(r.StateDir, dir) {
			continue
		}
		if sameDir(r.StateDir, dir) {
			return r.Tag, nil
		}
		return fmt.Sprintf("%s (state_dir %s)", r.Tag, r.StateDir), nil
	}
	return holderInDir(dir, tag, addr)
}

// sameDir reports whether two spellings name one state directory.
func sameDir(a, b string) bool { return filepath.Clean(a) == filepath.Clean(b) }

// holderInDir looks for the holder among the records of dir.
func holderInDir(dir, tag string, addr netip.Addr) (string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"+RunExt))
	if err != nil {
		return "", err
	}
	pids, _ := filepath.Glob(filepath.Join(dir, "*"+statedir.PidExt))
	seen := map[string]bool{tag: true}
	for _, n := range append(names, pids...) {
		other := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(n), RunExt), statedir.PidExt)
		if seen[other] {
			continue
		}
		seen[other] = true
		if holds(dir, other, addr) {
			return other, nil
		}
	}
	return "", nil
}

// holds reports whether resource tag runs with addr as its VIP.
func holds(dir, tag string, addr netip.Addr) bool {
	if m, err := readMark(dir, tag); err == nil && m.Run && m.VIP.Addr == addr {
		return true
	}
	rec, err := daemon.ReadRecord(dir, tag)
	if err != nil || rec.VIP == "" || daemon.Inspect(rec) != daemon.Running {
		return false
	}
	p, err := netip.ParsePrefix(rec.VIP)
	return err == nil && p.Addr() == addr
}

// errNotStarted is recover's answer for a resource restore did not start
// (or remove stopped): 7, and nothing changed.
var errNotStarted = &Error{Code: ocf.NotRunning, Err: errors.New("not started on this node: run restore")}
