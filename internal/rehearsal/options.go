package rehearsal

import (
	"errors"
	"time"
)

// Options configure Run: the rehearsal of `make demo` (scenarios a, b, c).
// Zero values take the defaults.
type Options struct {
	BinDir string // the ilbvip executables

	// The load balancer's probe.
	Interval  time.Duration // default 500ms
	Timeout   time.Duration // default: Interval
	Threshold int           // default 2
	ProbePort uint16        // default: the kit's port
	Protocol  string        // default: the kit's protocol
	Path      string        // default: the kit's http_path

	// The kit. ConfigFile is an admin's own config (its tag is Tag, else
	// the file's name without .yaml); the bed's vip (when the file has
	// none), interface, state_dir and allow override it. Without it the kit
	// runs with Settings (YAML keys: port, protocol, http_path, ...).
	ConfigFile string
	Tag        string
	Settings   map[string]string

	Prefix string // namespace prefix, default "ilbvip-demo-"

	// Cloud is the load balancer's cloud: azure (default), gcp or aws.
	// Its reference settings are the ones ilbvip needs (Azure: Floating IP,
	// NoHealthyBackendsBehavior AllProbedDown; Google Cloud: a failover
	// policy with dropTrafficIfUnhealthy; AWS: the kit as a responder only);
	// scenario e changes the one that matters.
	Cloud string
	// IPv6 rehearses an IPv6 VIP (fd00:5::200) on a dual-stack bed; Azure
	// only, whose IPv6 probes come from fe80::1234:5678:9abc (the kit's
	// allow, unless Settings gives one).
	IPv6 bool
	// SVG is where the timeline picture goes; "" for
	// $TMPDIR/ilbvip-rehearsal-CLOUD.svg, "-" for none.
	SVG string
}

// ErrUsage marks an error in Options (a bad cloud, a flag that does not go
// with it, a config file that cannot be rehearsed): the caller's mistake,
// found before anything is built (the command exits 2 for it).
var ErrUsage = errors.New("bad arguments")

// ErrNotRoot: the rehearsal needs network namespaces.
var ErrNotRoot = errors.New("the rehearsal needs root (network namespaces): run it as root; `make demo` without root runs the responder alone")
