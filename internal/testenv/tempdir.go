package testenv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TempDir is t.TempDir for tests that also run as Windows binaries under
// Wine: a new directory whose cleanup deletes the tree bottom-up with
// os.Remove. Go 1.26's os.RemoveAll on Windows deletes through
// NtSetInformationFile(FileDispositionInformationEx), which Wine 8 answers
// with STATUS_NOT_IMPLEMENTED, and Go falls back to the older call only on
// other statuses (internal/syscall/windows.Deleteat), so t.TempDir's
// cleanup fails there with "unlinkat ...: Invalid function". os.Remove
// (DeleteFileW, RemoveDirectoryW) works on Wine and Windows alike.
func TempDir(t testing.TB) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, t.Name())
	dir, err := os.MkdirTemp("", name)
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.Cleanup(func() {
		if err := removeTreeRetry(dir); err != nil {
			t.Errorf("TempDir cleanup: %v", err)
		}
	})
	return dir
}

// removeTreeRetry retries for up to 2 s, as t.TempDir does on Windows: a
// child process that just exited may still hold a file open for a moment.
func removeTreeRetry(dir string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := RemoveTree(dir)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RemoveTree deletes path and everything below it with os.Remove, children
// first, without following symlinks; an absent path is not an error. It is
// os.RemoveAll for code that must also run under Wine (see TempDir).
func RemoveTree(path string) error {
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := RemoveTree(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Symlink is os.Symlink for a test of symlink handling: it fails the test
// when no symlink is there afterwards, since Wine 8's CreateSymbolicLinkW
// reports success and creates nothing, and a test must not pass on a link
// that does not exist.
func Symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatalf("symlink %s -> %s: %v", link, target, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("os.Symlink(%s, %s) reported success but made no symlink (%v): Wine 8's CreateSymbolicLinkW does that", target, link, err)
	}
}
