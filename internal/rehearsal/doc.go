// Package rehearsal runs the failover rehearsal on a test bed (package
// testbed) and narrates it: which node answers through the VIP, what was
// done, how long the failover took. The same steps are the scenario tests
// and `make demo`.
package rehearsal
