// Package bench measures ilbvip side by side with the reference Pacemaker
// agents it replaces (IPaddr2 plus azure-lb with nc or socat), on one
// machine in one run, and renders the results as markdown (make bench):
// the targets are a table (targets.go), the document a template
// (report.md.tmpl); the results and targets also go out as JSON, from which
// the markdown can be rendered again.
//
// Everything runs in two network namespaces the run creates: "node" holds
// the VIP interface and the probe listeners, "client" is where the load
// generator and idle connections come from, over a veth pair. The actions
// are timed the way a cluster manager runs them: an exec, then a wait. The
// run is its own child subreaper and reaps orphans (responders, nc, socat)
// at once, as systemd would, so a zombie never looks alive to an agent.
// The last phase (vipwatch_linux.go) deletes and re-adds a VIP by netlink
// under a responder that watches it, and times, from the client, how soon
// probes are refused and answered again.
//
// The statistics and the load generator are portable; the run itself
// (namespaces, agents, /proc) is Linux only.
package bench
