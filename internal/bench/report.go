package bench

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"
)

// Subjects as the tables name them; ratios compare ilbvip against the pair
// with nc, the usual setup.
const (
	SubjectExe      = "ilbvip executables"
	SubjectOCF      = "ilbvip OCF agent"
	SubjectRef      = "IPaddr2 + azure-lb (nc)"
	SubjectRefSocat = "IPaddr2 + azure-lb (socat)"
)

var actionLabel = map[string]string{
	ActStart:   "restore / start (VIP + listener)",
	ActMonitor: "quickCheck / monitor",
	ActMetrics: "quickCheck --metrics (Prometheus text)",
	ActRecover: "recover after kill -9 of the listener",
	ActStop:    "remove / stop",
	ActCycle:   "one cycle: start + monitor + stop",
}

//go:embed report.md.tmpl
var reportText string

var reportTmpl = template.Must(template.New("report").Funcs(reportFuncs).Parse(reportText))

// view is what the template renders: the results, their targets, and the
// bounds of the VIP-watch phase, which the report states.
type view struct {
	*Results
	Targets          []Target
	FloorRuns        int
	MonitoringWindow time.Duration
	VIPTook          time.Duration
	VIPWatchBase     int
	VIPProbeTimeout  time.Duration
	VIPWaitLimit     time.Duration
	VIPWaitProbes    int
	VIPProbeGap      time.Duration
	VIPPause         time.Duration
}

// Markdown writes the results as a markdown document (report.md.tmpl).
func (r *Results) Markdown(w io.Writer) error {
	v := view{Results: r, Targets: r.Targets(), VIPWatchBase: vipWatchBase, VIPProbeTimeout: vipProbeTimeout,
		VIPWaitLimit: vipWaitLimit, VIPWaitProbes: vipWaitProbes, VIPProbeGap: vipProbeGap, VIPPause: vipPause}
	if len(r.Floor) > 0 {
		v.FloorRuns = r.Floor[0].Wall.N
	}
	if len(r.Monitoring) > 0 {
		v.MonitoringWindow = r.Monitoring[0].IdleWindow
	}
	for _, x := range r.VIPWatch {
		v.VIPTook += x.Elapsed
	}
	if err := reportTmpl.Execute(w, v); err != nil {
		return fmt.Errorf("render the report: %w", err)
	}
	return nil
}

// saved is the machine-readable results file: the results as measured
// (durations in nanoseconds) and the targets judged from them.
type saved struct {
	Results *Results
	Targets []Target
}

// WriteJSON writes the results and their targets as JSON, the file beside
// the markdown report.
func (r *Results) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(saved{r, r.Targets()}); err != nil {
		return fmt.Errorf("write the results as JSON: %w", err)
	}
	return nil
}

// ReadJSON reads results WriteJSON wrote, to render them again.
func ReadJSON(rd io.Reader) (*Results, error) {
	var s saved
	if err := json.NewDecoder(rd).Decode(&s); err != nil {
		return nil, fmt.Errorf("read the results JSON: %w", err)
	}
	if s.Results == nil {
		return nil, fmt.Errorf("read the results JSON: no Results in it")
	}
	return s.Results, nil
}

// reportFuncs format the report's cells.
var reportFuncs = template.FuncMap{
	"dur":     fmtDur,
	"bytes":   fmtBytes,
	"digits":  groupDigits,
	"orQ":     orQ,
	"label":   func(action string) string { return actionLabel[action] },
	"seconds": func(d time.Duration) time.Duration { return d.Round(time.Second) },
	"pct":     func(share float64) string { return fmt.Sprintf("%.2f", 100*share) },
	"rate":    func(res LoadResult) string { return groupDigits(int(res.Rate() + 0.5)) },
	"coreShare": func(perHour time.Duration) string {
		return fmt.Sprintf("%.3f", 100*perHour.Seconds()/3600)
	},
	"actionRatio": actionRatio,
	"costRatio":   costRatio,
	"idleConns":   idleConns,
	"listenerCPU": func(x ProbeRow) string {
		if x.ListenerCPU > 0 {
			return fmtDur(x.ListenerCPU)
		}
		return "—"
	},
}

// actionRatio is the pair with nc's median wall and CPU divided by a's.
func actionRatio(all []ActionRow, a ActionRow) string {
	ratio := "—"
	if !a.Ref {
		for _, ref := range all {
			if ref.Action == a.Action && ref.Subject == SubjectRef && a.Wall.Median > 0 && a.CPU.Median > 0 {
				ratio = fmt.Sprintf("%s wall, %s CPU", fmtRatio(float64(ref.Wall.Median)/float64(a.Wall.Median)),
					fmtRatio(float64(ref.CPU.Median)/float64(a.CPU.Median)))
			}
		}
	}
	return ratio
}

// costRatio is the pair with nc's CPU per hour of monitoring divided by c's.
func costRatio(all []CostRow, c CostRow) string {
	var refCost time.Duration
	for _, x := range all {
		if x.Subject == SubjectRef {
			refCost = x.PerHour
		}
	}
	if c.Ref || c.PerHour <= 0 {
		return "—"
	}
	return fmtRatio(float64(refCost) / float64(c.PerHour))
}

// idleConns is a probe row's idle connections: asked for (held / closed).
func idleConns(x ProbeRow) string {
	if x.Idle == 0 {
		return "0"
	}
	return fmt.Sprintf("%s (%s / %s)", groupDigits(x.Idle), groupDigits(x.Result.IdleOpen), groupDigits(x.Result.IdleClosed))
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// fmtDur prints a duration with 2-3 significant digits in ms or s.
func fmtDur(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d == 0:
		s = "0"
	case d < 10*time.Microsecond:
		s = fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	case d < time.Millisecond:
		s = fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		s = fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		s = fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		s = fmt.Sprintf("%.2f s", d.Seconds())
	}
	if neg {
		return "-" + s
	}
	return s
}

func fmtRatio(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f×", x)
	}
	return fmt.Sprintf("%.1f×", x)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// groupDigits prints 1234567 as 1,234,567.
func groupDigits(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
