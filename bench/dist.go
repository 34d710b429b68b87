package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// sampler draws positive integers from a Dist with a seeded source.
type sampler interface {
	sample(r *rand.Rand) int
}

func newSampler(d Dist) (sampler, error) {
	switch d.Kind {
	case DistFixed:
		return fixedDist(max(1, int(math.Round(d.Mean)))), nil
	case DistGeometric:
		return geometricDist{p: 1 / d.Mean}, nil
	case DistZipf:
		z, err := newZipf(d.S, d.Mean)
		if err != nil {
			return nil, err
		}
		z.buildCDF()
		return z, nil
	}
	return nil, fmt.Errorf("unknown distribution %q", d.Kind)
}

type fixedDist int

func (f fixedDist) sample(*rand.Rand) int { return int(f) }

// geometricDist is the number of trials up to the first success, on
// {1, 2, ...}: mean 1/p.
type geometricDist struct{ p float64 }

func (g geometricDist) sample(r *rand.Rand) int {
	if g.p >= 1 {
		return 1
	}
	u := 1 - r.Float64() // (0, 1]
	k := 1 + int(math.Floor(math.Log(u)/math.Log1p(-g.p)))
	return min(max(k, 1), maxZipfRange)
}

// zipfDist is P(k) ∝ k^-s on [1, kmax], kmax the smallest cap whose mean
// reaches the requested one: a heavy tail of very reused tokens.
type zipfDist struct {
	s    float64
	kmax int
	cdf  []float64
}

func newZipf(s, mean float64) (*zipfDist, error) {
	var num, den float64 // sums of k^(1-s) and k^-s
	for k := 1; k <= maxZipfRange; k++ {
		w := math.Pow(float64(k), -s)
		den += w
		num += w * float64(k)
		if num/den >= mean {
			return &zipfDist{s: s, kmax: k}, nil
		}
	}
	return nil, fmt.Errorf("zipf with s=%g cannot reach mean %g within k <= %d (lower s)", s, mean, maxZipfRange)
}

func (z *zipfDist) buildCDF() {
	z.cdf = make([]float64, z.kmax)
	var sum float64
	for k := 1; k <= z.kmax; k++ {
		sum += math.Pow(float64(k), -z.s)
		z.cdf[k-1] = sum
	}
	for i := range z.cdf {
		z.cdf[i] /= sum
	}
}

func (z *zipfDist) sample(r *rand.Rand) int {
	i := sort.SearchFloat64s(z.cdf, r.Float64())
	return min(i, len(z.cdf)-1) + 1
}

// expDuration draws an exponential duration with the given mean.
func expDuration(r *rand.Rand, mean float64) float64 {
	return r.ExpFloat64() * mean
}
