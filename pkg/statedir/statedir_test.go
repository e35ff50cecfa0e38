package statedir

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/testenv"
)

func TestEnsureAndCheck(t *testing.T) {
	base := testenv.TempDir(t)
	dir := filepath.Join(base, "a", "state")
	if ok, err := Check(dir); ok || err != nil {
		t.Fatalf("Check of a missing dir: %v %v", ok, err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("Check created the directory")
	}
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
	makeWritable(t, dir)
	if err := Ensure(dir); err == nil || !strings.Contains(err.Error(), writableFix) {
		t.Errorf("writable dir: %v, want %q", err, writableFix)
	}
}

func TestEnsureRefusesSymlink(t *testing.T) {
	base := testenv.TempDir(t)
	dir := filepath.Join(base, "state")
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	testenv.Symlink(t, dir, link)
	if err := Ensure(link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlinked dir: %v", err)
	}
}

func TestNoFollow(t *testing.T) {
	dir := testenv.TempDir(t)
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Symlink(t, target, filepath.Join(dir, "t.pid"))
	if _, err := Read(filepath.Join(dir, "t.pid")); err == nil {
		t.Error("Read followed a symlink")
	}
	testenv.Symlink(t, target, filepath.Join(dir, "t.lock"))
	if l, err := Acquire(context.Background(), dir, "t"); err == nil {
		l.Release(false)
		t.Error("Acquire followed a symlink")
	}
	if err := WriteAtomic(filepath.Join(dir, "t.pid"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "secret" {
		t.Error("WriteAtomic wrote through a symlink")
	}
}

// Files open as os.OpenFile would: created, truncated, read back.
func TestOpenFlags(t *testing.T) {
	p := filepath.Join(testenv.TempDir(t), "t.pid")
	for _, data := range []string{"a longer first version", "short"} {
		if err := WriteAtomic(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if b, err := Read(p); err != nil || string(b) != data {
			t.Fatalf("Read = %q, %v; want %q", b, err, data)
		}
	}
	f, err := openNoFollow(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, err := Read(p); err != nil || len(b) != 0 {
		t.Fatalf("after O_TRUNC: %q, %v", b, err)
	}
	if _, err := Read(p + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestLockSerialisesAndSurvivesRemoval(t *testing.T) {
	dir := testenv.TempDir(t)
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				l, err := Acquire(ctx, dir, "t")
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				time.Sleep(100 * time.Microsecond)
				inside.Add(-1)
				l.Release(j%2 == 0) // half the holders delete the file
			}
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 {
		t.Fatalf("%d holders at once", maxInside.Load())
	}
}

func TestLockTimeout(t *testing.T) {
	dir := testenv.TempDir(t)
	l, err := Acquire(context.Background(), dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(true)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Acquire(ctx, dir, "t"); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("second Acquire: %v", err)
	}
	other, err := Acquire(context.Background(), dir, "u")
	if err != nil {
		t.Fatalf("another tag must not wait: %v", err)
	}
	other.Release(true)
}

// A writer killed between create and rename leaves tag.ext.tmpPID; only
// those of the tag and suffix asked for go.
func TestRemoveTemps(t *testing.T) {
	dir := testenv.TempDir(t)
	names := map[string]bool{ // name: removed by RemoveTemps(dir, "vip", ".stats")
		"vip.stats.tmp4096":  true,
		"vip.stats.tmp1":     true,
		"vip.stats":          false,
		"vip.stats.tmp":      false,
		"vip.stats.tmpx":     false,
		"vip.pid.tmp4096":    false,
		"vip2.stats.tmp4096": false,
		"vi.stats.tmp4096":   false,
	}
	for n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveTemps(dir, "vip", StatsExt); err != nil {
		t.Fatal(err)
	}
	for n, gone := range names {
		_, err := os.Lstat(filepath.Join(dir, n))
		if gone != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: removed=%v, want %v", n, !gone, gone)
		}
	}
	if err := RemoveTemps(filepath.Join(dir, "missing"), "vip", StatsExt); err != nil {
		t.Errorf("missing directory: %v", err)
	}
}
