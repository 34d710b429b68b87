package bench

import (
	"math"
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets, HdrHistogram style:
// each power of two is split into 2^subBits linear sub-buckets, so a
// recorded value is known to within a relative error of 2^-subBits (0.8 %)
// whatever its magnitude, in constant memory. (github.com/HdrHistogram/
// hdrhistogram-go is not available from this module proxy.) Min, max, count
// and sum are exact. Not safe for concurrent use.
type histogram struct {
	counts   []uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	subBits    = 7
	subBuckets = 1 << subBits
)

func newHistogram() *histogram {
	// Values up to 2^62 ns: 63 magnitudes of subBuckets each.
	return &histogram{counts: make([]uint64, 64*subBuckets), min: math.MaxInt64}
}

// bucket maps v >= 0 to its bucket: values below subBuckets are exact;
// above, the magnitude picks a row and the next subBits bits the column.
func bucket(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	mag := bits.Len64(uint64(v)) - subBits // >= 1
	return mag*subBuckets + int(v>>(mag-1)) - subBuckets
}

// lowest returns the smallest value of bucket i; the bucket holds values up
// to lowest(i+1)-1.
func lowest(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	mag := i / subBuckets
	return int64(i%subBuckets+subBuckets) << (mag - 1)
}

func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucket(v)]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// quantile returns the value at quantile q in [0, 1]: the midpoint of the
// bucket holding it, clamped to the exact min and max.
func (h *histogram) quantile(q float64) time.Duration {
	switch {
	case h.n == 0:
		return 0
	case q <= 0:
		return time.Duration(h.min)
	case q >= 1:
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := lowest(i), lowest(i+1)-1
			mid := lo + (hi-lo)/2
			return time.Duration(min(max(mid, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// LatencySummary is a latency distribution in microseconds (real time).
type LatencySummary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_us"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p99_9_us"`
	Max   float64 `json:"max_us"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func (h *histogram) summary() LatencySummary {
	s := LatencySummary{Count: h.n, Mean: us(h.mean()), P50: us(h.quantile(.5)), P90: us(h.quantile(.9)),
		P99: us(h.quantile(.99)), P999: us(h.quantile(.999))}
	if h.n > 0 {
		s.Max = us(time.Duration(h.max))
	}
	return s
}

// Quantile is one point of a latency distribution: the fraction P of
// validations took at most US microseconds.
type Quantile struct {
	P  float64 `json:"p"`
	US float64 `json:"us"`
}

// cdfProbs are the probabilities quantiles() samples: dense in the body,
// then the tail down to 1 in 100 000.
var cdfProbs = func() []float64 {
	var ps []float64
	for p := 0.0; p < 0.9; p += 0.02 {
		ps = append(ps, p)
	}
	for _, tail := range []float64{0.1, 0.01, 0.001, 0.0001, 0.00001} {
		for k := 9; k >= 1; k-- {
			if p := 1 - tail*float64(k)/10; p >= 0.9 {
				ps = append(ps, p)
			}
		}
	}
	return append(ps, 1)
}()

// quantiles samples the distribution at cdfProbs (nil when empty).
func (h *histogram) quantiles() []Quantile {
	if h.n == 0 {
		return nil
	}
	out := make([]Quantile, 0, len(cdfProbs))
	for _, p := range cdfProbs {
		out = append(out, Quantile{P: math.Round(p*1e6) / 1e6, US: us(h.quantile(p))})
	}
	return out
}
