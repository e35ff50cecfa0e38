package rehearsal

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ilbvip/ilbvip/internal/lbsim"
)

// TestTimelineLabels: a scenario heading near the right edge ends at its
// line instead of being clipped, and a routing band too narrow for its
// label is still named (under the band), as in the Google Cloud picture's
// 0.5 s "dropped" band and its e) heading.
func TestTimelineLabels(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tl := &Timeline{Title: "t", Start: t0, Backends: []string{"node1", "node2"}}
	tl.event(lbsim.Event{Time: t0, Kind: lbsim.Routed, Backend: "node1"})
	tl.event(lbsim.Event{Time: t0.Add(3250 * time.Millisecond), Kind: lbsim.Dropped})
	tl.event(lbsim.Event{Time: t0.Add(3750 * time.Millisecond), Kind: lbsim.Routed, Backend: "node1"})
	const heading = "e) why it matters (Google Cloud): without a failover policy"
	tl.mark(Mark{At: t0.Add(8 * time.Second), Label: heading})
	var b bytes.Buffer
	tl.WriteSVG(&b, t0.Add(10*time.Second))
	svg := b.String()
	i := strings.Index(svg, heading)
	if i < 0 {
		t.Fatalf("heading missing:\n%s", svg)
	}
	if tag := svg[strings.LastIndex(svg[:i], "<text"):i]; !strings.Contains(tag, "text-anchor:end") {
		t.Errorf("the heading near the right edge is not right-aligned: %s", tag)
	}
	if n := strings.Count(svg, ">dropped<"); n != 1 {
		t.Errorf("the narrow dropped band has %d labels, want 1:\n%s", n, svg)
	}
}

// TestHeadingLabel: a heading's label keeps whole words.
func TestHeadingLabel(t *testing.T) {
	for in, want := range map[string]string{
		"e) why it matters (Google Cloud): without a failover policy":       "e) why it matters (Google Cloud)",
		"b) switchover: remove on node1":                                    "b) switchover",
		"x) a title with far too many words before its colon comes here: y": "x) a title with far too many words…",
	} {
		if got := headingLabel(in); got != want {
			t.Errorf("headingLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
