package testenv

import (
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/pkg/procfs"
)

// WaitDead waits until pid is gone or a zombie, at most 5 s, and fails the
// test otherwise. A zombie counts as dead: it waits for PID 1, which here
// can reap late. (Its other threads may still be exiting for a moment and
// hold its sockets: a test that needs the port free waits for that too.)
func WaitDead(t testing.TB, pid int) {
	t.Helper()
	for range 500 {
		if !procfs.Alive(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d still alive 5 s later", pid)
}
