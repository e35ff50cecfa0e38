package bench

import (
	"math"
	"slices"
	"time"
)

// Summary describes a sample of durations.
type Summary struct {
	N      int
	Median time.Duration // the middle value; the mean of the two middle ones for even N
	P95    time.Duration // nearest-rank 95th percentile
	P99    time.Duration // nearest-rank 99th percentile
	Mean   time.Duration
	Min    time.Duration
	Max    time.Duration
}

// Summarize computes the summary of ds; ds is not modified. An empty
// sample gives a zero Summary.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum float64
	for _, d := range s {
		sum += float64(d)
	}
	return Summary{
		N:      len(s),
		Median: Median(s),
		P95:    Percentile(s, 95),
		P99:    Percentile(s, 99),
		Mean:   time.Duration(sum / float64(len(s))),
		Min:    s[0],
		Max:    s[len(s)-1],
	}
}

// Median of an ascending sample: the middle value, or the mean of the two
// middle values when the length is even. Zero for an empty sample.
func Median(sorted []time.Duration) time.Duration {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return sorted[n/2]
	}
	return sorted[n/2-1] + (sorted[n/2]-sorted[n/2-1])/2
}

// Percentile of an ascending sample by the nearest-rank method: the
// smallest value with at least p percent of the sample at or below it.
// Zero for an empty sample.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}
