// Package model is the model layer's platform half: training and batch
// prediction as jobs, and the registry of model versions with their
// lineage, test metrics and training energy. It drives the algorithm
// library (internal/ml) on rows the data layer (internal/dataset) reads.
//
// A training job runs `joule model train-run` in its own process: Train
// reads the dataset version's Parquet file, splits it, fits the optional
// preprocessing recipe on the training rows, fits the algorithm (or
// searches its hyperparameters by k-fold cross-validation), scores the
// test rows and writes the model file; the job then registers the version
// through the API. Once the job is accounted, the Service copies the job's
// energy, emissions and cost onto the version.
package model
