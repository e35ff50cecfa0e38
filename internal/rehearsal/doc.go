// Package rehearsal runs the failover rehearsal on a test bed (package
// testbed) behind the load-balancer simulator with one cloud's rules
// (package lbsim) and narrates it: which node answers through the load
// balancer, what was done, how long the failover took, and why the cloud's
// own setting matters (Rehearsal.Why). It records everything in a Timeline
// and draws it as an SVG picture. The same steps are the scenario tests and
// `make demo`.
package rehearsal
