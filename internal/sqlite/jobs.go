package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// Jobs

const jobCols = "id, workspace_id, name, spec, state, reason, exit_code, attempts, node_id, gpu_indices, " +
	"created_at, created_by, start_at, started_at, finished_at, updated_at, energy, shift"

func scanJob(s scanner) (joule.Job, error) {
	var j joule.Job
	var spec, gpus string
	var exit sql.NullInt64
	var created, updated int64
	var startAt, started, finished sql.NullInt64
	var name string
	var energy, shift sql.NullString
	if err := s.Scan(&j.ID, &j.WorkspaceID, &name, &spec, &j.State, &j.Reason, &exit, &j.Attempts, &j.NodeID, &gpus,
		&created, &j.CreatedBy, &startAt, &started, &finished, &updated, &energy, &shift); err != nil {
		return j, err
	}
	if err := json.Unmarshal([]byte(spec), &j.Spec); err != nil {
		return j, fmt.Errorf("job %s: decode spec: %w", j.ID, err)
	}
	if err := json.Unmarshal([]byte(gpus), &j.GPUIndices); err != nil {
		return j, fmt.Errorf("job %s: decode gpu_indices: %w", j.ID, err)
	}
	var err error
	if j.Energy, err = decodeEnergy(energy.String, energy.Valid); err != nil {
		return j, fmt.Errorf("job %s: %w", j.ID, err)
	}
	if shift.Valid {
		j.Shift = new(joule.JobShift)
		if err := json.Unmarshal([]byte(shift.String), j.Shift); err != nil {
			return j, fmt.Errorf("job %s: decode shift: %w", j.ID, err)
		}
	}
	if exit.Valid {
		c := int(exit.Int64)
		j.ExitCode = &c
	}
	j.CreatedAt = fromMicros(created)
	j.UpdatedAt = fromMicros(updated)
	j.StartAt = fromNullMicros(startAt)
	j.StartedAt = fromNullMicros(started)
	j.FinishedAt = fromNullMicros(finished)
	return j, nil
}

// specJSON encodes s with its times truncated to the microsecond in UTC.
func specJSON(s joule.JobSpec) (string, error) {
	s.NotBefore = utcMicroPtr(s.NotBefore)
	s.Deadline = utcMicroPtr(s.Deadline)
	b, err := json.Marshal(s)
	return string(b), err
}

func utcMicroPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utcMicro(*t)
	return &u
}

func nullInt(p *int) any {
	if p == nil {
		return nil
	}
	return int64(*p)
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

// decodeEnergy decodes an energy column; NULL (valid false) is nil.
func decodeEnergy(s string, valid bool) (*joule.JobEnergy, error) {
	if !valid {
		return nil, nil
	}
	var e joule.JobEnergy
	if err := json.Unmarshal([]byte(s), &e); err != nil {
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
// it after the job's last one.
func insertTransition(ctx context.Context, tx *sql.Tx, tr joule.JobTransition) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO job_transitions (job_id, seq, time, from_state, to_state, reason, attempt)
		VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM job_transitions WHERE job_id = ?1), ?2, ?3, ?4, ?5, ?6)`,
		tr.JobID, micros(tr.Time), string(tr.From), string(tr.To), tr.Reason, tr.Attempt)
	if err != nil {
		return fmt.Errorf("record transition: %w", err)
	}
	return nil
}

// CreateJob inserts j and its first transition ("" to j.State, with reason
// j.Reason or "submitted", at j.CreatedAt) in one write transaction, then
// calls fn, if not nil, with that transaction's *sql.Tx. An empty State is
// stored as queued and a zero UpdatedAt as CreatedAt; the name is
// j.Spec.Name. It returns EINVALID if the ID is empty, ECONFLICT if it is
// taken, ENOTFOUND if the workspace does not exist, and fn's error (wrapped)
// after rolling everything back.
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
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO jobs ("+jobCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			j.ID, j.WorkspaceID, j.Spec.Name, spec, string(j.State), j.Reason, nullInt(j.ExitCode), j.Attempts,
			j.NodeID, gpus, micros(j.CreatedAt), j.CreatedBy, nullMicros(j.StartAt), nullMicros(j.StartedAt),
			nullMicros(j.FinishedAt), micros(j.UpdatedAt), energy, shift)
		switch {
		case err == nil:
		case isUnique(err, "jobs.id"):
			err = joule.Errorf(joule.ECONFLICT, "job ID %q already exists", j.ID)
		case isForeignKey(err):
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
		ws, args = " AND workspace_id = ?", append(args, workspaceID)
	}
	j, err := scanJob(db.read.QueryRowContext(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = ?"+ws, args...))
	if errors.Is(err, sql.ErrNoRows) {
		j, err = scanJob(db.read.QueryRowContext(ctx,
			"SELECT "+jobCols+" FROM jobs WHERE name = ?"+ws+" ORDER BY id DESC LIMIT 1", args...))
	}
	if errors.Is(err, sql.ErrNoRows) {
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
	if after != "" {
		if f.Newest {
			q.WriteString(" AND id < ?")
		} else {
			q.WriteString(" AND id > ?")
		}
		args = append(args, after)
	}
	if f.WorkspaceID != "" {
		q.WriteString(" AND workspace_id = ?")
		args = append(args, f.WorkspaceID)
	}
	if len(f.States) > 0 {
		q.WriteString(" AND state IN (?" + strings.Repeat(", ?", len(f.States)-1) + ")")
		for _, s := range f.States {
			args = append(args, string(s))
		}
	}
	if f.Name != "" {
		q.WriteString(" AND name = ?")
		args = append(args, f.Name)
	}
	if f.NodeID != "" {
		q.WriteString(" AND node_id = ?")
		args = append(args, f.NodeID)
	}
	if f.Newest {
		q.WriteString(" ORDER BY id DESC LIMIT ?")
	} else {
		q.WriteString(" ORDER BY id LIMIT ?")
	}
	args = append(args, opt.Limit+1)
	rows, err := db.read.QueryContext(ctx, q.String(), args...)
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

// UpdateJob changes the job in one write transaction, which SQLite
// serialises with every other write: it loads the job (ENOTFOUND), checks
// that its state is one of from (ECONFLICT otherwise; nil accepts any),
// calls change (whose error is returned as is), stores every field but ID,
// WorkspaceID and CreatedAt (changing those gives EINVALID; the name follows
// Spec.Name), records a transition with reason and Attempt = Attempts when
// the state changed, calls fn, if not nil, with the *sql.Tx, and commits. It
// returns the stored job.
//
// UpdatedAt, which is also the transition's time, is the UpdatedAt change
// set when that is after the stored one, and otherwise the current time,
// or the stored UpdatedAt plus a microsecond when the clock is behind it:
// it always moves forward.
func (db *DB) UpdateJob(ctx context.Context, id string, from []joule.JobState, reason string, change func(*joule.Job) error, fn joule.TxFunc) (joule.Job, error) {
	var out joule.Job
	var failed error // what the transaction's function returned
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		failed = db.updateJobTx(ctx, tx, id, from, reason, change, fn, &out)
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
func (db *DB) updateJobTx(ctx context.Context, tx *sql.Tx, id string, from []joule.JobState, reason string,
	change func(*joule.Job) error, fn joule.TxFunc, out *joule.Job) error {
	old, err := scanJob(tx.QueryRowContext(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
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
	*out, err = scanJob(tx.QueryRowContext(ctx, `UPDATE jobs SET name = ?, spec = ?, state = ?, reason = ?,
		exit_code = ?, attempts = ?, node_id = ?, gpu_indices = ?, created_by = ?, start_at = ?, started_at = ?,
		finished_at = ?, updated_at = ?, energy = ?, shift = ? WHERE id = ? RETURNING `+jobCols,
		j.Spec.Name, spec, string(j.State), j.Reason, nullInt(j.ExitCode), j.Attempts, j.NodeID, gpus, j.CreatedBy,
		nullMicros(j.StartAt), nullMicros(j.StartedAt), nullMicros(j.FinishedAt), micros(j.UpdatedAt), energy, shift, id))
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

func scanTransition(s scanner) (joule.JobTransition, error) {
	var tr joule.JobTransition
	var t int64
	if err := s.Scan(&tr.JobID, &t, &tr.From, &tr.To, &tr.Reason, &tr.Attempt); err != nil {
		return tr, err
	}
	tr.Time = fromMicros(t)
	return tr, nil
}

// ListJobTransitions returns the job's transitions, oldest first; a job that
// does not exist has none.
func (db *DB) ListJobTransitions(ctx context.Context, jobID string) ([]joule.JobTransition, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT "+transitionCols+" FROM job_transitions WHERE job_id = ? ORDER BY seq", jobID)
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

func scanAttempt(s scanner) (joule.Attempt, error) {
	var a joule.Attempt
	var exit, finished sql.NullInt64
	var started int64
	var energy sql.NullString
	if err := s.Scan(&a.JobID, &a.N, &a.NodeID, &a.PID, &a.State, &a.Reason, &exit, &a.Signal, &started, &finished,
		&a.LogPath, &a.Limits, &a.CPUUserSec, &a.CPUSysSec, &a.PeakMemory, &energy); err != nil {
		return a, err
	}
	var err error
	if a.Energy, err = decodeEnergy(energy.String, energy.Valid); err != nil {
		return a, fmt.Errorf("attempt %s/%d: %w", a.JobID, a.N, err)
	}
	if exit.Valid {
		c := int(exit.Int64)
		a.ExitCode = &c
	}
	a.StartedAt = fromMicros(started)
	a.FinishedAt = fromNullMicros(finished)
	return a, nil
}

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
	_, err = db.write.ExecContext(ctx, `INSERT INTO job_attempts (`+attemptCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (job_id, n) DO UPDATE SET
			node_id = excluded.node_id, pid = excluded.pid, state = excluded.state, reason = excluded.reason,
			exit_code = excluded.exit_code, signal = excluded.signal, started_at = excluded.started_at,
			finished_at = excluded.finished_at, log_path = excluded.log_path, limits = excluded.limits,
			cpu_user = excluded.cpu_user, cpu_sys = excluded.cpu_sys, peak_memory = excluded.peak_memory,
			energy = excluded.energy`,
		a.JobID, a.N, a.NodeID, a.PID, string(a.State), a.Reason, nullInt(a.ExitCode), a.Signal,
		micros(a.StartedAt), nullMicros(a.FinishedAt), a.LogPath, a.Limits, a.CPUUserSec, a.CPUSysSec, a.PeakMemory, energy)
	switch {
	case err == nil:
		return nil
	case isForeignKey(err):
		return joule.Errorf(joule.ENOTFOUND, "job %q not found", a.JobID)
	}
	return fmt.Errorf("put attempt: %w", err)
}

// ListAttempts returns the job's attempts by N; a job that does not exist
// has none.
func (db *DB) ListAttempts(ctx context.Context, jobID string) ([]joule.Attempt, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT "+attemptCols+" FROM job_attempts WHERE job_id = ? ORDER BY n", jobID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	as, err := collect(rows, scanAttempt)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return as, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Metrics and usage

// AppendJobMetrics records ms, in order, as reported by the given attempt of
// the job, in one write transaction. It returns EINVALID if a value is NaN or
// infinite and ENOTFOUND if the job does not exist.
func (db *DB) AppendJobMetrics(ctx context.Context, jobID string, attempt int, ms []joule.Metric) error {
	if len(ms) == 0 {
		return nil
	}
	for _, m := range ms {
		if !finite(m.Value) {
			return joule.Errorf(joule.EINVALID, "metric %q: value %v is not a finite number", m.Name, m.Value)
		}
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, "INSERT INTO job_metrics (job_id, attempt, name, value, step, time) VALUES (?, ?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range ms {
			var step any
			if m.Step != nil {
				step = *m.Step
			}
			if _, err := st.ExecContext(ctx, jobID, attempt, m.Name, m.Value, step, micros(m.Time)); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case isForeignKey(err):
		return joule.Errorf(joule.ENOTFOUND, "job %q not found", jobID)
	}
	return fmt.Errorf("append job metrics: %w", err)
}

// ListJobMetrics returns the job's metrics, of every attempt, in the order
// they were appended; a job that does not exist has none.
func (db *DB) ListJobMetrics(ctx context.Context, jobID string) ([]joule.Metric, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT name, value, step, time FROM job_metrics WHERE job_id = ? ORDER BY seq", jobID)
	if err != nil {
		return nil, fmt.Errorf("list job metrics: %w", err)
	}
	ms, err := collect(rows, func(s scanner) (joule.Metric, error) {
		var m joule.Metric
		var step sql.NullInt64
		var t int64
		if err := s.Scan(&m.Name, &m.Value, &step, &t); err != nil {
			return m, err
		}
		if step.Valid {
			m.Step = &step.Int64
		}
		m.Time = fromMicros(t)
		return m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list job metrics: %w", err)
	}
	return ms, nil
}

// AppendUsage records the usage samples of the given attempt of the job in
// one write transaction. GPUPIDs is stored as JSON, so nil and empty
// round-trip as given. It returns EINVALID if a CPU time is NaN or infinite
// and ENOTFOUND if the job does not exist.
func (db *DB) AppendUsage(ctx context.Context, jobID string, attempt int, us []joule.UsageSample) error {
	if len(us) == 0 {
		return nil
	}
	for _, u := range us {
		if !finite(u.CPUUserSec) || !finite(u.CPUSystemSec) {
			return joule.Errorf(joule.EINVALID, "usage sample: CPU time must be a finite number")
		}
	}
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO job_usage (job_id, attempt, time, cpu_user, cpu_sys, memory, processes, gpu_pids)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, u := range us {
			pids, err := json.Marshal(u.GPUPIDs)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, jobID, attempt, micros(u.Time), u.CPUUserSec, u.CPUSystemSec,
				u.MemoryBytes, u.Processes, string(pids)); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case isForeignKey(err):
		return joule.Errorf(joule.ENOTFOUND, "job %q not found", jobID)
	}
	return fmt.Errorf("append usage: %w", err)
}

// ListUsage returns the usage samples of the given attempt of the job by
// Time, oldest first, samples with equal times in the order appended.
func (db *DB) ListUsage(ctx context.Context, jobID string, attempt int) ([]joule.UsageSample, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT time, cpu_user, cpu_sys, memory, processes, gpu_pids
		FROM job_usage WHERE job_id = ? AND attempt = ? ORDER BY time, seq`, jobID, attempt)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	us, err := collect(rows, func(s scanner) (joule.UsageSample, error) {
		var u joule.UsageSample
		var t int64
		var pids string
		if err := s.Scan(&t, &u.CPUUserSec, &u.CPUSystemSec, &u.MemoryBytes, &u.Processes, &pids); err != nil {
			return u, err
		}
		u.Time = fromMicros(t)
		if err := json.Unmarshal([]byte(pids), &u.GPUPIDs); err != nil {
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

func scanSchedule(s scanner) (joule.Schedule, error) {
	var sc joule.Schedule
	var spec string
	var created, next int64
	var last sql.NullInt64
	if err := s.Scan(&sc.ID, &sc.WorkspaceID, &sc.Name, &sc.Cron, &spec, &sc.Paused, &created, &sc.CreatedBy,
		&last, &next, &sc.LastJobID); err != nil {
		return sc, err
	}
	if err := json.Unmarshal([]byte(spec), &sc.Spec); err != nil {
		return sc, fmt.Errorf("schedule %s: decode spec: %w", sc.ID, err)
	}
	sc.CreatedAt = fromMicros(created)
	sc.LastRunAt = fromNullMicros(last)
	sc.NextRunAt = fromMicros(next)
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
	_, err = db.write.ExecContext(ctx, "INSERT INTO schedules ("+scheduleCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.ID, s.WorkspaceID, s.Name, s.Cron, spec, s.Paused, micros(s.CreatedAt), s.CreatedBy,
		nullMicros(s.LastRunAt), micros(s.NextRunAt), s.LastJobID)
	switch {
	case err == nil:
		return nil
	case isUnique(err, "schedules.name"):
		return joule.Errorf(joule.ECONFLICT, "schedule name %q already exists in workspace %q", s.Name, s.WorkspaceID)
	case isUnique(err, "schedules.id"):
		return joule.Errorf(joule.ECONFLICT, "schedule ID %q already exists", s.ID)
	case isForeignKey(err):
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
		ws, args = " AND workspace_id = ?", append(args, workspaceID)
	}
	s, err := scanSchedule(db.read.QueryRowContext(ctx, "SELECT "+scheduleCols+" FROM schedules WHERE id = ?"+ws, args...))
	if errors.Is(err, sql.ErrNoRows) {
		s, err = scanSchedule(db.read.QueryRowContext(ctx,
			"SELECT "+scheduleCols+" FROM schedules WHERE name = ?"+ws+" ORDER BY id DESC LIMIT 1", args...))
	}
	if errors.Is(err, sql.ErrNoRows) {
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
	q, args := "SELECT "+scheduleCols+" FROM schedules WHERE id > ?", []any{after}
	if workspaceID != "" {
		q, args = q+" AND workspace_id = ?", append(args, workspaceID)
	}
	rows, err := db.read.QueryContext(ctx, q+" ORDER BY id LIMIT ?", append(args, opt.Limit+1)...)
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
	res, err := db.write.ExecContext(ctx, `UPDATE schedules SET name = ?, cron = ?, spec = ?, paused = ?,
		last_run_at = ?, next_run_at = ?, last_job_id = ? WHERE id = ? AND workspace_id = ?`,
		s.Name, s.Cron, spec, s.Paused, nullMicros(s.LastRunAt), micros(s.NextRunAt), s.LastJobID, s.ID, s.WorkspaceID)
	switch {
	case err == nil:
	case isUnique(err, "schedules.name"):
		return joule.Errorf(joule.ECONFLICT, "schedule name %q already exists in workspace %q", s.Name, s.WorkspaceID)
	default:
		return fmt.Errorf("update schedule: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update schedule: %w", err)
	} else if n == 0 {
		return joule.Errorf(joule.ENOTFOUND, "schedule %q not found in workspace %q", s.ID, s.WorkspaceID)
	}
	return nil
}
