// Package netnsrun runs a function on an OS thread that has entered a
// network namespace, so the sockets and netlink requests it makes belong to
// that namespace. The thread is never returned to the Go scheduler: it exits
// with its goroutine, so no other goroutine can run in the namespace by
// mistake.
package netnsrun
