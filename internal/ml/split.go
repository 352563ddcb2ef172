package ml

// SplitMix64 is Steele, Lea and Flood's SplitMix64 generator. It is the
// portable generator behind TrainTestSplit, so that a split reproduces
// bit for bit in Go and in the Python reference script.
type SplitMix64 struct {
	state uint64
}

// NewSplitMix64 returns a generator seeded with seed.
func NewSplitMix64(seed uint64) *SplitMix64 {
	return &SplitMix64{state: seed}
}

// Next returns the next 64-bit output.
func (g *SplitMix64) Next() uint64 {
	g.state += 0x9E3779B97F4A7C15
	z := g.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Permutation returns a Fisher–Yates permutation of 0..n-1 drawn from g:
// for i from n-1 down to 1, j = Next() % (i+1) and perm[i], perm[j] swap.
func (g *SplitMix64) Permutation(n int) []int {
	perm := make([]int, max(n, 0))
	for i := range perm {
		perm[i] = i
	}
	for i := n - 1; i >= 1; i-- {
		j := int(g.Next() % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm
}

// TrainTestSplit splits the row indices 0..n-1 as the reference script does:
// a SplitMix64(seed) Fisher–Yates permutation whose first (n*8)/10 indices
// are the training rows and the rest the test rows, both in permutation
// order.
func TrainTestSplit(n int, seed uint64) (train, test []int) {
	perm := NewSplitMix64(seed).Permutation(n)
	nTrain := len(perm) * 8 / 10
	return perm[:nTrain:nTrain], perm[nTrain:]
}
