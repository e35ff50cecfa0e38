// Package netnsrun is the one helper for network namespaces that the
// tests, the test bed, the load-balancer simulator, the rehearsal and the
// benchmarks share: it creates a named namespace (Add), opens one (Open),
// runs a function on an OS thread that has entered one (Do), so the sockets
// and netlink requests it makes belong to that namespace, and tells whether
// a namespace is the host's (NotHost).
package netnsrun
