package serving

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/compute"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/model"
	"github.com/joule-dev/joule/internal/sqlite"
)

// loop is a retraining loop on a real store, dataset and model layer.
// Train jobs are real jobs in the store whose work (model.Train and the
// version's registration) runs in process, as `joule model train-run`
// does in its own process; cmd/joule's TestRetrainEndToEnd runs them
// through the real queue.
type loop struct {
	store  *sqlite.DB
	ws     joule.Workspace
	dir    string
	clock  *fakeClock
	data   *dataset.Service
	models *model.Service
	mgr    *Manager
	lc     *Lifecycle
	// held, when set, receives each train job's work instead of running
	// it: the job stays queued until the test runs the work.
	held chan func() error
}

func newLoop(t *testing.T) *loop {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", now), Name: "retrain", CreatedAt: now}
	if err := db.CreateWorkspace(ctx, ws); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	l := &loop{store: db, ws: ws, dir: dir, clock: &fakeClock{t: now}}
	engine := dataset.EngineConfig{TempDir: filepath.Join(dir, "datasets", "tmp")}
	if err := os.MkdirAll(engine.TempDir, 0o700); err != nil {
		t.Fatal(err)
	}
	l.data = &dataset.Service{Store: db, DataDir: dir, Engine: engine}
	l.models = &model.Service{Store: db, DataDir: dir, Engine: engine, Executable: "joule", Submit: l.runJob}
	l.mgr = NewManager(Config{Store: db, DataDir: dir, Now: l.clock.Now, Engine: engine,
		LifecycleStatus: func(id string) *joule.LifecycleStatus { return l.lc.Status(id) }})
	t.Cleanup(l.mgr.Stop)
	l.lc, err = NewLifecycle(LifecycleConfig{
		Deployments: l.mgr, Store: db, Train: l.models.SubmitRetrain, Compare: l.models.Compare,
		Stage: func(ctx context.Context, ws, modelID string, n int, stage string) error {
			_, _, err := l.models.Promote(ctx, ws, modelID, n, stage)
			return err
		},
		Now: l.clock.Now, Poll: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("NewLifecycle: %v", err)
	}
	t.Cleanup(l.lc.Stop)
	return l
}

// runJob is the loop's Submit: it stores the job and runs its training as
// the job's process would, then marks the job succeeded or failed.
func (l *loop) runJob(ctx context.Context, ws string, spec joule.JobSpec, by string) (joule.Job, error) {
	j := compute.NewJob(ws, spec, by, l.clock.Now())
	if err := l.store.CreateJob(ctx, j, nil); err != nil {
		return j, err
	}
	ts, err := model.SpecOf(j)
	if err != nil {
		return j, err
	}
	modelID := spec.Command[slices.Index(spec.Command, "--model")+1]
	work := func(ctx context.Context) error {
		d, err := l.store.GetDataset(ctx, ws, ts.Dataset)
		if err != nil {
			return err
		}
		dv, err := l.store.GetDatasetVersion(ctx, d.ID, ts.DatasetVersion)
		if err != nil {
			return err
		}
		v, err := model.Train(ctx, l.dir, modelID, d, dv, ts, j.ID)
		if err != nil {
			return err
		}
		_, err = l.models.RegisterVersion(ctx, ws, modelID, v, by)
		return err
	}
	end := func(ctx context.Context) (joule.Job, error) {
		werr := work(ctx)
		state, reason := joule.JobSucceeded, "exit 0"
		if werr != nil {
			state, reason = joule.JobFailed, "exit 1: "+joule.ErrorMessage(werr)
		}
		return l.store.UpdateJob(ctx, j.ID, nil, reason, func(j *joule.Job) error {
			now := l.clock.Now()
			j.State, j.Reason, j.FinishedAt, j.UpdatedAt = state, reason, &now, now
			return nil
		}, nil)
	}
	if l.held != nil {
		l.held <- func() error { _, err := end(context.WithoutCancel(ctx)); return err }
		return j, nil
	}
	return end(ctx)
}

// german writes rows of german.data-numeric (keep picks them; flip says
// which rows get the other class) as a file and ingests it as the next
// version of dataset german.
func (l *loop) german(t *testing.T, keep func(i int) bool, flip func(i int) bool) joule.DatasetVersion {
	t.Helper()
	raw, err := os.ReadFile("../../examples/data/finance/german.data-numeric")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n := 0
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if !keep(i) {
			continue
		}
		f := strings.Fields(line)
		if flip(i) {
			f[24] = map[string]string{"1": "2", "2": "1"}[f[24]]
		}
		b.WriteString(strings.Join(f, ",") + "\n")
		n++
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("german-%d.csv", n))
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	v, _, err := l.data.IngestFile(t.Context(), l.ws.ID, "german", path, "german.data-numeric", dataset.IngestOptions{}, "tok_test")
	if err != nil {
		t.Fatalf("IngestFile: %v", err)
	}
	return v
}

// train trains version n of german and waits for it.
func (l *loop) train(t *testing.T, dv int) joule.ModelVersion {
	t.Helper()
	seed := uint64(42)
	j, err := l.models.SubmitTrain(t.Context(), l.ws.ID, joule.TrainSpec{Dataset: "german", DatasetVersion: dv, Target: "column24",
		Algorithm: "logistic_regression", Split: &joule.TrainSplit{Seed: &seed}}, "tok_test")
	if err != nil {
		t.Fatalf("SubmitTrain: %v", err)
	}
	if j.State != joule.JobSucceeded {
		t.Fatalf("train job %s: %s %s", j.ID, j.State, j.Reason)
	}
	m, err := l.store.GetModel(t.Context(), l.ws.ID, "german")
	if err != nil {
		t.Fatal(err)
	}
	mv, err := l.store.GetModelVersion(t.Context(), m.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return mv
}

func (l *loop) retrainEvents(t *testing.T, name string) []string {
	t.Helper()
	h, err := l.lc.History(t.Context(), l.ws.ID, name)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	var out []string
	for _, e := range h.History {
		out = append(out, e.Kind+": "+e.Reason)
	}
	return out
}

func all(i int) bool  { return true }
func none(i int) bool { return false }

// TestRetrainPromotes is the promote half of the acceptance journey:
// production was trained on 150 rows with 40 % of the labels flipped; the
// newest dataset version is all 1,000 clean rows. A drift report starts a
// retrain; the candidate wins on its 200 holdout rows by more than the
// margin, is promoted in the registry and served, and every step is a
// retrain event with its reason. A second drift report in the cooldown is
// ignored.
func TestRetrainPromotes(t *testing.T) {
	t.Parallel()
	l := newLoop(t)
	ctx := t.Context()
	l.german(t, func(i int) bool { return i < 150 }, func(i int) bool { return i%5 < 2 })
	prod := l.train(t, 1)
	if _, _, err := l.models.Promote(ctx, l.ws.ID, prod.ModelID, prod.Version, joule.StageProduction); err != nil {
		t.Fatal(err)
	}
	l.german(t, all, none)
	d, err := l.mgr.Create(ctx, l.ws.ID, joule.Deployment{Name: "credit", Model: "german", ModelVersion: 1, Retrain: &joule.RetrainPolicy{OnDrift: true}}, "tok_test")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	l.lc.OnDrift(ctx, d, "PSI of column1 is 0.31, over the threshold 0.2")
	l.lc.Wait()

	st := l.lc.Status(d.ID)
	c := st.LastComparison
	if st.State != joule.LifecycleIdle || st.LastOutcome != joule.RetrainPromoted || c == nil || st.LastTrigger.Kind != joule.TriggerDrift {
		t.Fatalf("status %+v; want idle, promoted after a drift trigger; reason %s", st, st.LastReason)
	}
	t.Logf("comparison: %+v", *c)
	if c.Rows != 200 || c.DatasetVersion != 2 || c.Metric != "accuracy" || !c.HigherIsBetter || c.Production != 1 || c.Candidate != 2 {
		t.Errorf("comparison %+v; want accuracy on 200 holdout rows of version 2, version 2 vs 1", *c)
	}
	if !c.Wins || c.CandidateScore < c.ProductionScore+0.01 || c.Gain != c.CandidateScore-c.ProductionScore {
		t.Errorf("comparison %+v; want the candidate to win by at least 0.01", *c)
	}
	got, err := l.mgr.Get(ctx, l.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if got.ModelVersion != 2 || got.PreviousVersion != 1 || got.Status.Lifecycle == nil || got.Status.Lifecycle.LastOutcome != joule.RetrainPromoted {
		t.Errorf("deployment serves version %d (previous %d), lifecycle %+v; want 2, previous 1, promoted", got.ModelVersion, got.PreviousVersion, got.Status.Lifecycle)
	}
	for n, want := range map[int]string{1: joule.StageArchived, 2: joule.StageProduction} {
		if v, _ := l.store.GetModelVersion(ctx, prod.ModelID, n); v.Stage != want {
			t.Errorf("version %d is in stage %s, want %s", n, v.Stage, want)
		}
	}
	// The new version answers predict calls.
	resp, err := l.mgr.Predict(ctx, l.ws.ID, "credit", strings.NewReader(`{"instances": [{`+row0+`}]}`))
	if err != nil || resp.ModelVersion != 2 {
		t.Errorf("Predict: version %d, %v; want version 2", resp.ModelVersion, err)
	}

	evs := l.retrainEvents(t, "credit")
	want := []string{
		"retrain: triggered (drift): PSI of column1 is 0.31, over the threshold 0.2; the deployment serves version 1",
		"retrain: train job job_",
		"retrain: train job job_",
		fmt.Sprintf("retrain: evaluated: accuracy %.4f for version 2 vs %.4f for version 1 on 200 holdout rows of dataset german version 2", c.CandidateScore, c.ProductionScore),
		"promote: version 2 promoted to primary, replacing version 1",
		"retrain: promoted version 2: registry stage production",
	}
	if len(evs) != len(want) {
		t.Fatalf("history:\n%s\nwant %d entries", strings.Join(evs, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(evs[i], want[i]) {
			t.Errorf("history[%d] = %q, want it to start %q", i, evs[i], want[i])
		}
	}
	if !strings.Contains(evs[1], "started: logistic_regression on dataset german version 2 (the newest), with the training spec of version 1") ||
		!strings.Contains(evs[2], "made version 2 (dataset german version 2, 800 training rows)") {
		t.Errorf("job events:\n%s\n%s", evs[1], evs[2])
	}

	// A storm of drift reports in the cooldown starts nothing.
	l.lc.OnDrift(ctx, got, "PSI of column1 is 0.35")
	l.lc.OnDrift(ctx, got, "PSI of column1 is 0.36")
	l.lc.Wait()
	if st := l.lc.Status(d.ID); st.Ignored != 2 || st.LastTrigger.Reason != "PSI of column1 is 0.31, over the threshold 0.2" {
		t.Errorf("after two reports in the cooldown: ignored %d, last trigger %+v; want 2 ignored and the first trigger", st.Ignored, st.LastTrigger)
	}
	if n := len(l.retrainEvents(t, "credit")); n != len(want) {
		t.Errorf("%d history entries after the ignored reports, want %d", n, len(want))
	}
}

const row0 = `"column0": 1, "column1": 6, "column2": 4, "column3": 12, "column4": 5, "column5": 5, "column6": 3, "column7": 4, "column8": 1, "column9": 67, "column10": 3, "column11": 2, "column12": 1, "column13": 2, "column14": 1, "column15": 0, "column16": 0, "column17": 1, "column18": 0, "column19": 0, "column20": 1, "column21": 0, "column22": 0, "column23": 1`

// TestRetrainKeeps is the keep half: production was trained on all 1,000
// clean rows; the newest version is 300 rows with 40 % of the labels
// flipped. A manual retrain's candidate loses on its holdout rows, stays in
// staging, and the deployment keeps serving version 1, with both scores
// and the margin in the reason.
func TestRetrainKeeps(t *testing.T) {
	t.Parallel()
	l := newLoop(t)
	ctx := t.Context()
	l.german(t, all, none)
	prod := l.train(t, 1)
	if _, _, err := l.models.Promote(ctx, l.ws.ID, prod.ModelID, prod.Version, joule.StageProduction); err != nil {
		t.Fatal(err)
	}
	l.german(t, func(i int) bool { return i < 300 }, func(i int) bool { return i%5 < 2 })
	d, err := l.mgr.Create(ctx, l.ws.ID, joule.Deployment{Name: "credit", Model: "german"}, "tok_test")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := l.lc.Retrain(ctx, l.ws.ID, "credit", "weekly check", "tok_alice"); err != nil {
		t.Fatalf("Retrain: %v", err)
	}
	// The state is training from the moment Retrain returns: a second
	// manual trigger is refused.
	if _, err := l.lc.Retrain(ctx, l.ws.ID, "credit", "again", "tok_alice"); joule.ErrorCode(err) != joule.ECONFLICT || !strings.Contains(joule.ErrorMessage(err), `deployment "credit" is already retraining`) {
		t.Errorf("second Retrain = %v, want conflict", err)
	}
	l.lc.Wait()

	st := l.lc.Status(d.ID)
	c := st.LastComparison
	if st.State != joule.LifecycleIdle || st.LastOutcome != joule.RetrainKept || c == nil || st.LastTrigger.Kind != joule.TriggerManual || st.LastTrigger.By != "tok_alice" {
		t.Fatalf("status %+v; want idle, kept after a manual trigger by tok_alice; reason %s", st, st.LastReason)
	}
	t.Logf("comparison: %+v", *c)
	if c.Wins || c.Rows != 60 || c.Gain >= c.Margin || c.Margin != joule.DefaultRetrainMargin {
		t.Errorf("comparison %+v; want a loss on 60 holdout rows at the default margin", *c)
	}
	got, _ := l.mgr.Get(ctx, l.ws.ID, "credit")
	if got.ModelVersion != 1 || got.PreviousVersion != 0 {
		t.Errorf("deployment serves version %d (previous %d), want 1", got.ModelVersion, got.PreviousVersion)
	}
	for n, want := range map[int]string{1: joule.StageProduction, 2: joule.StageStaging} {
		if v, _ := l.store.GetModelVersion(ctx, prod.ModelID, n); v.Stage != want {
			t.Errorf("version %d is in stage %s, want %s", n, v.Stage, want)
		}
	}
	evs := l.retrainEvents(t, "credit")
	if len(evs) != 5 {
		t.Fatalf("history:\n%s\nwant 5 entries", strings.Join(evs, "\n"))
	}
	if evs[0] != "retrain: triggered (manual): weekly check; the deployment serves version 1" {
		t.Errorf("history[0] = %q", evs[0])
	}
	wantKept := fmt.Sprintf("retrain: kept version 2 in staging: it does not beat version 1 by the margin: accuracy %.4f for version 2 vs %.4f for version 1 on 60 holdout rows", c.CandidateScore, c.ProductionScore)
	if !strings.HasPrefix(evs[4], wantKept) || !strings.Contains(evs[4], "margin 0.0100") || !strings.HasSuffix(evs[4], "the deployment still serves version 1") {
		t.Errorf("history[4] = %q\nwant it to start %q, name the margin and the version served", evs[4], wantKept)
	}
}

// TestRetrainScheduleLiveAndFailure checks the automatic triggers on a fake
// clock and a train job that fails: the schedule fires once its interval
// has passed; the failed job is recorded with its reason and the
// deployment keeps its version; a live-quality drop in the cooldown is
// ignored, and after the cooldown it starts the next retrain.
func TestRetrainScheduleLiveAndFailure(t *testing.T) {
	t.Parallel()
	l := newLoop(t)
	ctx := t.Context()
	l.german(t, all, none)
	l.train(t, 1)
	// The newest version has a missing value in a feature: the job fails.
	raw, err := os.ReadFile("../../examples/data/finance/german.data-numeric")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for i := range lines {
		f := strings.Fields(lines[i])
		if i == 10 {
			f[3] = ""
		}
		lines[i] = strings.Join(f, ",")
	}
	path := filepath.Join(t.TempDir(), "holes.csv")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.data.IngestFile(ctx, l.ws.ID, "german", path, "holes", dataset.IngestOptions{}, "tok_test"); err != nil {
		t.Fatalf("IngestFile: %v", err)
	}
	live := map[string]float64{"accuracy": 0.61}
	var liveMu sync.Mutex
	l.lc.cfg.Live = func(joule.Deployment) map[string]float64 {
		liveMu.Lock()
		defer liveMu.Unlock()
		return live
	}
	d, err := l.mgr.Create(ctx, l.ws.ID, joule.Deployment{Name: "credit", Model: "german",
		Retrain: &joule.RetrainPolicy{Every: joule.Duration(time.Hour), Cooldown: joule.Duration(2 * time.Hour)}}, "tok_test")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}

	l.lc.Tick(ctx) // starts the schedule
	st := l.lc.Status(d.ID)
	if st.NextScheduled == nil || !st.NextScheduled.Equal(l.clock.Now().Add(time.Hour)) || st.LastTrigger != nil {
		t.Fatalf("after the first tick: %+v; want the next run in an hour and no trigger", st)
	}
	l.clock.Advance(59 * time.Minute)
	l.lc.Tick(ctx)
	if st := l.lc.Status(d.ID); st.LastTrigger != nil {
		t.Fatalf("triggered after 59m: %+v", st.LastTrigger)
	}
	l.clock.Advance(time.Minute)
	l.lc.Tick(ctx)
	l.lc.Wait()
	st = l.lc.Status(d.ID)
	if st.LastTrigger == nil || st.LastTrigger.Kind != joule.TriggerSchedule || st.LastOutcome != joule.RetrainFailed || st.State != joule.LifecycleIdle ||
		!strings.Contains(st.LastReason, "failed: exit 1: features: column \"column3\" has a missing value") {
		t.Fatalf("after an hour: %+v; want a schedule trigger whose job failed on the missing value", st)
	}
	evs := l.retrainEvents(t, "credit")
	if len(evs) != 3 || !strings.HasPrefix(evs[0], "retrain: triggered (schedule): the schedule: every 1h0m0s") ||
		!strings.HasPrefix(evs[2], "retrain: failed: train job "+st.LastJob+" failed: exit 1: features: column \"column3\" has a missing value") {
		t.Fatalf("history:\n%s", strings.Join(evs, "\n"))
	}
	if got, _ := l.mgr.Get(ctx, l.ws.ID, "credit"); got.ModelVersion != 1 {
		t.Errorf("serves version %d after a failed retrain, want 1", got.ModelVersion)
	}

	// Live accuracy below the policy's minimum, during the cooldown.
	if _, err := l.mgr.SetRetrain(ctx, l.ws.ID, "credit", &joule.RetrainPolicy{MinAccuracy: 0.7, Cooldown: joule.Duration(2 * time.Hour)}); err != nil {
		t.Fatalf("SetRetrain: %v", err)
	}
	l.clock.Advance(time.Hour)
	l.lc.Tick(ctx)
	l.lc.Wait()
	if st := l.lc.Status(d.ID); st.Ignored != 1 || st.LastTrigger.Kind != joule.TriggerSchedule {
		t.Fatalf("in the cooldown: %+v; want the live trigger ignored", st)
	}
	l.clock.Advance(time.Hour)
	l.lc.Tick(ctx)
	l.lc.Wait()
	st = l.lc.Status(d.ID)
	if st.LastTrigger.Kind != joule.TriggerLive || st.LastTrigger.Reason != "live accuracy 0.6100 is below min_accuracy 0.7000" || st.NextScheduled != nil {
		t.Fatalf("after the cooldown: %+v; want a live-quality trigger and no schedule", st)
	}
	// A manual retrain while none runs ignores the cooldown.
	if _, err := l.lc.Retrain(ctx, l.ws.ID, "credit", "", "tok_bob"); err != nil {
		t.Errorf("manual Retrain in the cooldown: %v", err)
	}
	l.lc.Wait()
	if st := l.lc.Status(d.ID); st.LastTrigger.Kind != joule.TriggerManual || st.LastTrigger.Reason != "asked for by tok_bob" {
		t.Errorf("manual trigger: %+v", st.LastTrigger)
	}
}

// TestSetRetrainChecksPolicy checks that a policy is checked against the
// served model's task, and that setting one is an event.
func TestSetRetrainChecksPolicy(t *testing.T) {
	t.Parallel()
	l := newLoop(t)
	ctx := t.Context()
	l.german(t, all, none)
	l.train(t, 1)
	if _, err := l.mgr.Create(ctx, l.ws.ID, joule.Deployment{Name: "credit", Model: "german"}, "tok_test"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    joule.RetrainPolicy
		want string
	}{
		{"regression metric", joule.RetrainPolicy{Metric: "rmse"}, `retrain.metric: "rmse" is not one of accuracy, f1, log_loss, pr_auc, precision, recall, roc_auc`},
		{"negative margin", joule.RetrainPolicy{Margin: -0.1}, "retrain.margin"},
		{"short schedule", joule.RetrainPolicy{Every: joule.Duration(time.Second)}, "retrain.every: 1s is under a minute"},
		{"accuracy over 1", joule.RetrainPolicy{MinAccuracy: 1.5}, "retrain.min_accuracy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := l.mgr.SetRetrain(ctx, l.ws.ID, "credit", &c.p)
			if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), c.want) {
				t.Errorf("SetRetrain(%+v) = %v, want invalid naming %s", c.p, err, c.want)
			}
		})
	}
	d, err := l.mgr.SetRetrain(ctx, l.ws.ID, "credit", &joule.RetrainPolicy{OnDrift: true, Metric: "roc_auc"})
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Retrain; p == nil || p.Margin != 0.01 || time.Duration(p.Cooldown) != time.Hour || p.Metric != "roc_auc" {
		t.Errorf("stored policy %+v; want the defaults filled", p)
	}
	stored, _ := l.store.GetDeployment(ctx, l.ws.ID, "credit")
	if stored.Retrain == nil || !stored.Retrain.OnDrift {
		t.Errorf("the store holds policy %+v", stored.Retrain)
	}
	es, _, _ := l.mgr.Events(ctx, l.ws.ID, "credit", joule.ListOptions{Limit: 10})
	if last := es[len(es)-1]; last.Kind != joule.DeploymentUpdated || last.Reason != "retrain policy retrains on drift; promotes a candidate that beats the served version by 0.01 on roc_auc; cooldown 1h0m0s" {
		t.Errorf("last event %s: %s", last.Kind, last.Reason)
	}
}

// TestRetrainJudgesAgainstServedVersion checks that a candidate is judged
// against the version served when its job ends, not the one served when
// it started: here the deployment is promoted from version 1 to 2 while
// the job runs, and the candidate (a twin of version 2) is kept.
func TestRetrainJudgesAgainstServedVersion(t *testing.T) {
	t.Parallel()
	l := newLoop(t)
	ctx := t.Context()
	l.german(t, func(i int) bool { return i < 150 }, func(i int) bool { return i%5 < 2 })
	l.train(t, 1)
	l.german(t, all, none)
	l.train(t, 2)
	if _, err := l.mgr.Create(ctx, l.ws.ID, joule.Deployment{Name: "credit", Model: "german", ModelVersion: 1}, "tok_test"); err != nil {
		t.Fatal(err)
	}
	l.lc.cfg.Train = func(ctx context.Context, ws string, prod joule.ModelVersion, by string) (joule.Job, error) {
		j, err := l.models.SubmitRetrain(ctx, ws, prod, by)
		if err == nil {
			_, err = l.mgr.Promote(ctx, ws, "credit", 2, "by hand")
		}
		return j, err
	}
	if _, err := l.lc.Retrain(ctx, l.ws.ID, "credit", "", "tok_alice"); err != nil {
		t.Fatal(err)
	}
	l.lc.Wait()
	st := l.lc.Status(mustID(t, l, "credit"))
	if c := st.LastComparison; st.LastOutcome != joule.RetrainKept || c == nil || c.Production != 2 || c.Candidate != 3 || c.Gain != 0 {
		t.Fatalf("status %+v, comparison %+v; want version 3 kept against version 2", st, st.LastComparison)
	}
	evs := l.retrainEvents(t, "credit")
	if !slices.ContainsFunc(evs, func(e string) bool {
		return strings.HasPrefix(e, "retrain: the deployment switched from version 1 to 2 while job ") && strings.HasSuffix(e, "the candidate is judged against version 2")
	}) {
		t.Errorf("history lacks the switch:\n%s", strings.Join(evs, "\n"))
	}
}

func mustID(t *testing.T, l *loop, name string) string {
	t.Helper()
	d, err := l.mgr.Lookup(t.Context(), l.ws.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// TestRetrainResumesAfterRestart checks a retrain across a restart: the
// server stops while the train job runs (the stop is recorded, not a
// failure); the job ends while the server is down; a new loop started on
// the same store reads the events, waits for that job, evaluates and
// promotes.
func TestRetrainResumesAfterRestart(t *testing.T) {
	t.Parallel()
	l := newLoop(t)
	ctx := t.Context()
	l.german(t, func(i int) bool { return i < 150 }, func(i int) bool { return i%5 < 2 })
	l.train(t, 1)
	l.german(t, all, none)
	if _, err := l.mgr.Create(ctx, l.ws.ID, joule.Deployment{Name: "credit", Model: "german"}, "tok_test"); err != nil {
		t.Fatal(err)
	}
	l.held = make(chan func() error, 1)
	if _, err := l.lc.Retrain(ctx, l.ws.ID, "credit", "new rows", "tok_alice"); err != nil {
		t.Fatal(err)
	}
	work := <-l.held // the job is queued; its work has not run
	l.lc.Stop()
	id := mustID(t, l, "credit")
	st := l.lc.Status(id)
	evs := l.retrainEvents(t, "credit")
	if st.State != joule.LifecycleIdle || st.LastOutcome != "" || len(evs) != 3 ||
		!strings.HasPrefix(evs[2], "retrain: the server stopped while train job "+st.LastJob+" ran; the retrain goes on when the server starts again") {
		t.Fatalf("after Stop: %+v\n%s", st, strings.Join(evs, "\n"))
	}
	if _, err := l.lc.Retrain(ctx, l.ws.ID, "credit", "", "tok_alice"); joule.ErrorCode(err) != joule.EUNAVAILABLE {
		t.Errorf("Retrain after Stop = %v, want unavailable", err)
	}
	if err := work(); err != nil { // the job ends while the server is down
		t.Fatalf("the held job: %v", err)
	}

	cfg := l.lc.cfg
	lc2, err := NewLifecycle(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l.lc = lc2
	t.Cleanup(lc2.Stop)
	if err := lc2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lc2.Wait()
	st = lc2.Status(id)
	if st.LastOutcome != joule.RetrainPromoted || st.LastTrigger == nil || st.LastTrigger.Kind != joule.TriggerManual || st.LastTrigger.Reason != "new rows" {
		t.Fatalf("after the restart: %+v; want promoted, triggered manually for new rows", st)
	}
	evs = l.retrainEvents(t, "credit")
	if !strings.HasPrefix(evs[3], "retrain: resumed after a restart: waiting for train job "+st.LastJob+" (triggered (manual): new rows)") ||
		!strings.HasPrefix(evs[len(evs)-1], "retrain: promoted version 2") {
		t.Errorf("history:\n%s", strings.Join(evs, "\n"))
	}
	if d, _ := l.mgr.Lookup(ctx, l.ws.ID, "credit"); d.ModelVersion != 2 {
		t.Errorf("serves version %d, want 2", d.ModelVersion)
	}
	// A third loop finds nothing to resume.
	lc3, _ := NewLifecycle(cfg)
	if err := lc3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	lc3.Stop()
	if n := len(l.retrainEvents(t, "credit")); n != len(evs) {
		t.Errorf("a restart after the outcome added %d events", n-len(evs))
	}
}

// refusingPromoter stands for a deployment that cannot switch versions.
type refusingPromoter struct{}

func (refusingPromoter) Promote(context.Context, string, string, int, string) (joule.Deployment, error) {
	return joule.Deployment{}, joule.Errorf(joule.ECONFLICT, "a canary is running")
}

var _ Promoter = refusingPromoter{}

// TestRetrainSwitchRefused checks that a winner the deployment cannot
// switch to is recorded as failed, stays in staging, and leaves the
// registry's production version alone.
func TestRetrainSwitchRefused(t *testing.T) {
	t.Parallel()
	l := newLoop(t)
	ctx := t.Context()
	l.german(t, func(i int) bool { return i < 150 }, func(i int) bool { return i%5 < 2 })
	prod := l.train(t, 1)
	if _, _, err := l.models.Promote(ctx, l.ws.ID, prod.ModelID, 1, joule.StageProduction); err != nil {
		t.Fatal(err)
	}
	l.german(t, all, none)
	if _, err := l.mgr.Create(ctx, l.ws.ID, joule.Deployment{Name: "credit", Model: "german"}, "tok_test"); err != nil {
		t.Fatal(err)
	}
	l.lc.cfg.Promote = refusingPromoter{}
	if _, err := l.lc.Retrain(ctx, l.ws.ID, "credit", "", "tok_alice"); err != nil {
		t.Fatal(err)
	}
	l.lc.Wait()
	st := l.lc.Status(mustID(t, l, "credit"))
	if st.LastOutcome != joule.RetrainFailed || st.LastComparison == nil || !st.LastComparison.Wins ||
		!strings.Contains(st.LastReason, "but the deployment could not switch to it: a canary is running; it stays in staging") {
		t.Fatalf("status %+v; want a failed switch of a winner", st)
	}
	for n, want := range map[int]string{1: joule.StageProduction, 2: joule.StageStaging} {
		if v, _ := l.store.GetModelVersion(ctx, prod.ModelID, n); v.Stage != want {
			t.Errorf("version %d is in stage %s, want %s", n, v.Stage, want)
		}
	}
	if d, _ := l.mgr.Lookup(ctx, l.ws.ID, "credit"); d.ModelVersion != 1 {
		t.Errorf("serves version %d, want 1", d.ModelVersion)
	}
}
