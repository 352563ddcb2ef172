// Package parity holds the scikit-learn parity harness: its test reads the
// reference tables in examples/data/REFERENCE.md, runs joule's algorithm
// for every row on the same split, preprocessing and hyperparameters, and
// fails when a number leaves its tolerance. Run it with
//
//	go test ./internal/ml/parity -run TestParity -v
//
// and add -update to rewrite docs/parity.md. The package has no non-test
// code.
package parity
