// Package ml holds the model layer's shared foundations: the reproducible
// train/test split (SplitMix64 with a Fisher–Yates shuffle), binary
// classification metrics with scikit-learn's semantics, the StandardScaler,
// and loaders for the reference datasets that the parity tests use.
//
// The algorithms themselves live in one subpackage per family (for example
// internal/ml/linear); they take plain [][]float64 feature rows and []int
// labels so that they do not depend on this package.
//
// Every number is held to scikit-learn's on the same data: see
// ../shared/data/datasets/REFERENCE.md and the parity tests in this package.
package ml
