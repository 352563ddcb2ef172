package parity_test

import (
	"github.com/joule-dev/joule/internal/ml/boost"
	"github.com/joule-dev/joule/internal/ml/forest"
	"github.com/joule-dev/joule/internal/ml/knn"
	"github.com/joule-dev/joule/internal/ml/linear"
	"github.com/joule-dev/joule/internal/ml/svm"
	"github.com/joule-dev/joule/internal/ml/tree"
)

// clfRunner fits a joule classifier on the training rows and returns its
// predicted labels and positive-class scores on the test rows. det marks
// the deterministic models of the tighter tolerance; slowAt is the
// training-set size from which the row runs only with JOULE_PARITY=full.
type clfRunner struct {
	det    bool
	slowAt int
	fit    func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error)
}

func (r clfRunner) slow(n int) bool { return r.slowAt > 0 && n >= r.slowAt }

type regRunner struct {
	det    bool
	slowAt int
	fit    func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error)
}

func (r regRunner) slow(n int) bool { return r.slowAt > 0 && n >= r.slowAt }

// scored turns per-row class-1 probabilities into labels (1 when above
// 0.5, as argmax does with ties going to class 0) and scores.
func scored(p []float64) ([]int, []float64) {
	pred := make([]int, len(p))
	for i, v := range p {
		if v > 0.5 {
			pred[i] = 1
		}
	}
	return pred, p
}

// decided scores the test rows by a decision function, as the reference
// does for LinearSVC and SVC, and predicts 1 where it is positive.
func decided(xte [][]float64, f func([]float64) float64) ([]int, []float64, error) {
	pred := make([]int, len(xte))
	s := make([]float64, len(xte))
	for i, x := range xte {
		s[i] = f(x)
		if s[i] > 0 {
			pred[i] = 1
		}
	}
	return pred, s, nil
}

var classifiers = map[string]clfRunner{
	"LogisticRegression [scaled]": {det: true, fit: func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error) {
		m, err := linear.FitLogistic(xtr, ytr, linear.LogisticOptions{C: 1, MaxIter: 1000})
		if err != nil {
			return nil, nil, err
		}
		p := make([]float64, len(xte))
		for i, x := range xte {
			p[i] = m.PredictProba(x)
		}
		pred, s := scored(p)
		return pred, s, nil
	}},
	"DecisionTreeClassifier": {fit: func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error) {
		t, err := tree.FitClassifier(xtr, ytr, 2, nil, tree.Params{})
		if err != nil {
			return nil, nil, err
		}
		p := make([]float64, len(xte))
		for i, x := range xte {
			p[i] = t.Leaf(x)[1]
		}
		pred, s := scored(p)
		return pred, s, nil
	}},
	"RandomForestClassifier": {slowAt: 10000, fit: func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error) {
		f, err := forest.FitClassifier(xtr, ytr, 2, forest.Params{NumTrees: 100})
		if err != nil {
			return nil, nil, err
		}
		p := make([]float64, len(xte))
		out := make([]float64, 2)
		for i, x := range xte {
			f.Predict(x, out)
			p[i] = out[1]
		}
		pred, s := scored(p)
		return pred, s, nil
	}},
	"GradientBoostingClassifier": {fit: func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error) {
		m, err := boost.FitClassifier(xtr, ytr, 2, boost.Params{})
		if err != nil {
			return nil, nil, err
		}
		p := make([]float64, len(xte))
		out := make([]float64, 2)
		for i, x := range xte {
			m.PredictProba(x, out)
			p[i] = out[1]
		}
		pred, s := scored(p)
		return pred, s, nil
	}},
	"KNeighborsClassifier [scaled]": {det: true, fit: func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error) {
		m, err := knn.FitClassifier(xtr, ytr, 2, knn.Params{})
		if err != nil {
			return nil, nil, err
		}
		p := make([]float64, len(xte))
		m.Batch(xte, func(i int, x []float64) {
			out := make([]float64, 2)
			m.PredictProba(x, out)
			p[i] = out[1]
		})
		pred, s := scored(p)
		return pred, s, nil
	}},
	"LinearSVC [scaled]": {det: true, fit: func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error) {
		m, err := svm.FitLinear(xtr, ytr, svm.LinearParams{C: 1})
		if err != nil {
			return nil, nil, err
		}
		return decided(xte, m.DecisionFunction)
	}},
	"SVC [scaled]": {slowAt: 10000, fit: func(xtr [][]float64, ytr []int, xte [][]float64) ([]int, []float64, error) {
		m, err := svm.FitKernel(xtr, ytr, svm.KernelParams{C: 1})
		if err != nil {
			return nil, nil, err
		}
		return decided(xte, m.DecisionFunction)
	}},
}

var regressors = map[string]regRunner{
	"predict train mean": {det: true, fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		var m float64
		for _, v := range ytr {
			m += v
		}
		m /= float64(len(ytr))
		p := make([]float64, len(xte))
		for i := range p {
			p[i] = m
		}
		return p, nil
	}},
	"LinearRegression": {det: true, fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		m, err := linear.FitOLS(xtr, ytr)
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(xte))
		for i, x := range xte {
			p[i] = m.Predict(x)
		}
		return p, nil
	}},
	"Ridge [scaled]": {det: true, fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		m, err := linear.FitRidge(xtr, ytr, 1)
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(xte))
		for i, x := range xte {
			p[i] = m.Predict(x)
		}
		return p, nil
	}},
	"Ridge raw features": {det: true, fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		m, err := linear.FitRidge(xtr, ytr, 1)
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(xte))
		for i, x := range xte {
			p[i] = m.Predict(x)
		}
		return p, nil
	}},
	"DecisionTreeRegressor": {fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		t, err := tree.FitRegressor(xtr, ytr, nil, tree.Params{})
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(xte))
		for i, x := range xte {
			p[i] = t.Leaf(x)[0]
		}
		return p, nil
	}},
	"RandomForestRegressor": {slowAt: 10000, fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		f, err := forest.FitRegressor(xtr, ytr, forest.Params{NumTrees: 100})
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(xte))
		out := make([]float64, 1)
		for i, x := range xte {
			f.Predict(x, out)
			p[i] = out[0]
		}
		return p, nil
	}},
	"GradientBoostingRegressor": {fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		m, err := boost.FitRegressor(xtr, ytr, boost.Params{})
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(xte))
		for i, x := range xte {
			p[i] = m.Predict(x)
		}
		return p, nil
	}},
	"KNeighborsRegressor [scaled]": {det: true, fit: func(xtr [][]float64, ytr []float64, xte [][]float64) ([]float64, error) {
		m, err := knn.FitRegressor(xtr, ytr, knn.Params{})
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(xte))
		m.Batch(xte, func(i int, x []float64) { p[i] = m.Predict(x) })
		return p, nil
	}},
}
