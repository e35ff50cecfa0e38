package statedir

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// AcquireNode takes a lock named name for the whole node — its network
// namespace, as the kit sees a node — whatever the state directory: an
// abstract Unix socket bound to "ilbvip/NAME" (linux(7) unix, "abstract
// namespace"), which only one process can hold and which the kernel frees
// when that process ends, so no file is left and none can be stale. dir is
// not used on Linux. It waits, polling, until ctx ends.
func AcquireNode(ctx context.Context, dir, name string) (release func(), err error) {
	addr := &unix.SockaddrUnix{Name: "@ilbvip/" + name}
	for {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("node lock %s: %w", name, err)
		}
		err = unix.Bind(fd, addr)
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		unix.Close(fd)
		if !errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("node lock %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("node lock %s: %w", name, ErrLockTimeout)
		case <-time.After(lockPoll):
		}
	}
}
