package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/joule-dev/joule"
)

// TxQuery runs query on tx, the driver transaction a store passes to a
// joule.TxFunc, and returns the integer in the first column of the first
// row. Placeholders are written $1, $2, …; the SQLite adapter rewrites
// them. It must fail if tx is not the store's transaction type (*sql.Tx for
// SQLite, pgx.Tx for PostgreSQL).
type TxQuery func(ctx context.Context, tx any, query string, args ...any) (int, error)

// RunTx runs the checks of joule.TxFunc that need to query the driver
// transaction: that fn runs in the transaction that wrote the job, and that
// what fn writes commits or rolls back with it. open is as for [Run].
func RunTx(t *testing.T, open func(t *testing.T) joule.Store, q TxQuery) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s joule.Store, q TxQuery)
	}{
		{"CreateJobTx", testCreateJobTx},
		{"UpdateJobTx", testUpdateJobTx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t), q)
		})
	}
}

// jobTests are Run's subtests of joule.JobStore.
var jobTests = []struct {
	name string
	fn   func(t *testing.T, s joule.Store)
}{
	{"Jobs", testJobs},
	{"JobErrors", testJobErrors},
	{"ListJobs", testListJobs},
	{"ListJobsPaging", testListJobsPaging},
	{"UpdateJob", testUpdateJob},
	{"UpdateJobErrors", testUpdateJobErrors},
	{"UpdateJobRace", testUpdateJobRace},
	{"UpdateJobSerialises", testUpdateJobSerialises},
	{"JobTxFuncRollback", testJobTxFuncRollback},
	{"Attempts", testAttempts},
	{"JobEnergy", testJobEnergy},
	{"AttemptEnergy", testAttemptEnergy},
	{"JobShift", testJobShift},
	{"JobMetrics", testJobMetrics},
	{"Usage", testUsage},
	{"Schedules", testSchedules},
	{"ScheduleErrors", testScheduleErrors},
}

// idAt returns an ID with the given prefix that sorts by i: NewID orders by
// millisecond only.
func idAt(prefix string, i int) string {
	return joule.NewID(prefix, base.Add(time.Duration(i)*time.Millisecond))
}

// testJob returns a job with every field set, as stored.
func testJob(wsID, id, name string) joule.Job {
	return joule.Job{
		ID:          id,
		WorkspaceID: wsID,
		Spec: joule.JobSpec{
			Name:      name,
			Kind:      joule.JobKindCommand,
			Command:   []string{"python", "train.py", "--epochs=3"},
			Env:       map[string]string{"SEED": "42"},
			WorkDir:   "/srv/work",
			Labels:    map[string]string{"team": "research"},
			Selector:  map[string]string{"gpu": "h100"},
			Resources: joule.Resources{CPUMillis: 2500, MemoryBytes: 64 << 30, GPUs: 2},
			Priority:  7,
			Timeout:   joule.Duration(90 * time.Minute),
			Retries:   3,
			Backoff:   joule.Duration(1500 * time.Millisecond),
			NotBefore: ptr(stored(base.Add(time.Hour))),
			Deadline:  ptr(stored(base.Add(48 * time.Hour))),
			DependsOn: []string{"job_a", "prep"},
		},
		State:      joule.JobQueued,
		Attempts:   0,
		GPUIndices: []int{0, 3},
		CreatedAt:  stored(base),
		CreatedBy:  "tok_creator",
		UpdatedAt:  stored(base),
	}
}

func mustCreateJob(t *testing.T, s joule.Store, j joule.Job) joule.Job {
	t.Helper()
	if err := s.CreateJob(t.Context(), j, nil); err != nil {
		t.Fatalf("CreateJob(%s): %v", j.ID, err)
	}
	return j
}

func mustGetJob(t *testing.T, s joule.Store, id string) joule.Job {
	t.Helper()
	j, err := s.GetJob(t.Context(), "", id)
	if err != nil {
		t.Fatalf("GetJob(%q): %v", id, err)
	}
	return j
}

func mustTransitions(t *testing.T, s joule.Store, id string) []joule.JobTransition {
	t.Helper()
	trs, err := s.ListJobTransitions(t.Context(), id)
	if err != nil {
		t.Fatalf("ListJobTransitions(%q): %v", id, err)
	}
	return trs
}

func jobIDs(js []joule.Job) []string {
	var ids []string
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	return ids
}

func testJobs(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	other := mustCreateWorkspace(t, s, "ops")

	// Times with nanoseconds, away from UTC, come back truncated in UTC,
	// nested spec times included.
	in := testJob(w.ID, idAt("job", 1), "train")
	in.Spec.NotBefore = ptr(base.Add(time.Hour))
	in.CreatedAt, in.UpdatedAt = base, base
	in.StartAt = ptr(base.Add(2 * time.Hour))
	if err := s.CreateJob(ctx, in, nil); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	want := testJob(w.ID, in.ID, "train")
	want.StartAt = ptr(stored(base.Add(2 * time.Hour)))
	for _, tt := range []struct{ ws, key string }{{w.ID, in.ID}, {"", in.ID}, {w.ID, "train"}, {"", "train"}} {
		got, err := s.GetJob(ctx, tt.ws, tt.key)
		if err != nil {
			t.Fatalf("GetJob(%q, %q): %v", tt.ws, tt.key, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetJob(%q, %q) mismatch (-want +got):\n%s", tt.ws, tt.key, diff)
		}
		if got.CreatedAt.Location() != time.UTC || got.Spec.NotBefore.Location() != time.UTC {
			t.Errorf("GetJob(%q, %q): times not in UTC: %v, %v", tt.ws, tt.key, got.CreatedAt, got.Spec.NotBefore)
		}
	}
	wantTr := []joule.JobTransition{{JobID: in.ID, Time: stored(base), From: "", To: joule.JobQueued, Reason: "submitted"}}
	if diff := cmp.Diff(wantTr, mustTransitions(t, s, in.ID)); diff != "" {
		t.Errorf("ListJobTransitions after CreateJob mismatch (-want +got):\n%s", diff)
	}

	// The newest job of a name wins; the workspace scopes the lookup.
	newer := mustCreateJob(t, s, testJob(w.ID, idAt("job", 3), "train"))
	older := mustCreateJob(t, s, testJob(w.ID, idAt("job", 2), "train"))
	elsewhere := mustCreateJob(t, s, testJob(other.ID, idAt("job", 4), "train"))
	for _, tt := range []struct{ ws, key, want string }{
		{w.ID, "train", newer.ID},
		{"", "train", elsewhere.ID},
		{other.ID, "train", elsewhere.ID},
		{w.ID, older.ID, older.ID},
	} {
		got, err := s.GetJob(ctx, tt.ws, tt.key)
		if err != nil || got.ID != tt.want {
			t.Errorf("GetJob(%q, %q) = %s, %v; want %s", tt.ws, tt.key, got.ID, err, tt.want)
		}
	}
	_, err := s.GetJob(ctx, other.ID, in.ID)
	wantCode(t, "GetJob(ID in another workspace)", err, joule.ENOTFOUND)

	// A given state and reason make the first transition; nil and empty
	// collections, an exit code of 0 and the spec round-trip.
	bare := joule.Job{
		ID: idAt("job", 5), WorkspaceID: w.ID, State: joule.JobScheduled, Reason: "planned for later",
		Spec:     joule.JobSpec{Name: "bare", Command: []string{"true"}, Env: map[string]string{}},
		ExitCode: ptr(0), GPUIndices: []int{}, NodeID: "node_1", Attempts: 2,
		CreatedAt: stored(base), UpdatedAt: stored(base.Add(time.Second)),
		StartedAt: ptr(stored(base)), FinishedAt: ptr(stored(base.Add(time.Minute))),
	}
	mustCreateJob(t, s, bare)
	got := mustGetJob(t, s, bare.ID)
	if diff := cmp.Diff(bare, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetJob(bare) mismatch (-want +got):\n%s", diff)
	}
	if got.GPUIndices == nil || got.ExitCode == nil {
		t.Errorf("GetJob(bare): GPUIndices %#v, ExitCode %v; want empty non-nil and 0", got.GPUIndices, got.ExitCode)
	}
	if got := mustGetJob(t, s, newer.ID); got.ExitCode != nil || got.StartedAt != nil {
		t.Errorf("GetJob: ExitCode %v, StartedAt %v; want nil", got.ExitCode, got.StartedAt)
	}
	nilGPUs := testJob(w.ID, idAt("job", 6), "nil-gpus")
	nilGPUs.GPUIndices = nil
	mustCreateJob(t, s, nilGPUs)
	if got := mustGetJob(t, s, nilGPUs.ID); got.GPUIndices != nil {
		t.Errorf("GetJob: GPUIndices %#v, want nil", got.GPUIndices)
	}
	wantTr = []joule.JobTransition{{JobID: bare.ID, Time: stored(base), To: joule.JobScheduled, Reason: "planned for later", Attempt: 2}}
	if diff := cmp.Diff(wantTr, mustTransitions(t, s, bare.ID)); diff != "" {
		t.Errorf("ListJobTransitions(bare) mismatch (-want +got):\n%s", diff)
	}

	// No state means queued, no UpdatedAt means CreatedAt.
	minimal := joule.Job{ID: idAt("job", 7), WorkspaceID: w.ID, Spec: joule.JobSpec{Name: "min"}, CreatedAt: stored(base)}
	mustCreateJob(t, s, minimal)
	got = mustGetJob(t, s, minimal.ID)
	if got.State != joule.JobQueued || !got.UpdatedAt.Equal(minimal.CreatedAt) {
		t.Errorf("GetJob(minimal): State %q, UpdatedAt %v; want queued, %v", got.State, got.UpdatedAt, minimal.CreatedAt)
	}
	if trs, err := s.ListJobTransitions(ctx, "job_missing"); err != nil || len(trs) != 0 {
		t.Errorf("ListJobTransitions(missing) = %v, %v; want none", trs, err)
	}
}

func testJobErrors(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))

	dup := testJob(w.ID, j.ID, "other")
	wantCode(t, "CreateJob(duplicate ID)", s.CreateJob(ctx, dup, nil), joule.ECONFLICT)
	wantCode(t, "CreateJob(missing workspace)", s.CreateJob(ctx, testJob("ws_missing", idAt("job", 2), "x"), nil), joule.ENOTFOUND)
	wantCode(t, "CreateJob(empty ID)", s.CreateJob(ctx, testJob(w.ID, "", "x"), nil), joule.EINVALID)
	called := false
	err := s.CreateJob(ctx, dup, func(context.Context, any) error { called = true; return nil })
	wantCode(t, "CreateJob(duplicate ID, fn)", err, joule.ECONFLICT)
	if called {
		t.Errorf("CreateJob called fn after failing to insert the job")
	}
	if got := mustGetJob(t, s, j.ID); got.Spec.Name != "train" {
		t.Errorf("duplicate CreateJob changed the job: name %q", got.Spec.Name)
	}
	_, err = s.GetJob(ctx, w.ID, "nope")
	wantCode(t, "GetJob(missing)", err, joule.ENOTFOUND)
	if msg := joule.ErrorMessage(err); !strings.Contains(msg, `"nope"`) {
		t.Errorf("GetJob(missing) message = %q, want it to name %q", msg, "nope")
	}
	_, err = s.GetJob(ctx, "", idAt("job", 9))
	wantCode(t, "GetJob(missing ID)", err, joule.ENOTFOUND)
	nameless := testJob(w.ID, idAt("job", 3), "")
	mustCreateJob(t, s, nameless)
	_, err = s.GetJob(ctx, w.ID, "")
	wantCode(t, "GetJob(\"\")", err, joule.ENOTFOUND)
	for _, cursor := range []string{"!!!not-base64", "Zm9v"} {
		_, _, err := s.ListJobs(ctx, joule.JobFilter{ListOptions: joule.ListOptions{Cursor: cursor}})
		wantCode(t, fmt.Sprintf("ListJobs(cursor %q)", cursor), err, joule.EINVALID)
	}
}

func testListJobs(t *testing.T, s joule.Store) {
	ctx := t.Context()
	a := mustCreateWorkspace(t, s, "a")
	b := mustCreateWorkspace(t, s, "b")
	type spec struct {
		ws    string
		name  string
		state joule.JobState
		node  string
	}
	specs := []spec{
		{a.ID, "train", joule.JobQueued, ""},
		{a.ID, "train", joule.JobRunning, "node_1"},
		{a.ID, "eval", joule.JobRunning, "node_2"},
		{b.ID, "train", joule.JobSucceeded, "node_1"},
		{b.ID, "prep", joule.JobScheduled, "node_1"},
		{a.ID, "eval", joule.JobFailed, "node_1"},
	}
	var ids []string
	for i, sp := range specs {
		j := testJob(sp.ws, idAt("job", i), sp.name)
		j.State, j.NodeID = sp.state, sp.node
		mustCreateJob(t, s, j)
		ids = append(ids, j.ID)
	}
	pick := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, ids[i])
		}
		return out
	}
	tests := []struct {
		name string
		f    joule.JobFilter
		want []string
	}{
		{"all", joule.JobFilter{}, pick(0, 1, 2, 3, 4, 5)},
		{"newest", joule.JobFilter{Newest: true}, pick(5, 4, 3, 2, 1, 0)},
		{"workspace", joule.JobFilter{WorkspaceID: a.ID}, pick(0, 1, 2, 5)},
		{"workspace newest", joule.JobFilter{WorkspaceID: b.ID, Newest: true}, pick(4, 3)},
		{"one state", joule.JobFilter{States: []joule.JobState{joule.JobRunning}}, pick(1, 2)},
		{"states", joule.JobFilter{States: []joule.JobState{joule.JobQueued, joule.JobScheduled, joule.JobFailed}}, pick(0, 4, 5)},
		{"no such state", joule.JobFilter{States: []joule.JobState{joule.JobCancelled}}, nil},
		{"name", joule.JobFilter{Name: "train"}, pick(0, 1, 3)},
		{"node", joule.JobFilter{NodeID: "node_1"}, pick(1, 3, 4, 5)},
		{"combined", joule.JobFilter{WorkspaceID: a.ID, NodeID: "node_1", States: []joule.JobState{joule.JobRunning, joule.JobFailed}, Newest: true}, pick(5, 1)},
		{"missing workspace", joule.JobFilter{WorkspaceID: "ws_missing"}, nil},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 50} {
			got := listAll(t, "ListJobs "+tt.name, limit, func(c string) ([]joule.Job, string, error) {
				f := tt.f
				f.ListOptions = joule.ListOptions{Limit: limit, Cursor: c}
				return s.ListJobs(ctx, f)
			})
			if diff := cmp.Diff(tt.want, jobIDs(got)); diff != "" {
				t.Errorf("ListJobs(%s, limit %d) IDs mismatch (-want +got):\n%s", tt.name, limit, diff)
			}
		}
	}
	// Listed jobs are whole.
	got, _, err := s.ListJobs(ctx, joule.JobFilter{Name: "prep"})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListJobs(prep) = %d jobs, %v; want 1", len(got), err)
	}
	want := testJob(b.ID, ids[4], "prep")
	want.State, want.NodeID = joule.JobScheduled, "node_1"
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("ListJobs(prep) mismatch (-want +got):\n%s", diff)
	}
}

func testListJobsPaging(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	var ids []string
	for i := range 7 {
		ids = append(ids, mustCreateJob(t, s, testJob(w.ID, idAt("job", i), fmt.Sprintf("j%d", i))).ID)
	}
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	for _, limit := range []int{1, 3, 7, 50} {
		for _, newest := range []bool{false, true} {
			got := listAll(t, "ListJobs", limit, func(c string) ([]joule.Job, string, error) {
				return s.ListJobs(ctx, joule.JobFilter{WorkspaceID: w.ID, Newest: newest, ListOptions: joule.ListOptions{Limit: limit, Cursor: c}})
			})
			want := ids
			if newest {
				want = rev
			}
			if diff := cmp.Diff(want, jobIDs(got)); diff != "" {
				t.Errorf("ListJobs(newest %v) pages of %d mismatch (-want +got):\n%s", newest, limit, diff)
			}
		}
	}
}

func testUpdateJob(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))

	// queued → scheduled, with UpdatedAt set by the change.
	at := base.Add(time.Minute) // nanoseconds: stored truncated
	got, err := s.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued}, "placed on node_1", func(j *joule.Job) error {
		j.State, j.NodeID, j.GPUIndices, j.UpdatedAt = joule.JobScheduled, "node_1", []int{1}, at
		j.Reason = "waiting for a worker"
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("UpdateJob(→scheduled): %v", err)
	}
	want := j
	want.State, want.NodeID, want.GPUIndices, want.UpdatedAt = joule.JobScheduled, "node_1", []int{1}, stored(at)
	want.Reason = "waiting for a worker"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UpdateJob(→scheduled) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mustGetJob(t, s, j.ID)); diff != "" {
		t.Errorf("GetJob after UpdateJob mismatch (-want +got):\n%s", diff)
	}

	// scheduled → running without setting UpdatedAt: the store moves it on.
	got, err = s.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued, joule.JobScheduled}, "started", func(j *joule.Job) error {
		j.State, j.Attempts, j.StartedAt = joule.JobRunning, 1, ptr(stored(base.Add(2*time.Minute)))
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("UpdateJob(→running): %v", err)
	}
	if !got.UpdatedAt.After(want.UpdatedAt) || got.UpdatedAt.Location() != time.UTC || got.UpdatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("UpdateJob without UpdatedAt: UpdatedAt %v, want a UTC microsecond after %v", got.UpdatedAt, want.UpdatedAt)
	}
	runningAt := got.UpdatedAt

	// A change that keeps the state records no transition; a nil from
	// accepts any state; the name follows the spec.
	got, err = s.UpdateJob(ctx, j.ID, nil, "ignored", func(j *joule.Job) error {
		j.Spec.Name, j.Spec.Env = "renamed", nil
		j.UpdatedAt = runningAt.Add(time.Second)
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("UpdateJob(rename): %v", err)
	}
	if got.Spec.Name != "renamed" || got.Spec.Env != nil || got.State != joule.JobRunning {
		t.Errorf("UpdateJob(rename) = name %q, env %v, state %q", got.Spec.Name, got.Spec.Env, got.State)
	}
	if g, err := s.GetJob(ctx, w.ID, "renamed"); err != nil || g.ID != j.ID {
		t.Errorf("GetJob(renamed) = %s, %v; want %s", g.ID, err, j.ID)
	}
	if _, err := s.GetJob(ctx, w.ID, "train"); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("GetJob(old name) = %v, want ENOTFOUND", err)
	}

	// running → succeeded with an exit code; an UpdatedAt not after the
	// stored one is replaced.
	got, err = s.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobRunning}, "exit 0", func(j *joule.Job) error {
		j.State, j.ExitCode, j.FinishedAt = joule.JobSucceeded, ptr(0), ptr(stored(base.Add(3*time.Minute)))
		j.UpdatedAt = base
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("UpdateJob(→succeeded): %v", err)
	}
	if got.ExitCode == nil || *got.ExitCode != 0 || !got.UpdatedAt.After(runningAt.Add(time.Second)) {
		t.Errorf("UpdateJob(→succeeded): ExitCode %v, UpdatedAt %v; want 0, after %v", got.ExitCode, got.UpdatedAt, runningAt.Add(time.Second))
	}
	wantTr := []joule.JobTransition{
		{JobID: j.ID, Time: stored(base), From: "", To: joule.JobQueued, Reason: "submitted"},
		{JobID: j.ID, Time: stored(at), From: joule.JobQueued, To: joule.JobScheduled, Reason: "placed on node_1"},
		{JobID: j.ID, Time: runningAt, From: joule.JobScheduled, To: joule.JobRunning, Reason: "started", Attempt: 1},
		{JobID: j.ID, Time: got.UpdatedAt, From: joule.JobRunning, To: joule.JobSucceeded, Reason: "exit 0", Attempt: 1},
	}
	if diff := cmp.Diff(wantTr, mustTransitions(t, s, j.ID)); diff != "" {
		t.Errorf("ListJobTransitions mismatch (-want +got):\n%s", diff)
	}

	// The state check: a terminal job cannot start again.
	_, err = s.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued, joule.JobScheduled}, "again", func(j *joule.Job) error {
		j.State = joule.JobRunning
		return nil
	}, nil)
	wantCode(t, "UpdateJob(from queued|scheduled on a succeeded job)", err, joule.ECONFLICT)
	if msg := joule.ErrorMessage(err); !strings.Contains(msg, string(joule.JobSucceeded)) || !strings.Contains(msg, j.ID) {
		t.Errorf("UpdateJob conflict message = %q, want it to name the job and its state", msg)
	}
	if n := len(mustTransitions(t, s, j.ID)); n != 4 {
		t.Errorf("after a refused UpdateJob: %d transitions, want 4", n)
	}
}

func testUpdateJobErrors(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	toRunning := func(j *joule.Job) error { j.State = joule.JobRunning; return nil }

	_, err := s.UpdateJob(ctx, "job_missing", nil, "x", toRunning, nil)
	wantCode(t, "UpdateJob(missing)", err, joule.ENOTFOUND)

	errBoom := errors.New("boom")
	_, err = s.UpdateJob(ctx, j.ID, nil, "x", func(j *joule.Job) error { j.State = joule.JobRunning; return errBoom }, nil)
	if err != errBoom {
		t.Errorf("UpdateJob(change fails) = %v, want the change's error as is", err)
	}
	for name, change := range map[string]func(*joule.Job) error{
		"ID":          func(j *joule.Job) error { j.ID = "job_other"; return nil },
		"WorkspaceID": func(j *joule.Job) error { j.WorkspaceID = "ws_other"; return nil },
		"CreatedAt":   func(j *joule.Job) error { j.CreatedAt = j.CreatedAt.Add(time.Hour); return nil },
	} {
		_, err := s.UpdateJob(ctx, j.ID, nil, "x", change, nil)
		wantCode(t, "UpdateJob(change of "+name+")", err, joule.EINVALID)
	}
	_, err = s.UpdateJob(ctx, j.ID, nil, "x", toRunning, func(context.Context, any) error { return errBoom })
	if !errors.Is(err, errBoom) {
		t.Errorf("UpdateJob(fn fails) = %v, want fn's error", err)
	}
	if diff := cmp.Diff(j, mustGetJob(t, s, j.ID)); diff != "" {
		t.Errorf("failed UpdateJobs changed the job (-want +got):\n%s", diff)
	}
	if n := len(mustTransitions(t, s, j.ID)); n != 1 {
		t.Errorf("failed UpdateJobs left %d transitions, want 1", n)
	}
	// An empty from accepts no state.
	_, err = s.UpdateJob(ctx, j.ID, []joule.JobState{}, "x", toRunning, nil)
	wantCode(t, "UpdateJob(empty from)", err, joule.ECONFLICT)
}

func testUpdateJobRace(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	const racers = 10
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Go(func() {
			_, errs[i] = s.UpdateJob(ctx, j.ID, []joule.JobState{joule.JobQueued}, "started", func(j *joule.Job) error {
				j.State, j.NodeID, j.Attempts = joule.JobRunning, fmt.Sprintf("node_%d", i), 1
				return nil
			}, nil)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch joule.ErrorCode(err) {
		case "":
			if winner >= 0 {
				t.Errorf("racers %d and %d both moved the job from queued to running", winner, i)
			}
			winner = i
		case joule.ECONFLICT:
		default:
			t.Errorf("racer %d: %v, want nil or ECONFLICT", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer moved the job to running")
	}
	got := mustGetJob(t, s, j.ID)
	if got.State != joule.JobRunning || got.NodeID != fmt.Sprintf("node_%d", winner) {
		t.Errorf("after the race: state %q, node %q; want running on node_%d", got.State, got.NodeID, winner)
	}
	if trs := mustTransitions(t, s, j.ID); len(trs) != 2 {
		t.Errorf("after the race: %d transitions, want 2: %v", len(trs), trs)
	}
}

func testUpdateJobSerialises(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	const writers = 10
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			if _, err := s.UpdateJob(ctx, j.ID, nil, "", func(j *joule.Job) error { j.Attempts++; return nil }, nil); err != nil {
				t.Errorf("UpdateJob: %v", err)
			}
		})
	}
	wg.Wait()
	if got := mustGetJob(t, s, j.ID); got.Attempts != writers {
		t.Errorf("after %d concurrent increments Attempts = %d: updates were lost", writers, got.Attempts)
	}
}

func testJobTxFuncRollback(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	errBoom := errors.New("enqueue failed")
	j := testJob(w.ID, idAt("job", 1), "train")
	var gotTx any
	err := s.CreateJob(ctx, j, func(_ context.Context, tx any) error { gotTx = tx; return errBoom })
	if !errors.Is(err, errBoom) {
		t.Errorf("CreateJob(fn fails) = %v, want fn's error", err)
	}
	if gotTx == nil {
		t.Errorf("CreateJob passed fn a nil transaction")
	}
	_, err = s.GetJob(ctx, "", j.ID)
	wantCode(t, "GetJob after a rolled back CreateJob", err, joule.ENOTFOUND)
	if trs := mustTransitions(t, s, j.ID); len(trs) != 0 {
		t.Errorf("rolled back CreateJob left transitions %v", trs)
	}
	// fn's joule error keeps its code.
	err = s.CreateJob(ctx, j, func(context.Context, any) error { return joule.Errorf(joule.EUNAVAILABLE, "queue down") })
	wantCode(t, "CreateJob(fn fails with EUNAVAILABLE)", err, joule.EUNAVAILABLE)

	// The same ID can then be created, and fn is called once.
	calls := 0
	if err := s.CreateJob(ctx, j, func(_ context.Context, tx any) error {
		calls++
		if tx == nil {
			t.Errorf("CreateJob passed fn a nil transaction")
		}
		return nil
	}); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if calls != 1 {
		t.Errorf("CreateJob called fn %d times, want 1", calls)
	}
	gotTx = nil
	if _, err := s.UpdateJob(ctx, j.ID, nil, "x", nil, func(_ context.Context, tx any) error { gotTx = tx; return nil }); err != nil {
		t.Fatalf("UpdateJob(nil change): %v", err)
	}
	if gotTx == nil {
		t.Errorf("UpdateJob passed fn a nil transaction")
	}
}

func testAttempts(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	other := mustCreateJob(t, s, testJob(w.ID, idAt("job", 2), "other"))

	a2 := joule.Attempt{JobID: j.ID, N: 2, NodeID: "node_2", PID: 4242, State: joule.JobRunning,
		StartedAt: base.Add(time.Hour), LogPath: "/var/lib/joule/logs/2.log", Limits: "cgroup v2"}
	a1 := joule.Attempt{JobID: j.ID, N: 1, NodeID: "node_1", PID: 17, State: joule.JobFailed, Reason: "exit 1",
		ExitCode: ptr(1), Signal: "", StartedAt: base, FinishedAt: ptr(base.Add(time.Minute)),
		LogPath: "/var/lib/joule/logs/1.log", Limits: "none: not root", CPUUserSec: 12.5, CPUSysSec: 0.25, PeakMemory: 3 << 30}
	for _, a := range []joule.Attempt{a2, a1, {JobID: other.ID, N: 1, StartedAt: base}} {
		if err := s.PutAttempt(ctx, a); err != nil {
			t.Fatalf("PutAttempt(%s, %d): %v", a.JobID, a.N, err)
		}
	}
	norm := func(a joule.Attempt) joule.Attempt {
		a.StartedAt = stored(a.StartedAt)
		if a.FinishedAt != nil {
			a.FinishedAt = ptr(stored(*a.FinishedAt))
		}
		return a
	}
	got, err := s.ListAttempts(ctx, j.ID)
	if err != nil {
		t.Fatalf("ListAttempts: %v", err)
	}
	if diff := cmp.Diff([]joule.Attempt{norm(a1), norm(a2)}, got); diff != "" {
		t.Errorf("ListAttempts mismatch (-want +got):\n%s", diff)
	}

	// Putting attempt 2 again replaces it.
	a2.State, a2.ExitCode, a2.Signal, a2.Reason = joule.JobCancelled, ptr(-1), "SIGKILL", "cancelled by tok_x"
	a2.FinishedAt, a2.CPUUserSec, a2.PeakMemory, a2.PID = ptr(base.Add(2*time.Hour)), 99.75, 1<<20, 0
	if err := s.PutAttempt(ctx, a2); err != nil {
		t.Fatalf("PutAttempt(replace): %v", err)
	}
	got, err = s.ListAttempts(ctx, j.ID)
	if err != nil {
		t.Fatalf("ListAttempts: %v", err)
	}
	if diff := cmp.Diff([]joule.Attempt{norm(a1), norm(a2)}, got); diff != "" {
		t.Errorf("ListAttempts after replace mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.ListAttempts(ctx, "job_missing"); err != nil || len(got) != 0 {
		t.Errorf("ListAttempts(missing) = %v, %v; want none", got, err)
	}
	wantCode(t, "PutAttempt(missing job)", s.PutAttempt(ctx, joule.Attempt{JobID: "job_missing", N: 1, StartedAt: base}), joule.ENOTFOUND)
	wantCode(t, "PutAttempt(N 0)", s.PutAttempt(ctx, joule.Attempt{JobID: j.ID, N: 0, StartedAt: base}), joule.EINVALID)
}

// testEnergy returns a JobEnergy whose floats do not survive a careless
// round trip: binary fractions, the extremes of float64, a subnormal.
func testEnergy(method string) *joule.JobEnergy {
	return &joule.JobEnergy{
		Joules:           0.1 + 0.2,
		MeasuredJoules:   1.0 / 3,
		EstimatedJoules:  2.0/3 - 0.1,
		Method:           method,
		EmissionsG:       math.MaxFloat64,
		IntensityGPerKWh: math.SmallestNonzeroFloat64,
		IntensitySource:  "static: world average",
		PUE:              1.58,
		Cost:             1e-7,
		Currency:         "EUR",
	}
}

func testJobEnergy(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	withEnergy := testJob(w.ID, idAt("job", 2), "measured")
	withEnergy.Energy = testEnergy("measured:rapl; attribution: cpu-time share")
	mustCreateJob(t, s, withEnergy)

	// nil stays nil; a value given to CreateJob round-trips.
	if got := mustGetJob(t, s, j.ID); got.Energy != nil {
		t.Errorf("GetJob of a job without energy: Energy = %+v, want nil", got.Energy)
	}
	if diff := cmp.Diff(withEnergy, mustGetJob(t, s, withEnergy.ID)); diff != "" {
		t.Errorf("GetJob of a job created with energy mismatch (-want +got):\n%s", diff)
	}

	// UpdateJob sets it.
	e := testEnergy("estimated:tdp-curve@1; attribution: cpu-time share")
	e.Currency = "" // omitempty: "" comes back ""
	got, err := s.UpdateJob(ctx, j.ID, nil, "", func(j *joule.Job) error {
		j.Energy = e
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("UpdateJob(set energy): %v", err)
	}
	want := j
	want.Energy, want.UpdatedAt = e, got.UpdatedAt
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UpdateJob(set energy) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mustGetJob(t, s, j.ID)); diff != "" {
		t.Errorf("GetJob after UpdateJob(set energy) mismatch (-want +got):\n%s", diff)
	}
	js, _, err := s.ListJobs(ctx, joule.JobFilter{WorkspaceID: w.ID})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	if diff := cmp.Diff([]joule.Job{want, withEnergy}, js); diff != "" {
		t.Errorf("ListJobs with energy mismatch (-want +got):\n%s", diff)
	}

	// A change that leaves it alone keeps it; one that sets nil clears it.
	got, err = s.UpdateJob(ctx, j.ID, nil, "", func(j *joule.Job) error { j.Reason = "kept"; return nil }, nil)
	if err != nil {
		t.Fatalf("UpdateJob(keep energy): %v", err)
	}
	if diff := cmp.Diff(e, got.Energy); diff != "" {
		t.Errorf("UpdateJob that leaves Energy alone mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.UpdateJob(ctx, j.ID, nil, "", func(j *joule.Job) error { j.Energy = nil; return nil }, nil); err != nil {
		t.Fatalf("UpdateJob(clear energy): %v", err)
	}
	if got := mustGetJob(t, s, j.ID); got.Energy != nil {
		t.Errorf("GetJob after clearing Energy: %+v, want nil", got.Energy)
	}

	// JSON holds no NaN: EINVALID, and nothing stored.
	_, err = s.UpdateJob(ctx, withEnergy.ID, nil, "", func(j *joule.Job) error {
		j.Energy = &joule.JobEnergy{Joules: math.NaN()}
		return nil
	}, nil)
	wantCode(t, "UpdateJob(NaN energy)", err, joule.EINVALID)
	if diff := cmp.Diff(withEnergy, mustGetJob(t, s, withEnergy.ID)); diff != "" {
		t.Errorf("GetJob after a refused UpdateJob(NaN energy) mismatch (-want +got):\n%s", diff)
	}
	bad := testJob(w.ID, idAt("job", 3), "bad")
	bad.Energy = &joule.JobEnergy{Cost: math.Inf(1)}
	wantCode(t, "CreateJob(infinite energy)", s.CreateJob(ctx, bad, nil), joule.EINVALID)
}

func testAttemptEnergy(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))

	a1 := joule.Attempt{JobID: j.ID, N: 1, NodeID: "node_1", State: joule.JobFailed, StartedAt: stored(base),
		FinishedAt: ptr(stored(base.Add(time.Minute))), Energy: testEnergy("measured:rapl")}
	a2 := joule.Attempt{JobID: j.ID, N: 2, NodeID: "node_1", State: joule.JobRunning, StartedAt: stored(base.Add(time.Hour))}
	list := func(what string, want ...joule.Attempt) {
		t.Helper()
		got, err := s.ListAttempts(ctx, j.ID)
		if err != nil {
			t.Fatalf("ListAttempts (%s): %v", what, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListAttempts (%s) mismatch (-want +got):\n%s", what, diff)
		}
	}
	for _, a := range []joule.Attempt{a1, a2} {
		if err := s.PutAttempt(ctx, a); err != nil {
			t.Fatalf("PutAttempt(%d): %v", a.N, err)
		}
	}
	list("one with energy, one without", a1, a2)

	// Replacing sets and clears it.
	a1.Energy, a2.Energy = nil, testEnergy("estimated:tdp-curve@1")
	for _, a := range []joule.Attempt{a1, a2} {
		if err := s.PutAttempt(ctx, a); err != nil {
			t.Fatalf("PutAttempt(%d, replace): %v", a.N, err)
		}
	}
	list("after replace", a1, a2)

	bad := a2
	bad.Energy = &joule.JobEnergy{EmissionsG: math.Inf(-1)}
	wantCode(t, "PutAttempt(infinite energy)", s.PutAttempt(ctx, bad), joule.EINVALID)
	list("after a refused PutAttempt", a1, a2)
}

func testJobMetrics(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	other := mustCreateJob(t, s, testJob(w.ID, idAt("job", 2), "other"))

	// Out of time and name order on purpose: the order reported is kept.
	first := []joule.Metric{
		{Name: "loss", Value: 0.9, Step: ptr(int64(1)), Time: base.Add(time.Second)},
		{Name: "accuracy", Value: 0.1, Step: ptr(int64(0)), Time: base},
		{Name: "loss", Value: 0.5, Step: ptr(int64(2)), Time: base.Add(2 * time.Second)},
		{Name: "throughput", Value: -1e300, Time: base},
	}
	second := []joule.Metric{
		{Name: "loss", Value: 0.25, Step: ptr(int64(1) << 40), Time: base.Add(time.Minute)},
		{Name: "final", Value: 0, Time: base.Add(time.Hour)},
	}
	if err := s.AppendJobMetrics(ctx, j.ID, 1, first); err != nil {
		t.Fatalf("AppendJobMetrics: %v", err)
	}
	if err := s.AppendJobMetrics(ctx, other.ID, 1, []joule.Metric{{Name: "x", Value: 1, Time: base}}); err != nil {
		t.Fatalf("AppendJobMetrics(other): %v", err)
	}
	if err := s.AppendJobMetrics(ctx, j.ID, 2, second); err != nil {
		t.Fatalf("AppendJobMetrics: %v", err)
	}
	if err := s.AppendJobMetrics(ctx, j.ID, 2, nil); err != nil {
		t.Fatalf("AppendJobMetrics(none): %v", err)
	}
	var want []joule.Metric
	for _, m := range slices.Concat(first, second) {
		m.Time = stored(m.Time)
		want = append(want, m)
	}
	got, err := s.ListJobMetrics(ctx, j.ID)
	if err != nil {
		t.Fatalf("ListJobMetrics: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListJobMetrics mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.ListJobMetrics(ctx, "job_missing"); err != nil || len(got) != 0 {
		t.Errorf("ListJobMetrics(missing) = %v, %v; want none", got, err)
	}
	err = s.AppendJobMetrics(ctx, "job_missing", 1, []joule.Metric{{Name: "x", Value: 1, Time: base}})
	wantCode(t, "AppendJobMetrics(missing job)", err, joule.ENOTFOUND)
}

func testUsage(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	sample := func(sec int, pids []int) joule.UsageSample {
		return joule.UsageSample{
			Time: base.Add(time.Duration(sec) * time.Second), CPUUserSec: float64(sec) * 1.5, CPUSystemSec: float64(sec) / 4,
			MemoryBytes: int64(sec) << 20, Processes: sec + 1, GPUPIDs: pids,
		}
	}
	attempt1 := []joule.UsageSample{sample(0, nil), sample(5, []int{}), sample(10, []int{101, 102})}
	if err := s.AppendUsage(ctx, j.ID, 1, attempt1[:2]); err != nil {
		t.Fatalf("AppendUsage: %v", err)
	}
	if err := s.AppendUsage(ctx, j.ID, 2, []joule.UsageSample{sample(60, []int{7})}); err != nil {
		t.Fatalf("AppendUsage(attempt 2): %v", err)
	}
	if err := s.AppendUsage(ctx, j.ID, 1, attempt1[2:]); err != nil {
		t.Fatalf("AppendUsage: %v", err)
	}
	norm := func(us []joule.UsageSample) []joule.UsageSample {
		var out []joule.UsageSample
		for _, u := range us {
			u.Time = stored(u.Time)
			out = append(out, u)
		}
		return out
	}
	got, err := s.ListUsage(ctx, j.ID, 1)
	if err != nil {
		t.Fatalf("ListUsage: %v", err)
	}
	if diff := cmp.Diff(norm(attempt1), got); diff != "" {
		t.Errorf("ListUsage(attempt 1) mismatch (-want +got):\n%s", diff)
	}
	if got[0].GPUPIDs != nil || got[1].GPUPIDs == nil {
		t.Errorf("ListUsage: GPUPIDs %#v and %#v, want nil and empty", got[0].GPUPIDs, got[1].GPUPIDs)
	}
	got, err = s.ListUsage(ctx, j.ID, 2)
	if err != nil {
		t.Fatalf("ListUsage: %v", err)
	}
	if diff := cmp.Diff(norm([]joule.UsageSample{sample(60, []int{7})}), got); diff != "" {
		t.Errorf("ListUsage(attempt 2) mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.ListUsage(ctx, j.ID, 3); err != nil || len(got) != 0 {
		t.Errorf("ListUsage(attempt 3) = %v, %v; want none", got, err)
	}
	wantCode(t, "AppendUsage(missing job)", s.AppendUsage(ctx, "job_missing", 1, attempt1), joule.ENOTFOUND)
}

func testSchedule(wsID, id, name string) joule.Schedule {
	return joule.Schedule{
		ID: id, WorkspaceID: wsID, Name: name, Cron: "0 3 * * *",
		Spec:      joule.JobSpec{Name: name, Kind: joule.JobKindCommand, Command: []string{"make", "nightly"}, Priority: 5, Resources: joule.Resources{CPUMillis: 1000}},
		CreatedAt: stored(base), CreatedBy: "tok_creator", NextRunAt: stored(base.Add(12 * time.Hour)),
	}
}

func testSchedules(t *testing.T, s joule.Store) {
	ctx := t.Context()
	a := mustCreateWorkspace(t, s, "a")
	b := mustCreateWorkspace(t, s, "b")
	nightly := testSchedule(a.ID, idAt("sch", 1), "nightly")
	hourly := testSchedule(a.ID, idAt("sch", 2), "hourly")
	hourly.Cron, hourly.Paused = "0 * * * *", true
	hourly.LastRunAt, hourly.LastJobID = ptr(base.Add(-time.Hour)), "job_last" // nanoseconds: stored truncated
	bNightly := testSchedule(b.ID, idAt("sch", 3), "nightly")
	for _, sc := range []joule.Schedule{nightly, hourly, bNightly} {
		if err := s.CreateSchedule(ctx, sc); err != nil {
			t.Fatalf("CreateSchedule(%s): %v", sc.Name, err)
		}
	}
	hourly.LastRunAt = ptr(stored(*hourly.LastRunAt))
	for _, tt := range []struct {
		ws, key string
		want    joule.Schedule
	}{
		{a.ID, nightly.ID, nightly},
		{"", nightly.ID, nightly},
		{a.ID, "nightly", nightly},
		{a.ID, "hourly", hourly},
		{b.ID, "nightly", bNightly},
		{"", "nightly", bNightly}, // the newest of the name
	} {
		got, err := s.GetSchedule(ctx, tt.ws, tt.key)
		if err != nil {
			t.Fatalf("GetSchedule(%q, %q): %v", tt.ws, tt.key, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("GetSchedule(%q, %q) mismatch (-want +got):\n%s", tt.ws, tt.key, diff)
		}
	}
	for _, tt := range []struct {
		ws   string
		want []joule.Schedule
	}{
		{a.ID, []joule.Schedule{nightly, hourly}},
		{b.ID, []joule.Schedule{bNightly}},
		{"", []joule.Schedule{nightly, hourly, bNightly}},
		{"ws_missing", nil},
	} {
		for _, limit := range []int{1, 2, 50} {
			got := listAll(t, "ListSchedules", limit, func(c string) ([]joule.Schedule, string, error) {
				return s.ListSchedules(ctx, tt.ws, joule.ListOptions{Limit: limit, Cursor: c})
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ListSchedules(%q, limit %d) mismatch (-want +got):\n%s", tt.ws, limit, diff)
			}
		}
	}

	// UpdateSchedule replaces the mutable fields and keeps the creation.
	upd := nightly
	upd.Name, upd.Cron, upd.Paused = "nightly-2", "30 2 * * 1-5", true
	upd.Spec.Command = []string{"make", "nightly2"}
	upd.LastRunAt, upd.NextRunAt, upd.LastJobID = ptr(stored(base.Add(time.Hour))), stored(base.Add(25*time.Hour)), "job_x"
	upd.CreatedAt, upd.CreatedBy = stored(base.Add(time.Hour)), "tok_other"
	if err := s.UpdateSchedule(ctx, upd); err != nil {
		t.Fatalf("UpdateSchedule: %v", err)
	}
	want := upd
	want.CreatedAt, want.CreatedBy = nightly.CreatedAt, nightly.CreatedBy
	got, err := s.GetSchedule(ctx, a.ID, "nightly-2")
	if err != nil {
		t.Fatalf("GetSchedule after update: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetSchedule after UpdateSchedule mismatch (-want +got):\n%s", diff)
	}
	// Clearing LastRunAt and unpausing.
	upd.LastRunAt, upd.Paused = nil, false
	if err := s.UpdateSchedule(ctx, upd); err != nil {
		t.Fatalf("UpdateSchedule: %v", err)
	}
	if got, err := s.GetSchedule(ctx, "", nightly.ID); err != nil || got.LastRunAt != nil || got.Paused {
		t.Errorf("GetSchedule after clearing = LastRunAt %v, Paused %v, %v; want nil, false", got.LastRunAt, got.Paused, err)
	}
}

func testScheduleErrors(t *testing.T, s joule.Store) {
	ctx := t.Context()
	a := mustCreateWorkspace(t, s, "a")
	b := mustCreateWorkspace(t, s, "b")
	sc := testSchedule(a.ID, idAt("sch", 1), "nightly")
	if err := s.CreateSchedule(ctx, sc); err != nil {
		t.Fatalf("CreateSchedule: %v", err)
	}
	other := testSchedule(a.ID, idAt("sch", 2), "weekly")
	if err := s.CreateSchedule(ctx, other); err != nil {
		t.Fatalf("CreateSchedule: %v", err)
	}
	err := s.CreateSchedule(ctx, testSchedule(a.ID, idAt("sch", 3), "nightly"))
	wantCode(t, "CreateSchedule(duplicate name)", err, joule.ECONFLICT)
	if msg := joule.ErrorMessage(err); !strings.Contains(msg, `name "nightly"`) {
		t.Errorf("duplicate schedule name message = %q, want it to name the field", msg)
	}
	wantCode(t, "CreateSchedule(duplicate ID)", s.CreateSchedule(ctx, testSchedule(b.ID, sc.ID, "fresh")), joule.ECONFLICT)
	wantCode(t, "CreateSchedule(missing workspace)", s.CreateSchedule(ctx, testSchedule("ws_missing", idAt("sch", 4), "x")), joule.ENOTFOUND)
	wantCode(t, "CreateSchedule(empty ID)", s.CreateSchedule(ctx, testSchedule(a.ID, "", "x")), joule.EINVALID)
	_, err = s.GetSchedule(ctx, a.ID, "nope")
	wantCode(t, "GetSchedule(missing)", err, joule.ENOTFOUND)
	_, err = s.GetSchedule(ctx, b.ID, sc.ID)
	wantCode(t, "GetSchedule(ID in another workspace)", err, joule.ENOTFOUND)

	wantCode(t, "UpdateSchedule(missing)", s.UpdateSchedule(ctx, testSchedule(a.ID, "sch_missing", "x")), joule.ENOTFOUND)
	moved := sc
	moved.WorkspaceID = b.ID
	wantCode(t, "UpdateSchedule(another workspace)", s.UpdateSchedule(ctx, moved), joule.ENOTFOUND)
	clash := other
	clash.Name = "nightly"
	wantCode(t, "UpdateSchedule(name taken)", s.UpdateSchedule(ctx, clash), joule.ECONFLICT)
	if got, err := s.GetSchedule(ctx, a.ID, other.ID); err != nil || got.Name != "weekly" {
		t.Errorf("GetSchedule after refused updates = %q, %v; want weekly", got.Name, err)
	}
	for _, cursor := range []string{"!!!not-base64", "Zm9v"} {
		_, _, err := s.ListSchedules(ctx, "", joule.ListOptions{Cursor: cursor})
		wantCode(t, fmt.Sprintf("ListSchedules(cursor %q)", cursor), err, joule.EINVALID)
	}
}

func testCreateJobTx(t *testing.T, s joule.Store, q TxQuery) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := testJob(w.ID, idAt("job", 1), "train")
	mark := func(tx any, desc string) error {
		n, err := q(ctx, tx, "UPDATE workspaces SET description = $1 WHERE id = $2 RETURNING 1", desc, w.ID)
		if err != nil || n != 1 {
			return fmt.Errorf("update through the transaction = %d, %v", n, err)
		}
		return nil
	}

	// What fn writes rolls back with the job.
	errBoom := errors.New("boom")
	err := s.CreateJob(ctx, j, func(ctx context.Context, tx any) error {
		if err := mark(tx, "rolled back"); err != nil {
			t.Error(err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("CreateJob(fn fails) = %v, want fn's error", err)
	}
	if got, err := s.GetWorkspace(ctx, w.ID); err != nil || got.Description != w.Description {
		t.Errorf("after a rolled back CreateJob, workspace description = %q, %v; want %q", got.Description, err, w.Description)
	}

	// fn sees the job and its transition, and its writes commit with them.
	err = s.CreateJob(ctx, j, func(ctx context.Context, tx any) error {
		n, err := q(ctx, tx, "SELECT count(*) FROM jobs WHERE id = $1 AND state = $2", j.ID, string(joule.JobQueued))
		if err != nil || n != 1 {
			t.Errorf("fn: jobs with the new ID = %d, %v; want 1", n, err)
		}
		n, err = q(ctx, tx, "SELECT count(*) FROM job_transitions WHERE job_id = $1", j.ID)
		if err != nil || n != 1 {
			t.Errorf("fn: transitions of the new job = %d, %v; want 1", n, err)
		}
		return mark(tx, "committed")
	})
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if got, err := s.GetWorkspace(ctx, w.ID); err != nil || got.Description != "committed" {
		t.Errorf("after CreateJob, workspace description = %q, %v; want %q", got.Description, err, "committed")
	}
}

func testUpdateJobTx(t *testing.T, s joule.Store, q TxQuery) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	j := mustCreateJob(t, s, testJob(w.ID, idAt("job", 1), "train"))
	toRunning := func(j *joule.Job) error { j.State = joule.JobRunning; return nil }
	errBoom := errors.New("boom")
	_, err := s.UpdateJob(ctx, j.ID, nil, "started", toRunning, func(ctx context.Context, tx any) error {
		if n, err := q(ctx, tx, "UPDATE workspaces SET description = $1 WHERE id = $2 RETURNING 1", "rolled back", w.ID); err != nil || n != 1 {
			t.Errorf("update through the transaction = %d, %v", n, err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("UpdateJob(fn fails) = %v, want fn's error", err)
	}
	if got, err := s.GetWorkspace(ctx, w.ID); err != nil || got.Description != w.Description {
		t.Errorf("after a rolled back UpdateJob, workspace description = %q, %v; want %q", got.Description, err, w.Description)
	}
	if got := mustGetJob(t, s, j.ID); got.State != joule.JobQueued {
		t.Errorf("after a rolled back UpdateJob, state %q, want queued", got.State)
	}
	_, err = s.UpdateJob(ctx, j.ID, nil, "started", toRunning, func(ctx context.Context, tx any) error {
		n, err := q(ctx, tx, "SELECT count(*) FROM jobs WHERE id = $1 AND state = $2", j.ID, string(joule.JobRunning))
		if err != nil || n != 1 {
			t.Errorf("fn: running jobs with the ID = %d, %v; want 1", n, err)
		}
		n, err = q(ctx, tx, "SELECT count(*) FROM job_transitions WHERE job_id = $1", j.ID)
		if err != nil || n != 2 {
			t.Errorf("fn: transitions = %d, %v; want 2", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
}
