// Package metrics renders a resource's status in the Prometheus text
// exposition format (version 0.0.4), for quickCheck --metrics and the
// node_exporter textfile collector.
//
// The format is written by this package's own small writer rather than by
// the Prometheus project's expfmt: expfmt pulls in protobuf, whose package
// initialisation every run of the four executables would pay (about
// 0.6 to 1 ms more per start, a quarter to a third of a Go program's
// start on the test VM, and 3 MB
// more per binary), while quickCheck runs every few seconds on every node.
// The tests check the output with expfmt's own parser and with promtool.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Types of a metric family, as the TYPE line spells them.
const (
	Gauge   = "gauge"
	Counter = "counter"
)

// Family is one metric: name, help text, type and its samples.
type Family struct {
	Name    string
	Help    string
	Type    string
	Samples []Sample
}

// Sample is one value with its labels, in the order given.
type Sample struct {
	Labels []Label
	Value  float64
}

// Label is one name="value" pair.
type Label struct{ Name, Value string }

// Write writes the families in the text format: a HELP and a TYPE line
// each, then its samples. A family without samples is left out (the
// format has no use for a TYPE line without a value). A name that the
// format does not allow is an error, and nothing is written.
func Write(w io.Writer, fams []Family) error {
	for _, f := range fams {
		if err := f.check(); err != nil {
			return err
		}
	}
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		if len(f.Samples) == 0 {
			continue
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.Name, escapeHelp(f.Help), f.Name, f.Type)
		for _, s := range f.Samples {
			bw.WriteString(f.Name)
			writeLabels(bw, s.Labels)
			bw.WriteByte(' ')
			bw.WriteString(formatValue(s.Value))
			bw.WriteByte('\n')
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

// check refuses what would make the output unparsable: a bad metric or
// label name, an unknown type, a label twice in one sample.
func (f Family) check() error {
	if !validName(f.Name, true) {
		return fmt.Errorf("metric name %q is not valid in the Prometheus format", f.Name)
	}
	if f.Type != Gauge && f.Type != Counter {
		return fmt.Errorf("metric %s: type %q is not gauge or counter", f.Name, f.Type)
	}
	for _, s := range f.Samples {
		seen := map[string]bool{}
		for _, l := range s.Labels {
			if !validName(l.Name, false) || strings.HasPrefix(l.Name, "__") || seen[l.Name] {
				return fmt.Errorf("metric %s: label name %q is not valid (or repeated)", f.Name, l.Name)
			}
			seen[l.Name] = true
		}
	}
	return nil
}

// validName: [a-zA-Z_:][a-zA-Z0-9_:]* for metric names, the same without
// ':' for label names. Written out rather than as a regexp, whose
// compilation would cost every start of the executables.
func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || colon && r == ':' || i > 0 && r >= '0' && r <= '9'
		if !ok {
			return false
		}
	}
	return true
}

func writeLabels(bw *bufio.Writer, ls []Label) {
	if len(ls) == 0 {
		return
	}
	bw.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(l.Name)
		bw.WriteString(`="`)
		bw.WriteString(escapeLabel(l.Value))
		bw.WriteByte('"')
	}
	bw.WriteByte('}')
}

// The text format escapes backslash and newline in HELP text, and also the
// double quote in label values.
func escapeHelp(s string) string  { return escape(s, false) }
func escapeLabel(s string) string { return escape(s, true) }

func escape(s string, quote bool) string {
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '"' && quote:
			b.WriteString(`\"`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// formatValue writes integers as integers (counters stay exact to 2^53)
// and other values in the shortest form that reads back the same.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
