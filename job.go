package joule

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// JobState is where a job is in its life.
//
//	queued → scheduled → running → succeeded | failed | cancelled | timed_out
//
// A job that fails with retries left goes back to queued.
type JobState string

// Job states.
const (
	JobQueued    JobState = "queued"    // accepted, waiting for placement
	JobScheduled JobState = "scheduled" // placed on a node, waiting for its start time or a worker
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
	JobTimedOut  JobState = "timed_out"
)

// Terminal reports whether s is a final state.
func (s JobState) Terminal() bool {
	switch s {
	case JobSucceeded, JobFailed, JobCancelled, JobTimedOut:
		return true
	}
	return false
}

// Job kinds. Later capabilities register train and predict.
const (
	JobKindCommand = "command"
	// JobKindRecipe applies a dataset recipe: its command runs the joule
	// binary's `dataset recipe-run`, so the work is queued, metered and
	// audited like any job.
	JobKindRecipe = "recipe"
	// JobKindTrain trains a model version (`joule model train-run`).
	JobKindTrain = "train"
	// JobKindPredict writes a batch prediction as a dataset version
	// (`joule model predict-run`).
	JobKindPredict = "predict"
)

// Resources is what a job asks for, or what a node has.
type Resources struct {
	CPUMillis   int64 `json:"cpu_millis"`   // 1000 = one core
	MemoryBytes int64 `json:"memory_bytes"` // bytes
	GPUs        int   `json:"gpus"`
}

// Fits reports whether r fits in free.
func (r Resources) Fits(free Resources) bool {
	return r.CPUMillis <= free.CPUMillis && r.MemoryBytes <= free.MemoryBytes && r.GPUs <= free.GPUs
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{r.CPUMillis + o.CPUMillis, r.MemoryBytes + o.MemoryBytes, r.GPUs + o.GPUs}
}

// Sub returns r − o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{r.CPUMillis - o.CPUMillis, r.MemoryBytes - o.MemoryBytes, r.GPUs - o.GPUs}
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string such as "30m" (numbers are taken as seconds).
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON reads a duration string such as "1h30m", or a number of
// seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if u, err := strconv.Unquote(s); err == nil {
		v, err := time.ParseDuration(u)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s, 15m or 2h", u)
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e9 {
		return fmt.Errorf("%s is not a duration such as \"30s\" or a number of seconds", s)
	}
	*d = Duration(time.Duration(f * float64(time.Second)))
	return nil
}

// JobSpec is what a user submits: what to run, with what, and under which
// rules. It is accepted as JSON by the API and as YAML or flags by the CLI.
type JobSpec struct {
	Name      string            `json:"name"`
	Kind      string            `json:"kind,omitempty"` // default "command"
	Command   []string          `json:"command"`        // argv; command[0] is looked up in PATH
	Env       map[string]string `json:"env,omitempty"`
	WorkDir   string            `json:"work_dir,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Selector  map[string]string `json:"selector,omitempty"` // node labels the job requires
	Resources Resources         `json:"resources"`
	Priority  int               `json:"priority,omitempty"` // 1 (lowest) to 9; default 5
	Timeout   Duration          `json:"timeout,omitempty"`  // 0 = none
	Retries   int               `json:"retries,omitempty"`  // extra attempts after a failure
	Backoff   Duration          `json:"backoff,omitempty"`  // wait before the first retry, doubling; default 1s
	NotBefore *time.Time        `json:"not_before,omitempty"`
	Deadline  *time.Time        `json:"deadline,omitempty"`
	DependsOn []string          `json:"depends_on,omitempty"` // job IDs or names that must succeed first

	// Carbon-aware timing. A job with a Deadline or a Flexibility is
	// flexible: when a carbon forecast is configured, it waits in state
	// scheduled for the greenest window that still meets its deadline
	// (see JobShift).
	//
	// Flexibility lets the job start up to this long after submission:
	// its deadline is then submission + flexibility + expected duration.
	Flexibility Duration `json:"flexibility,omitempty"`
	// ExpectedDuration is how long the job is expected to run; 0 learns it
	// from the median run time of the job's last successful runs of the
	// same name in the workspace.
	ExpectedDuration Duration `json:"expected_duration,omitempty"`
	// Interruptible lets the job be suspended (SIGSTOP) and resumed
	// (SIGCONT) so that it runs only in the greenest slots before its
	// deadline, instead of in one stretch.
	Interruptible bool `json:"interruptible,omitempty"`
}

// Spec limits.
const (
	DefaultPriority = 5
	MaxRetries      = 100
	MaxCommandArgs  = 4096
)

// WithDefaults returns s with defaults filled in.
func (s JobSpec) WithDefaults() JobSpec {
	if s.Kind == "" {
		s.Kind = JobKindCommand
	}
	if s.Priority == 0 {
		s.Priority = DefaultPriority
	}
	if s.Backoff == 0 {
		s.Backoff = Duration(time.Second)
	}
	if s.Resources.CPUMillis == 0 {
		s.Resources.CPUMillis = 1000
	}
	return s
}

// Validate checks s after WithDefaults and returns an EINVALID error naming
// the first field that breaks a rule, and the rule.
func (s JobSpec) Validate() error {
	if err := ValidateName("name", s.Name); err != nil {
		return err
	}
	switch {
	case s.Kind != JobKindCommand && s.Kind != JobKindRecipe && s.Kind != JobKindTrain && s.Kind != JobKindPredict:
		return Errorf(EINVALID, "kind: %q is not a known job kind (known: %s, %s, %s, %s)", s.Kind, JobKindCommand, JobKindRecipe, JobKindTrain, JobKindPredict)
	case len(s.Command) == 0 || strings.TrimSpace(s.Command[0]) == "":
		return Errorf(EINVALID, "command: must not be empty")
	case len(s.Command) > MaxCommandArgs:
		return Errorf(EINVALID, "command: at most %d arguments", MaxCommandArgs)
	case s.Resources.CPUMillis < 0:
		return Errorf(EINVALID, "resources.cpu_millis: must not be negative")
	case s.Resources.MemoryBytes < 0:
		return Errorf(EINVALID, "resources.memory_bytes: must not be negative")
	case s.Resources.GPUs < 0:
		return Errorf(EINVALID, "resources.gpus: must not be negative")
	case s.Priority < 1 || s.Priority > 9:
		return Errorf(EINVALID, "priority: %d is outside 1 to 9", s.Priority)
	case s.Timeout < 0:
		return Errorf(EINVALID, "timeout: must not be negative")
	case s.Retries < 0 || s.Retries > MaxRetries:
		return Errorf(EINVALID, "retries: %d is outside 0 to %d", s.Retries, MaxRetries)
	case s.Backoff < 0:
		return Errorf(EINVALID, "backoff: must not be negative")
	case s.NotBefore != nil && s.Deadline != nil && !s.Deadline.After(*s.NotBefore):
		return Errorf(EINVALID, "deadline: must be after not_before")
	case s.Flexibility < 0:
		return Errorf(EINVALID, "flexibility: must not be negative")
	case s.Flexibility > 0 && s.Deadline != nil:
		return Errorf(EINVALID, "flexibility: give a deadline or a flexibility, not both")
	case s.ExpectedDuration < 0:
		return Errorf(EINVALID, "expected_duration: must not be negative")
	case s.Interruptible && s.Deadline == nil && s.Flexibility == 0:
		return Errorf(EINVALID, "interruptible: needs a deadline or a flexibility to plan its slots within")
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return Errorf(EINVALID, "env: %q is not a valid variable name", k)
		}
	}
	for i, a := range s.Command {
		if strings.ContainsRune(a, 0) {
			return Errorf(EINVALID, "command[%d]: contains a NUL byte", i)
		}
	}
	return nil
}

// ParseCPU reads a CPU quantity: cores ("2", "0.5") or millicores ("500m").
func ParseCPU(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if m, ok := strings.CutSuffix(s, "m"); ok {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n < 0 {
			return 0, Errorf(EINVALID, "cpu: %q is not a CPU quantity such as 2, 0.5 or 500m", s)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e6 {
		return 0, Errorf(EINVALID, "cpu: %q is not a CPU quantity such as 2, 0.5 or 500m", s)
	}
	return int64(math.Round(f * 1000)), nil
}

var memUnits = []struct {
	suffix string
	mult   float64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// ParseMemory reads a memory quantity in bytes, with an optional suffix:
// Ki, Mi, Gi, Ti (powers of 1024) or K, M, G, T (powers of 1000).
func ParseMemory(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult, num := 1.0, s
	for _, u := range memUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			mult, num = u.mult, n
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*mult > math.MaxInt64/2 {
		return 0, Errorf(EINVALID, "memory: %q is not a size such as 512Mi, 16Gi or 1000000 (suffixes Ki, Mi, Gi, Ti, K, M, G, T)", s)
	}
	return int64(f * mult), nil
}

// Job is a submitted JobSpec and what has happened to it.
type Job struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspace_id"`
	Spec        JobSpec    `json:"spec"`
	State       JobState   `json:"state"`
	Reason      string     `json:"reason,omitempty"` // why it is in this state
	ExitCode    *int       `json:"exit_code,omitempty"`
	Attempts    int        `json:"attempts"`
	NodeID      string     `json:"node_id,omitempty"`
	GPUIndices  []int      `json:"gpu_indices,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by,omitempty"`
	StartAt     *time.Time `json:"start_at,omitempty"` // planned start, when scheduled for later
	// Energy sums the energy, emissions and cost of the job's attempts; nil
	// until an attempt has been accounted.
	Energy *JobEnergy `json:"energy,omitempty"`
	// Shift is the carbon-aware timing of a flexible job: its plan and,
	// once it has run, the saving realised; nil for other jobs.
	Shift      *JobShift  `json:"shift,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// JobTransition records one change of a job's state, with its reason.
type JobTransition struct {
	JobID   string    `json:"job_id"`
	Time    time.Time `json:"time"`
	From    JobState  `json:"from"`
	To      JobState  `json:"to"`
	Reason  string    `json:"reason"`
	Attempt int       `json:"attempt,omitempty"`
}

// Runtime runs one attempt of a job somewhere: as a local process
// (internal/executor) or, later, as a Kubernetes pod.
type Runtime interface {
	// Start launches the attempt and returns at once. Errors are EINVALID
	// (the request cannot run, e.g. the command is not found) or internal.
	Start(ctx context.Context, req RunRequest) (Run, error)
}

// Run is one running attempt.
type Run interface {
	// Wait blocks until the attempt ends and returns its result. It returns
	// early with ctx's error when ctx ends, leaving the attempt running.
	Wait(ctx context.Context) (RunResult, error)
	// Stop ends the attempt: SIGTERM (or the runtime's equivalent) to every
	// process of it, then SIGKILL after grace. reason becomes the result's
	// state: JobCancelled or JobTimedOut.
	Stop(reason JobState, grace time.Duration) error
	// Usage returns the usage samples taken so far, oldest first.
	Usage() []UsageSample
	// PID returns the process (group) ID, for adoption after a restart; 0
	// where there is none.
	PID() int
}

// RunRequest is everything a runtime needs to run one attempt.
type RunRequest struct {
	JobID      string
	Attempt    int // 1, 2, …
	Command    []string
	Env        map[string]string // the job's env plus JOULE_* variables
	WorkDir    string            // "" = OutputDir
	Resources  Resources
	GPUIndices []int         // exactly the GPUs to expose
	Timeout    time.Duration // 0 = none
	LogPath    string        // where stdout and stderr go
	LogLimit   int64         // bytes; 0 = default
	OutputDir  string        // JOULE_OUTPUT_DIR; artifacts
	// MetricsFile is JOULE_METRICS_FILE: JSON metrics the job may write.
	MetricsFile string
	// StatusFile, when set, receives the command's exit status when it
	// ends, so that a worker that restarted meanwhile can still learn it.
	StatusFile string
	// KeepSamples, when above 0, keeps only the latest KeepSamples usage
	// samples, for long-lived processes such as model servers (0: all,
	// as job energy attribution needs).
	KeepSamples int
}

// RunResult is how an attempt ended and what it used.
type RunResult struct {
	State        JobState  `json:"state"` // succeeded, failed, cancelled or timed_out
	ExitCode     int       `json:"exit_code"`
	Signal       string    `json:"signal,omitempty"` // e.g. "SIGKILL" when killed by a signal
	Reason       string    `json:"reason"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	CPUUserSec   float64   `json:"cpu_user_seconds"`
	CPUSystemSec float64   `json:"cpu_system_seconds"`
	PeakMemory   int64     `json:"peak_memory_bytes"`
	Limits       string    `json:"limits"` // how limits were enforced, or why not
	Metrics      []Metric  `json:"metrics,omitempty"`
}

// UsageSample is what an attempt used, cumulatively, at one moment: the base
// of per-job energy attribution.
type UsageSample struct {
	Time         time.Time `json:"time"`
	CPUUserSec   float64   `json:"cpu_user_seconds"`   // cumulative
	CPUSystemSec float64   `json:"cpu_system_seconds"` // cumulative
	MemoryBytes  int64     `json:"memory_bytes"`       // resident now
	Processes    int       `json:"processes"`
	GPUPIDs      []int     `json:"gpu_pids,omitempty"` // where visible
}

// Metric is one value a job reported, by printing
// "joule:metric name=value [step=N]" or through JOULE_METRICS_FILE.
type Metric struct {
	Name  string    `json:"name"`
	Value float64   `json:"value"`
	Step  *int64    `json:"step,omitempty"`
	Time  time.Time `json:"time"`
}

// Attempt is one try at running a job.
type Attempt struct {
	JobID      string     `json:"job_id"`
	N          int        `json:"n"` // 1, 2, …
	NodeID     string     `json:"node_id"`
	PID        int        `json:"pid,omitempty"` // process group, for adoption after a restart
	State      JobState   `json:"state"`         // running, then how it ended
	Reason     string     `json:"reason,omitempty"`
	ExitCode   *int       `json:"exit_code,omitempty"`
	Signal     string     `json:"signal,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	LogPath    string     `json:"log_path"`
	Limits     string     `json:"limits,omitempty"`
	CPUUserSec float64    `json:"cpu_user_seconds"`
	CPUSysSec  float64    `json:"cpu_system_seconds"`
	PeakMemory int64      `json:"peak_memory_bytes"`
	Energy     *JobEnergy `json:"energy,omitempty"`
}

// JobFilter selects jobs. Zero fields do not filter.
type JobFilter struct {
	WorkspaceID string // required by the API; "" lists every workspace (workers, dispatcher)
	States      []JobState
	Name        string
	NodeID      string
	// Newest lists newest first (by ID) instead of oldest first.
	Newest bool
	ListOptions
}

// Schedule creates a job from Spec at every time its Cron expression
// matches (five fields, UTC).
type Schedule struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspace_id"`
	Name        string     `json:"name"`
	Cron        string     `json:"cron"`
	Spec        JobSpec    `json:"spec"`
	Paused      bool       `json:"paused"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by,omitempty"`
	LastRunAt   *time.Time `json:"last_run_at,omitempty"`
	NextRunAt   time.Time  `json:"next_run_at"`
	LastJobID   string     `json:"last_job_id,omitempty"`
}

// TxFunc runs inside a store transaction and is given the driver's
// transaction — *sql.Tx for SQLite, pgx.Tx for PostgreSQL — so that a queue
// can enqueue in the same transaction as the job row. Returning an error
// rolls the whole transaction back.
type TxFunc func(ctx context.Context, tx any) error

// JobStore keeps jobs, their transitions, attempts, metrics, usage and
// schedules. Both stores implement it as part of Store.
type JobStore interface {
	// CreateJob inserts j (State queued) and its first transition, then
	// calls fn (may be nil) in the same transaction.
	CreateJob(ctx context.Context, j Job, fn TxFunc) error
	// GetJob returns a job of the workspace by ID, or the newest job with
	// that name (ENOTFOUND). workspaceID "" matches any workspace.
	GetJob(ctx context.Context, workspaceID, idOrName string) (Job, error)
	// ListJobs lists jobs matching f.
	ListJobs(ctx context.Context, f JobFilter) ([]Job, string, error)
	// UpdateJob changes a job in one transaction: it loads the job, checks
	// its state is one of from (ECONFLICT otherwise; nil from accepts any),
	// calls change on it, stores the result, records a transition with
	// reason when the state changed, and calls fn (may be nil). It returns
	// the stored job.
	UpdateJob(ctx context.Context, id string, from []JobState, reason string, change func(*Job) error, fn TxFunc) (Job, error)
	// ListJobTransitions returns a job's transitions, oldest first.
	ListJobTransitions(ctx context.Context, jobID string) ([]JobTransition, error)

	// PutAttempt inserts or replaces the attempt (JobID, N).
	PutAttempt(ctx context.Context, a Attempt) error
	// ListAttempts returns a job's attempts by N.
	ListAttempts(ctx context.Context, jobID string) ([]Attempt, error)
	// AppendJobMetrics records metrics reported by an attempt.
	AppendJobMetrics(ctx context.Context, jobID string, attempt int, ms []Metric) error
	// ListJobMetrics returns a job's metrics in the order reported.
	ListJobMetrics(ctx context.Context, jobID string) ([]Metric, error)
	// AppendUsage records usage samples of an attempt.
	AppendUsage(ctx context.Context, jobID string, attempt int, us []UsageSample) error
	// ListUsage returns an attempt's usage samples, oldest first.
	ListUsage(ctx context.Context, jobID string, attempt int) ([]UsageSample, error)

	// CreateSchedule inserts s (ECONFLICT if its name is taken in the
	// workspace).
	CreateSchedule(ctx context.Context, s Schedule) error
	// GetSchedule returns a schedule by ID or name (ENOTFOUND).
	GetSchedule(ctx context.Context, workspaceID, idOrName string) (Schedule, error)
	// ListSchedules lists a workspace's schedules ("" for all) by ID.
	ListSchedules(ctx context.Context, workspaceID string, opt ListOptions) ([]Schedule, string, error)
	// UpdateSchedule replaces the stored schedule with s (ENOTFOUND).
	UpdateSchedule(ctx context.Context, s Schedule) error
}
