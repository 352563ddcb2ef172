package serving

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/model"
	"github.com/joule-dev/joule/internal/sqlite"
)

// wait waits for the evaluations and alert deliveries under way (tests
// only: no predict call may run meanwhile).
func (mon *monitor) wait() { mon.wg.Wait() }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestPSI checks PSI against values worked out by hand, the empty-bin
// epsilon included.
func TestPSI(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		ref, live []float64
		want      float64
	}{
		// 0.3·ln(0.8/0.5) + (−0.3)·ln(0.2/0.5) = 0.3·(0.470004 + 0.916291)
		{"two bins", []float64{0.5, 0.5}, []float64{0.8, 0.2}, 0.41588830833596724},
		{"same", []float64{0.25, 0.25, 0.5}, []float64{0.25, 0.25, 0.5}, 0},
		// The empty reference bin counts as 0.0001: −0.1·ln(0.9) + 0.0999·ln(1000)
		{"empty bin", []float64{1, 0}, []float64{0.9, 0.1}, 0.7006208039360982},
	} {
		if got := psi(c.ref, c.live); !near(got, c.want, 1e-12) {
			t.Errorf("%s: psi(%v, %v) = %.15g, want %.15g", c.name, c.ref, c.live, got, c.want)
		}
	}
}

// TestKS checks the two-sample KS statistic by hand, with ties, and the
// asymptotic p-value at the Kolmogorov distribution's 5% point.
func TestKS(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{3, 4, 5, 6}, 0.5}, // at x=2: 2/4 − 0
		{[]float64{1, 1, 2}, []float64{1, 2, 2}, 1.0 / 3},   // at x=1: 2/3 − 1/3
		{[]float64{1, 2, 3}, []float64{1, 2, 3}, 0},         // equal samples
		{[]float64{0}, []float64{1, 2}, 1},                  // disjoint
		{[]float64{1, 2, 3, 4, 5}, []float64{2.5}, 3.0 / 5}, // at x=2.5: 2/5 − 1
	} {
		if got := ks(c.a, c.b); !near(got, c.want, 1e-12) {
			t.Errorf("ks(%v, %v) = %g, want %g", c.a, c.b, got, c.want)
		}
	}
	// Against the definition, on random samples with many ties: D is the
	// largest |F_a(x) − F_b(x)| over every x of either sample.
	r := rand.New(rand.NewPCG(3, 3))
	for range 200 {
		a, b := make([]float64, 1+r.IntN(40)), make([]float64, 1+r.IntN(40))
		for i := range a {
			a[i] = float64(r.IntN(8))
		}
		for i := range b {
			b[i] = float64(r.IntN(10)) - 1
		}
		slices.Sort(a)
		slices.Sort(b)
		want := 0.0
		for _, x := range slices.Concat(a, b) {
			fa := float64(len(slices.DeleteFunc(slices.Clone(a), func(v float64) bool { return v > x }))) / float64(len(a))
			fb := float64(len(slices.DeleteFunc(slices.Clone(b), func(v float64) bool { return v > x }))) / float64(len(b))
			want = max(want, math.Abs(fa-fb))
		}
		if got := ks(a, b); !near(got, want, 1e-12) {
			t.Fatalf("ks(%v, %v) = %g, want %g by the definition", a, b, got, want)
		}
	}
	// λ = 1.3581 is the Kolmogorov distribution's 95% point: p = 0.05.
	// With n = m = 20,000, √(nm/(n+m)) = 100 and λ = (100 + 0.12 +
	// 0.0011)·D.
	d := 1.3581 / (100 + 0.12 + 0.11/100)
	if p := ksPValue(d, 20000, 20000); !near(p, 0.05, 2e-4) {
		t.Errorf("ksPValue(%g, 20000, 20000) = %g, want 0.05", d, p)
	}
	if p := ksPValue(0, 100, 100); p != 1 {
		t.Errorf("ksPValue(0) = %g, want 1", p)
	}
}

// TestBinning checks decile and per-value bins and their shares.
func TestBinning(t *testing.T) {
	t.Parallel()
	var hundred []float64
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, float64(i))
	}
	b := numericBinning(hundred)
	if b.kind != "deciles" || !slices.Equal(b.cuts, []float64{10, 20, 30, 40, 50, 60, 70, 80, 90}) {
		t.Fatalf("1..100: %s cuts %v, want deciles at 10, 20, …, 90", b.kind, b.cuts)
	}
	for i, s := range b.ref {
		if !near(s, 0.1, 1e-12) {
			t.Errorf("1..100: bin %d share %g, want 0.1", i, s)
		}
	}
	if got := b.shares([]float64{-5, 10, 10.5, 95, 1000}); !slices.Equal(got, []float64{0.4, 0.2, 0, 0, 0, 0, 0, 0, 0, 0.4}) {
		t.Errorf("live shares = %v", got)
	}
	v := numericBinning([]float64{0, 0, 1, 1, 1, 2})
	if v.kind != "values" || !slices.Equal(v.values, []float64{0, 1, 2}) || !slices.Equal(v.ref, []float64{2.0 / 6, 3.0 / 6, 1.0 / 6, 0}) {
		t.Errorf("three values: %+v", v)
	}
	// A one-valued feature: a live value it never had lands in "other",
	// whose reference share is 0 (counted as 0.0001).
	one := numericBinning([]float64{5, 5, 5})
	got := one.shares([]float64{5, 7})
	if !slices.Equal(got, []float64{0.5, 0.5}) {
		t.Errorf("one value: shares %v, want [0.5 0.5]", got)
	}
	if p := psi(one.ref, got); !near(p, -0.5*math.Log(0.5)+(0.5-1e-4)*math.Log(0.5/1e-4), 1e-12) {
		t.Errorf("one value: psi %g", p)
	}
	l := labelBinning([]string{"b", "a", "a", "a"})
	if !slices.Equal(l.labels, []string{"a", "b"}) || !slices.Equal(l.labelShares([]string{"a", "c"}), []float64{0.5, 0, 0.5}) {
		t.Errorf("labels: %+v", l)
	}
}

// realFixture is a store holding a dataset version ingested from a file
// of examples/data and a model version trained on it by internal/model,
// as a training job makes them, and the dataset's rows as instances.
type realFixture struct {
	store *sqlite.DB
	ws    joule.Workspace
	dir   string
	clock *fakeClock
	mv    joule.ModelVersion
	rows  []map[string]any // every row, raw
	feats []string
}

func newRealFixture(t testing.TB, file string, spec joule.TrainSpec) *realFixture {
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
		t.Fatal(err)
	}
	eng := dataset.EngineConfig{TempDir: filepath.Join(dir, "tmp")}
	rel := filepath.Join("datasets", "v1")
	res, err := dataset.Ingest(ctx, eng, filepath.Join("..", "..", "examples", "data", file), filepath.Join(dir, rel), dataset.IngestOptions{})
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	ds := joule.Dataset{ID: joule.NewID("ds", now), WorkspaceID: ws.ID, Name: "data", CreatedAt: now}
	if err := db.CreateDataset(ctx, ds); err != nil {
		t.Fatal(err)
	}
	dv, err := db.CreateDatasetVersion(ctx, joule.DatasetVersion{ID: joule.NewID("dsv", now), DatasetID: ds.ID, WorkspaceID: ws.ID, Columns: res.Columns,
		Rows: res.Rows, Hash: res.Hash, Bytes: res.Bytes, Format: res.Format, Source: file, Path: filepath.Join(rel, dataset.DataFile), CreatedAt: now})
	if err != nil {
		t.Fatalf("CreateDatasetVersion: %v", err)
	}
	mdl := joule.Model{ID: joule.NewID("mdl", now), WorkspaceID: ws.ID, Name: "m", CreatedAt: now}
	if err := db.CreateModel(ctx, mdl); err != nil {
		t.Fatal(err)
	}
	mv, err := model.Train(ctx, dir, mdl.ID, ds, dv, spec, "")
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	mv.WorkspaceID, mv.CreatedAt = ws.ID, now
	if mv, err = db.CreateModelVersion(ctx, mv); err != nil {
		t.Fatalf("CreateModelVersion: %v", err)
	}
	frame, err := dataset.ReadFrame(ctx, eng, filepath.Join(dir, dv.Path), dv.Columns)
	if err != nil {
		t.Fatal(err)
	}
	f := &realFixture{store: db, ws: ws, dir: dir, clock: &fakeClock{t: now}, mv: mv}
	for _, ft := range mv.Features {
		f.feats = append(f.feats, ft.Name)
	}
	for i := range frame[0].Num {
		r := map[string]any{}
		for _, c := range frame {
			r[c.Name] = c.Num[i]
		}
		f.rows = append(f.rows, r)
	}
	return f
}

// alerts collects what the Alert hook receives.
type alerts struct {
	mu  sync.Mutex
	got []joule.DeploymentEvent
}

func (a *alerts) hook(_ context.Context, _ joule.Deployment, e joule.DeploymentEvent) {
	a.mu.Lock()
	a.got = append(a.got, e)
	a.mu.Unlock()
}

func (a *alerts) list() []joule.DeploymentEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

func (f *realFixture) manager(t *testing.T, cfg MonitorConfig) *Manager {
	t.Helper()
	m := NewManager(Config{Store: f.store, DataDir: f.dir, Now: f.clock.Now, Monitor: cfg,
		Engine: dataset.EngineConfig{TempDir: filepath.Join(f.dir, "tmp")}})
	t.Cleanup(m.Stop)
	return m
}

// instances returns a predict body of the given rows' features.
func (f *realFixture) instances(t testing.TB, rows []map[string]any) string {
	t.Helper()
	var in []map[string]any
	for _, r := range rows {
		x := map[string]any{}
		for _, k := range f.feats {
			x[k] = r[k]
		}
		in = append(in, x)
	}
	b, err := json.Marshal(map[string]any{"instances": in})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sample draws n rows of the dataset with replacement.
func (f *realFixture) sample(n int, seed uint64) []map[string]any {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = f.rows[r.IntN(len(f.rows))]
	}
	return out
}

// rows0Time is the fixture's starting time.
func (f *realFixture) rows0Time() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }

func kinds(es []joule.DeploymentEvent, kind string) []joule.DeploymentEvent {
	var out []joule.DeploymentEvent
	for _, e := range es {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// shiftRows returns copies of rows with the numeric features in by moved
// by its amounts.
func shiftRows(rows []map[string]any, by map[string]float64) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = maps.Clone(r)
		for k, d := range by {
			out[i][k] = r[k].(float64) + d
		}
	}
	return out
}

// TestDriftAcceptance is the drift acceptance line on a logistic
// regression trained on german.data-numeric: a window of rows drawn from
// the dataset itself does not drift and raises nothing; the next window,
// the same rows with the loan duration (column1) 24 months longer and the
// age (column9) 20 years older, pushes their PSI over the threshold and
// raises a drift event and an alert naming them, within that one window,
// and the Alert hook gets the alert.
func TestDriftAcceptance(t *testing.T) {
	t.Parallel()
	f := newRealFixture(t, "finance/german.data-numeric", joule.TrainSpec{Target: "column24", Algorithm: "logistic_regression"})
	var got alerts
	m := f.manager(t, MonitorConfig{Alert: got.hook})
	ctx := t.Context()
	if _, err := m.Create(ctx, f.ws.ID, joule.Deployment{Name: "credit", Model: "m", MinReplicas: 1}, "tok"); err != nil {
		t.Fatalf("Create: %v", err)
	}
	m.Tick(ctx)
	base := f.sample(joule.DefaultMonitorWindowRows, 1)
	resp, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, base)))
	if err != nil {
		t.Fatalf("Predict: %v", err)
	}
	if !strings.HasPrefix(resp.ID, "prd_") {
		t.Errorf("response id = %q, want prd_…", resp.ID)
	}
	m.mon.wait()
	st, err := m.Drift(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 1 || st.Latest == nil {
		t.Fatalf("after one window: %d reports, want 1: %+v", len(st.History), st)
	}
	rep := *st.Latest
	if len(rep.Features[1].Bins) == 0 || st.History[0].Features[1].Bins != nil {
		t.Errorf("bins: %d in latest, %d in history; want them in latest only", len(rep.Features[1].Bins), len(st.History[0].Features[1].Bins))
	}
	if rep.Error != "" || rep.Drifted || rep.Rows != 1000 || rep.Reference != "training split" || rep.ReferenceRows != 800 || len(rep.Features) != 24 {
		t.Fatalf("unshifted window: %+v; want 1000 rows against the 800-row training split, 24 features, no drift", rep)
	}
	for _, fd := range rep.Features {
		if fd.PSI >= 0.1 || *fd.KS >= 0.1 {
			t.Errorf("unshifted %s: PSI %.3f KS %.3f", fd.Name, fd.PSI, *fd.KS)
		}
	}
	if rep.Prediction == nil || rep.Prediction.Drifted {
		t.Errorf("unshifted prediction drift: %+v", rep.Prediction)
	}
	es := events(t, m, f.ws.ID, "credit")
	if len(kinds(es, joule.DeploymentDrift)) != 0 || len(kinds(es, joule.DeploymentAlert)) != 0 || len(got.list()) != 0 {
		t.Fatalf("unshifted window raised events %+v, alerts %+v", es, got.list())
	}

	shifted := shiftRows(base, map[string]float64{"column1": 24, "column9": 20})
	f.clock.Advance(time.Minute)
	// Two requests of 500 rows: the window closes on the second.
	if _, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, shifted[:500]))); err != nil {
		t.Fatal(err)
	}
	m.mon.wait()
	if st, _ := m.Drift(ctx, f.ws.ID, "credit"); len(st.History) != 1 || st.PendingRows != 500 {
		t.Fatalf("half a window: %d reports, %d pending; want 1 and 500", len(st.History), st.PendingRows)
	}
	if _, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, shifted[500:]))); err != nil {
		t.Fatal(err)
	}
	m.mon.wait()
	d, err := m.Get(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	rep2 := d.Status.Drift
	if rep2 == nil || !rep2.Drifted || !slices.Contains(rep2.DriftedFeatures, "column1") || !slices.Contains(rep2.DriftedFeatures, "column9") {
		t.Fatalf("shifted window: status.drift = %+v; want column1 and column9 drifted", rep2)
	}
	for _, fd := range rep2.Features {
		if fd.Name == "column1" && (fd.PSI < 0.2 || *fd.KS < 0.1) {
			t.Errorf("column1 shifted by 24: PSI %.3f KS %.3f, want over 0.2 and 0.1", fd.PSI, *fd.KS)
		}
	}
	es = events(t, m, f.ws.ID, "credit")
	drift, alert := kinds(es, joule.DeploymentDrift), kinds(es, joule.DeploymentAlert)
	if len(drift) != 1 || len(alert) != 1 || !strings.Contains(drift[0].Reason, "column1 PSI") || !strings.Contains(alert[0].Reason, "column9 PSI") {
		t.Fatalf("events after the shifted window: drift %+v alert %+v; want one each naming column1 and column9", drift, alert)
	}
	if h := got.list(); len(h) != 1 || h[0].ID != alert[0].ID {
		t.Errorf("alert hook got %+v, want the alert event %s", h, alert[0].ID)
	}
	// Events mark changes. A second window drifted in the same features
	// adds its report, but no drift event and no alert; one where only
	// column1 drifts is a drift event (the set changed) but no alert (no
	// new feature); a clean window is a drift event saying so.
	window := func(rows []map[string]any, wantDrift, wantAlert, wantReports int) {
		t.Helper()
		if _, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, rows))); err != nil {
			t.Fatal(err)
		}
		m.mon.wait()
		es := events(t, m, f.ws.ID, "credit")
		st, _ := m.Drift(ctx, f.ws.ID, "credit")
		if d, a := len(kinds(es, joule.DeploymentDrift)), len(kinds(es, joule.DeploymentAlert)); d != wantDrift || a != wantAlert || len(st.History) != wantReports {
			t.Fatalf("%d drift events, %d alerts, %d reports; want %d, %d and %d", d, a, len(st.History), wantDrift, wantAlert, wantReports)
		}
	}
	window(shifted, 1, 1, 3)
	window(shiftRows(base, map[string]float64{"column1": 24}), 2, 1, 4)
	if st, _ := m.Drift(ctx, f.ws.ID, "credit"); !slices.Equal(st.Latest.DriftedFeatures, []string{"column1"}) {
		t.Errorf("column1 alone shifted: drifted %v, want [column1]", st.Latest.DriftedFeatures)
	}
	window(base, 3, 1, 5)
	if es := kinds(events(t, m, f.ws.ID, "credit"), joule.DeploymentDrift); !slices.ContainsFunc(es, func(e joule.DeploymentEvent) bool {
		return strings.Contains(e.Reason, "within the thresholds again")
	}) {
		t.Errorf("after a clean window, drift events %+v; want one saying it is within the thresholds again", es)
	}
}

// TestDriftTimeWindow: with monitor.window set, a window whose first row
// is older than it closes at the next row, once it holds MinWindowRows.
func TestDriftTimeWindow(t *testing.T) {
	t.Parallel()
	f := newRealFixture(t, "finance/german.data-numeric", joule.TrainSpec{Target: "column24", Algorithm: "logistic_regression"})
	m := f.manager(t, MonitorConfig{})
	ctx := t.Context()
	mon := &joule.DeploymentMonitor{Window: joule.Duration(time.Hour)}
	if _, err := m.Create(ctx, f.ws.ID, joule.Deployment{Name: "credit", Model: "m", MinReplicas: 1, Monitor: mon}, "tok"); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx)
	send := func(rows []map[string]any) {
		t.Helper()
		if _, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, rows))); err != nil {
			t.Fatal(err)
		}
		m.mon.wait()
	}
	send(f.sample(150, 2))
	f.clock.Advance(2 * time.Hour)
	send(f.sample(1, 3)) // 150 rows is under MinWindowRows: the window goes on
	if st, _ := m.Drift(ctx, f.ws.ID, "credit"); len(st.History) != 0 || st.PendingRows != 151 {
		t.Fatalf("151 rows after 2h: %d reports, %d pending; want 0 and 151", len(st.History), st.PendingRows)
	}
	send(f.sample(60, 4)) // the window, 2h old, closes at 200 rows; 11 start the next
	st, _ := m.Drift(ctx, f.ws.ID, "credit")
	if len(st.History) != 1 || st.History[0].Rows != 200 || st.PendingRows != 11 {
		t.Fatalf("after the hour: %d reports, %d pending; want one of 200 rows, 11 pending", len(st.History), st.PendingRows)
	}
	if r := st.History[0]; !r.WindowStart.Equal(f.rows0Time()) || !r.WindowEnd.Equal(f.clock.Now()) {
		t.Errorf("window %s to %s, want from the first row's time to now", r.WindowStart, r.WindowEnd)
	}
}

// TestFeedbackClassifier: labels for a 1,000-row prediction of the german
// model give the accuracy and macro F1 worked out here from the same
// rows, and an accuracy under monitor.min_accuracy raises one alert.
func TestFeedbackClassifier(t *testing.T) {
	t.Parallel()
	f := newRealFixture(t, "finance/german.data-numeric", joule.TrainSpec{Target: "column24", Algorithm: "logistic_regression"})
	var got alerts
	m := f.manager(t, MonitorConfig{Alert: got.hook})
	ctx := t.Context()
	mon := &joule.DeploymentMonitor{MinAccuracy: 0.9, WindowRows: 500}
	if _, err := m.Create(ctx, f.ws.ID, joule.Deployment{Name: "credit", Model: "m", MinReplicas: 1, Monitor: mon}, "tok"); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx)
	resp, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, f.rows)))
	if err != nil {
		t.Fatal(err)
	}
	// The first 99 labels: under min_labels (100), no check yet.
	label := func(from, to int) joule.FeedbackRequest {
		var req joule.FeedbackRequest
		for i := from; i < to; i++ {
			req.Labels = append(req.Labels, joule.FeedbackLabel{ID: resp.ID, Row: i, Label: fmt.Sprint(f.rows[i]["column24"])})
		}
		return req
	}
	post := func(req joule.FeedbackRequest) joule.FeedbackResult {
		t.Helper()
		b, _ := json.Marshal(req)
		res, err := m.Feedback(ctx, f.ws.ID, "credit", strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("Feedback: %v", err)
		}
		m.mon.wait()
		return res
	}
	res := post(label(0, 99))
	if res.Accepted != 99 || len(got.list()) != 0 {
		t.Fatalf("99 labels: %+v, alerts %v; want 99 accepted, no alert", res, got.list())
	}
	res = post(label(99, 1000))
	if res.Accepted != 901 || len(res.Live) != 1 {
		t.Fatalf("the rest: %+v", res)
	}
	// By hand: accuracy and per-class F1 over all 1,000 rows, and over the
	// latest 500 (the window).
	hand := func(from int) (float64, float64) {
		tp, fp, fn := map[string]int{}, map[string]int{}, map[string]int{}
		correct := 0
		for i := from; i < 1000; i++ {
			y, p := fmt.Sprint(f.rows[i]["column24"]), resp.Predictions[i].(string)
			if y == p {
				correct++
				tp[y]++
			} else {
				fn[y]++
				fp[p]++
			}
		}
		f1 := 0.0
		for _, c := range []string{"1", "2"} {
			f1 += 2 * float64(tp[c]) / float64(2*tp[c]+fp[c]+fn[c])
		}
		return float64(correct) / float64(1000-from), f1 / 2
	}
	live := res.Live[0]
	acc, f1 := hand(0)
	wacc, wf1 := hand(500)
	if live.Labelled != 1000 || live.Overall.Rows != 1000 || !near(*live.Overall.Accuracy, acc, 1e-12) || !near(*live.Overall.MacroF1, f1, 1e-12) {
		t.Errorf("overall: %+v accuracy %g f1 %g; want 1000 rows, %g and %g", live.Overall, *live.Overall.Accuracy, *live.Overall.MacroF1, acc, f1)
	}
	if live.Window.Rows != 500 || !near(*live.Window.Accuracy, wacc, 1e-12) || !near(*live.Window.MacroF1, wf1, 1e-12) {
		t.Errorf("window: %+v; want 500 rows, accuracy %g f1 %g", live.Window, wacc, wf1)
	}
	if acc < 0.7 || acc > 0.9 {
		t.Errorf("accuracy on german = %g; a logistic regression gets about 0.78", acc)
	}
	if !live.Alerting {
		t.Errorf("live quality %g under min_accuracy 0.9 is not alerting", wacc)
	}
	al := kinds(events(t, m, f.ws.ID, "credit"), joule.DeploymentAlert)
	if len(al) != 1 || !strings.Contains(al[0].Reason, "below monitor.min_accuracy 0.9") || len(got.list()) != 1 {
		t.Fatalf("alerts: events %+v, hook %+v; want one naming min_accuracy", al, got.list())
	}
	d, _ := m.Get(ctx, f.ws.ID, "credit")
	if d.Status.Live == nil || d.Status.Live.Labelled != 1000 || d.Status.Live.Predictions != 1000 {
		t.Errorf("status.live = %+v", d.Status.Live)
	}
	// Sending a label again: a duplicate, no change.
	res = post(label(0, 1))
	if res.Accepted != 0 || res.Duplicates != 1 {
		t.Errorf("same label again: %+v, want one duplicate", res)
	}
}

// TestFeedbackRegressor: a ridge regression on ENB2012 (heating load Y1);
// labels give the RMSE and MAE worked out here, and an RMSE over
// monitor.max_rmse raises an alert.
func TestFeedbackRegressor(t *testing.T) {
	t.Parallel()
	f := newRealFixture(t, "energy/ENB2012_data.csv", joule.TrainSpec{Target: "Y1", Features: []string{"X1", "X2", "X3", "X5", "X6", "X7", "X8"}, Algorithm: "ridge"})
	var got alerts
	m := f.manager(t, MonitorConfig{Alert: got.hook})
	ctx := t.Context()
	mon := &joule.DeploymentMonitor{MaxRMSE: 1, MinLabels: 100}
	if _, err := m.Create(ctx, f.ws.ID, joule.Deployment{Name: "heat", Model: "m", MinReplicas: 1, Monitor: mon}, "tok"); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx)
	rows := f.rows[:300]
	resp, err := m.Predict(ctx, f.ws.ID, "heat", strings.NewReader(f.instances(t, rows)))
	if err != nil {
		t.Fatal(err)
	}
	var req joule.FeedbackRequest
	var sq, ab float64
	for i, r := range rows {
		req.Labels = append(req.Labels, joule.FeedbackLabel{ID: resp.ID, Row: i, Label: r["Y1"]})
		e := resp.Predictions[i].(float64) - r["Y1"].(float64)
		sq, ab = sq+e*e, ab+math.Abs(e)
	}
	b, _ := json.Marshal(req)
	res, err := m.Feedback(ctx, f.ws.ID, "heat", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	m.mon.wait()
	q := res.Live[0]
	rmse, mae := math.Sqrt(sq/300), ab/300
	if q.Task != "regression" || !near(*q.Overall.RMSE, rmse, 1e-9) || !near(*q.Overall.MAE, mae, 1e-9) || !near(*q.Window.RMSE, rmse, 1e-9) {
		t.Errorf("live = %+v; want RMSE %g, MAE %g", q, rmse, mae)
	}
	if rmse <= 1 || !q.Alerting {
		t.Fatalf("RMSE %g: alerting %v, want an RMSE over 1 and alerting", rmse, q.Alerting)
	}
	if al := kinds(events(t, m, f.ws.ID, "heat"), joule.DeploymentAlert); len(al) != 1 || !strings.Contains(al[0].Reason, "above monitor.max_rmse 1") || len(got.list()) != 1 {
		t.Errorf("alerts %+v, hook %+v; want one naming max_rmse", al, got.list())
	}
}

// TestFeedbackBadInput: every bad item is EINVALID naming it, and a call
// with a bad item keeps none of its labels.
func TestFeedbackBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := NewManager(Config{Store: f.store, DataDir: f.dir, Now: f.clock.Now, Monitor: MonitorConfig{FeedbackRows: 4}})
	t.Cleanup(m.Stop)
	f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1})
	ctx := t.Context()
	m.Tick(ctx)
	two := `{"instances": [{"a": 1, "b": 2, "n": 3}, {"a": 0, "b": 1, "n": 1}]}`
	r1, err := predict(t, m, f.ws.ID, "credit", two)
	if err != nil {
		t.Fatal(err)
	}
	id := r1.ID
	ok := fmt.Sprintf(`{"id": %q, "row": 0, "label": "yes"}`, id)
	tests := []struct{ name, body, want string }{
		{"empty body", ``, "body: empty"},
		{"not json", `{"labels": [`, "body: not JSON"},
		{"no labels", `{"labels": []}`, "labels: empty"},
		{"unknown key", `{"rows": []}`, `body: unknown field "rows"`},
		{"item not object", `{"labels": [` + ok + `, 3]}`, "labels[1]: not an object"},
		{"item unknown field", `{"labels": [{"id": "x", "lable": 1}]}`, `labels[0]: unknown field "lable"`},
		{"missing id", `{"labels": [` + ok + `, {"row": 0, "label": "no"}]}`, "labels[1].id: required"},
		{"id not string", `{"labels": [{"id": 7, "label": "no"}]}`, "labels[0].id: 7 is not a prediction ID"},
		{"row negative", `{"labels": [{"id": "x", "row": -1, "label": "no"}]}`, "labels[0].row: -1 is not a row index"},
		{"row fraction", `{"labels": [{"id": "x", "row": 1.5, "label": "no"}]}`, "labels[0].row: 1.5 is not a row index"},
		{"missing label", `{"labels": [{"id": "x", "row": 0}]}`, "labels[0].label: required"},
		{"null label", `{"labels": [{"id": "x", "label": null}]}`, "labels[0].label: required"},
		{"bool label", `{"labels": [{"id": "x", "label": true}]}`, "labels[0].label: true is not a label"},
		{"twice", `{"labels": [` + ok + `, ` + ok + `]}`, "labels[1]: row 0 of " + id + " is labelled twice in this call (also labels[0])"},
		{"unknown id", `{"labels": [` + ok + `, {"id": "prd_nope", "label": "no"}]}`, `labels[1].id: prediction "prd_nope" is unknown to deployment "credit"`},
		{"row out of range", `{"labels": [` + ok + fmt.Sprintf(`, {"id": %q, "row": 2, "label": "no"}]}`, id), "labels[1].row: 2 is out of range: prediction " + id + " has 2 rows (0 to 1)"},
		{"not a class", `{"labels": [` + ok + fmt.Sprintf(`, {"id": %q, "row": 1, "label": "maybe"}]}`, id), `labels[1].label: "maybe" is not a class of model version 1 (its classes: no, yes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Feedback(ctx, f.ws.ID, "credit", strings.NewReader(tt.body))
			if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), tt.want) {
				t.Errorf("Feedback(%s) = %v; want invalid containing %q", tt.body, err, tt.want)
			}
		})
	}
	// None of the failed calls kept row 0's label: "no" is accepted.
	res, err := m.Feedback(ctx, f.ws.ID, "credit", strings.NewReader(fmt.Sprintf(`{"labels": [{"id": %q, "label": "no"}]}`, id)))
	if err != nil || res.Accepted != 1 {
		t.Fatalf("first good label: %+v, %v", res, err)
	}
	_, err = m.Feedback(ctx, f.ws.ID, "credit", strings.NewReader(ok))
	if err == nil { // the body is an item, not a request
		t.Fatal("an item as the body was accepted")
	}
	_, err = m.Feedback(ctx, f.ws.ID, "credit", strings.NewReader(`{"labels": [`+ok+`]}`))
	if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), "labels[0]: row 0 of "+id+" already has the label no; labels are final") {
		t.Errorf("relabel = %v", err)
	}
	// Three more two-row predictions: the store keeps 4 rows, so the
	// first ID is forgotten.
	for range 3 {
		if _, err := predict(t, m, f.ws.ID, "credit", two); err != nil {
			t.Fatal(err)
		}
	}
	_, err = m.Feedback(ctx, f.ws.ID, "credit", strings.NewReader(fmt.Sprintf(`{"labels": [{"id": %q, "row": 1, "label": "no"}]}`, id)))
	if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), "older than the latest 4 predicted rows") {
		t.Errorf("forgotten ID = %v", err)
	}
	if _, err := m.Feedback(ctx, f.ws.ID, "nope", strings.NewReader(ok)); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("feedback to a missing deployment = %v, want not found", err)
	}
}

// TestMonitorSettings: bad settings are EINVALID naming the field at
// create and at SetMonitor; good ones are stored with defaults and an
// event.
func TestMonitorSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager(t, nil)
	ctx := t.Context()
	for _, c := range []struct {
		mon  joule.DeploymentMonitor
		want string
	}{
		{joule.DeploymentMonitor{WindowRows: 10}, "monitor.window_rows: 10 is below 200"},
		{joule.DeploymentMonitor{PSIThreshold: -1}, "monitor.psi_threshold"},
		{joule.DeploymentMonitor{KSThreshold: 2}, "monitor.ks_threshold"},
		{joule.DeploymentMonitor{MinAccuracy: 1.5}, "monitor.min_accuracy"},
		{joule.DeploymentMonitor{MaxRMSE: math.NaN()}, "monitor.max_rmse"},
		{joule.DeploymentMonitor{Window: joule.Duration(time.Second)}, "monitor.window: 1s is under a minute"},
	} {
		_, err := m.Create(ctx, f.ws.ID, joule.Deployment{Name: "bad", Model: "credit", Monitor: &c.mon}, "tok")
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), c.want) {
			t.Errorf("Create with %+v = %v, want invalid naming %s", c.mon, err, c.want)
		}
	}
	f.deploy(t, m, joule.Deployment{Name: "credit"})
	if _, err := m.SetMonitor(ctx, f.ws.ID, "credit", joule.DeploymentMonitor{KSThreshold: 3}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("SetMonitor(ks 3) = %v, want invalid", err)
	}
	d, err := m.SetMonitor(ctx, f.ws.ID, "credit", joule.DeploymentMonitor{PSIThreshold: 0.3, MinAccuracy: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	want := joule.DeploymentMonitor{WindowRows: 1000, PSIThreshold: 0.3, KSThreshold: 0.1, MinAccuracy: 0.8, MinLabels: 100}
	stored, err := f.store.GetDeployment(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if *d.Monitor != want || stored.Monitor == nil || *stored.Monitor != want {
		t.Errorf("monitor = %+v, stored %+v; want %+v", d.Monitor, stored.Monitor, want)
	}
	es := events(t, m, f.ws.ID, "credit")
	if last := es[len(es)-1]; last.Kind != joule.DeploymentUpdated || !strings.Contains(last.Reason, "drift at PSI ≥ 0.3 or KS ≥ 0.1; alert below accuracy 0.8") {
		t.Errorf("last event = %+v", last)
	}
}

// TestMonitorDisabled: a deployment with monitoring off gives no IDs and
// refuses feedback.
func TestMonitorDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1, Monitor: &joule.DeploymentMonitor{Disabled: true}})
	m.Tick(t.Context())
	resp, err := predict(t, m, f.ws.ID, "credit", `{"instances": [{"a": 1, "b": 2, "n": 3}]}`)
	if err != nil || resp.ID != "" {
		t.Fatalf("Predict = %+v, %v; want no id", resp, err)
	}
	if _, err := m.Feedback(t.Context(), f.ws.ID, "credit", strings.NewReader(`{"labels": [{"id": "prd_x", "label": "no"}]}`)); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("Feedback = %v, want invalid", err)
	}
}

// FuzzParseFeedback: the feedback parser never panics; what it accepts
// has at least one item, each with an ID, a row from 0 and a label, and
// what it refuses is EINVALID.
func FuzzParseFeedback(f *testing.F) {
	for _, s := range []string{
		`{"labels": [{"id": "prd_1", "row": 0, "label": "yes"}]}`,
		`{"labels": [{"id": "prd_1", "row": 3, "label": 2.5}, {"id": "prd_2", "label": 1}]}`,
		`{"labels": []}`, `{"labels": [null]}`, `{"labels": [{"id": "a", "row": 1e3, "label": "x"}]}`,
		`{"labels": [{"id": "a", "row": "0", "label": {"x": 1}}]}`, `[]`, `null`, ``, `{"labels": [{"id": "a", "label": -1e400}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := parseFeedback(b)
		if err != nil {
			if joule.ErrorCode(err) != joule.EINVALID {
				t.Fatalf("parseFeedback(%q) = %v, want invalid", b, err)
			}
			return
		}
		if len(items) == 0 {
			t.Fatalf("parseFeedback(%q) accepted no items", b)
		}
		for _, it := range items {
			if it.id == "" || it.row < 0 || it.text == "" && !it.isNum {
				t.Fatalf("parseFeedback(%q) accepted %+v", b, it)
			}
		}
	})
}

// BenchmarkPredictMonitor measures a 100-row predict call of the german
// model with monitoring on (the ID, the feedback store, the copy into the
// window; an evaluation every 1,000 rows, off the request path) and off.
func BenchmarkPredictMonitor(b *testing.B) {
	for _, off := range []bool{false, true} {
		b.Run(fmt.Sprintf("disabled=%t", off), func(b *testing.B) {
			f := newRealFixture(b, "finance/german.data-numeric", joule.TrainSpec{Target: "column24", Algorithm: "logistic_regression"})
			m := NewManager(Config{Store: f.store, DataDir: f.dir, Now: f.clock.Now, Engine: dataset.EngineConfig{TempDir: filepath.Join(f.dir, "tmp")}})
			b.Cleanup(m.Stop)
			if _, err := m.Create(b.Context(), f.ws.ID, joule.Deployment{Name: "credit", Model: "m", MinReplicas: 1, Monitor: &joule.DeploymentMonitor{Disabled: off}}, "tok"); err != nil {
				b.Fatal(err)
			}
			m.Tick(b.Context())
			body := f.instances(b, f.rows[:100])
			// Warm up: the first window computes the version's reference.
			for range 10 {
				if _, err := m.Predict(b.Context(), f.ws.ID, "credit", strings.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
			m.mon.wait()
			for b.Loop() {
				if _, err := m.Predict(b.Context(), f.ws.ID, "credit", strings.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDriftRecipeModel: a model trained with a recipe (duration and age
// standardized) is compared in its own feature space: the training split
// is replayed through the fitted recipe, so the dataset's own rows do not
// drift, and rows with a longer duration do.
func TestDriftRecipeModel(t *testing.T) {
	t.Parallel()
	f := newRealFixture(t, "finance/german.data-numeric", joule.TrainSpec{Target: "column24", Algorithm: "logistic_regression",
		Recipe: json.RawMessage(`{"steps": [{"standardize": {"columns": ["column1", "column9"]}}]}`)})
	if !f.mv.Recipe {
		t.Fatalf("model version %+v has no recipe", f.mv)
	}
	m := f.manager(t, MonitorConfig{})
	ctx := t.Context()
	// The recipe is replayed row by row on the predict path (DuckDB), so
	// the windows are small: 200 rows, with the KS threshold over the
	// noise of 200 against 800 rows (0.108 at 95 %).
	mon := &joule.DeploymentMonitor{WindowRows: 200, KSThreshold: 0.2}
	if _, err := m.Create(ctx, f.ws.ID, joule.Deployment{Name: "credit", Model: "m", MinReplicas: 1, Monitor: mon}, "tok"); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx)
	rows := f.sample(200, 9)
	if _, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, rows))); err != nil {
		t.Fatalf("Predict: %v", err)
	}
	shifted := shiftRows(rows, map[string]float64{"column1": 24})
	if _, err := m.Predict(ctx, f.ws.ID, "credit", strings.NewReader(f.instances(t, shifted))); err != nil {
		t.Fatal(err)
	}
	m.mon.wait()
	st, err := m.Drift(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 2 {
		t.Fatalf("%d reports, want 2", len(st.History))
	}
	shift, base := st.History[0], st.History[1]
	if base.Error != "" || base.Drifted || base.Reference != "training split" || base.ReferenceRows != 800 {
		t.Errorf("unshifted window through the recipe: %+v", base)
	}
	if shift.Error != "" || !slices.Equal(shift.DriftedFeatures, []string{"column1"}) {
		t.Errorf("shifted window through the recipe: drifted %v, error %q; want column1", shift.DriftedFeatures, shift.Error)
	}
}
