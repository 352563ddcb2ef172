package sim

import (
	"math"
	"testing"
)

// TestAR1ErrorGrowsWithLead checks the AR(1) forecast error: zero for the
// current step, its standard deviation σ·mean·√(1−φ²ʰ) at lead h (to within
// sampling error over many seeds), and the buffer restored between issues.
func TestAR1ErrorGrowsWithLead(t *testing.T) {
	t.Parallel()
	ci := make([]float64, 200)
	for i := range ci {
		ci[i] = 100 + float64(i%7)
	}
	var mean float64
	for _, v := range ci {
		mean += v
	}
	mean /= float64(len(ci))
	m := ErrorModel{AR1: 0.2, Phi: 0.9}
	const seeds = 4000
	leads := []int{1, 5, 50}
	sq := make([]float64, len(leads))
	for seed := range seeds {
		issue := m.issuer(ci, uint64(seed))
		f := issue(100, 200)
		if f[100] != ci[100] {
			t.Fatalf("seed %d: the current step has error %v", seed, f[100]-ci[100])
		}
		for i, h := range leads {
			e := f[100+h] - ci[100+h]
			sq[i] += e * e
		}
		f = issue(10, 60) // a later call restores 100…199
		for k := 100; k < 200; k++ {
			if f[k] != ci[k] {
				t.Fatalf("seed %d: step %d not restored", seed, k)
			}
		}
	}
	for i, h := range leads {
		got := math.Sqrt(sq[i] / seeds)
		want := 0.2 * mean * math.Sqrt(1-math.Pow(0.9, 2*float64(h)))
		if math.Abs(got-want) > 0.05*want {
			t.Errorf("lead %d: error sd %.3f, want %.3f ± 5%%", h, got, want)
		}
	}
}
