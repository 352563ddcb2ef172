package joule

import (
	"math"
	"time"
)

// DeploymentMonitor sets a deployment's drift and live-quality
// monitoring. Live rows (the model-input rows of successful predict calls)
// collect into an evaluation window; a window is evaluated when it holds
// WindowRows rows, or, with Window set, when its first row is older than
// Window and it holds at least MinWindowRows. A feature drifts when its
// PSI is at least PSIThreshold or its KS statistic at least KSThreshold.
// Labelled feedback gives live quality; MinAccuracy (classifiers) and
// MaxRMSE (regressors) are checked over the latest WindowRows labelled
// rows once at least MinLabels are in. Zero fields take the defaults
// below; Disabled turns monitoring off (no drift windows, no feedback).
type DeploymentMonitor struct {
	Disabled     bool     `json:"disabled,omitempty"`
	WindowRows   int      `json:"window_rows,omitempty"`
	Window       Duration `json:"window,omitempty"`
	PSIThreshold float64  `json:"psi_threshold,omitempty"`
	KSThreshold  float64  `json:"ks_threshold,omitempty"`
	MinAccuracy  float64  `json:"min_accuracy,omitempty"`
	MaxRMSE      float64  `json:"max_rmse,omitempty"`
	MinLabels    int      `json:"min_labels,omitempty"`
}

// Monitoring defaults.
const (
	DefaultMonitorWindowRows   = 1000
	DefaultMonitorPSIThreshold = 0.2
	DefaultMonitorKSThreshold  = 0.1
	DefaultMonitorMinLabels    = 100
	// MinWindowRows is the fewest rows a window closed by time is
	// evaluated with; a smaller one keeps filling.
	MinWindowRows = 200
	// MaxMonitorWindowRows bounds WindowRows (the window's memory is
	// rows × features floats).
	MaxMonitorWindowRows = 100_000
)

// WithDefaults returns the settings with defaults for zero fields (nil:
// all defaults).
func (m *DeploymentMonitor) WithDefaults() DeploymentMonitor {
	var out DeploymentMonitor
	if m != nil {
		out = *m
	}
	if out.WindowRows == 0 {
		out.WindowRows = DefaultMonitorWindowRows
	}
	if out.PSIThreshold == 0 {
		out.PSIThreshold = DefaultMonitorPSIThreshold
	}
	if out.KSThreshold == 0 {
		out.KSThreshold = DefaultMonitorKSThreshold
	}
	if out.MinLabels == 0 {
		out.MinLabels = DefaultMonitorMinLabels
	}
	return out
}

// Validate checks the settings (EINVALID naming the field as
// monitor.FIELD); nil is valid.
func (m *DeploymentMonitor) Validate() error {
	if m == nil {
		return nil
	}
	bad := func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) || f < 0 }
	switch {
	case m.WindowRows < 0 || m.WindowRows > MaxMonitorWindowRows:
		return Errorf(EINVALID, "monitor.window_rows: %d is not between %d and %d (0: the default %d)", m.WindowRows, MinWindowRows, MaxMonitorWindowRows, DefaultMonitorWindowRows)
	case m.WindowRows > 0 && m.WindowRows < MinWindowRows:
		return Errorf(EINVALID, "monitor.window_rows: %d is below %d; PSI and KS over fewer rows are mostly noise", m.WindowRows, MinWindowRows)
	case m.Window < 0:
		return Errorf(EINVALID, "monitor.window: negative")
	case m.Window > 0 && time.Duration(m.Window) < time.Minute:
		return Errorf(EINVALID, "monitor.window: %s is under a minute", time.Duration(m.Window))
	case bad(m.PSIThreshold):
		return Errorf(EINVALID, "monitor.psi_threshold: must be a non-negative number (0: the default %g)", DefaultMonitorPSIThreshold)
	case bad(m.KSThreshold) || m.KSThreshold > 1:
		return Errorf(EINVALID, "monitor.ks_threshold: must be between 0 and 1 (0: the default %g)", DefaultMonitorKSThreshold)
	case bad(m.MinAccuracy) || m.MinAccuracy > 1:
		return Errorf(EINVALID, "monitor.min_accuracy: must be between 0 and 1 (0: no check)")
	case bad(m.MaxRMSE):
		return Errorf(EINVALID, "monitor.max_rmse: must be a non-negative number (0: no check)")
	case m.MinLabels < 0:
		return Errorf(EINVALID, "monitor.min_labels: negative")
	}
	return nil
}

// DriftReport is one drift evaluation of a deployment's served version:
// PSI and KS per feature of the window's live rows against the version's
// training rows, and the same for its predictions.
type DriftReport struct {
	ModelVersion int       `json:"model_version"`
	Time         time.Time `json:"time"` // when it was evaluated
	// WindowStart and WindowEnd are the times of the window's first and
	// last rows; Rows is how many it held.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Rows        int       `json:"rows"`
	// Reference says what the live rows are compared with ("training
	// split" or "whole dataset version"), and ReferenceRows how many rows
	// it holds.
	Reference     string  `json:"reference"`
	ReferenceRows int     `json:"reference_rows"`
	PSIThreshold  float64 `json:"psi_threshold"`
	KSThreshold   float64 `json:"ks_threshold"`
	// Features holds each feature's drift, in the model's feature order;
	// Prediction the drift of the predicted class (PSI) or value (PSI
	// and KS).
	Features   []FeatureDrift `json:"features"`
	Prediction *FeatureDrift  `json:"prediction,omitempty"`
	// Drifted is true when a feature or the prediction drifted;
	// DriftedFeatures names the features.
	Drifted         bool     `json:"drifted"`
	DriftedFeatures []string `json:"drifted_features,omitempty"`
	// Error is set when the window could not be evaluated (for example
	// the training data is gone); the other figures are then empty.
	Error string `json:"error,omitempty"`
}

// FeatureDrift is one feature's drift in a window. Binning is "deciles"
// (bins cut at the training deciles) or "values" (one bin per training
// value, for features with at most 10 distinct values, and classes),
// plus a bin for values the training rows never had. KS is the
// two-sample Kolmogorov-Smirnov statistic against the training values
// and KSPValue its asymptotic p-value (absent for classes).
type FeatureDrift struct {
	Name     string     `json:"name"`
	Binning  string     `json:"binning"`
	PSI      float64    `json:"psi"`
	KS       *float64   `json:"ks,omitempty"`
	KSPValue *float64   `json:"ks_p_value,omitempty"`
	Drifted  bool       `json:"drifted"`
	Bins     []DriftBin `json:"bins,omitempty"`
}

// DriftBin is one PSI bin: its label (an interval such as "(1.5, 3]" or a
// value) and the share of training and live rows in it.
type DriftBin struct {
	Bin       string  `json:"bin"`
	Reference float64 `json:"reference"`
	Live      float64 `json:"live"`
}

// LiveQuality is a served version's quality on labelled feedback:
// accuracy and macro F1 for a classifier, RMSE and MAE for a regressor,
// over every row labelled since the server started (Overall) and over the
// latest labelled rows, up to the monitor's window (Window).
type LiveQuality struct {
	ModelVersion int    `json:"model_version"`
	Task         string `json:"task"`
	// Predictions counts rows predicted and remembered for feedback;
	// Labelled the rows given a label.
	Predictions int64          `json:"predictions"`
	Labelled    int64          `json:"labelled"`
	Overall     QualityMetrics `json:"overall"`
	Window      QualityMetrics `json:"window"`
	// Alerting is true while the window is past the monitor's
	// min_accuracy or max_rmse.
	Alerting  bool       `json:"alerting"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// QualityMetrics are quality figures over Rows labelled rows; the
// classifier's or the regressor's are set.
type QualityMetrics struct {
	Rows     int64    `json:"rows"`
	Accuracy *float64 `json:"accuracy,omitempty"`
	MacroF1  *float64 `json:"macro_f1,omitempty"`
	RMSE     *float64 `json:"rmse,omitempty"`
	MAE      *float64 `json:"mae,omitempty"`
}

// DeploymentMonitorState is a deployment's monitoring state, as GET
// …/deployments/{name}/drift returns it.
type DeploymentMonitorState struct {
	Deployment   string `json:"deployment"`
	ModelVersion int    `json:"model_version"` // the primary version
	// Monitor holds the settings in force, defaults filled in.
	Monitor DeploymentMonitor `json:"monitor"`
	// PendingRows is how many rows the primary version's current window
	// holds; DroppedWindows counts full windows not evaluated because an
	// evaluation was still running.
	PendingRows    int   `json:"pending_rows"`
	DroppedWindows int64 `json:"dropped_windows"`
	// Latest is the primary version's latest report; History the recent
	// reports of every served version, newest first (up to 50).
	Latest  *DriftReport  `json:"latest,omitempty"`
	History []DriftReport `json:"history"`
	// Live is the quality on feedback per served version.
	Live []LiveQuality `json:"live,omitempty"`
}

// FeedbackRequest is the body of POST …/deployments/{name}/feedback: the
// true labels of predicted rows, each row named by its predict response's
// ID and its index in that response (0 for a one-row request).
type FeedbackRequest struct {
	Labels []FeedbackLabel `json:"labels"`
}

// FeedbackLabel is one row's true label: a class label (a JSON string,
// or a number for numeric classes) for a classifier, a number for a
// regressor.
type FeedbackLabel struct {
	ID    string `json:"id"`
	Row   int    `json:"row"`
	Label any    `json:"label"`
}

// FeedbackResult says what a feedback call did: the rows labelled, the
// rows sent again with the label they already had (ignored), and the live
// quality after them, per version touched.
type FeedbackResult struct {
	Accepted   int           `json:"accepted"`
	Duplicates int           `json:"duplicates"`
	Live       []LiveQuality `json:"live"`
}

// MaxFeedbackLabels is the most labels in one feedback call.
const MaxFeedbackLabels = 10_000
