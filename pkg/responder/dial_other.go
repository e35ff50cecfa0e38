//go:build !windows

package responder

import "syscall"

// dialControl: a refused connect fails at once here already.
var dialControl func(network, address string, c syscall.RawConn) error
