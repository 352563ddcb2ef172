package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/joule-dev/joule"
)

// Jobs

const jobCols = "id, workspace_id, name, spec, state, reason, exit_code, attempts, node_id, gpu_indices, " +
	"created_at, created_by, start_at, started_at, finished_at, updated_at, energy, shift"

func scanJob(s pgx.Row) (joule.Job, error) {
	var j joule.Job
	var name, state string
	var spec, gpus, energy, shift []byte
	if err := s.Scan(&j.ID, &j.WorkspaceID, &name, &spec, &state, &j.Reason, &j.ExitCode, &j.Attempts, &j.NodeID, &gpus,
		&j.CreatedAt, &j.CreatedBy, &j.StartAt, &j.StartedAt, &j.FinishedAt, &j.UpdatedAt, &energy, &shift); err != nil {
		return j, err
	}
	if err := json.Unmarshal(spec, &j.Spec); err != nil {
		return j, fmt.Errorf("job %s: decode spec: %w", j.ID, err)
	}
	if err := json.Unmarshal(gpus, &j.GPUIndices); err != nil {
		return j, fmt.Errorf("job %s: decode gpu_indices: %w", j.ID, err)
	}
	var err error
	if j.Energy, err = decodeEnergy(energy); err != nil {
		return j, fmt.Errorf("job %s: %w", j.ID, err)
	}
	if shift != nil {
		j.Shift = new(joule.JobShift)
		if err := json.Unmarshal(shift, j.Shift); err != nil {
			return j, fmt.Errorf("job %s: decode shift: %w", j.ID, err)
		}
	}
	j.State = joule.JobState(state)
	j.CreatedAt = fromDB(j.CreatedAt)
	j.UpdatedAt = fromDB(j.UpdatedAt)
	j.StartAt = fromDBPtr(j.StartAt)
	j.StartedAt = fromDBPtr(j.StartedAt)
	j.FinishedAt = fromDBPtr(j.FinishedAt)
	return j, nil
}

// specJSON encodes s with its times truncated to the microsecond in UTC.
func specJSON(s joule.JobSpec) (string, error) {
	s.NotBefore = utcMicroPtr(s.NotBefore)
	s.Deadline = utcMicroPtr(s.Deadline)
	b, err := json.Marshal(s)
	return string(b), err
}

// encodeJob returns j's JSON columns: the spec, the GPU indices, the
// energy and the shift (nil, for NULL, when j.Energy or j.Shift is nil).
func encodeJob(j joule.Job) (spec, gpus string, energy, shift any, err error) {
	if spec, err = specJSON(j.Spec); err != nil {
		return "", "", nil, nil, fmt.Errorf("encode spec: %w", err)
	}
	b, err := json.Marshal(j.GPUIndices)
	if err != nil {
		return "", "", nil, nil, fmt.Errorf("encode gpu_indices: %w", err)
	}
	if energy, err = encodeEnergy(j.Energy); err != nil {
		return "", "", nil, nil, err
	}
	if j.Shift != nil {
		sb, err := json.Marshal(j.Shift)
		if err != nil {
			return "", "", nil, nil, joule.Errorf(joule.EINVALID, "shift: %v", err)
		}
		shift = string(sb)
	}
	return spec, string(b), energy, shift, nil
}

// decodeEnergy decodes an energy column; NULL (nil) is nil.
func decodeEnergy(b []byte) (*joule.JobEnergy, error) {
	if b == nil {
		return nil, nil
	}
	var e joule.JobEnergy
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode energy: %w", err)
	}
	return &e, nil
}

// encodeEnergy returns e as a JSON string, or nil (NULL) when e is nil. A
// NaN or infinite number gives EINVALID, for JSON cannot hold it.
func encodeEnergy(e *joule.JobEnergy) (any, error) {
	if e == nil {
		return nil, nil
	}
	for _, f := range []float64{e.Joules, e.MeasuredJoules, e.EstimatedJoules, e.EmissionsG, e.IntensityGPerKWh, e.PUE, e.Cost} {
		if !finite(f) {
			return nil, joule.Errorf(joule.EINVALID, "energy: %v is not a finite number", f)
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode energy: %w", err)
	}
	return string(b), nil
}

// insertTransition appends a transition to the job's history in tx, numbering
// it after the job's last one. The caller holds the job's row lock, or has
// just inserted the job.
func insertTransition(ctx context.Context, tx pgx.Tx, tr joule.JobTransition) error {
	_, err := tx.Exec(ctx, `INSERT INTO job_transitions (job_id, seq, time, from_state, to_state, reason, attempt)
		VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM job_transitions WHERE job_id = $1), $2, $3, $4, $5, $6)`,
		tr.JobID, utcMicro(tr.Time), string(tr.From), string(tr.To), tr.Reason, tr.Attempt)
	if err != nil {
		return fmt.Errorf("record transition: %w", err)
	}
	return nil
}

// CreateJob inserts j and its first transition ("" to j.State, with reason
// j.Reason or "submitted", at j.CreatedAt) in one transaction, then calls
// fn, if not nil, with that transaction's pgx.Tx. An empty State is stored
// as queued and a zero UpdatedAt as CreatedAt; the name is j.Spec.Name. It
// returns EINVALID if the ID is empty, ECONFLICT if it is taken, ENOTFOUND
// if the workspace does not exist, and fn's error (wrapped) after rolling
// everything back.
func (db *DB) CreateJob(ctx context.Context, j joule.Job, fn joule.TxFunc) error {
	if j.ID == "" {
		return joule.Errorf(joule.EINVALID, "job ID: required")
	}
	if j.State == "" {
		j.State = joule.JobQueued
	}
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	spec, gpus, energy, shift, err := encodeJob(j)
	if err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	reason := j.Reason
	if reason == "" {
		reason = "submitted"
	}
	failed := false // the transaction's function returned the error
	err = db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO jobs ("+jobCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
			j.ID, j.WorkspaceID, j.Spec.Name, spec, string(j.State), j.Reason, j.ExitCode, j.Attempts,
			j.NodeID, gpus, utcMicro(j.CreatedAt), j.CreatedBy, utcMicroPtr(j.StartAt), utcMicroPtr(j.StartedAt),
			utcMicroPtr(j.FinishedAt), utcMicro(j.UpdatedAt), energy, shift)
		switch {
		case err == nil:
		case violates(err, uniqueViolation, "jobs_pkey"):
			err = joule.Errorf(joule.ECONFLICT, "job ID %q already exists", j.ID)
		case violates(err, foreignKeyViolation, "jobs_workspace_id_fkey"):
			err = joule.Errorf(joule.ENOTFOUND, "workspace %q not found", j.WorkspaceID)
		default:
			err = fmt.Errorf("create job: %w", err)
		}
		if err == nil {
			err = insertTransition(ctx, tx, joule.JobTransition{
				JobID: j.ID, Time: j.CreatedAt, To: j.State, Reason: reason, Attempt: j.Attempts,
			})
			if err != nil {
				err = fmt.Errorf("create job: %w", err)
			}
		}
		if err == nil && fn != nil {
			if err = fn(ctx, tx); err != nil {
				err = fmt.Errorf("create job %s: %w", j.ID, err)
			}
		}
		failed = err != nil
		return err
	})
	if err != nil && !failed {
		return fmt.Errorf("create job: %w", err)
	}
	return err
}

// GetJob returns the job with the given ID or, failing that, the newest
// (largest ID) job with that name; workspaceID "" matches every workspace
// (ENOTFOUND).
func (db *DB) GetJob(ctx context.Context, workspaceID, idOrName string) (joule.Job, error) {
	if idOrName == "" {
		return joule.Job{}, joule.Errorf(joule.ENOTFOUND, "job %q not found", idOrName)
	}
	ws, args := "", []any{idOrName}
	if workspaceID != "" {
		ws, args = " AND workspace_id = $2", append(args, workspaceID)
	}
	j, err := scanJob(db.pool.QueryRow(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = $1"+ws, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		j, err = scanJob(db.pool.QueryRow(ctx,
			"SELECT "+jobCols+" FROM jobs WHERE name = $1"+ws+" ORDER BY id DESC LIMIT 1", args...))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return joule.Job{}, joule.Errorf(joule.ENOTFOUND, "job %q not found", idOrName)
	}
	if err != nil {
		return joule.Job{}, fmt.Errorf("get job: %w", err)
	}
	return j, nil
}

// ListJobs lists the jobs matching f by ID, oldest first or, with f.Newest,
// newest first (EINVALID for a bad cursor).
func (db *DB) ListJobs(ctx context.Context, f joule.JobFilter) ([]joule.Job, string, error) {
	opt := f.ListOptions.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	var q strings.Builder
	var args []any
	q.WriteString("SELECT " + jobCols + " FROM jobs WHERE true")
	and := func(cond string, arg any) {
		args = append(args, arg)
		q.WriteString(" AND " + strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if after != "" {
		if f.Newest {
			and("id < $?", after)
		} else {
			and("id > $?", after)
		}
	}
	if f.WorkspaceID != "" {
		and("workspace_id = $?", f.WorkspaceID)
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, s := range f.States {
			states[i] = string(s)
		}
		and("state = ANY($?)", states)
	}
	if f.Name != "" {
		and("name = $?", f.Name)
	}
	if f.NodeID != "" {
		and("node_id = $?", f.NodeID)
	}
	args = append(args, opt.Limit+1)
	if f.Newest {
		q.WriteString(" ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args)))
	} else {
		q.WriteString(" ORDER BY id LIMIT $" + strconv.Itoa(len(args)))
	}
	rows, err := db.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", err)
	}
	js, err := collect(rows, scanJob)
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", err)
	}
	js, next := page(js, opt.Limit, func(j joule.Job) string { return j.ID })
	return js, next, nil
}

// UpdateJob changes the job in one transaction that locks its row with
// SELECT … FOR UPDATE, so that concurrent updates of a job, from any
// process, run one after the other: it loads the job (ENOTFOUND), checks
// that its state is one of from (ECONFLICT otherwise; nil accepts any),
// calls change (whose error is returned as is), stores every field but ID,
// WorkspaceID and CreatedAt (changing those gives EINVALID; the name follows
// Spec.Name), records a transition with reason and Attempt = Attempts when
// the state changed, calls fn, if not nil, with the pgx.Tx, and commits. It
// returns the stored job.
//
// UpdatedAt, which is also the transition's time, is the UpdatedAt change
// set when that is after the stored one, and otherwise the current time,
// or the stored UpdatedAt plus a microsecond when the clock is behind it:
// it always moves forward.
func (db *DB) UpdateJob(ctx context.Context, id string, from []joule.JobState, reason string, change func(*joule.Job) error, fn joule.TxFunc) (joule.Job, error) {
	var out joule.Job
	var failed error // what the transaction's function returned
	err := db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		failed = updateJobTx(ctx, tx, id, from, reason, change, fn, &out)
		return failed
	})
	switch {
	case err == nil:
		return out, nil
	case failed == nil:
		return joule.Job{}, fmt.Errorf("update job: %w", err)
	}
	return joule.Job{}, err
}

// updateJobTx is UpdateJob's transaction. Errors of change are returned as
// they are, database errors wrapped.
func updateJobTx(ctx context.Context, tx pgx.Tx, id string, from []joule.JobState, reason string,
	change func(*joule.Job) error, fn joule.TxFunc, out *joule.Job) error {
	old, err := scanJob(tx.QueryRow(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = $1 FOR UPDATE", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return joule.Errorf(joule.ENOTFOUND, "job %q not found", id)
	}
	if err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	if from != nil && !slices.Contains(from, old.State) {
		return joule.Errorf(joule.ECONFLICT, "job %s is %s, not %s", id, old.State, joinStates(from))
	}
	j := old
	if change != nil {
		if err := change(&j); err != nil {
			return err
		}
	}
	if err := checkImmutable(old, j); err != nil {
		return err
	}
	j.UpdatedAt = nextUpdatedAt(old.UpdatedAt, j.UpdatedAt)
	spec, gpus, energy, shift, err := encodeJob(j)
	if err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	*out, err = scanJob(tx.QueryRow(ctx, `UPDATE jobs SET name = $1, spec = $2, state = $3, reason = $4,
		exit_code = $5, attempts = $6, node_id = $7, gpu_indices = $8, created_by = $9, start_at = $10,
		started_at = $11, finished_at = $12, updated_at = $13, energy = $14, shift = $15 WHERE id = $16 RETURNING `+jobCols,
		j.Spec.Name, spec, string(j.State), j.Reason, j.ExitCode, j.Attempts, j.NodeID, gpus, j.CreatedBy,
		utcMicroPtr(j.StartAt), utcMicroPtr(j.StartedAt), utcMicroPtr(j.FinishedAt), j.UpdatedAt, energy, shift, id))
	if err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	if j.State != old.State {
		if err := insertTransition(ctx, tx, joule.JobTransition{
			JobID: id, Time: j.UpdatedAt, From: old.State, To: j.State, Reason: reason, Attempt: j.Attempts,
		}); err != nil {
			return fmt.Errorf("update job: %w", err)
		}
	}
	if fn != nil {
		if err := fn(ctx, tx); err != nil {
			return fmt.Errorf("update job %s: %w", id, err)
		}
	}
	return nil
}

// joinStates writes states as "a or b or c".
func joinStates(states []joule.JobState) string {
	if len(states) == 0 {
		return "any accepted state (none given)"
	}
	ss := make([]string, len(states))
	for i, s := range states {
		ss[i] = string(s)
	}
	return strings.Join(ss, " or ")
}

// checkImmutable returns EINVALID if a change touched the job's identity.
func checkImmutable(old, j joule.Job) error {
	switch {
	case j.ID != old.ID:
		return joule.Errorf(joule.EINVALID, "job %s: the ID cannot change", old.ID)
	case j.WorkspaceID != old.WorkspaceID:
		return joule.Errorf(joule.EINVALID, "job %s: the workspace cannot change", old.ID)
	case !j.CreatedAt.Equal(old.CreatedAt):
		return joule.Errorf(joule.EINVALID, "job %s: the creation time cannot change", old.ID)
	}
	return nil
}

// nextUpdatedAt returns set, truncated, if it is after old, and otherwise
// the current time or old plus a microsecond, whichever is later.
func nextUpdatedAt(old, set time.Time) time.Time {
	if set = utcMicro(set); set.After(old) {
		return set
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.After(old) {
		now = old.Add(time.Microsecond)
	}
	return now
}

const transitionCols = "job_id, time, from_state, to_state, reason, attempt"

func scanTransition(s pgx.Row) (joule.JobTransition, error) {
	var tr joule.JobTransition
	var from, to string
	if err := s.Scan(&tr.JobID, &tr.Time, &from, &to, &tr.Reason, &tr.Attempt); err != nil {
		return tr, err
	}
	tr.From, tr.To = joule.JobState(from), joule.JobState(to)
	tr.Time = fromDB(tr.Time)
	return tr, nil
}

// ListJobTransitions returns the job's transitions, oldest first; a job that
// does not exist has none.
func (db *DB) ListJobTransitions(ctx context.Context, jobID string) ([]joule.JobTransition, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+transitionCols+" FROM job_transitions WHERE job_id = $1 ORDER BY seq", jobID)
	if err != nil {
		return nil, fmt.Errorf("list job transitions: %w", err)
	}
	trs, err := collect(rows, scanTransition)
	if err != nil {
		return nil, fmt.Errorf("list job transitions: %w", err)
	}
	return trs, nil
}

// Attempts

const attemptCols = "job_id, n, node_id, pid, state, reason, exit_code, signal, started_at, finished_at, log_path, limits, cpu_user, cpu_sys, peak_memory, energy"

func scanAttempt(s pgx.Row) (joule.Attempt, error) {
	var a joule.Attempt
	var state string
	var energy []byte
	if err := s.Scan(&a.JobID, &a.N, &a.NodeID, &a.PID, &state, &a.Reason, &a.ExitCode, &a.Signal, &a.StartedAt,
		&a.FinishedAt, &a.LogPath, &a.Limits, &a.CPUUserSec, &a.CPUSysSec, &a.PeakMemory, &energy); err != nil {
		return a, err
	}
	var err error
	if a.Energy, err = decodeEnergy(energy); err != nil {
		return a, fmt.Errorf("attempt %s/%d: %w", a.JobID, a.N, err)
	}
	a.State = joule.JobState(state)
	a.StartedAt = fromDB(a.StartedAt)
	a.FinishedAt = fromDBPtr(a.FinishedAt)
	return a, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// PutAttempt inserts the attempt (a.JobID, a.N) or replaces every field of
// it. It returns EINVALID if N is below 1 or a number is NaN or infinite, and
// ENOTFOUND if the job does not exist.
func (db *DB) PutAttempt(ctx context.Context, a joule.Attempt) error {
	if a.N < 1 {
		return joule.Errorf(joule.EINVALID, "attempt N: %d is not 1 or more", a.N)
	}
	if !finite(a.CPUUserSec) || !finite(a.CPUSysSec) {
		return joule.Errorf(joule.EINVALID, "attempt CPU time: must be a finite number")
	}
	energy, err := encodeEnergy(a.Energy)
	if err != nil {
		return fmt.Errorf("put attempt: %w", err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO job_attempts (`+attemptCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (job_id, n) DO UPDATE SET
			node_id = excluded.node_id, pid = excluded.pid, state = excluded.state, reason = excluded.reason,
			exit_code = excluded.exit_code, signal = excluded.signal, started_at = excluded.started_at,
			finished_at = excluded.finished_at, log_path = excluded.log_path, limits = excluded.limits,
			cpu_user = excluded.cpu_user, cpu_sys = excluded.cpu_sys, peak_memory = excluded.peak_memory,
			energy = excluded.energy`,
		a.JobID, a.N, a.NodeID, a.PID, string(a.State), a.Reason, a.ExitCode, a.Signal,
		utcMicro(a.StartedAt), utcMicroPtr(a.FinishedAt), a.LogPath, a.Limits, a.CPUUserSec, a.CPUSysSec, a.PeakMemory, energy)
	switch {
	case err == nil:
		return nil
	case violates(err, foreignKeyViolation, "job_attempts_job_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "job %q not found", a.JobID)
	}
	return fmt.Errorf("put attempt: %w", err)
}

// ListAttempts returns the job's attempts by N; a job that does not exist
// has none.
func (db *DB) ListAttempts(ctx context.Context, jobID string) ([]joule.Attempt, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+attemptCols+" FROM job_attempts WHERE job_id = $1 ORDER BY n", jobID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	as, err := collect(rows, scanAttempt)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return as, nil
}

// Metrics and usage

// AppendJobMetrics records ms, in order, as reported by the given attempt of
// the job, in one batch that runs as one transaction. It returns EINVALID if
// a value is NaN or infinite and ENOTFOUND if the job does not exist.
func (db *DB) AppendJobMetrics(ctx context.Context, jobID string, attempt int, ms []joule.Metric) error {
	if len(ms) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, m := range ms {
		if !finite(m.Value) {
			return joule.Errorf(joule.EINVALID, "metric %q: value %v is not a finite number", m.Name, m.Value)
		}
		b.Queue("INSERT INTO job_metrics (job_id, attempt, name, value, step, time) VALUES ($1, $2, $3, $4, $5, $6)",
			jobID, attempt, m.Name, m.Value, m.Step, utcMicro(m.Time))
	}
	err := db.sendBatch(ctx, b)
	switch {
	case err == nil:
		return nil
	case violates(err, foreignKeyViolation, "job_metrics_job_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "job %q not found", jobID)
	}
	return fmt.Errorf("append job metrics: %w", err)
}

// sendBatch runs b in one transaction.
func (db *DB) sendBatch(ctx context.Context, b *pgx.Batch) error {
	return db.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
}

// ListJobMetrics returns the job's metrics, of every attempt, in the order
// they were appended; a job that does not exist has none.
func (db *DB) ListJobMetrics(ctx context.Context, jobID string) ([]joule.Metric, error) {
	rows, err := db.pool.Query(ctx, "SELECT name, value, step, time FROM job_metrics WHERE job_id = $1 ORDER BY seq", jobID)
	if err != nil {
		return nil, fmt.Errorf("list job metrics: %w", err)
	}
	ms, err := collect(rows, func(s pgx.Row) (joule.Metric, error) {
		var m joule.Metric
		if err := s.Scan(&m.Name, &m.Value, &m.Step, &m.Time); err != nil {
			return m, err
		}
		m.Time = fromDB(m.Time)
		return m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list job metrics: %w", err)
	}
	return ms, nil
}

// AppendUsage records the usage samples of the given attempt of the job in
// one transaction. GPUPIDs is stored as JSON, so nil and empty round-trip as
// given. It returns EINVALID if a CPU time is NaN or infinite and ENOTFOUND
// if the job does not exist.
func (db *DB) AppendUsage(ctx context.Context, jobID string, attempt int, us []joule.UsageSample) error {
	if len(us) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, u := range us {
		if !finite(u.CPUUserSec) || !finite(u.CPUSystemSec) {
			return joule.Errorf(joule.EINVALID, "usage sample: CPU time must be a finite number")
		}
		pids, err := json.Marshal(u.GPUPIDs)
		if err != nil {
			return fmt.Errorf("append usage: %w", err)
		}
		b.Queue(`INSERT INTO job_usage (job_id, attempt, time, cpu_user, cpu_sys, memory, processes, gpu_pids)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			jobID, attempt, utcMicro(u.Time), u.CPUUserSec, u.CPUSystemSec, u.MemoryBytes, u.Processes, string(pids))
	}
	err := db.sendBatch(ctx, b)
	switch {
	case err == nil:
		return nil
	case violates(err, foreignKeyViolation, "job_usage_job_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "job %q not found", jobID)
	}
	return fmt.Errorf("append usage: %w", err)
}

// ListUsage returns the usage samples of the given attempt of the job by
// Time, oldest first, samples with equal times in the order appended.
func (db *DB) ListUsage(ctx context.Context, jobID string, attempt int) ([]joule.UsageSample, error) {
	rows, err := db.pool.Query(ctx, `SELECT time, cpu_user, cpu_sys, memory, processes, gpu_pids
		FROM job_usage WHERE job_id = $1 AND attempt = $2 ORDER BY time, seq`, jobID, attempt)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	us, err := collect(rows, func(s pgx.Row) (joule.UsageSample, error) {
		var u joule.UsageSample
		var pids []byte
		if err := s.Scan(&u.Time, &u.CPUUserSec, &u.CPUSystemSec, &u.MemoryBytes, &u.Processes, &pids); err != nil {
			return u, err
		}
		u.Time = fromDB(u.Time)
		if err := json.Unmarshal(pids, &u.GPUPIDs); err != nil {
			return u, fmt.Errorf("decode gpu_pids: %w", err)
		}
		return u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	return us, nil
}

// Schedules

const scheduleCols = "id, workspace_id, name, cron, spec, paused, created_at, created_by, last_run_at, next_run_at, last_job_id"

func scanSchedule(s pgx.Row) (joule.Schedule, error) {
	var sc joule.Schedule
	var spec []byte
	if err := s.Scan(&sc.ID, &sc.WorkspaceID, &sc.Name, &sc.Cron, &spec, &sc.Paused, &sc.CreatedAt, &sc.CreatedBy,
		&sc.LastRunAt, &sc.NextRunAt, &sc.LastJobID); err != nil {
		return sc, err
	}
	if err := json.Unmarshal(spec, &sc.Spec); err != nil {
		return sc, fmt.Errorf("schedule %s: decode spec: %w", sc.ID, err)
	}
	sc.CreatedAt = fromDB(sc.CreatedAt)
	sc.LastRunAt = fromDBPtr(sc.LastRunAt)
	sc.NextRunAt = fromDB(sc.NextRunAt)
	return sc, nil
}

// CreateSchedule inserts s. It returns ECONFLICT if its ID, or its name in
// the workspace, is taken, ENOTFOUND if the workspace does not exist and
// EINVALID if the ID is empty.
func (db *DB) CreateSchedule(ctx context.Context, s joule.Schedule) error {
	if s.ID == "" {
		return joule.Errorf(joule.EINVALID, "schedule ID: required")
	}
	spec, err := specJSON(s.Spec)
	if err != nil {
		return fmt.Errorf("create schedule: encode spec: %w", err)
	}
	_, err = db.pool.Exec(ctx, "INSERT INTO schedules ("+scheduleCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		s.ID, s.WorkspaceID, s.Name, s.Cron, spec, s.Paused, utcMicro(s.CreatedAt), s.CreatedBy,
		utcMicroPtr(s.LastRunAt), utcMicro(s.NextRunAt), s.LastJobID)
	switch {
	case err == nil:
		return nil
	case violates(err, uniqueViolation, "schedules_workspace_id_name_key"):
		return joule.Errorf(joule.ECONFLICT, "schedule name %q already exists in workspace %q", s.Name, s.WorkspaceID)
	case violates(err, uniqueViolation, "schedules_pkey"):
		return joule.Errorf(joule.ECONFLICT, "schedule ID %q already exists", s.ID)
	case violates(err, foreignKeyViolation, "schedules_workspace_id_fkey"):
		return joule.Errorf(joule.ENOTFOUND, "workspace %q not found", s.WorkspaceID)
	}
	return fmt.Errorf("create schedule: %w", err)
}

// GetSchedule returns the schedule with the given ID or, failing that, name;
// workspaceID "" matches every workspace, where the newest (largest ID)
// schedule of that name wins (ENOTFOUND).
func (db *DB) GetSchedule(ctx context.Context, workspaceID, idOrName string) (joule.Schedule, error) {
	if idOrName == "" {
		return joule.Schedule{}, joule.Errorf(joule.ENOTFOUND, "schedule %q not found", idOrName)
	}
	ws, args := "", []any{idOrName}
	if workspaceID != "" {
		ws, args = " AND workspace_id = $2", append(args, workspaceID)
	}
	s, err := scanSchedule(db.pool.QueryRow(ctx, "SELECT "+scheduleCols+" FROM schedules WHERE id = $1"+ws, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		s, err = scanSchedule(db.pool.QueryRow(ctx,
			"SELECT "+scheduleCols+" FROM schedules WHERE name = $1"+ws+" ORDER BY id DESC LIMIT 1", args...))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return joule.Schedule{}, joule.Errorf(joule.ENOTFOUND, "schedule %q not found", idOrName)
	}
	if err != nil {
		return joule.Schedule{}, fmt.Errorf("get schedule: %w", err)
	}
	return s, nil
}

// ListSchedules lists the workspace's schedules ("" for every workspace's)
// by ID (EINVALID for a bad cursor).
func (db *DB) ListSchedules(ctx context.Context, workspaceID string, opt joule.ListOptions) ([]joule.Schedule, string, error) {
	opt = opt.WithDefaults()
	after, err := decodeCursor(opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	q, args := "SELECT "+scheduleCols+" FROM schedules WHERE id > $1", []any{after}
	if workspaceID != "" {
		q, args = q+" AND workspace_id = $2", append(args, workspaceID)
	}
	args = append(args, opt.Limit+1)
	rows, err := db.pool.Query(ctx, q+" ORDER BY id LIMIT $"+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list schedules: %w", err)
	}
	ss, err := collect(rows, scanSchedule)
	if err != nil {
		return nil, "", fmt.Errorf("list schedules: %w", err)
	}
	ss, next := page(ss, opt.Limit, func(s joule.Schedule) string { return s.ID })
	return ss, next, nil
}

// UpdateSchedule replaces the Name, Cron, Spec, Paused, LastRunAt, NextRunAt
// and LastJobID of the schedule with s.ID in s.WorkspaceID; CreatedAt and
// CreatedBy are kept. It returns ENOTFOUND if the workspace has no such
// schedule and ECONFLICT if the new name is taken.
func (db *DB) UpdateSchedule(ctx context.Context, s joule.Schedule) error {
	spec, err := specJSON(s.Spec)
	if err != nil {
		return fmt.Errorf("update schedule: encode spec: %w", err)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE schedules SET name = $1, cron = $2, spec = $3, paused = $4,
		last_run_at = $5, next_run_at = $6, last_job_id = $7 WHERE id = $8 AND workspace_id = $9`,
		s.Name, s.Cron, spec, s.Paused, utcMicroPtr(s.LastRunAt), utcMicro(s.NextRunAt), s.LastJobID, s.ID, s.WorkspaceID)
	switch {
	case err == nil:
	case violates(err, uniqueViolation, "schedules_workspace_id_name_key"):
		return joule.Errorf(joule.ECONFLICT, "schedule name %q already exists in workspace %q", s.Name, s.WorkspaceID)
	default:
		return fmt.Errorf("update schedule: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return joule.Errorf(joule.ENOTFOUND, "schedule %q not found in workspace %q", s.ID, s.WorkspaceID)
	}
	return nil
}
