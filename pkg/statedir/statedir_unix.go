//go:build !windows

package statedir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// mkdirPrivate creates dir with mode 0700; an existing dir is left as it is.
func mkdirPrivate(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	return nil
}

func checkOwner(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("state directory %s is owned by uid %d, not %d: remove it or set state_dir", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state directory %s is writable by group or others (mode %04o): chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
}

// Lock is a held per-tag lock (flock on TAG.lock).
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes tag's lock in dir, waiting until ctx ends. A lock file that
// was removed and recreated while we waited is detected (inode check), so
// Release(true) may delete the file safely.
func Acquire(ctx context.Context, dir, tag string) (*Lock, error) {
	path := Path(dir, tag, LockExt)
	for {
		f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lock %s: %w", path, err)
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil || !errors.Is(err, unix.EWOULDBLOCK) {
				break
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil, fmt.Errorf("lock %s: %w", path, ErrLockTimeout)
			case <-time.After(lockPoll):
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The holder before us may have deleted the file: then our lock is
		// on an orphaned inode and we must lock the new file instead.
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Lstat(path, &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev {
			return &Lock{f: f, path: path}, nil
		}
		f.Close()
	}
}

// Release drops the lock; with remove it deletes the lock file first, while
// still holding it.
func (l *Lock) Release(remove bool) {
	if l == nil || l.f == nil {
		return
	}
	if remove {
		_ = os.Remove(l.path)
	}
	l.f.Close()
	l.f = nil
}
