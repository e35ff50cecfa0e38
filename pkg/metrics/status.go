package metrics

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/ilbvip/ilbvip/pkg/resource"
)

// States are the values of ilbvip_state's state label, one-hot.
var States = []string{"running", "stopped", "failed", "silent"}

// FromStatus turns what quickCheck found into the kit's metric families
// (the README's table documents each). The counters, the start time and
// the time since the last probe come from the responder's stats file and
// are left out when no responder of the resource runs; ilbvip_vip_present
// is left out for a resource without a VIP. now is the time quickCheck
// looked.
func FromStatus(st *resource.Status, now time.Time) []Family {
	ls := labels(st)
	one := func(v float64) []Sample { return []Sample{{Labels: ls, Value: v}} }
	fams := []Family{
		{Name: "ilbvip_up", Type: Gauge, Samples: one(bit(st.State == "running")), Help: upHelp},
		{Name: "ilbvip_state", Type: Gauge, Samples: stateSamples(ls, st.State),
			Help: "The resource's state as quickCheck judges it, one-hot: running, stopped, failed, or silent (failed, and the responder does not answer the probe)."},
		{Name: "ilbvip_probe_answering", Type: Gauge, Samples: one(bit(answering(st))),
			Help: "1 when something on this node answers the load balancer's probe on the port: the responder runs and is neither silent nor draining (503), or another program listens in its place."},
		configErrorFamily(ls, 0),
	}
	if st.VIP != "" {
		fams = append(fams, Family{Name: "ilbvip_vip_present", Type: Gauge, Samples: one(bit(st.VIPState == "present")),
			Help: "1 when the VIP is on its interface, else 0."})
	}
	s := st.Stats
	if s == nil {
		return fams
	}
	lastProbe := s.LastProbe
	if lastProbe.IsZero() {
		lastProbe = s.Since // none yet: the load balancer has not probed since the start
	}
	return append(fams,
		Family{Name: "ilbvip_probes_answered_total", Type: Counter, Samples: one(float64(s.Answered)),
			Help: "Probes the responder answered from other hosts (the load balancer's) since it started."},
		Family{Name: "ilbvip_probes_rejected_total", Type: Counter, Samples: one(float64(s.Rejected)),
			Help: "Connections the responder refused since it started: sources outside allow that the socket filter let through, HTTP requests that were not the probe."},
		Family{Name: "ilbvip_self_probes_total", Type: Counter, Samples: one(float64(s.Local)),
			Help: "Self-probes answered (from 127.0.0.1, ::1 or the address the probe was sent to: restore's, quickCheck's) since the responder started."},
		Family{Name: "ilbvip_probes_overload_total", Type: Counter, Samples: one(float64(s.Overload)),
			Help: "Connections closed at once since the responder started because too many were in flight."},
		Family{Name: "ilbvip_last_lb_probe_seconds", Type: Gauge, Samples: one(seconds(now.Sub(lastProbe))),
			Help: "Seconds since the load balancer's last probe, or since the responder started when none came yet."},
		Family{Name: "ilbvip_responder_start_time_seconds", Type: Gauge, Samples: one(unixSeconds(s.Since)),
			Help: "When the responder started, in seconds since the Unix epoch."},
	)
}

// ConfigError is what quickCheck --metrics writes when the configuration
// cannot be loaded but the tag is known: up 0 and ilbvip_config_error 1,
// labelled with the tag alone (port and VIP are what could not be read),
// so the textfile collector does not go quiet and an alert can fire.
func ConfigError(tag string) []Family {
	ls := []Label{{"tag", tag}}
	return []Family{
		{Name: "ilbvip_up", Type: Gauge, Samples: []Sample{{Labels: ls, Value: 0}}, Help: upHelp},
		configErrorFamily(ls, 1),
	}
}

const upHelp = "1 when quickCheck finds the resource healthy (exit 0), else 0."

func configErrorFamily(ls []Label, v float64) Family {
	return Family{Name: "ilbvip_config_error", Type: Gauge, Samples: []Sample{{Labels: ls, Value: v}},
		Help: "1 when quickCheck cannot load the resource's configuration (exit 5 or 6; the error is on its stderr), else 0."}
}

// labels are tag, port and, where set, the VIP's address.
func labels(st *resource.Status) []Label {
	ls := []Label{{"tag", st.Tag}, {"port", strconv.Itoa(int(st.Port))}}
	if p, err := netip.ParsePrefix(st.VIP); err == nil {
		ls = append(ls, Label{"vip", p.Addr().String()})
	}
	return ls
}

func stateSamples(ls []Label, state string) []Sample {
	out := make([]Sample, 0, len(States))
	for _, s := range States {
		l := append(append([]Label(nil), ls...), Label{"state", s})
		out = append(out, Sample{Labels: l, Value: bit(state == s)})
	}
	return out
}

// answering: the responder found running (pid file, or its command line)
// and neither silent nor draining (remove's 503 phase: both recorded in
// its stats file at the moment they begin, so reading them costs nothing
// more), or a stranger on the port. A responder whose stats cannot be
// read counts as answering: for "two nodes answer at once" a false alarm
// is the lesser evil.
func answering(st *resource.Status) bool {
	if st.Stranger {
		return true
	}
	return st.Pid != 0 && (st.Stats == nil || !st.Stats.Silent && !st.Stats.Draining)
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seconds rounds to milliseconds, never below 0 (a stats file written a
// moment after now).
func seconds(d time.Duration) float64 {
	return math.Max(0, d.Round(time.Millisecond).Seconds())
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1e3
}
