// Package promcheck checks text in the Prometheus exposition format for
// tests, with the Prometheus project's own tools: expfmt's parser (strict,
// legacy metric names) and promtool's linter. Only tests import it, so the
// kit's executables never link expfmt or protobuf (see pkg/metrics).
package promcheck

import (
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse parses text as Prometheus does when it scrapes it and fails the
// test on any error.
func Parse(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("expfmt cannot parse the metrics: %v\n%s", err, text)
	}
	return fams
}

// Check is Parse and Lint.
func Check(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	fams := Parse(t, text)
	Lint(t, text)
	return fams
}

// Value is the value of the one sample of family name whose labels
// include want; ok is false when there is none. A family with several
// matching samples fails the test.
func Value(t testing.TB, fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, ok bool) {
	t.Helper()
	f := fams[name]
	if f == nil {
		return 0, false
	}
	n := 0
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		n++
		switch {
		case m.GetGauge() != nil:
			v = m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			v = m.GetCounter().GetValue()
		default:
			v = m.GetUntyped().GetValue()
		}
	}
	if n > 1 {
		t.Fatalf("%s: %d samples match %v", name, n, want)
	}
	return v, n == 1
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// Names lists the families' names, sorted.
func Names(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range fams {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
