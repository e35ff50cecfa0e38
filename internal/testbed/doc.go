// Package testbed builds a two-node failover test bed in network namespaces
// (Linux, root): a client+LB namespace running the load-balancer simulator
// (internal/lbsim) and two nodes, each with a backend NIC (eth0, a veth to the
// LB), a separate VIP NIC (eth1, the seed's Windows rule: the VIP NIC is not
// the backend-pool NIC), its own ilbvip state directory and a small web
// server on VIP:80 that answers the node's name. The real ilbvip executables
// run inside the nodes with `ip netns exec`.
//
// The bed knows nothing about who runs the kit: the scenarios call the
// actions themselves, and a cluster manager (Pacemaker on both nodes) can do
// it instead, because the nodes reach each other through the LB namespace as
// they would in one cloud network.
package testbed
