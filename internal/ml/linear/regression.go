package linear

import (
	"errors"
	"fmt"
	"math"
)

// Regression is a fitted linear regression: ŷ = Coef·x + Intercept.
type Regression struct {
	Coef      []float64
	Intercept float64
}

// Predict returns the estimate for x.
func (m *Regression) Predict(x []float64) float64 { return dot(m.Coef, x) + m.Intercept }

// checkRegression validates a design matrix and target.
func checkRegression(name string, X [][]float64, y []float64) (int, error) {
	if len(X) == 0 || len(X) != len(y) {
		return 0, fmt.Errorf("%s: %d rows and %d targets", name, len(X), len(y))
	}
	d := len(X[0])
	if d == 0 {
		return 0, fmt.Errorf("%s: no features", name)
	}
	for i, row := range X {
		if len(row) != d {
			return 0, fmt.Errorf("%s: row %d has %d features, want %d", name, i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("%s: row %d feature %d is %v, want a finite number", name, i, j, v)
			}
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return 0, fmt.Errorf("%s: row %d target is %v, want a finite number", name, i, y[i])
		}
	}
	return d, nil
}

// centred returns the column means of X, the mean of y, and the Gram
// matrix XcᵀXc and moment vector Xcᵀyc of the centred data.
func centred(X [][]float64, y []float64, d int) (xm []float64, ym float64, gram, xty []float64) {
	n := float64(len(X))
	xm = make([]float64, d)
	for i, row := range X {
		for j, v := range row {
			xm[j] += v
		}
		ym += y[i]
	}
	for j := range xm {
		xm[j] /= n
	}
	ym /= n
	gram = make([]float64, d*d)
	xty = make([]float64, d)
	c := make([]float64, d)
	for i, row := range X {
		for j, v := range row {
			c[j] = v - xm[j]
		}
		yc := y[i] - ym
		for j := range d {
			cj := c[j]
			xty[j] += cj * yc
			g := gram[j*d : j*d+j+1]
			for k := range g {
				g[k] += cj * c[k]
			}
		}
	}
	for j := range d {
		for k := 0; k < j; k++ {
			gram[k*d+j] = gram[j*d+k]
		}
	}
	return xm, ym, gram, xty
}

// FitOLS fits ordinary least squares with an intercept, as scikit-learn's
// LinearRegression does. When the features are collinear it returns the
// minimum-norm solution (the pseudo-inverse), as lstsq does, so the
// predictions are the same.
func FitOLS(X [][]float64, y []float64) (*Regression, error) {
	d, err := checkRegression("linear regression", X, y)
	if err != nil {
		return nil, err
	}
	xm, ym, gram, xty := centred(X, y, d)
	// Solve on unit-variance columns for conditioning, then unscale.
	s := make([]float64, d)
	for j := range d {
		s[j] = math.Sqrt(gram[j*d+j])
		if s[j] == 0 {
			s[j] = 1
		}
	}
	for j := range d {
		for k := range d {
			gram[j*d+k] /= s[j] * s[k]
		}
		xty[j] /= s[j]
	}
	vals, vecs := symEigen(gram, d)
	top := 0.0
	for _, v := range vals {
		top = max(top, v)
	}
	w := make([]float64, d)
	var null [][]float64 // directions with no variance, in raw coordinates
	for k, lam := range vals {
		if lam <= 1e-10*top {
			u := make([]float64, d)
			for j := range d {
				u[j] = vecs[j*d+k] / s[j]
			}
			null = append(null, u)
			continue
		}
		var proj float64
		for j := range d {
			proj += vecs[j*d+k] * xty[j]
		}
		proj /= lam
		for j := range d {
			w[j] += proj * vecs[j*d+k]
		}
	}
	for j := range d {
		w[j] /= s[j]
	}
	// Any multiple of a null direction fits as well; lstsq's answer is
	// the one of least norm, orthogonal to them all.
	for a, u := range null {
		for _, v := range null[:a] {
			axpy(-dot(u, v), v, u)
		}
		if n := math.Sqrt(dot(u, u)); n > 0 {
			for j := range u {
				u[j] /= n
			}
			axpy(-dot(w, u), u, w)
		}
	}
	return &Regression{Coef: w, Intercept: ym - dot(w, xm)}, nil
}

// FitRidge fits ridge regression, minimising ‖y − Xw − b‖² + α‖w‖² with an
// unpenalised intercept, as scikit-learn's Ridge does. alpha must be
// positive (scikit-learn's default is 1).
func FitRidge(X [][]float64, y []float64, alpha float64) (*Regression, error) {
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("ridge: alpha %v: want a finite number above 0", alpha)
	}
	d, err := checkRegression("ridge", X, y)
	if err != nil {
		return nil, err
	}
	xm, ym, gram, xty := centred(X, y, d)
	for j := range d {
		gram[j*d+j] += alpha
	}
	if err := cholSolve(gram, xty, d); err != nil {
		return nil, fmt.Errorf("ridge: %w", err)
	}
	return &Regression{Coef: xty, Intercept: ym - dot(xty, xm)}, nil
}

// symEigen diagonalises the symmetric d×d matrix a (row-major, destroyed)
// by cyclic Jacobi rotations. It returns the eigenvalues and the
// eigenvectors as the columns of a row-major matrix.
func symEigen(a []float64, d int) ([]float64, []float64) {
	v := make([]float64, d*d)
	for i := range d {
		v[i*d+i] = 1
	}
	for sweep := 0; sweep < 100; sweep++ {
		var off float64
		for p := range d {
			for q := p + 1; q < d; q++ {
				off += a[p*d+q] * a[p*d+q]
			}
		}
		if off < 1e-30 {
			break
		}
		for p := range d {
			for q := p + 1; q < d; q++ {
				apq := a[p*d+q]
				if math.Abs(apq) < 1e-300 {
					continue
				}
				theta := (a[q*d+q] - a[p*d+p]) / (2 * apq)
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range d {
					akp, akq := a[k*d+p], a[k*d+q]
					a[k*d+p] = c*akp - s*akq
					a[k*d+q] = s*akp + c*akq
				}
				for k := range d {
					apk, aqk := a[p*d+k], a[q*d+k]
					a[p*d+k] = c*apk - s*aqk
					a[q*d+k] = s*apk + c*aqk
				}
				for k := range d {
					vkp, vkq := v[k*d+p], v[k*d+q]
					v[k*d+p] = c*vkp - s*vkq
					v[k*d+q] = s*vkp + c*vkq
				}
			}
		}
	}
	vals := make([]float64, d)
	for i := range d {
		vals[i] = a[i*d+i]
	}
	return vals, v
}

var errNotPD = errors.New("matrix is not positive definite")

// axpy sets y += a·x.
func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}
