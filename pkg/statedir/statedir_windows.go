package statedir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/windows"
)

// On Windows the directory's ACL protects it (ProgramData\ilbvip is
// created by the installer with administrators-only access).
func checkOwner(string, fs.FileInfo) error { return nil }

func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("open %s: is a symlink", path)
	}
	return os.OpenFile(path, flag, perm)
}

// Lock is a held per-tag lock (LockFileEx on TAG.lock).
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes tag's lock in dir, waiting until ctx ends.
func Acquire(ctx context.Context, dir, tag string) (*Lock, error) {
	path := Path(dir, tag, LockExt)
	f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		ol := new(windows.Overlapped)
		err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
		if err == nil {
			return &Lock{f: f, path: path}, nil
		}
		if !errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ErrLockTimeout)
		case <-time.After(lockPoll):
		}
	}
}

// Release drops the lock. Windows cannot delete an open file, so the file
// is removed after closing, when asked; a racing action simply recreates it.
func (l *Lock) Release(remove bool) {
	if l == nil || l.f == nil {
		return
	}
	l.f.Close()
	l.f = nil
	if remove {
		_ = os.Remove(l.path)
	}
}
