//go:build !linux

package bench

import (
	"context"
	"errors"
)

// Run needs network namespaces and the Linux reference agents.
func Run(ctx context.Context, o Options) (*Results, error) {
	return nil, errors.New("bench: runs on Linux only (network namespaces, the Pacemaker reference agents)")
}
