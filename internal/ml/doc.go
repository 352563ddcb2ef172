// Package ml is the model layer's algorithm library. It holds the
// uniform face a training job drives (Estimator, Classifier, Regressor,
// Clusterer and the registry behind New, with typed, validated
// hyperparameters), Save and Load through the versioned model file format
// of package modelfile, the reproducible train/test split (SplitMix64 with
// a Fisher–Yates shuffle), metrics with scikit-learn's semantics, the
// StandardScaler, and loaders for the reference datasets.
//
// The algorithms live in one subpackage per family (linear, tree, forest,
// boost, knn, svm, bayes, cluster, mf); they take plain [][]float64 rows
// and do not depend on this package. ImportXGBoost turns an XGBoost JSON
// model, read by package xgb, into a model that Save and Load keep.
//
// Every number is held to scikit-learn's on the same data: see
// examples/data/REFERENCE.md, the harness in package parity and
// docs/parity.md.
package ml
