// Package cluster is k-means for segmentation, as scikit-learn's KMeans:
// greedy k-means++ seeding, Lloyd's iterations until the centres move less
// than tol (relative to the data's mean variance), and the best of n_init
// runs by inertia.
package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Params configures k-means; the zero value means scikit-learn's defaults (8 clusters, 300
// iterations, tol 1e-4, 10 runs; sklearn 1.2's n_init default).
type Params struct {
	K       int
	MaxIter int
	Tol     float64
	NInit   int
	Seed    uint64
}

// KMeans is a fitted clustering.
type KMeans struct {
	Centers [][]float64
	Inertia float64 // sum of squared distances of the training rows to their centre
	Iter    int
}

// Fit clusters the rows of X.
func Fit(X [][]float64, p Params) (*KMeans, error) {
	if p.K == 0 {
		p.K = 8
	}
	if p.MaxIter == 0 {
		p.MaxIter = 300
	}
	if p.Tol == 0 {
		p.Tol = 1e-4
	}
	if p.NInit == 0 {
		p.NInit = 10
	}
	switch {
	case p.K < 1:
		return nil, fmt.Errorf("kmeans: n_clusters %d: want at least 1", p.K)
	case p.MaxIter < 1 || p.NInit < 1:
		return nil, fmt.Errorf("kmeans: max_iter %d, n_init %d: want at least 1", p.MaxIter, p.NInit)
	case !(p.Tol >= 0):
		return nil, fmt.Errorf("kmeans: tol %v: want 0 or more", p.Tol)
	}
	if len(X) < p.K {
		return nil, fmt.Errorf("kmeans: %d rows for %d clusters", len(X), p.K)
	}
	d := len(X[0])
	mean := make([]float64, d)
	for i, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("kmeans: row %d has %d features, want %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("kmeans: row %d feature %d is %v, want a finite number", i, j, v)
			}
			mean[j] += v
		}
	}
	var meanVar float64
	for j := range mean {
		mean[j] /= float64(len(X))
	}
	for _, row := range X {
		for j, v := range row {
			meanVar += (v - mean[j]) * (v - mean[j])
		}
	}
	meanVar /= float64(len(X) * d)
	tol := p.Tol * meanVar
	rng := rand.New(rand.NewPCG(p.Seed, 0xbb67ae8584caa73b))
	var best *KMeans
	for range p.NInit {
		km := lloyd(X, seed(X, p.K, rng), p.MaxIter, tol)
		if best == nil || km.Inertia < best.Inertia {
			best = km
		}
	}
	return best, nil
}

func dist2(a, b []float64) float64 {
	var s float64
	for j := range a {
		t := a[j] - b[j]
		s += t * t
	}
	return s
}

// seed is greedy k-means++: each new centre is the best of 2+ln(k)
// candidates drawn in proportion to the squared distance.
func seed(X [][]float64, k int, rng *rand.Rand) [][]float64 {
	n := len(X)
	centers := [][]float64{append([]float64(nil), X[rng.IntN(n)]...)}
	closest := make([]float64, n)
	var pot float64
	for i, x := range X {
		closest[i] = dist2(x, centers[0])
		pot += closest[i]
	}
	trials := 2 + int(math.Log(float64(k)))
	for len(centers) < k {
		bestPot, bestIdx := math.Inf(1), -1
		for range trials {
			r := rng.Float64() * pot
			idx := n - 1
			for i, c := range closest {
				if r -= c; r < 0 {
					idx = i
					break
				}
			}
			var np float64
			for i, x := range X {
				np += min(closest[i], dist2(x, X[idx]))
			}
			if np < bestPot {
				bestPot, bestIdx = np, idx
			}
		}
		c := append([]float64(nil), X[bestIdx]...)
		centers = append(centers, c)
		pot = 0
		for i, x := range X {
			closest[i] = min(closest[i], dist2(x, c))
			pot += closest[i]
		}
	}
	return centers
}

func lloyd(X [][]float64, centers [][]float64, maxIter int, tol float64) *KMeans {
	k, d := len(centers), len(X[0])
	km := &KMeans{Centers: centers}
	sums := make([][]float64, k)
	for c := range sums {
		sums[c] = make([]float64, d)
	}
	cnt := make([]int, k)
	for km.Iter < maxIter {
		km.Iter++
		for c := range sums {
			clear(sums[c])
			cnt[c] = 0
		}
		for _, x := range X {
			c := nearest(centers, x)
			cnt[c]++
			for j, v := range x {
				sums[c][j] += v
			}
		}
		var shift float64
		for c := range centers {
			if cnt[c] == 0 {
				continue // an empty cluster keeps its centre
			}
			for j := range d {
				v := sums[c][j] / float64(cnt[c])
				shift += (v - centers[c][j]) * (v - centers[c][j])
				centers[c][j] = v
			}
		}
		if shift <= tol {
			break
		}
	}
	for _, x := range X {
		km.Inertia += dist2(x, centers[nearest(centers, x)])
	}
	return km
}

func nearest(centers [][]float64, x []float64) int {
	best, bd := 0, math.Inf(1)
	for c, ctr := range centers {
		if dd := dist2(x, ctr); dd < bd {
			best, bd = c, dd
		}
	}
	return best
}

// Predict returns the index of the centre nearest to x.
func (m *KMeans) Predict(x []float64) int { return nearest(m.Centers, x) }
