package joule

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// RetrainPolicy says when a deployment retrains its model and when the
// candidate is promoted. A retrain trains the served version's training
// spec on the newest version of its dataset, scores the candidate and the
// served version on the candidate's holdout rows, and promotes the
// candidate only if it wins by Margin on Metric.
type RetrainPolicy struct {
	// OnDrift retrains when the drift monitor reports drift over its
	// threshold.
	OnDrift bool `json:"on_drift,omitempty"`
	// Every retrains on a fixed interval (0: no schedule), counted from the
	// latest retrain or, before the first, from when the server began
	// serving the deployment.
	Every Duration `json:"every,omitempty"`
	// MinAccuracy retrains when the live accuracy on labelled feedback
	// falls below it (classifiers; 0: off); MaxRMSE when the live RMSE
	// rises above it (regressors; 0: off).
	MinAccuracy float64 `json:"min_accuracy,omitempty"`
	MaxRMSE     float64 `json:"max_rmse,omitempty"`
	// Metric is what the candidate is judged on (default accuracy for a
	// classifier, rmse for a regressor); see RetrainMetrics.
	Metric string `json:"metric,omitempty"`
	// Margin is how much the candidate must beat the served version by, in
	// the metric's own units (default 0.01): for a metric where lower is
	// better, the candidate's score must be at least Margin lower.
	Margin float64 `json:"margin,omitempty"`
	// Cooldown is how long after a retrain starts that automatic triggers
	// (drift, schedule, live quality) are ignored (default 1h), so that a
	// storm of drift alerts starts one retrain. Manual triggers ignore it.
	Cooldown Duration `json:"cooldown,omitempty"`
}

// Retrain defaults.
const (
	DefaultRetrainMargin   = 0.01
	DefaultRetrainCooldown = time.Hour
)

// RetrainMetrics are the metrics a retrain can be judged on, by task; the
// value says whether higher is better.
var RetrainMetrics = map[string]map[string]bool{
	"classification": {"accuracy": true, "f1": true, "precision": true, "recall": true, "roc_auc": true, "pr_auc": true, "log_loss": false},
	"regression":     {"rmse": false, "mae": false, "r2": true, "mape": false},
}

// Normalize fills p's defaults and checks it (EINVALID naming the field).
// The metric is checked against task when task is known ("" skips it).
func (p *RetrainPolicy) Normalize(task string) error {
	if p.Margin == 0 {
		p.Margin = DefaultRetrainMargin
	}
	if p.Cooldown == 0 {
		p.Cooldown = Duration(DefaultRetrainCooldown)
	}
	switch {
	case p.Margin < 0 || math.IsNaN(p.Margin) || math.IsInf(p.Margin, 0):
		return Errorf(EINVALID, "retrain.margin: %v is not a non-negative number", p.Margin)
	case p.Cooldown < 0:
		return Errorf(EINVALID, "retrain.cooldown: negative")
	case p.Every < 0:
		return Errorf(EINVALID, "retrain.every: negative")
	case p.Every > 0 && time.Duration(p.Every) < time.Minute:
		return Errorf(EINVALID, "retrain.every: %s is under a minute", time.Duration(p.Every))
	case p.MinAccuracy < 0 || p.MinAccuracy > 1 || math.IsNaN(p.MinAccuracy):
		return Errorf(EINVALID, "retrain.min_accuracy: %v is not between 0 and 1", p.MinAccuracy)
	case p.MaxRMSE < 0 || math.IsNaN(p.MaxRMSE) || math.IsInf(p.MaxRMSE, 0):
		return Errorf(EINVALID, "retrain.max_rmse: %v is not a non-negative number", p.MaxRMSE)
	}
	if p.Metric != "" {
		known := RetrainMetrics[task]
		if task == "" {
			known = map[string]bool{}
			for _, ms := range RetrainMetrics {
				for k, v := range ms {
					known[k] = v
				}
			}
		}
		if _, ok := known[p.Metric]; !ok {
			names := make([]string, 0, len(known))
			for k := range known {
				names = append(names, k)
			}
			slices.Sort(names)
			return Errorf(EINVALID, "retrain.metric: %q is not one of %s", p.Metric, strings.Join(names, ", "))
		}
	}
	return nil
}

// MetricFor returns the metric p judges a model of task on, and whether
// higher is better.
func (p RetrainPolicy) MetricFor(task string) (string, bool) {
	m := p.Metric
	if m == "" {
		m = "accuracy"
		if task == "regression" {
			m = "rmse"
		}
	}
	return m, RetrainMetrics[task][m]
}

// Describe says p in words, for events and the CLI; nil is no policy.
func (p *RetrainPolicy) Describe() string {
	if p == nil {
		return "none: retrains only when asked"
	}
	var on []string
	if p.OnDrift {
		on = append(on, "on drift")
	}
	if p.Every > 0 {
		on = append(on, "every "+time.Duration(p.Every).String())
	}
	if p.MinAccuracy > 0 {
		on = append(on, fmt.Sprintf("when live accuracy < %g", p.MinAccuracy))
	}
	if p.MaxRMSE > 0 {
		on = append(on, fmt.Sprintf("when live RMSE > %g", p.MaxRMSE))
	}
	if len(on) == 0 {
		on = append(on, "only when asked")
	}
	metric := cmp.Or(p.Metric, "accuracy (classifiers) or rmse (regressors)")
	return fmt.Sprintf("retrains %s; promotes a candidate that beats the served version by %g on %s; cooldown %s",
		strings.Join(on, ", "), p.Margin, metric, time.Duration(p.Cooldown))
}

// Lifecycle states.
const (
	LifecycleIdle       = "idle"
	LifecycleTraining   = "training"
	LifecycleEvaluating = "evaluating"
)

// Retrain triggers.
const (
	TriggerManual   = "manual"
	TriggerDrift    = "drift"
	TriggerSchedule = "schedule"
	TriggerLive     = "live_quality"
)

// Retrain outcomes.
const (
	RetrainPromoted = "promoted" // the candidate won and is served
	RetrainKept     = "kept"     // the candidate lost and stays in staging
	RetrainFailed   = "failed"   // a step failed; nothing changed
)

// RetrainTrigger is what started a retrain.
type RetrainTrigger struct {
	Kind   string    `json:"kind"` // manual, drift, schedule or live_quality
	Reason string    `json:"reason"`
	By     string    `json:"by,omitempty"`
	Time   time.Time `json:"time"`
}

// ModelComparison scores two versions of a model on the same rows: the
// holdout split of a dataset version.
type ModelComparison struct {
	Metric         string `json:"metric"`
	HigherIsBetter bool   `json:"higher_is_better"`
	Production     int    `json:"production_version"`
	Candidate      int    `json:"candidate_version"`
	// ProductionScore and CandidateScore are Metric on the holdout rows.
	ProductionScore float64 `json:"production_score"`
	CandidateScore  float64 `json:"candidate_score"`
	// Dataset, DatasetVersion and Rows say which rows were scored.
	Dataset        string `json:"dataset"`
	DatasetVersion int    `json:"dataset_version"`
	Rows           int    `json:"rows"`
	// Margin is the win needed; Gain is how much the candidate is better
	// (negative: worse), in Metric's units; Wins is Gain ≥ Margin.
	Margin float64 `json:"margin"`
	Gain   float64 `json:"gain"`
	Wins   bool    `json:"wins"`
	// Production and candidate metrics in full, for the record.
	ProductionMetrics map[string]float64 `json:"production_metrics,omitempty"`
	CandidateMetrics  map[string]float64 `json:"candidate_metrics,omitempty"`
}

// Judge sets Gain and Wins from the scores and the margin.
func (c *ModelComparison) Judge() {
	c.Gain = c.CandidateScore - c.ProductionScore
	if !c.HigherIsBetter {
		c.Gain = -c.Gain
	}
	// A hair of tolerance, so that a gain equal to the margin in decimal
	// terms is not lost to floating point.
	c.Wins = c.Gain >= c.Margin-1e-12
}

// LifecycleStatus is the retraining loop's state for a deployment.
type LifecycleStatus struct {
	// State is idle, training or evaluating; Since is when it began.
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// LastTrigger started the current or latest retrain; LastJob is its
	// train job and Candidate the version the job made (0: none yet).
	LastTrigger *RetrainTrigger `json:"last_trigger,omitempty"`
	LastJob     string          `json:"last_job,omitempty"`
	Candidate   int             `json:"candidate_version,omitempty"`
	// LastComparison is the latest evaluation; LastOutcome is promoted,
	// kept or failed, with LastReason saying why.
	LastComparison *ModelComparison `json:"last_comparison,omitempty"`
	LastOutcome    string           `json:"last_outcome,omitempty"`
	LastReason     string           `json:"last_reason,omitempty"`
	// CooldownUntil is when automatic triggers count again; Ignored counts
	// automatic triggers dropped while a retrain ran or in the cooldown.
	CooldownUntil *time.Time `json:"cooldown_until,omitempty"`
	Ignored       int        `json:"ignored_triggers,omitempty"`
	// NextScheduled is the next schedule tick, when the policy has one.
	NextScheduled *time.Time `json:"next_scheduled,omitempty"`
}

// DeploymentLifecycle is what GET …/deployments/{name}/lifecycle returns:
// the policy, the loop's state and its history (the retrain events,
// oldest first).
type DeploymentLifecycle struct {
	Deployment   string            `json:"deployment"`
	Model        string            `json:"model"`
	ModelVersion int               `json:"model_version"`
	Policy       *RetrainPolicy    `json:"policy,omitempty"`
	Status       LifecycleStatus   `json:"status"`
	History      []DeploymentEvent `json:"history"`
}

// RetrainRequest is the body of POST …/deployments/{name}/retrain: an
// optional reason for the manual trigger.
type RetrainRequest struct {
	Reason string `json:"reason,omitempty"`
}

// RetrainPolicyRequest sets a deployment's retrain policy; Clear removes
// it.
type RetrainPolicyRequest struct {
	Policy *RetrainPolicy `json:"policy,omitempty"`
	Clear  bool           `json:"clear,omitempty"`
}
