package parity_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/boost"
	"github.com/joule-dev/joule/internal/ml/forest"
	"github.com/joule-dev/joule/internal/ml/linear"
)

// The credit benchmarks fit and predict on UCI_Credit_Card's reference
// split (24,000 training rows × 23 features, 6,000 test rows), with the
// hyperparameters of scripts/bench-ml.py's scikit-learn side. Run them
// through scripts/bench-ml.sh, which puts the two side by side.

type creditData struct {
	xtr, xte, str, ste [][]float64 // raw and standardised
	ytr                []int
}

var credit = sync.OnceValues(func() (*creditData, error) {
	d, err := loadClassification("finance/UCI_Credit_Card.csv")
	if err != nil {
		return nil, err
	}
	tr, te := ml.TrainTestSplit(len(d.Y), 42)
	c := &creditData{xtr: rowsAt(d.X, tr), xte: rowsAt(d.X, te), ytr: rowsAt(d.Y, tr)}
	s, err := ml.FitStandardScaler(c.xtr)
	if err != nil {
		return nil, err
	}
	if c.str, err = s.Transform(c.xtr); err != nil {
		return nil, err
	}
	c.ste, err = s.Transform(c.xte)
	return c, err
})

func loadCredit(b *testing.B) *creditData {
	c, err := credit()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// parallelRows runs fn over the rows on every core.
func parallelRows(X [][]float64, fn func(x []float64, out []float64)) {
	w := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	chunk := (len(X) + w - 1) / w
	for s := 0; s < len(X); s += chunk {
		wg.Go(func() {
			out := make([]float64, 2)
			for _, x := range X[s:min(s+chunk, len(X))] {
				fn(x, out)
			}
		})
	}
	wg.Wait()
}

// BenchmarkCreditFitLogistic includes the scaler fit, as the pipeline
// does on the scikit-learn side.
func BenchmarkCreditFitLogistic(b *testing.B) {
	c := loadCredit(b)
	for b.Loop() {
		s, err := ml.FitStandardScaler(c.xtr)
		if err != nil {
			b.Fatal(err)
		}
		x, _ := s.Transform(c.xtr)
		if _, err := linear.FitLogistic(x, c.ytr, linear.LogisticOptions{C: 1, MaxIter: 1000}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreditFitForest(b *testing.B) {
	c := loadCredit(b)
	for b.Loop() {
		if _, err := forest.FitClassifier(c.xtr, c.ytr, 2, forest.Params{NumTrees: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreditFitBoost(b *testing.B) {
	c := loadCredit(b)
	for b.Loop() {
		if _, err := boost.FitClassifier(c.xtr, c.ytr, 2, boost.Params{NumTrees: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

// The predict benchmarks score the 6,000 test rows (probabilities) in one
// batch, as predict_proba does; rows/s is in the rows/s metric. The tree
// ensembles walk each packed tree over blocks of rows (tree.Flat).
func BenchmarkCreditPredictLogistic(b *testing.B) {
	c := loadCredit(b)
	m, err := linear.FitLogistic(c.str, c.ytr, linear.LogisticOptions{C: 1, MaxIter: 1000})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		parallelRows(c.ste, func(x, out []float64) { out[0] = m.PredictProba(x) })
	}
	b.ReportMetric(float64(len(c.ste)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkCreditPredictForest(b *testing.B) {
	c := loadCredit(b)
	f, err := forest.FitClassifier(c.xtr, c.ytr, 2, forest.Params{NumTrees: 100})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]float64, 2*len(c.xte))
	f.PredictBatch(c.xte, out) // packs the trees once, as loading a model would
	for b.Loop() {
		f.PredictBatch(c.xte, out)
	}
	b.ReportMetric(float64(len(c.xte)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkCreditPredictBoost(b *testing.B) {
	c := loadCredit(b)
	m, err := boost.FitClassifier(c.xtr, c.ytr, 2, boost.Params{NumTrees: 100})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]float64, 2*len(c.xte))
	m.PredictProbaBatch(c.xte, out) // packs the trees once, as loading a model would
	for b.Loop() {
		m.PredictProbaBatch(c.xte, out)
	}
	b.ReportMetric(float64(len(c.xte)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCreditPredictForestRow predicts one row at a time, as a
// deployment's single-row call does.
func BenchmarkCreditPredictForestRow(b *testing.B) {
	c := loadCredit(b)
	f, err := forest.FitClassifier(c.xtr, c.ytr, 2, forest.Params{NumTrees: 100})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]float64, 2)
	f.Predict(c.xte[0], out) // packs the trees once, as loading a model would
	i := 0
	for b.Loop() {
		f.Predict(c.xte[i], out)
		if i++; i == len(c.xte) {
			i = 0
		}
	}
}
