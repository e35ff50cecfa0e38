//go:build !windows

package responder

import "syscall"

// errRefused is the errno of a connect to a port where nothing listens.
var errRefused error = syscall.ECONNREFUSED
