package statedir

import (
	"context"
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
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(dir); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("world-writable dir: %v", err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
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
	if err := os.Symlink(target, filepath.Join(dir, "t.pid")); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(filepath.Join(dir, "t.pid")); err == nil {
		t.Error("Read followed a symlink")
	}
	if err := os.Symlink(target, filepath.Join(dir, "t.lock")); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(context.Background(), dir, "t"); err == nil {
		t.Error("Acquire followed a symlink")
	}
	if err := WriteAtomic(filepath.Join(dir, "t.pid"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "secret" {
		t.Error("WriteAtomic wrote through a symlink")
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
