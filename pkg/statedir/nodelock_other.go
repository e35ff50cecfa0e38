//go:build !linux

package statedir

import "context"

// AcquireNode takes a lock named name; outside Linux it is a lock file in
// dir (".NAME.lock": no tag starts with a dot), so it covers the resources
// of one state directory.
func AcquireNode(ctx context.Context, dir, name string) (release func(), err error) {
	l, err := Acquire(ctx, dir, "."+name)
	if err != nil {
		return nil, err
	}
	return func() { l.Release(true) }, nil
}
