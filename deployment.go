package joule

import (
	"context"
	"crypto/subtle"
	"time"
)

// Deployment serves one model version as an HTTP endpoint,
// POST /v1/workspaces/{workspace}/deployments/{name}/predict. Its replicas
// run in the server's process; the autoscaler keeps between MinReplicas
// and MaxReplicas of them, TargetConcurrency requests in flight each, and
// scales to zero after IdleTimeout without requests.
type Deployment struct {
	ID          string `json:"id"`
	WorkspaceID string `json:"workspace_id"`
	Name        string `json:"name"`
	// Kind is DeploymentModel (a registered model served in the server's
	// process; the default) or DeploymentCommand (the user's own model
	// server process, behind joule's endpoint).
	Kind string `json:"kind,omitempty"`
	// Command runs the user's model server (kind command).
	Command *DeploymentServer `json:"command,omitempty"`
	// ModelID and ModelVersion name the version served (for kind command,
	// optional: the version the server serves, for lineage); Model is the
	// model's name, for display.
	ModelID      string `json:"model_id"`
	Model        string `json:"model"`
	ModelVersion int    `json:"model_version"`

	MinReplicas       int `json:"min_replicas"`
	MaxReplicas       int `json:"max_replicas"`
	TargetConcurrency int `json:"target_concurrency"`
	// TargetRPS, when above 0, also sizes the replicas by requests per
	// second: the autoscaler wants enough replicas for both targets.
	TargetRPS float64 `json:"target_rps,omitempty"`
	// IdleTimeout is how long without requests before the deployment
	// scales to zero (when MinReplicas is 0); ColdStartTimeout is how long
	// a request waits for the first replica before it gets 503.
	IdleTimeout      Duration `json:"idle_timeout"`
	ColdStartTimeout Duration `json:"cold_start_timeout"`
	// RateLimit is requests per second over the whole deployment (0: no
	// limit); excess requests get 429. BodyLimit is the largest request
	// body in bytes; a larger one gets 413. MaxBatch is the most rows in
	// one request.
	RateLimit float64 `json:"rate_limit"`
	BodyLimit int64   `json:"body_limit"`
	MaxBatch  int     `json:"max_batch"`
	// Public lets requests without a token call predict.
	Public bool `json:"public"`
	// Tokens are the deployment's own tokens: each lets its holder call
	// this deployment's predict endpoint and nothing else. Their hashes
	// are stored; the API never returns them.
	Tokens []DeploymentToken `json:"tokens,omitempty"`

	// Canary sends a share of the requests to another version of the
	// same model; Shadow mirrors requests to another version, whose
	// answers are compared with the served ones and discarded.
	// PreviousVersion is the version served before the latest promote,
	// the one rollback returns to (0: none).
	Canary          *DeploymentCanary `json:"canary,omitempty"`
	Shadow          *DeploymentShadow `json:"shadow,omitempty"`
	PreviousVersion int               `json:"previous_version,omitempty"`

	// Monitor sets drift and live-quality monitoring and its alert
	// thresholds (nil: the defaults); Retrain is the retraining policy
	// (nil: none).
	Monitor *DeploymentMonitor `json:"monitor,omitempty"`
	Retrain *RetrainPolicy     `json:"retrain,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by,omitempty"`

	// Status is the live state from the server that serves it (absent
	// from the store).
	Status *DeploymentStatus `json:"status,omitempty"`
}

// DeploymentToken is a token of one deployment. Hash is the hex SHA-256
// of the secret, as for workspace tokens; the API leaves it out.
type DeploymentToken struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Hash      string    `json:"hash,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// TokenFor returns the deployment token whose secret is secret, comparing
// every hash in constant time.
func (d Deployment) TokenFor(secret string) (DeploymentToken, bool) {
	if secret == "" {
		return DeploymentToken{}, false
	}
	h := []byte(HashToken(secret))
	var found DeploymentToken
	ok := false
	for _, t := range d.Tokens {
		if subtle.ConstantTimeCompare(h, []byte(t.Hash)) == 1 {
			found, ok = t, true
		}
	}
	return found, ok
}

// Deployment kinds.
const (
	DeploymentModel   = "model"
	DeploymentCommand = "command"
)

// DeploymentServer is a model server the user brings: each replica runs
// Args as a process (through the executor, like a job) with PORT in its
// environment; it must listen on 127.0.0.1:$PORT, answer 200 on HealthPath
// when ready, and answer POST PredictPath with the predict body
// ({"instances": …} or {"inputs": …}) by {"predictions": [...]} and
// optionally "probabilities", one per row.
type DeploymentServer struct {
	Args        []string          `json:"args"`
	Env         map[string]string `json:"env,omitempty"`
	WorkDir     string            `json:"work_dir,omitempty"`
	HealthPath  string            `json:"health_path,omitempty"`  // default /healthz
	PredictPath string            `json:"predict_path,omitempty"` // default /predict
}

// Deployment defaults, applied by Deployment.Normalize.
const (
	DefaultMaxReplicas       = 4
	DefaultTargetConcurrency = 8
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultColdStartTimeout  = 30 * time.Second
	DefaultBodyLimit         = 4 << 20
	DefaultMaxBatch          = 1000
)

// Normalize fills defaults for zero fields and checks the rest (EINVALID
// naming the field).
func (d *Deployment) Normalize() error {
	if err := ValidateName("name", d.Name); err != nil {
		return err
	}
	if d.Kind == "" {
		d.Kind = DeploymentModel
	}
	switch d.Kind {
	case DeploymentModel:
		if d.Command != nil {
			return Errorf(EINVALID, "command: only a deployment of kind %q runs a command", DeploymentCommand)
		}
	case DeploymentCommand:
		c := d.Command
		if c == nil || len(c.Args) == 0 || c.Args[0] == "" {
			return Errorf(EINVALID, "command.args: required for kind %q: the model server's command line", DeploymentCommand)
		}
		if c.HealthPath == "" {
			c.HealthPath = "/healthz"
		}
		if c.PredictPath == "" {
			c.PredictPath = "/predict"
		}
		for field, p := range map[string]string{"command.health_path": c.HealthPath, "command.predict_path": c.PredictPath} {
			if p[0] != '/' {
				return Errorf(EINVALID, "%s: %q must start with /", field, p)
			}
		}
		if d.Canary != nil || d.Shadow != nil {
			return Errorf(EINVALID, "canary: a deployment of kind %q serves one server; deploy the other as its own deployment", DeploymentCommand)
		}
	default:
		return Errorf(EINVALID, "kind: %q is not %q or %q", d.Kind, DeploymentModel, DeploymentCommand)
	}
	if d.MaxReplicas == 0 {
		d.MaxReplicas = max(DefaultMaxReplicas, d.MinReplicas)
	}
	if d.TargetConcurrency == 0 {
		d.TargetConcurrency = DefaultTargetConcurrency
	}
	if d.IdleTimeout == 0 {
		d.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	if d.ColdStartTimeout == 0 {
		d.ColdStartTimeout = Duration(DefaultColdStartTimeout)
	}
	if d.BodyLimit == 0 {
		d.BodyLimit = DefaultBodyLimit
	}
	if d.MaxBatch == 0 {
		d.MaxBatch = DefaultMaxBatch
	}
	switch {
	case d.MinReplicas < 0:
		return Errorf(EINVALID, "min_replicas: %d is negative", d.MinReplicas)
	case d.MaxReplicas < 1 || d.MaxReplicas > 64:
		return Errorf(EINVALID, "max_replicas: %d is not between 1 and 64", d.MaxReplicas)
	case d.MinReplicas > d.MaxReplicas:
		return Errorf(EINVALID, "min_replicas: %d is above max_replicas %d", d.MinReplicas, d.MaxReplicas)
	case d.TargetConcurrency < 1 || d.TargetConcurrency > 1024:
		return Errorf(EINVALID, "target_concurrency: %d is not between 1 and 1024", d.TargetConcurrency)
	case d.TargetRPS < 0 || d.TargetRPS != d.TargetRPS:
		return Errorf(EINVALID, "target_rps: must be a non-negative number of requests per second per replica")
	case d.IdleTimeout < 0:
		return Errorf(EINVALID, "idle_timeout: negative")
	case d.ColdStartTimeout < 0:
		return Errorf(EINVALID, "cold_start_timeout: negative")
	case d.RateLimit < 0 || d.RateLimit != d.RateLimit:
		return Errorf(EINVALID, "rate_limit: must be a non-negative number of requests per second")
	case d.BodyLimit < 0:
		return Errorf(EINVALID, "body_limit: negative")
	case d.MaxBatch < 0:
		return Errorf(EINVALID, "max_batch: negative")
	}
	if err := d.Monitor.Validate(); err != nil { // drift and live-quality settings (deployment_monitor.go)
		return err
	}
	if d.Retrain != nil {
		return d.Retrain.Normalize("")
	}
	return nil
}

// DeploymentStatus is a deployment's live state.
type DeploymentStatus struct {
	Replicas int `json:"replicas"`
	// Ready is false while the deployment is at zero or loading its first
	// replica.
	Ready       bool       `json:"ready"`
	InFlight    int        `json:"in_flight"`
	RPS         float64    `json:"rps"`         // requests per second over the last autoscaler tick
	Predictions int64      `json:"predictions"` // rows predicted since the server started
	Requests    int64      `json:"requests"`
	Errors      int64      `json:"errors"`
	LastRequest *time.Time `json:"last_request,omitempty"`
	// LatencyMS holds p50, p95 and p99 of recent requests, in
	// milliseconds; ColdStartMS is the latest cold start's duration.
	LatencyMS   map[string]float64 `json:"latency_ms,omitempty"`
	ColdStartMS float64            `json:"cold_start_ms,omitempty"`
	Energy      *DeploymentEnergy  `json:"energy,omitempty"`

	// Traffic holds each served version's share and counters (the
	// primary, a canary, a shadow); Shadow compares the shadow's answers
	// with the served ones.
	Traffic []TrafficShare    `json:"traffic,omitempty"`
	Shadow  *ShadowComparison `json:"shadow,omitempty"`
	// Drift is the latest drift evaluation; Live is the quality measured
	// on labelled feedback; Lifecycle is the retraining loop's state.
	Drift     *DriftReport     `json:"drift,omitempty"`
	Live      *LiveQuality     `json:"live,omitempty"`
	Lifecycle *LifecycleStatus `json:"lifecycle,omitempty"`
}

// DeploymentCanary sends Percent of a deployment's requests (0 < Percent
// < 100) to ModelVersion of the same model.
type DeploymentCanary struct {
	ModelVersion int     `json:"model_version"`
	Percent      float64 `json:"percent"`
}

// DeploymentShadow mirrors Percent of the requests (default 100) to
// ModelVersion; its answers are compared and discarded.
type DeploymentShadow struct {
	ModelVersion int     `json:"model_version"`
	Percent      float64 `json:"percent,omitempty"`
}

// Traffic roles of a served version.
const (
	TrafficPrimary = "primary"
	TrafficCanary  = "canary"
	TrafficShadow  = "shadow"
)

// TrafficShare is one served version's role, share and counters since
// the server started (or since the version took the role).
type TrafficShare struct {
	ModelVersion int                `json:"model_version"`
	Role         string             `json:"role"`
	Percent      float64            `json:"percent"`
	Replicas     int                `json:"replicas"`
	Requests     int64              `json:"requests"`
	Predictions  int64              `json:"predictions"`
	Errors       int64              `json:"errors"`
	LatencyMS    map[string]float64 `json:"latency_ms,omitempty"`
}

// ShadowComparison compares a shadow version's answers with the served
// ones over the rows both predicted.
type ShadowComparison struct {
	ModelVersion int   `json:"model_version"`
	Requests     int64 `json:"requests"` // mirrored
	Dropped      int64 `json:"dropped"`  // not mirrored: the shadow was busy
	Errors       int64 `json:"errors"`
	Rows         int64 `json:"rows"` // compared
	// Agreement is the share of rows with the same label (classifiers);
	// MeanAbsDiff is the mean absolute difference of the predictions
	// (regressors) or of the served class's probability (classifiers).
	Agreement   float64 `json:"agreement"`
	MeanAbsDiff float64 `json:"mean_abs_diff"`
}

// DeploymentPoint is one autoscaler tick of a deployment's history.
type DeploymentPoint struct {
	Time     time.Time `json:"time"`
	RPS      float64   `json:"rps"`
	P50MS    float64   `json:"p50_ms"`
	P95MS    float64   `json:"p95_ms"`
	P99MS    float64   `json:"p99_ms"`
	Errors   int64     `json:"errors"` // in the tick
	InFlight int       `json:"in_flight"`
	Replicas int       `json:"replicas"`
}

// TrafficRequest changes a deployment's traffic: set or clear the canary
// and the shadow.
type TrafficRequest struct {
	Canary      *DeploymentCanary `json:"canary,omitempty"`
	Shadow      *DeploymentShadow `json:"shadow,omitempty"`
	ClearCanary bool              `json:"clear_canary,omitempty"`
	ClearShadow bool              `json:"clear_shadow,omitempty"`
}

// PromoteRequest makes ModelVersion the deployment's primary version (0:
// the canary's version).
type PromoteRequest struct {
	ModelVersion int    `json:"model_version,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// DeploymentEnergy is the energy and emissions of a deployment's replicas,
// attributed from the node's dynamic power by their share of CPU time,
// over the predictions they made in the same time.
type DeploymentEnergy struct {
	Predictions     int64   `json:"predictions"`
	CPUSeconds      float64 `json:"cpu_seconds"`
	Joules          float64 `json:"joules"`
	MeasuredJoules  float64 `json:"measured_joules"`
	EstimatedJoules float64 `json:"estimated_joules"`
	EmissionsG      float64 `json:"emissions_g"`
	// JoulesPer1000 and EmissionsGPer1000 are per 1,000 predictions
	// (0 before the first accounted prediction).
	JoulesPer1000     float64 `json:"joules_per_1000"`
	EmissionsGPer1000 float64 `json:"emissions_g_per_1000"`
	// Measured is true only when every joule came from a measurement;
	// Method says how the energy was obtained and split.
	Measured bool   `json:"measured"`
	Method   string `json:"method"`
}

// DeploymentEvent is one thing that happened to a deployment: created,
// scaled (with the reason), updated, cold start, deleted.
type DeploymentEvent struct {
	ID           string    `json:"id"`
	DeploymentID string    `json:"deployment_id"`
	WorkspaceID  string    `json:"workspace_id"`
	Time         time.Time `json:"time"`
	Kind         string    `json:"kind"` // e.g. "scale", "created"
	From         int       `json:"from"` // replicas before (scale events)
	To           int       `json:"to"`   // replicas after
	Reason       string    `json:"reason"`
}

// Deployment event kinds.
const (
	DeploymentCreated   = "created"
	DeploymentUpdated   = "updated"
	DeploymentScale     = "scale"
	DeploymentColdStart = "cold_start"
	DeploymentDeleted   = "deleted"
	DeploymentTraffic   = "traffic"  // canary or shadow set or cleared
	DeploymentPromote   = "promote"  // a version became the primary
	DeploymentRollback  = "rollback" // back to the previous version
	DeploymentDrift     = "drift"    // a drift evaluation over a threshold
	DeploymentAlert     = "alert"    // a threshold crossed (drift, live quality)
	DeploymentRetrain   = "retrain"  // the retraining loop: started, evaluated, promoted or kept
)

// DeploymentStore keeps deployments and their events. Both stores
// implement it as part of Store.
type DeploymentStore interface {
	// CreateDeployment inserts d (ECONFLICT if its name is taken in the
	// workspace, ENOTFOUND if the workspace does not exist, EINVALID
	// without an ID).
	CreateDeployment(ctx context.Context, d Deployment) error
	// GetDeployment returns a deployment of the workspace by ID or name
	// (ENOTFOUND).
	GetDeployment(ctx context.Context, workspaceID, idOrName string) (Deployment, error)
	// ListDeployments lists a workspace's deployments by ID; workspaceID ""
	// lists every workspace's.
	ListDeployments(ctx context.Context, workspaceID string, opt ListOptions) ([]Deployment, string, error)
	// UpdateDeployment replaces the stored deployment with d's ID
	// (ENOTFOUND); ID, workspace, name and CreatedAt stay.
	UpdateDeployment(ctx context.Context, d Deployment) error
	// DeleteDeployment removes a deployment and its events (ENOTFOUND).
	DeleteDeployment(ctx context.Context, workspaceID, id string) error
	// AppendDeploymentEvent records e (ENOTFOUND if its deployment does
	// not exist; EINVALID without an ID).
	AppendDeploymentEvent(ctx context.Context, e DeploymentEvent) error
	// ListDeploymentEvents lists a deployment's events by ID, oldest first.
	ListDeploymentEvents(ctx context.Context, deploymentID string, opt ListOptions) ([]DeploymentEvent, string, error)
}

// PredictRequest is the body of a predict call: rows as records
// (Instances, as TF Serving and KServe v1 take them) or as columns
// (Inputs); exactly one of the two. Values are the raw features: the
// model's fitted recipe, if it has one, is applied by the server.
type PredictRequest struct {
	Instances []map[string]any `json:"instances,omitempty"`
	Inputs    map[string][]any `json:"inputs,omitempty"`
}

// PredictResponse is what a predict call returns: one prediction per row
// (a class label for a classifier, a number for a regressor) and, for a
// classifier that gives probabilities, each row's probability per class.
type PredictResponse struct {
	ID            string               `json:"id,omitempty"` // monitor: names the prediction for feedback (rows by index)
	Deployment    string               `json:"deployment"`
	Model         string               `json:"model"`
	ModelVersion  int                  `json:"model_version"`
	Predictions   []any                `json:"predictions"`
	Probabilities []map[string]float64 `json:"probabilities,omitempty"`
}
