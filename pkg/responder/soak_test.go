//go:build linux && !race

// The soak runs on Linux only (it reads /proc for descriptors and RSS; under
// Wine a million probes through the wineserver overrun the test timeout),
// and without the race detector (make test runs it in a second pass): a
// million probes under -race would take many minutes.

package responder

import (
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMillionProbes answers 1,000,000 probes and checks that goroutines
// and file descriptors return to their baseline and RSS stays flat.
func TestMillionProbes(t *testing.T) {
	const total, workers = 1_000_000, 8
	s := start(t, Options{Protocol: "tcp", Message: []byte("ok")})
	addr := s.Addr().String()
	probe := func() error {
		c, err := net.DialTimeout("tcp", addr, probeTimeout)
		if err != nil {
			return err
		}
		// RST on close: a million TIME_WAIT sockets would exhaust the ports.
		_ = c.(*net.TCPConn).SetLinger(0)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(probeTimeout))
		b := make([]byte, 2)
		_, err = c.Read(b)
		return err
	}
	run := func(n int64) (failed int64) {
		var next, bad atomic.Int64
		var wg sync.WaitGroup
		stop := time.Now().Add(5 * time.Minute) // bound in time as well as count
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= n && time.Now().Before(stop) {
					if probe() != nil {
						bad.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if next.Load() <= n {
			t.Fatalf("time bound hit after %d probes", next.Load())
		}
		return bad.Load()
	}

	run(20_000) // warm up pools and buffers
	settle()
	g0, fd0, rss0 := runtime.NumGoroutine(), fdCount(), rssKiB()
	t0 := time.Now()
	failed := run(total - 20_000)
	took := time.Since(t0)
	settle()
	g1, fd1, rss1 := runtime.NumGoroutine(), fdCount(), rssKiB()
	st := s.Stats()
	t.Logf("%d probes in %v (%.0f/s), %d failed; goroutines %d -> %d, fds %d -> %d, RSS %d -> %d KiB",
		total, took.Round(time.Millisecond), float64(total-20_000)/took.Seconds(), failed, g0, g1, fd0, fd1, rss0, rss1)
	if failed != 0 {
		t.Errorf("%d probes failed", failed)
	}
	if got := st.Local + st.Answered; got < total {
		t.Errorf("server counted %d probes, want %d", got, total)
	}
	if g1 > g0 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if fd1 > fd0 {
		t.Errorf("file descriptors grew from %d to %d", fd0, fd1)
	}
	if rss1 > rss0+8<<10 {
		t.Errorf("RSS grew from %d to %d KiB", rss0, rss1)
	}
}

// settle waits (bounded) for connection goroutines to finish.
func settle() {
	for i := 0; i < 100; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
}

func fdCount() int {
	e, _ := os.ReadDir("/proc/self/fd")
	return len(e)
}

func rssKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
