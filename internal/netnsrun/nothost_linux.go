package netnsrun

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
)

// ErrHostNamespace: the namespace is, or may be, the host's own.
var ErrHostNamespace = errors.New("refusing to run in the host's network namespace")

// Paths the check reads; variables so a test can point them elsewhere and
// see that an unreadable reference makes it refuse.
var (
	namedDirs = []string{"/run/netns", "/var/run/netns"}
	procRoot  = "/proc"
)

type nsID struct{ dev, ino uint64 }

func statNS(path string) (nsID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsID{}, false
	}
	return nsID{uint64(st.Dev), st.Ino}, true // Dev is uint32 on some architectures
}

// NotHost returns nil only when the network namespace h (netns.None(): the
// calling thread's) is positively not the host's: it is a namespace `ip
// netns` names (its inode is one of /run/netns/*) and not the one init or
// the kernel's threads are in, or, unnamed, it differs from a host reference
// that could be read. It fails closed: when it cannot tell (where /proc/1/ns
// is unreadable, even to root, and the namespace has no name) it refuses, so
// a route meant for a test bed never lands in the host's main table.
func NotHost(h netns.NsHandle) error {
	var err error
	if doErr := Do(h, func() error { err = notHostHere(); return nil }); doErr != nil {
		return doErr
	}
	return err
}

func notHostHere() error {
	self, ok := statNS(filepath.Join(procRoot, "thread-self/ns/net"))
	if !ok {
		return fmt.Errorf("%w: cannot read this thread's namespace (%s/thread-self/ns/net)", ErrHostNamespace, procRoot)
	}
	refs := hostRefs()
	for _, r := range refs {
		if r == self {
			return fmt.Errorf("%w: it is the one init or the kernel's threads are in", ErrHostNamespace)
		}
	}
	if name := nameOf(self); name != "" || len(refs) > 0 {
		return nil
	}
	return fmt.Errorf("%w: cannot tell (the namespace has no name under /run/netns, and init's is unreadable)", ErrHostNamespace)
}

// hostRefs are the namespaces known to be the host's: init's (PID 1's) and,
// where this PID namespace sees it, kthreadd's (PID 2), whose kernel threads
// always live in the initial network namespace. An unreadable one is left
// out.
func hostRefs() []nsID {
	var refs []nsID
	if id, ok := statNS(filepath.Join(procRoot, "1/ns/net")); ok {
		refs = append(refs, id)
	}
	if comm, err := os.ReadFile(filepath.Join(procRoot, "2/comm")); err == nil && strings.TrimSpace(string(comm)) == "kthreadd" {
		if id, ok := statNS(filepath.Join(procRoot, "2/ns/net")); ok {
			refs = append(refs, id)
		}
	}
	return refs
}

// nameOf is the `ip netns` name of the namespace id, "" if it has none.
func nameOf(id nsID) string {
	for _, dir := range namedDirs {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if got, ok := statNS(filepath.Join(dir, e.Name())); ok && got == id {
				return e.Name()
			}
		}
	}
	return ""
}
