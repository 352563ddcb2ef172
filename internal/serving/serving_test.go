package serving

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/modelfile"
	"github.com/joule-dev/joule/internal/sqlite"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a store with a workspace and a fitted two-class logistic
// regression over features a (float), b (float) and n (integer).
type fixture struct {
	store *sqlite.DB
	ws    joule.Workspace
	model ml.Classifier
	clock *fakeClock
	dir   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", now), Name: "serve", CreatedAt: now}
	if err := db.CreateWorkspace(ctx, ws); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	var X [][]float64
	var y []float64
	for i := range 200 {
		c := i % 2
		X = append(X, []float64{r.NormFloat64() + 2*float64(c), r.NormFloat64() - float64(c), float64(r.IntN(5))})
		y = append(y, float64(c))
	}
	est, err := ml.New("logistic_regression", ml.Classification, nil)
	if err != nil {
		t.Fatalf("ml.New: %v", err)
	}
	m, err := est.Fit(X, y)
	if err != nil {
		t.Fatalf("Fit: %v", err)
	}
	f, err := os.Create(filepath.Join(dir, "model.jm"))
	if err != nil {
		t.Fatal(err)
	}
	h := modelfile.Header{Features: []modelfile.Feature{{Name: "a"}, {Name: "b"}, {Name: "n"}}, Classes: []string{"no", "yes"}}
	if err := ml.Save(f, m, h); err != nil {
		t.Fatalf("Save: %v", err)
	}
	f.Close()
	mdl := joule.Model{ID: joule.NewID("mdl", now), WorkspaceID: ws.ID, Name: "credit", CreatedAt: now}
	if err := db.CreateModel(ctx, mdl); err != nil {
		t.Fatalf("CreateModel: %v", err)
	}
	_, err = db.CreateModelVersion(ctx, joule.ModelVersion{ID: joule.NewID("mv", now), ModelID: mdl.ID, Algorithm: "logistic_regression", Task: "classification",
		Features: []joule.ModelFeature{{Name: "a", Type: joule.TypeFloat}, {Name: "b", Type: joule.TypeFloat}, {Name: "n", Type: joule.TypeInteger}},
		Classes:  []string{"no", "yes"}, Source: "train", Path: "model.jm", CreatedAt: now})
	if err != nil {
		t.Fatalf("CreateModelVersion: %v", err)
	}
	return &fixture{store: db, ws: ws, model: m.(ml.Classifier), clock: &fakeClock{t: now}, dir: dir}
}

func (f *fixture) manager(t *testing.T, load func(context.Context, joule.ModelVersion) (*Predictor, error)) *Manager {
	t.Helper()
	m := NewManager(Config{Store: f.store, DataDir: f.dir, Now: f.clock.Now, Load: load,
		Logger: nil})
	t.Cleanup(m.Stop)
	return m
}

func (f *fixture) deploy(t *testing.T, m *Manager, d joule.Deployment) joule.Deployment {
	t.Helper()
	d.Model = cmp.Or(d.Model, "credit")
	got, err := m.Create(t.Context(), f.ws.ID, d, "tok_test")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return got
}

func predict(t *testing.T, m *Manager, ws, name, body string) (joule.PredictResponse, error) {
	t.Helper()
	return m.Predict(t.Context(), ws, name, strings.NewReader(body))
}

func replicas(t *testing.T, m *Manager, ws, name string) int {
	t.Helper()
	d, err := m.Get(t.Context(), ws, name)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return d.Status.Replicas
}

func events(t *testing.T, m *Manager, ws, name string) []joule.DeploymentEvent {
	t.Helper()
	es, _, err := m.Events(t.Context(), ws, name, joule.ListOptions{Limit: 500})
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return es
}

// TestPredictMatchesModel checks that records and columns give the model's
// own predictions and probabilities, exactly.
func TestPredictMatchesModel(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1})
	rows := [][]float64{{0.5, -1, 3}, {2.5, -2, 0}, {-1, 1, 4}}
	var inst, ca, cb, cn []string
	for _, r := range rows {
		inst = append(inst, fmt.Sprintf(`{"a": %v, "b": %v, "n": %v}`, r[0], r[1], r[2]))
		ca, cb, cn = append(ca, fmt.Sprint(r[0])), append(cb, fmt.Sprint(r[1])), append(cn, fmt.Sprint(r[2]))
	}
	bodies := map[string]string{
		"instances": `{"instances": [` + strings.Join(inst, ",") + `]}`,
		"inputs":    `{"inputs": {"a": [` + strings.Join(ca, ",") + `], "b": [` + strings.Join(cb, ",") + `], "n": [` + strings.Join(cn, ",") + `]}}`,
	}
	for name, body := range bodies {
		resp, err := predict(t, m, f.ws.ID, "credit", body)
		if err != nil {
			t.Fatalf("%s: Predict: %v", name, err)
		}
		if len(resp.Predictions) != len(rows) || len(resp.Probabilities) != len(rows) {
			t.Fatalf("%s: %d predictions, %d probabilities; want %d", name, len(resp.Predictions), len(resp.Probabilities), len(rows))
		}
		for i, r := range rows {
			s := make([]float64, 2)
			f.model.Scores(r, s)
			want := "no"
			if s[1] > s[0] {
				want = "yes"
			}
			if resp.Predictions[i] != want || resp.Probabilities[i]["no"] != s[0] || resp.Probabilities[i]["yes"] != s[1] {
				t.Errorf("%s row %d: got %v %v, want %s %v", name, i, resp.Predictions[i], resp.Probabilities[i], want, s)
			}
		}
		if resp.Model != "credit" || resp.ModelVersion != 1 || resp.Deployment != "credit" {
			t.Errorf("%s: response names %s v%d on %s", name, resp.Model, resp.ModelVersion, resp.Deployment)
		}
	}
}

// TestPredictBadInput checks that bad bodies get EINVALID (400) naming the
// field and the row, and oversized ones ETOOLARGE (413).
func TestPredictBadInput(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1, MaxBatch: 3, BodyLimit: 400})
	ok := `{"a": 1, "b": 2, "n": 3}`
	tests := []struct {
		name, body, code, want string
	}{
		{"missing feature", `{"instances": [` + ok + `, {"a": 1, "b": 2}]}`, joule.EINVALID, `instances[1]: missing feature "n"`},
		{"string", `{"instances": [{"a": "x", "b": 2, "n": 3}]}`, joule.EINVALID, `instances[0].a: "x" is a string`},
		{"null", `{"instances": [` + ok + `, ` + ok + `, {"a": 1, "b": null, "n": 3}]}`, joule.EINVALID, `instances[2].b: null`},
		{"not integer", `{"instances": [{"a": 1, "b": 2, "n": 2.5}]}`, joule.EINVALID, `instances[0].n: 2.5 is not a whole number`},
		{"unknown feature", `{"instances": [{"a": 1, "b": 2, "n": 3, "zz": 1}]}`, joule.EINVALID, `instances[0].zz: not a feature`},
		{"column type", `{"inputs": {"a": [1, true], "b": [2, 2], "n": [3, 3]}}`, joule.EINVALID, `inputs.a[1]: true is a boolean`},
		{"column lengths", `{"inputs": {"a": [1, 2], "b": [2], "n": [3, 3]}}`, joule.EINVALID, `inputs.b: 1 values`},
		{"empty batch", `{"instances": []}`, joule.EINVALID, `instances: empty batch`},
		{"empty columns", `{"inputs": {}}`, joule.EINVALID, `inputs: empty batch`},
		{"over batch", `{"instances": [` + strings.Repeat(ok+",", 3) + ok + `]}`, joule.EINVALID, `4 rows is over this deployment's limit of 3`},
		{"both", `{"instances": [` + ok + `], "inputs": {"a": [1]}}`, joule.EINVALID, `not both`},
		{"neither", `{}`, joule.EINVALID, `send {"instances"`},
		{"unknown key", `{"rows": []}`, joule.EINVALID, `unknown field "rows"`},
		{"not json", `{"instances": [`, joule.EINVALID, `not JSON`},
		{"instances not array", `{"instances": 3}`, joule.EINVALID, `instances`},
		{"too large", `{"instances": [` + strings.Repeat(" ", 400) + ok + `]}`, joule.ETOOLARGE, `over this deployment's limit of 400 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := predict(t, m, f.ws.ID, "credit", tt.body)
			if joule.ErrorCode(err) != tt.code || !strings.Contains(joule.ErrorMessage(err), tt.want) {
				t.Errorf("Predict = %v; want %s containing %q", err, tt.code, tt.want)
			}
		})
	}
	_, err := predict(t, m, f.ws.ID, "nope", `{}`)
	if joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("Predict on a missing deployment = %v, want not found", err)
	}
}

// TestRateLimit checks the per-deployment token bucket against the fake
// clock.
func TestRateLimit(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1, RateLimit: 2})
	body := `{"instances": [{"a": 1, "b": 2, "n": 3}]}`
	for i := range 2 {
		if _, err := predict(t, m, f.ws.ID, "credit", body); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	if _, err := predict(t, m, f.ws.ID, "credit", body); joule.ErrorCode(err) != joule.ERATELIMITED {
		t.Fatalf("third request in the same instant = %v, want rate_limited", err)
	}
	f.clock.Advance(500 * time.Millisecond) // one token back at 2/s
	if _, err := predict(t, m, f.ws.ID, "credit", body); err != nil {
		t.Fatalf("after 0.5 s: %v", err)
	}
	if _, err := predict(t, m, f.ws.ID, "credit", body); joule.ErrorCode(err) != joule.ERATELIMITED {
		t.Fatalf("second request after 0.5 s = %v, want rate_limited", err)
	}
}

// TestScaleToZeroAndBack: min 0 starts at zero; the first request wakes a
// replica and succeeds; after the idle timeout the autoscaler goes back to
// zero; the next request wakes it again. Every decision is an event with
// its reason.
func TestScaleToZeroAndBack(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", IdleTimeout: joule.Duration(time.Minute)})
	ctx := t.Context()
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 0 {
		t.Fatalf("replicas at start = %d, want 0", n)
	}
	body := `{"instances": [{"a": 1, "b": 2, "n": 3}]}`
	if _, err := predict(t, m, f.ws.ID, "credit", body); err != nil {
		t.Fatalf("request at zero: %v", err)
	}
	if n := replicas(t, m, f.ws.ID, "credit"); n != 1 {
		t.Fatalf("replicas after the cold start = %d, want 1", n)
	}
	f.clock.Advance(30 * time.Second)
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 1 {
		t.Fatalf("replicas 30 s after a request = %d, want 1 (idle timeout 1m)", n)
	}
	f.clock.Advance(31 * time.Second)
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 0 {
		t.Fatalf("replicas after the idle timeout = %d, want 0", n)
	}
	if _, err := predict(t, m, f.ws.ID, "credit", body); err != nil {
		t.Fatalf("request after scale to zero: %v", err)
	}
	d, err := m.Get(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.Replicas != 1 || d.Status.Predictions != 2 || d.Status.Errors != 0 {
		t.Errorf("status = %+v; want 1 replica, 2 predictions, no errors", d.Status)
	}
	var got []string
	for _, e := range events(t, m, f.ws.ID, "credit") {
		if e.Kind == joule.DeploymentScale {
			got = append(got, fmt.Sprintf("%d->%d %s", e.From, e.To, e.Reason))
		}
	}
	want := []string{"0->1 a request arrived at zero replicas", "1->0 idle for 1m1s", "0->1 a request arrived at zero replicas"}
	if len(got) != len(want) {
		t.Fatalf("scale events = %q, want %d like %q", got, len(want), want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("scale event %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}

// TestConcurrencyScalesUp: the autoscaler sizes by peak concurrency over
// the target, capped at max, and comes back down when it falls.
func TestConcurrencyScalesUp(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	dep := f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1, MaxReplicas: 3, TargetConcurrency: 2})
	ctx := t.Context()
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 1 {
		t.Fatalf("replicas at min = %d, want 1", n)
	}
	d, _ := m.lookup(f.ws.ID, dep.Name)
	rt := d.tracks[0] // the primary's load sizes its replicas
	// Five requests in flight at once: ceil(5/2) = 3 replicas.
	for range 5 {
		rt.enter()
	}
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 3 {
		t.Fatalf("replicas at concurrency 5, target 2 = %d, want 3", n)
	}
	// Nine: ceil(9/2) = 5, capped at 3.
	for range 4 {
		rt.enter()
	}
	m.Tick(ctx)
	for range 9 {
		rt.leave()
	}
	m.Tick(ctx) // the window that saw 9 ends
	m.Tick(ctx) // a quiet window: back to min
	if n := replicas(t, m, f.ws.ID, "credit"); n != 1 {
		t.Fatalf("replicas after the load = %d, want 1", n)
	}
	var got []string
	for _, e := range events(t, m, f.ws.ID, "credit") {
		if e.Kind == joule.DeploymentScale {
			got = append(got, fmt.Sprintf("%d->%d %s", e.From, e.To, e.Reason))
		}
	}
	want := []string{
		"0->1 min_replicas is 1",
		"1->3 peak concurrency 5 over a target of 2 per replica",
		"3->1 min_replicas is 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("scale events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Real requests still go through after the scale-down.
	if _, err := predict(t, m, f.ws.ID, "credit", `{"instances": [{"a": 1, "b": 2, "n": 3}]}`); err != nil {
		t.Fatalf("Predict: %v", err)
	}
}

// TestColdStartTimeout: a request that waits longer than the cold-start
// timeout gets EUNAVAILABLE with a message that says so; once the replica
// is ready, requests succeed.
func TestColdStartTimeout(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	var m *Manager
	m = f.manager(t, func(ctx context.Context, mv joule.ModelVersion) (*Predictor, error) {
		<-release
		return m.loadFile(ctx, mv)
	})
	f.deploy(t, m, joule.Deployment{Name: "credit", ColdStartTimeout: joule.Duration(time.Millisecond)})
	body := `{"instances": [{"a": 1, "b": 2, "n": 3}]}`
	_, err := predict(t, m, f.ws.ID, "credit", body)
	if joule.ErrorCode(err) != joule.EUNAVAILABLE || !strings.Contains(joule.ErrorMessage(err), "cold-start timeout") {
		t.Fatalf("request while loading = %v, want unavailable naming the cold-start timeout", err)
	}
	close(release)
	if _, err := m.Scale(t.Context(), f.ws.ID, "credit", nil, nil); err != nil { // a no-op update
		t.Fatalf("Scale: %v", err)
	}
	for i := 0; ; i++ { // the load finishes in the background
		if _, err := predict(t, m, f.ws.ID, "credit", body); err == nil {
			break
		} else if joule.ErrorCode(err) != joule.EUNAVAILABLE || i > 10000 {
			t.Fatalf("request after the load: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConcurrentColdStart: many requests at zero share one cold start and
// all succeed.
func TestConcurrentColdStart(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", TargetConcurrency: 2})
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = m.Predict(context.Background(), f.ws.ID, "credit", strings.NewReader(`{"instances": [{"a": 1, "b": 2, "n": 3}]}`))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("requests during the cold start: %v", err)
	}
	n := 0
	for _, e := range events(t, m, f.ws.ID, "credit") {
		if e.Kind == joule.DeploymentScale {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d scale events, want one cold start", n)
	}
}

// TestEnergyPerThousand: replicas report the CPU time of their predict
// calls, and energy added to a deployment gives per-1,000 figures.
func TestEnergyPerThousand(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	dep := f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1, MaxBatch: 1000})
	m.Tick(t.Context())
	row := `{"a": 1.5, "b": -2, "n": 3}`
	body := `{"instances": [` + strings.Repeat(row+",", 999) + row + `]}`
	for range 20 {
		if _, err := predict(t, m, f.ws.ID, "credit", body); err != nil {
			t.Fatal(err)
		}
	}
	us := m.Usage()
	if len(us) != 1 || us[0].DeploymentID != dep.ID || us[0].Predictions != 20000 || us[0].CPUSeconds <= 0 {
		t.Fatalf("Usage = %+v; want one replica of %s with 20000 predictions and CPU time", us, dep.ID)
	}
	m.AddEnergy(dep.ID, Energy{Predictions: 20000, CPUSeconds: us[0].CPUSeconds, EstimatedJoules: 4, EmissionsG: 0.001, Method: "estimated:tdp-curve@1"})
	m.AddEnergy(dep.ID, Energy{Predictions: 20000, EstimatedJoules: 2, EmissionsG: 0.0005})
	d, err := m.Get(t.Context(), f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	e := d.Status.Energy
	if e == nil || e.Joules != 6 || e.JoulesPer1000 != 0.15 || e.Measured || e.Method != "estimated:tdp-curve@1" {
		t.Fatalf("energy = %+v; want 6 J over 40000 predictions = 0.15 J per 1000, estimated", e)
	}
}

// TestOverloadRejects: beyond max replicas × (running + queued) requests in
// flight, a request gets EUNAVAILABLE at once instead of waiting.
func TestOverloadRejects(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	dep := f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1, MaxReplicas: 1, TargetConcurrency: 1})
	m.Tick(t.Context())
	rt, _ := m.lookup(f.ws.ID, dep.Name)
	const bound = 1 * (1 + DefaultQueuePerWorker) // 1 running + the default queue fill the one replica
	for range bound {
		rt.enter()
	}
	_, err := predict(t, m, f.ws.ID, "credit", `{"instances": [{"a": 1, "b": 2, "n": 3}]}`)
	if joule.ErrorCode(err) != joule.EUNAVAILABLE || !strings.Contains(joule.ErrorMessage(err), "overloaded") {
		t.Fatalf("request over the bound = %v, want unavailable: overloaded", err)
	}
	for range bound {
		rt.leave()
	}
	if _, err := predict(t, m, f.ws.ID, "credit", `{"instances": [{"a": 1, "b": 2, "n": 3}]}`); err != nil {
		t.Fatalf("request within the bound: %v", err)
	}
}
