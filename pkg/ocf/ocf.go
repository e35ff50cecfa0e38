// Package ocf holds the exit codes of the OCF Resource Agent API: the one
// set the actions, the configuration loader, the command line and the
// tests use.
//
// The values are the spec's "Exit status codes" (Open Clustering Framework
// Resource Agent API 1.1, https://github.com/ClusterLabs/OCF-spec/blob/main/ra/1.1/resource-agent-api.md),
// the names those of the resource-agents shell library (OCF_SUCCESS ...
// OCF_NOT_RUNNING). Pacemaker's recovery depends on the code: 1 and 7 are
// soft (restart or move), 2 to 5 hard (not on this node again), 6 fatal
// (not on any node); LifeKeeper treats every non-zero code as failure.
package ocf

// The exit codes. 8 and 9 (promotable resources) do not apply to ilbvip.
const (
	Success          = 0 // OCF_SUCCESS: the action succeeded completely
	ErrGeneric       = 1 // OCF_ERR_GENERIC: failed on this node (monitor: not working)
	ErrArgs          = 2 // OCF_ERR_ARGS: invalid or excess arguments on the command line
	ErrUnimplemented = 3 // OCF_ERR_UNIMPLEMENTED: an action or feature this OS lacks
	ErrPerm          = 4 // OCF_ERR_PERM: insufficient privilege
	ErrInstalled     = 5 // OCF_ERR_INSTALLED: a node-local piece is missing (interface, config file)
	ErrConfigured    = 6 // OCF_ERR_CONFIGURED: the configuration is wrong, on every node
	NotRunning       = 7 // OCF_NOT_RUNNING: monitor of a cleanly stopped resource
)
