package ml

import (
	"errors"
	"fmt"
	"math"
)

// StandardScaler centres each feature on its training mean and divides it
// by its training population standard deviation (ddof=0), as scikit-learn's
// StandardScaler does. A constant feature gets scale 1.
type StandardScaler struct {
	Mean  []float64 // per-feature mean of the fitted rows
	Scale []float64 // per-feature population standard deviation, or 1
}

// FitStandardScaler fits a scaler on the rows of X, which must be non-empty
// and all of one width.
func FitStandardScaler(X [][]float64) (*StandardScaler, error) {
	if len(X) == 0 {
		return nil, errors.New("fit scaler: no rows")
	}
	d := len(X[0])
	n := float64(len(X))
	mean := make([]float64, d)
	for i, row := range X {
		if len(row) != d {
			return nil, fmt.Errorf("fit scaler: row %d has %d features, want %d", i, len(row), d)
		}
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= n
	}
	scale := make([]float64, d)
	for j := range scale {
		// Two-pass variance with the same correction term as numpy's
		// _incremental_mean_and_var.
		var sq, corr float64
		for _, row := range X {
			dev := row[j] - mean[j]
			sq += dev * dev
			corr += dev
		}
		v := (sq - corr*corr/n) / n
		// sklearn's _is_constant_feature: var <= n*eps*var + (n*mean*eps)^2.
		eps := 0x1p-52
		bound := n*eps*v + (n*mean[j]*eps)*(n*mean[j]*eps)
		if v <= bound {
			scale[j] = 1
		} else {
			scale[j] = math.Sqrt(v)
		}
	}
	return &StandardScaler{Mean: mean, Scale: scale}, nil
}

// Transform returns scaled copies of the rows of X; each row must have the
// fitted width.
func (s *StandardScaler) Transform(X [][]float64) ([][]float64, error) {
	out := make([][]float64, len(X))
	for i, row := range X {
		if len(row) != len(s.Mean) {
			return nil, fmt.Errorf("scale: row %d has %d features, want %d", i, len(row), len(s.Mean))
		}
		r := make([]float64, len(row))
		for j, v := range row {
			r[j] = (v - s.Mean[j]) / s.Scale[j]
		}
		out[i] = r
	}
	return out, nil
}
