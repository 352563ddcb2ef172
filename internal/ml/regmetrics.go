package ml

import (
	"fmt"
	"math"
)

// RegressionMetrics are scikit-learn's regression scores of predictions
// against targets.
type RegressionMetrics struct {
	RMSE float64 // root of mean_squared_error
	MAE  float64 // mean_absolute_error
	R2   float64 // r2_score; 1 − SS_res/SS_tot, and 0 for a constant target predicted imperfectly
	// MAPE is mean_absolute_percentage_error as a fraction: the mean of
	// |y−p|/max(|y|, ε), with ε the float64 machine epsilon, as scikit-learn
	// does.
	MAPE float64
}

// ScoreRegression scores pred against y; both must be non-empty, of one length
// and finite.
func ScoreRegression(y, pred []float64) (RegressionMetrics, error) {
	var m RegressionMetrics
	if len(y) != len(pred) || len(y) == 0 {
		return m, ErrLength
	}
	var mean float64
	for i, v := range y {
		if !finite(v) || !finite(pred[i]) {
			return m, fmt.Errorf("row %d: target %v, prediction %v: want finite numbers", i, v, pred[i])
		}
		mean += v
	}
	n := float64(len(y))
	mean /= n
	var sse, sae, sst, ape float64
	for i, v := range y {
		e := v - pred[i]
		sse += e * e
		sae += math.Abs(e)
		sst += (v - mean) * (v - mean)
		ape += math.Abs(e) / max(math.Abs(v), 0x1p-52)
	}
	m.RMSE = math.Sqrt(sse / n)
	m.MAE = sae / n
	m.MAPE = ape / n
	switch {
	case sst != 0:
		m.R2 = 1 - sse/sst
	case sse == 0:
		m.R2 = 1
	}
	return m, nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
