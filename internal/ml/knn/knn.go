// Package knn predicts from the k nearest training rows by Euclidean
// distance, as scikit-learn's KNeighborsClassifier and KNeighborsRegressor
// do. The search is a tight brute force: training rows are stored
// contiguously, each distance sum stops as soon as it exceeds the current
// k-th best, and a batch of queries is spread over every core.
package knn

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Weight schemes.
const (
	Uniform  = "uniform"  // every neighbour counts the same
	Distance = "distance" // neighbours count by 1/distance; an exact match outweighs the rest
)

// Params are the hyperparameters; the zero value means scikit-learn's
// defaults (k = 5, uniform weights).
type Params struct {
	K       int    // neighbours; 0: 5
	Weights string // uniform or distance; "": uniform
	Workers int    // goroutines for batches; 0: GOMAXPROCS
}

// Model is a fitted k-NN model: the training rows themselves.
type Model struct {
	K           int
	Weights     string
	NumFeatures int
	NumClasses  int       // 0 for a regressor
	X           []float64 // row-major training rows
	Y           []float64 // labels (as numbers) or targets
	workers     int
}

func (p Params) check() (Params, error) {
	if p.K == 0 {
		p.K = 5
	}
	if p.K < 1 {
		return p, fmt.Errorf("n_neighbors %d: want at least 1", p.K)
	}
	if p.Weights == "" {
		p.Weights = Uniform
	}
	if p.Weights != Uniform && p.Weights != Distance {
		return p, fmt.Errorf("weights %q: want %q or %q", p.Weights, Uniform, Distance)
	}
	if p.Workers == 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	if p.Workers < 0 {
		return p, fmt.Errorf("n_jobs %d: want at least 1", p.Workers)
	}
	return p, nil
}

func newModel(X [][]float64, y []float64, nClasses int, p Params) (*Model, error) {
	p, err := p.check()
	if err != nil {
		return nil, fmt.Errorf("k-nearest neighbours: %w", err)
	}
	if len(X) == 0 || len(X) != len(y) {
		return nil, fmt.Errorf("k-nearest neighbours: %d rows and %d targets", len(X), len(y))
	}
	if p.K > len(X) {
		return nil, fmt.Errorf("k-nearest neighbours: n_neighbors %d exceeds the %d training rows", p.K, len(X))
	}
	d := len(X[0])
	m := &Model{K: p.K, Weights: p.Weights, NumFeatures: d, NumClasses: nClasses, Y: y, workers: p.Workers}
	m.X = make([]float64, 0, len(X)*d)
	for i, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("k-nearest neighbours: row %d has %d features, want %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("k-nearest neighbours: row %d feature %d is %v, want a finite number", i, j, v)
			}
		}
		m.X = append(m.X, row...)
	}
	return m, nil
}

// FitClassifier stores the training rows with labels 0..nClasses-1.
func FitClassifier(X [][]float64, y []int, nClasses int, p Params) (*Model, error) {
	if nClasses < 1 {
		return nil, fmt.Errorf("k-nearest neighbours: %d classes", nClasses)
	}
	yf := make([]float64, len(y))
	for i, c := range y {
		if c < 0 || c >= nClasses {
			return nil, fmt.Errorf("k-nearest neighbours: row %d: class %d, want 0..%d", i, c, nClasses-1)
		}
		yf[i] = float64(c)
	}
	return newModel(X, yf, nClasses, p)
}

// FitRegressor stores the training rows with their targets.
func FitRegressor(X [][]float64, y []float64, p Params) (*Model, error) {
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("k-nearest neighbours: row %d target is %v, want a finite number", i, v)
		}
	}
	return newModel(X, y, 0, p)
}

// Neighbors returns the indices of the K nearest training rows to x and
// their squared distances, nearest first; ties go to the earlier row.
func (m *Model) Neighbors(x []float64) ([]int, []float64) {
	k, d := m.K, m.NumFeatures
	idx := make([]int, 0, k)
	dist := make([]float64, 0, k)
	bound := math.Inf(1)
	n := len(m.Y)
	for i := range n {
		row := m.X[i*d : i*d+d]
		var s float64
		j := 0
		// Four terms at a time, then check the bound.
		for ; j+4 <= d; j += 4 {
			a, b, c, e := row[j]-x[j], row[j+1]-x[j+1], row[j+2]-x[j+2], row[j+3]-x[j+3]
			s += a*a + b*b + c*c + e*e
			if s > bound {
				break
			}
		}
		if s > bound {
			continue
		}
		for ; j < d; j++ {
			t := row[j] - x[j]
			s += t * t
		}
		if s >= bound && len(idx) == k {
			continue
		}
		// Insert in order; equal distances keep the earlier row first.
		p := len(idx)
		for p > 0 && dist[p-1] > s {
			p--
		}
		if len(idx) < k {
			idx = append(idx, 0)
			dist = append(dist, 0)
		}
		copy(idx[p+1:], idx[p:len(idx)-1])
		copy(dist[p+1:], dist[p:len(dist)-1])
		idx[p], dist[p] = i, s
		if len(idx) == k {
			bound = dist[k-1]
		}
	}
	return idx, dist
}

// weights returns the vote weight of each neighbour.
func (m *Model) weights(dist []float64) []float64 {
	w := make([]float64, len(dist))
	if m.Weights == Uniform {
		for i := range w {
			w[i] = 1
		}
		return w
	}
	exact := false
	for _, d := range dist {
		if d == 0 {
			exact = true
		}
	}
	for i, d := range dist {
		switch {
		case exact && d == 0:
			w[i] = 1
		case !exact:
			w[i] = 1 / math.Sqrt(d)
		}
	}
	return w
}

// PredictProba writes class probabilities for x into out (len
// NumClasses): the weighted share of each class among the neighbours.
func (m *Model) PredictProba(x []float64, out []float64) {
	idx, dist := m.Neighbors(x)
	w := m.weights(dist)
	clear(out)
	var tot float64
	for i, r := range idx {
		out[int(m.Y[r])] += w[i]
		tot += w[i]
	}
	for c := range out {
		out[c] /= tot
	}
}

// Predict returns the weighted mean target of x's neighbours (regressor).
func (m *Model) Predict(x []float64) float64 {
	idx, dist := m.Neighbors(x)
	w := m.weights(dist)
	var s, tot float64
	for i, r := range idx {
		s += w[i] * m.Y[r]
		tot += w[i]
	}
	return s / tot
}

// Batch applies fn to every row of X on the model's workers; fn(i, x)
// must write only its own result slot.
func (m *Model) Batch(X [][]float64, fn func(i int, x []float64)) {
	workers := max(1, m.workers)
	if workers == 1 || len(X) < 64 {
		for i, x := range X {
			fn(i, x)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (len(X) + workers*8 - 1) / (workers * 8)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for s := range next {
				for i := s; i < min(s+chunk, len(X)); i++ {
					fn(i, X[i])
				}
			}
		})
	}
	for s := 0; s < len(X); s += chunk {
		next <- s
	}
	close(next)
	wg.Wait()
}
