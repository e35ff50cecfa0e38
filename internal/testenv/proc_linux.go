package testenv

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"time"
)

// WaitDead waits until pid is gone or a zombie, at most 5 s, and fails the
// test otherwise. A zombie counts as dead: it waits for PID 1, which here
// can reap late. (Its other threads may still be exiting for a moment and
// hold its sockets: a test that needs the port free waits for that too.)
func WaitDead(t testing.TB, pid int) {
	t.Helper()
	for range 500 {
		if dead(pid) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d still alive 5 s later", pid)
}

// dead reads the state letter of /proc/PID/stat, counted after the last
// ')' because the command name may hold spaces and parentheses.
func dead(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}
