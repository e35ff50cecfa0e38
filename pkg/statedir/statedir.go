// Package statedir keeps a resource's files in the state directory: the
// directory is private (created 0700, refused when it is a symlink or
// writable by others), files are written atomically and opened without
// following symlinks, and one lock per tag serialises the actions.
package statedir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Suffixes of the files a resource keeps in the state directory.
const (
	PidExt   = ".pid"
	StatsExt = ".stats"
	LockExt  = ".lock"
	LogExt   = ".log"
)

// Path names tag's file with the given suffix in dir.
func Path(dir, tag, ext string) string { return filepath.Join(dir, tag+ext) }

// Ensure creates dir (mode 0700, parents 0755; on Windows with the
// protected DACL) if needed and checks that it is a real directory that
// only its owner (on Windows: SYSTEM and Administrators) can write.
func Ensure(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create state directory %s: %w", filepath.Dir(dir), err)
	}
	if err := mkdirPrivate(dir); err != nil {
		return err
	}
	_, err := Check(dir)
	return err
}

// Check reports whether dir exists, and an error when it exists but is not
// safe to use. It never creates anything (quickCheck is read-only).
func Check(dir string) (bool, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state directory %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return true, fmt.Errorf("state directory %s is a symlink: remove it (ilbvip creates the directory itself)", dir)
	}
	if !fi.IsDir() {
		return true, fmt.Errorf("state directory %s is not a directory: remove it or set state_dir", dir)
	}
	return true, checkOwner(dir, fi)
}

// WriteAtomic replaces path with data: a reader sees the old file or the
// new one, never a torn write.
func WriteAtomic(path string, data []byte) error {
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	f, err := openNoFollow(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// RemoveTemps deletes what an interrupted WriteAtomic of tag's file with
// suffix ext left behind (ext + ".tmp" + a pid): a process killed between
// create and rename leaves one. Call it only when no process of the tag
// can be writing.
func RemoveTemps(dir, tag, ext string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read state directory %s: %w", dir, err)
	}
	prefix := tag + ext + ".tmp"
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !allDigits(rest) {
			continue
		}
		if err := Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Read returns a small file's content without following a symlink.
func Read(path string) ([]byte, error) {
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<10))
}

// Remove deletes path; an absent file is not an error.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// ErrLockTimeout is returned when another action holds the tag's lock for
// longer than the caller can wait.
var ErrLockTimeout = errors.New("another action for this resource is still running")

// lockPoll is how often a waiting action retries the lock.
const lockPoll = 10 * time.Millisecond
