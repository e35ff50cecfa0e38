package rehearsal

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	svg "github.com/ajstarks/svgo"

	"github.com/ilbvip/ilbvip/internal/lbsim"
	"github.com/ilbvip/ilbvip/internal/testbed"
)

// Timeline records a rehearsal for its picture: the load balancer's
// events, the actions on the nodes and every client request.
type Timeline struct {
	Title    string // first line
	Subtitle string // second line
	Start    time.Time
	Backends []string

	mu       sync.Mutex
	events   []lbsim.Event
	marks    []Mark
	requests []testbed.Answer
}

// Mark is one action on a node (restore, kill -9, ...), or a heading.
type Mark struct {
	At    time.Time
	Node  string // "" for a scenario heading
	Label string
	Bad   bool // the action did not succeed
}

func (t *Timeline) event(e lbsim.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, e)
}

func (t *Timeline) mark(m Mark) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.marks = append(t.marks, m)
}

func (t *Timeline) answers(as ...testbed.Answer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requests = append(t.requests, as...)
}

// Layout of the picture, in pixels.
const (
	tlWidth  = 1100
	tlLeft   = 120 // labels
	tlRight  = 70
	tlRow    = 34 // one band
	tlTop    = 82
	tlMarkH  = 14
	tlLegend = 30
)

// Colours: each node its own, failures red, unhealthy grey.
var nodeColours = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"}

const (
	colHealthy   = "#4caf50"
	colUnhealthy = "#d9d9d9"
	colFailed    = "#d62728"
	colToAll     = "#bc80bd"
)

// WriteSVG draws the timeline: per backend its probe state over time with
// the actions on that node as marks, the load balancer's routing, and each
// client request coloured by the node that answered (red: no answer).
func (t *Timeline) WriteSVG(w io.Writer, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	span := end.Sub(t.Start)
	if span <= 0 {
		span = time.Second
	}
	x := func(at time.Time) int {
		return tlLeft + int(float64(tlWidth-tlLeft-tlRight)*float64(at.Sub(t.Start))/float64(span))
	}
	rows := len(t.Backends) + 2 // backends, LB routing, client
	height := tlTop + rows*(tlRow+tlMarkH) + 40 + tlLegend
	c := svg.New(w)
	c.Start(tlWidth, height)
	c.Rect(0, 0, tlWidth, height, "fill:white")
	c.Gstyle("font-family:sans-serif;font-size:12px")
	c.Text(8, 20, t.Title, "font-size:15px;font-weight:bold")
	for i, line := range strings.SplitAfter(t.Subtitle, ". ") {
		c.Text(8, 38+15*i, strings.TrimSpace(line), "fill:#333")
	}
	colour := t.colours()
	for i, name := range t.Backends {
		y := tlTop + i*(tlRow+tlMarkH) + tlMarkH
		c.Text(8, y+tlRow/2+4, name+" probe")
		t.drawHealth(c, x, name, y, end)
		t.drawMarks(c, x, name, y)
	}
	y := tlTop + len(t.Backends)*(tlRow+tlMarkH) + tlMarkH
	c.Text(8, y+tlRow/2+4, "LB routes to")
	t.drawRouting(c, x, colour, y, end)
	y += tlRow + tlMarkH
	c.Text(8, y+tlRow/2+4, "client")
	t.drawRequests(c, x, colour, y)
	t.drawHeadings(c, x, tlTop, y+tlRow)
	t.drawAxis(c, x, span, y+tlRow+6)
	t.drawLegend(c, colour, height-tlLegend+8)
	c.Gend()
	c.End()
}

func (t *Timeline) colours() map[string]string {
	m := map[string]string{}
	for i, name := range t.Backends {
		m[name] = nodeColours[i%len(nodeColours)]
	}
	return m
}

// drawHealth paints one backend's probe state between its Up and Down
// events (backends start down).
func (t *Timeline) drawHealth(c *svg.SVG, x func(time.Time) int, name string, y int, end time.Time) {
	from, up := t.Start, false
	paint := func(to time.Time) {
		col := colUnhealthy
		if up {
			col = colHealthy
		}
		if w := x(to) - x(from); w > 0 {
			c.Rect(x(from), y, w, tlRow, "fill:"+col)
		}
	}
	for _, e := range t.events {
		if e.Backend != name || (e.Kind != lbsim.Up && e.Kind != lbsim.Down) {
			continue
		}
		paint(e.Time)
		from, up = e.Time, e.Kind == lbsim.Up
	}
	paint(end)
}

// drawRouting paints where the VIP's new connections go: a node's colour,
// every backend (purple), or dropped (white with a red outline).
func (t *Timeline) drawRouting(c *svg.SVG, x func(time.Time) int, colour map[string]string, y int, end time.Time) {
	from, style, label := t.Start, "fill:white;stroke:"+colFailed, "dropped"
	paint := func(to time.Time) {
		if w := x(to) - x(from); w > 0 {
			c.Rect(x(from), y, w, tlRow, style)
			if w > 7*len(label)+8 {
				c.Text(x(from)+4, y+tlRow/2+4, label, "fill:#222")
			} else {
				// Too narrow for its label: under the band, in the gap
				// before the client's row, so no band goes unnamed.
				c.Text(textX(x(from), label), y+tlRow+11, label, textAnchor(x(from), label)+"font-size:10px;fill:#222")
			}
		}
	}
	for _, e := range t.events {
		var s, l string
		switch e.Kind {
		case lbsim.Routed:
			s, l = "fill:"+colour[e.Backend]+";fill-opacity:0.55", e.Backend
		case lbsim.Dropped:
			s, l = "fill:white;stroke:"+colFailed, "dropped"
		case lbsim.ToAll:
			s, l = "fill:"+colToAll, "every backend"
		default:
			continue
		}
		paint(e.Time)
		from, style, label = e.Time, s, l
	}
	paint(end)
}

// textX and textAnchor place a label that starts at px (11px type, about
// 6px a character): to its right, or, where it would run past the
// picture's right edge, ending at px, so it is never clipped.
func textX(px int, label string) int {
	if px+3+6*len(label) > tlWidth-4 {
		return px - 3
	}
	return px + 3
}

func textAnchor(px int, label string) string {
	if px+3+6*len(label) > tlWidth-4 {
		return "text-anchor:end;"
	}
	return ""
}

// drawMarks puts each action on the node's band: a tick and its label,
// above the band, or inside its bottom when the label before is in the way.
func (t *Timeline) drawMarks(c *svg.SVG, x func(time.Time) int, name string, y int) {
	endTop := -1000 // where the last label above the band ends
	for _, m := range t.marks {
		if m.Node != name {
			continue
		}
		px := x(m.At)
		col := "#000"
		if m.Bad {
			col = colFailed
		}
		c.Line(px, y-3, px, y+tlRow, "stroke-width:2;stroke:"+col)
		labelEnd := px + 3 + 6*len(m.Label)
		if px < endTop+4 {
			c.Text(px+3, y+tlRow-4, m.Label, "font-size:11px;fill:"+col)
		} else {
			c.Text(px+3, y-3, m.Label, "font-size:11px;fill:"+col)
			endTop = labelEnd
		}
	}
}

// drawRequests puts each client request at the time its answer (or error)
// came: a bar in the colour of the node that answered, red for none.
func (t *Timeline) drawRequests(c *svg.SVG, x func(time.Time) int, colour map[string]string, y int) {
	reqs := append([]testbed.Answer(nil), t.requests...)
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].At.Before(reqs[j].At) })
	for _, a := range reqs {
		col, h := colour[a.Node], tlRow
		if a.Err != nil || col == "" {
			col, h = colFailed, tlRow/2
		}
		c.Rect(x(a.At)-1, y+(tlRow-h), 2, h, "fill:"+col)
	}
}

// drawHeadings draws each scenario's start as a dashed line with its name.
func (t *Timeline) drawHeadings(c *svg.SVG, x func(time.Time) int, top, bottom int) {
	for _, m := range t.marks {
		if m.Node != "" {
			continue
		}
		px := x(m.At)
		c.Line(px, top-12, px, bottom, "stroke:#888;stroke-dasharray:4,3")
		c.Text(textX(px, m.Label), top-4, m.Label, textAnchor(px, m.Label)+"font-size:11px;fill:#555")
	}
}

func (t *Timeline) drawAxis(c *svg.SVG, x func(time.Time) int, span time.Duration, y int) {
	c.Line(tlLeft, y, x(t.Start.Add(span)), y, "stroke:#000")
	step := time.Second
	if span > 20*time.Second {
		step = 5 * time.Second
	}
	for d := time.Duration(0); d <= span; d += step {
		px := x(t.Start.Add(d))
		c.Line(px, y, px, y+5, "stroke:#000")
		c.Text(px-6, y+18, fmt.Sprintf("%ds", int(d.Seconds())), "font-size:11px")
	}
}

func (t *Timeline) drawLegend(c *svg.SVG, colour map[string]string, y int) {
	px := tlLeft
	item := func(col, label string) {
		c.Rect(px, y-10, 12, 12, "fill:"+col)
		c.Text(px+16, y, label)
		px += 24 + 7*len(label)
	}
	item(colHealthy, "probe healthy")
	item(colUnhealthy, "probe unhealthy")
	for _, name := range t.Backends {
		item(colour[name], "answered by "+name)
	}
	item(colFailed, "no answer")
	item(colToAll, "sent to every backend")
}

func countsText(by map[string]int, failed int) string {
	var parts []string
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, by[n]))
	}
	parts = append(parts, fmt.Sprintf("no answer %d", failed))
	return strings.Join(parts, ", ")
}
