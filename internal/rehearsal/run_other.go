//go:build !linux

package rehearsal

import (
	"context"
	"errors"
	"io"
)

// Run needs Linux network namespaces.
func Run(context.Context, Options, io.Writer) error {
	return errors.New("the rehearsal needs Linux (network namespaces)")
}
