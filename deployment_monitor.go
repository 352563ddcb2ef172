package joule

// DeploymentMonitor sets a deployment's drift and live-quality
// monitoring. (Filled in by the monitoring work: windows, thresholds.)
type DeploymentMonitor struct{}

// DriftReport is one drift evaluation of a deployment: PSI and KS per
// feature against the training profile, and prediction drift. (Filled in
// by the monitoring work.)
type DriftReport struct{}

// LiveQuality is a deployment's quality on labelled feedback: accuracy
// and F1 for a classifier, RMSE for a regressor. (Filled in by the
// monitoring work.)
type LiveQuality struct{}
