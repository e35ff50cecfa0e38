package bench

import (
	"testing"
	"time"
)

func ms(vs ...float64) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v * float64(time.Millisecond))
	}
	return out
}

func TestSummarize(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100..1, unsorted on purpose
	}
	tests := []struct {
		name                        string
		in                          []time.Duration
		median, p95, p99, mean, max time.Duration
	}{
		{"empty", nil, 0, 0, 0, 0, 0},
		{"one", ms(7), ms(7)[0], ms(7)[0], ms(7)[0], ms(7)[0], ms(7)[0]},
		{"odd, unsorted", ms(3, 1, 2), ms(2)[0], ms(3)[0], ms(3)[0], ms(2)[0], ms(3)[0]},
		{"even: mean of the middle two", ms(4, 1, 3, 2), ms(2.5)[0], ms(4)[0], ms(4)[0], ms(2.5)[0], ms(4)[0]},
		// Nearest rank: ceil(0.95*100) = 95th value, ceil(0.99*100) = 99th.
		{"1..100", ms(hundred...), ms(50.5)[0], ms(95)[0], ms(99)[0], ms(50.5)[0], ms(100)[0]},
		// ceil(0.95*10) = 10th value: with 10 samples p95 is the maximum.
		{"ten with an outlier", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1000), ms(1)[0], ms(1000)[0], ms(1000)[0], ms(100.9)[0], ms(1000)[0]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := append([]time.Duration(nil), tc.in...)
			s := Summarize(tc.in)
			if s.N != len(tc.in) || s.Median != tc.median || s.P95 != tc.p95 || s.P99 != tc.p99 || s.Mean != tc.mean || s.Max != tc.max {
				t.Errorf("Summarize(%v) = %+v, want N %d median %v p95 %v p99 %v mean %v max %v",
					tc.in, s, len(tc.in), tc.median, tc.p95, tc.p99, tc.mean, tc.max)
			}
			for i := range orig {
				if tc.in[i] != orig[i] {
					t.Fatalf("Summarize modified its input: %v, was %v", tc.in, orig)
				}
			}
		})
	}
}

func TestPercentileBounds(t *testing.T) {
	s := ms(1, 2, 3)
	tests := []struct {
		p    float64
		want time.Duration
	}{
		{0, ms(1)[0]}, {1, ms(1)[0]}, {34, ms(2)[0]}, {66.7, ms(3)[0]}, {100, ms(3)[0]}, {150, ms(3)[0]},
	}
	for _, tc := range tests {
		t.Run("", func(t *testing.T) {
			if got := Percentile(s, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", s, tc.p, got, tc.want)
			}
		})
	}
}
