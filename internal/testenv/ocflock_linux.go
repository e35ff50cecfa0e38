package testenv

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// OCFDir is where resource agents are installed, one directory per provider.
const OCFDir = "/usr/lib/ocf/resource.d"

// LockOCFProviders orders the tests that touch OCFDir on the host itself,
// with a flock on the directory that lasts until the test ends. The test
// that installs the deb (and so ocf:ilbvip:ilbvip) takes it exclusive;
// the Pacemaker tests, which check that their agent never shows up outside
// their own mount namespace, take it shared: a package installed meanwhile
// would look like their leak. Without OCFDir there is nothing to order.
func LockOCFProviders(t testing.TB, exclusive bool) {
	t.Helper()
	f, err := os.Open(OCFDir)
	if err != nil {
		return
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	// Bounded: the other side is a test, which ends.
	deadline := time.Now().Add(10 * time.Minute)
	for syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			f.Close()
			t.Fatalf("another test holds %s for more than 10 minutes", OCFDir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}
