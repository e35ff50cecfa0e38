package metrics

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/promcheck"
	"github.com/ilbvip/ilbvip/pkg/daemon"
	"github.com/ilbvip/ilbvip/pkg/resource"
)

func render(t *testing.T, fams []Family) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, fams); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.String()
}

// TestWriteFormat: the exact text for the format's corner cases: escapes
// in HELP and label values, integers, fractions, NaN and infinities, a
// family without samples left out.
func TestWriteFormat(t *testing.T) {
	got := render(t, []Family{
		{Name: "x_seconds", Help: "back\\slash and\nnewline \"quoted\"", Type: Gauge, Samples: []Sample{
			{Labels: []Label{{"tag", `a"b\c` + "\nd"}, {"port", "1"}}, Value: 1.5},
			{Value: 42},
			{Value: math.NaN()},
			{Value: math.Inf(1)},
			{Value: math.Inf(-1)},
			{Value: 1764458012.123},
			{Value: -0.25},
		}},
		{Name: "x_empty", Help: "none", Type: Gauge},
		{Name: "x_events_total", Help: "events", Type: Counter, Samples: []Sample{{Value: 1 << 40}}},
	})
	want := `# HELP x_seconds back\\slash and\nnewline "quoted"
# TYPE x_seconds gauge
x_seconds{tag="a\"b\\c\nd",port="1"} 1.5
x_seconds 42
x_seconds NaN
x_seconds +Inf
x_seconds -Inf
x_seconds 1.764458012123e+09
x_seconds -0.25
# HELP x_events_total events
# TYPE x_events_total counter
x_events_total 1099511627776
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	fams := promcheck.Parse(t, got)
	if v, _ := promcheck.Value(t, fams, "x_seconds", map[string]string{"tag": "a\"b\\c\nd"}); v != 1.5 {
		t.Errorf("the escaped label does not read back: value %v", v)
	}
}

// TestWriteRefuses: names the format does not allow are an error, and
// nothing is written.
func TestWriteRefuses(t *testing.T) {
	for _, f := range []Family{
		{Name: "", Type: Gauge},
		{Name: "1x", Type: Gauge},
		{Name: "x-y", Type: Gauge},
		{Name: "x", Type: "histogram"},
		{Name: "x", Type: Gauge, Samples: []Sample{{Labels: []Label{{"a:b", "1"}}}}},
		{Name: "x", Type: Gauge, Samples: []Sample{{Labels: []Label{{"__name__", "1"}}}}},
		{Name: "x", Type: Gauge, Samples: []Sample{{Labels: []Label{{"a", "1"}, {"a", "2"}}}}},
	} {
		var b bytes.Buffer
		if err := Write(&b, []Family{{Name: "ok", Type: Gauge, Samples: []Sample{{Value: 1}}}, f}); err == nil || b.Len() != 0 {
			t.Errorf("%+v: err %v, wrote %q", f, err, b.String())
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	err := Write(failWriter{}, []Family{{Name: "x", Type: Gauge, Samples: []Sample{{Value: 1}}}})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v", err)
	}
}

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func stats(silent bool, lastProbe time.Time) *daemon.Stats {
	return &daemon.Stats{Pid: 4242, Since: now.Add(-time.Hour), Answered: 1294, Local: 3, Rejected: 2, Overload: 1,
		LastProbe: lastProbe, Silent: silent}
}

// TestFromStatus: each state quickCheck reports, as metrics that expfmt
// parses and promtool accepts, with the values the README's table
// promises.
func TestFromStatus(t *testing.T) {
	base := resource.Status{Tag: "lbhc-12345", Protocol: "tcp", Port: 12345, VIP: "10.10.5.200/32", Interface: "eth1"}
	cases := []struct {
		name   string
		mod    func(*resource.Status)
		want   map[string]float64 // family -> value; absent families: -1
		states string
	}{
		{"running", func(s *resource.Status) {
			s.State, s.Pid, s.VIPState, s.Stats = "running", 4242, "present", stats(false, now.Add(-3*time.Second))
		}, map[string]float64{"ilbvip_up": 1, "ilbvip_probe_answering": 1, "ilbvip_vip_present": 1,
			"ilbvip_probes_answered_total": 1294, "ilbvip_probes_rejected_total": 2, "ilbvip_self_probes_total": 3,
			"ilbvip_probes_overload_total": 1, "ilbvip_last_lb_probe_seconds": 3, "ilbvip_config_error": 0,
			"ilbvip_responder_start_time_seconds": float64(now.Add(-time.Hour).Unix())}, "running"},
		{"never probed", func(s *resource.Status) {
			s.State, s.Pid, s.VIPState, s.Stats = "running", 4242, "present", stats(false, time.Time{})
		}, map[string]float64{"ilbvip_up": 1, "ilbvip_last_lb_probe_seconds": 3600}, "running"},
		{"stopped", func(s *resource.Status) {
			s.State, s.VIPState = "stopped", "absent"
		}, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 0, "ilbvip_vip_present": 0, "ilbvip_config_error": 0,
			"ilbvip_probes_answered_total": -1, "ilbvip_last_lb_probe_seconds": -1, "ilbvip_responder_start_time_seconds": -1}, "stopped"},
		{"stopped, a stranger on the port", func(s *resource.Status) {
			s.State, s.VIPState, s.Stranger = "stopped", "absent", true
		}, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 1}, "stopped"},
		{"silent, vip gone", func(s *resource.Status) {
			s.State, s.Pid, s.VIPState, s.Stats = "silent", 4242, "absent", stats(true, now.Add(-90*time.Second))
		}, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 0, "ilbvip_vip_present": 0,
			"ilbvip_probes_answered_total": 1294, "ilbvip_last_lb_probe_seconds": 90}, "silent"},
		{"draining (remove's 503 phase)", func(s *resource.Status) {
			s.State, s.Pid, s.VIPState, s.Stats = "failed", 4242, "present", stats(false, now)
			s.Stats.Draining = true
		}, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 0, "ilbvip_vip_present": 1}, "failed"},
		{"failed, responder dead", func(s *resource.Status) {
			s.State, s.VIPState = "failed", "present"
		}, map[string]float64{"ilbvip_up": 0, "ilbvip_probe_answering": 0, "ilbvip_vip_present": 1,
			"ilbvip_probes_answered_total": -1}, "failed"},
		{"failed, responder without stats", func(s *resource.Status) {
			s.State, s.Pid, s.VIPState = "failed", 4242, "present"
		}, map[string]float64{"ilbvip_probe_answering": 1}, "failed"},
		{"no vip", func(s *resource.Status) {
			s.VIP, s.Interface, s.State, s.Pid, s.Stats = "", "", "running", 4242, stats(false, now)
		}, map[string]float64{"ilbvip_up": 1, "ilbvip_vip_present": -1, "ilbvip_last_lb_probe_seconds": 0}, "running"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := base
			tc.mod(&st)
			text := render(t, FromStatus(&st, now))
			fams := promcheck.Check(t, text)
			labels := map[string]string{"tag": "lbhc-12345", "port": "12345", "vip": "10.10.5.200"}
			if st.VIP == "" {
				labels = map[string]string{"tag": "lbhc-12345", "port": "12345"}
				if strings.Contains(text, "vip=") {
					t.Errorf("a vip label without a VIP:\n%s", text)
				}
			}
			for name, want := range tc.want {
				got, ok := promcheck.Value(t, fams, name, labels)
				switch {
				case want == -1 && ok:
					t.Errorf("%s present (%v), want it absent", name, got)
				case want != -1 && (!ok || got != want):
					t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
				}
			}
			for _, s := range States {
				v, ok := promcheck.Value(t, fams, "ilbvip_state", map[string]string{"state": s})
				if !ok || v != bit(s == tc.states) {
					t.Errorf("ilbvip_state{state=%q} = %v (present %v)", s, v, ok)
				}
			}
		})
	}
}

// TestConfigError: a configuration that cannot be loaded is up 0 and
// ilbvip_config_error 1, labelled with the tag alone, and nothing else.
func TestConfigError(t *testing.T) {
	text := render(t, ConfigError("lbhc-12345"))
	fams := promcheck.Check(t, text)
	tag := map[string]string{"tag": "lbhc-12345"}
	for name, want := range map[string]float64{"ilbvip_up": 0, "ilbvip_config_error": 1} {
		if v, ok := promcheck.Value(t, fams, name, tag); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if len(fams) != 2 || strings.Contains(text, "port=") {
		t.Errorf("more than up and config_error, or labels beyond the tag:\n%s", text)
	}
}

// TestREADMEDocumentsEveryMetric: the README's metrics table names every
// family FromStatus can write, and no other.
func TestREADMEDocumentsEveryMetric(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(ilbvip_[a-z_]+)`").FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	st := resource.Status{Tag: "t", Port: 1, VIP: "10.0.0.1/32", State: "running", Pid: 1, Stats: stats(false, now)}
	var written []string
	for _, f := range append(FromStatus(&st, now), ConfigError("t")...) {
		if !slices.Contains(written, f.Name) {
			written = append(written, f.Name)
		}
	}
	slices.Sort(documented)
	slices.Sort(written)
	if !slices.Equal(documented, written) {
		t.Errorf("README's metrics table lists %v; quickCheck --metrics writes %v", documented, written)
	}
}
