// Package linear holds the linear models. This first slice has binary
// logistic regression with an L2 penalty, fitted to the same optimum as
// scikit-learn's LogisticRegression(penalty="l2", solver="lbfgs").
//
// Models take plain feature rows ([][]float64) and 0/1 labels ([]int);
// preprocessing (scaling, splits) is the caller's, in internal/ml.
package linear
