package serving

import (
	"context"
	"fmt"
	"math"
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
)

// addVersion fits another logistic regression on data drawn with seed
// (labels flipped when flip is set, so its answers differ) and registers
// it as the next version of the fixture's model.
func (f *fixture) addVersion(t *testing.T, seed uint64, flip bool) int {
	t.Helper()
	ctx := t.Context()
	r := rand.New(rand.NewPCG(seed, seed))
	var X [][]float64
	var y []float64
	for i := range 200 {
		c := i % 2
		X = append(X, []float64{r.NormFloat64() + 2*float64(c), r.NormFloat64() - float64(c), float64(r.IntN(5))})
		if flip {
			c = 1 - c
		}
		y = append(y, float64(c))
	}
	est, err := ml.New("logistic_regression", ml.Classification, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := est.Fit(X, y)
	if err != nil {
		t.Fatal(err)
	}
	mdl, err := f.store.GetModel(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("model-%d-%v.jm", seed, flip)
	file, err := os.Create(filepath.Join(f.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	h := modelfile.Header{Features: []modelfile.Feature{{Name: "a"}, {Name: "b"}, {Name: "n"}}, Classes: []string{"no", "yes"}}
	if err := ml.Save(file, m, h); err != nil {
		t.Fatal(err)
	}
	file.Close()
	now := f.clock.Now()
	v, err := f.store.CreateModelVersion(ctx, joule.ModelVersion{ID: joule.NewID("mv", now), ModelID: mdl.ID, Algorithm: "logistic_regression", Task: "classification",
		Features: []joule.ModelFeature{{Name: "a", Type: joule.TypeFloat}, {Name: "b", Type: joule.TypeFloat}, {Name: "n", Type: joule.TypeInteger}},
		Classes:  []string{"no", "yes"}, Source: "train", Path: name, CreatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return v.Version
}

const oneRow = `{"instances": [{"a": 0.5, "b": -1, "n": 3}]}`

// TestCanarySplitAndRollback is issue #7's acceptance: a 10% canary over
// 10,000 requests splits 10% ± 1.5%, and a rollback takes effect for the
// next request.
func TestCanarySplitAndRollback(t *testing.T) {
	f := newFixture(t)
	v2 := f.addVersion(t, 11, false)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", ModelVersion: 1, MinReplicas: 1})
	ctx := t.Context()
	if _, err := m.Traffic(ctx, f.ws.ID, "credit", joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: v2, Percent: 10}}); err != nil {
		t.Fatalf("Traffic: %v", err)
	}
	// Eight clients at once, as a server sees them.
	const n = 10000
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for range n / 8 {
				resp, err := predict(t, m, f.ws.ID, "credit", oneRow)
				if err != nil {
					t.Errorf("client %d: %v", c, err)
					return
				}
				mu.Lock()
				got[resp.ModelVersion]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	share := float64(got[v2]) / n
	t.Logf("10%% canary over %d requests: version 1 %d, version %d %d (%.2f%%)", n, got[1], v2, got[v2], 100*share)
	if math.Abs(share-0.10) > 0.015 || got[1]+got[v2] != n {
		t.Fatalf("canary share %.4f (%v), want 0.10 ± 0.015", share, got)
	}
	d, err := m.Get(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Status.Traffic) != 2 || d.Status.Traffic[1].Role != joule.TrafficCanary || d.Status.Traffic[1].Requests != int64(got[v2]) || d.Status.Traffic[0].Percent != 90 {
		t.Fatalf("status traffic = %+v", d.Status.Traffic)
	}

	if _, err := m.Rollback(ctx, f.ws.ID, "credit", "canary looked worse"); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	for i := range 50 {
		resp, err := predict(t, m, f.ws.ID, "credit", oneRow)
		if err != nil || resp.ModelVersion != 1 {
			t.Fatalf("request %d after rollback: version %d, %v; want version 1", i, resp.ModelVersion, err)
		}
	}
	es := events(t, m, f.ws.ID, "credit")
	last := es[len(es)-1]
	if last.Kind != joule.DeploymentRollback || !strings.Contains(last.Reason, "canary version 2 removed") || !strings.Contains(last.Reason, "canary looked worse") {
		t.Fatalf("last event = %+v", last)
	}
	if _, err := m.Rollback(ctx, f.ws.ID, "credit", ""); joule.ErrorCode(err) != joule.ECONFLICT {
		t.Fatalf("second rollback: %v, want a conflict (nothing to roll back to)", err)
	}
}

// TestPromoteKeepsTheCanaryWarmAndRollsBack: promoting the canary makes it
// the primary with the replicas it has, and rollback returns to the
// version before.
func TestPromoteKeepsTheCanaryWarmAndRollsBack(t *testing.T) {
	f := newFixture(t)
	v2 := f.addVersion(t, 11, false)
	var mu sync.Mutex
	loads := map[int]int{}
	m := f.manager(t, nil)
	load := m.cfg.Load
	m.cfg.Load = func(ctx context.Context, mv joule.ModelVersion) (*Predictor, error) {
		mu.Lock()
		loads[mv.Version]++
		mu.Unlock()
		return load(ctx, mv)
	}
	f.deploy(t, m, joule.Deployment{Name: "credit", ModelVersion: 1, MinReplicas: 1})
	ctx := t.Context()
	if _, err := m.Traffic(ctx, f.ws.ID, "credit", joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: v2, Percent: 50}}); err != nil {
		t.Fatal(err)
	}
	m.Tick(ctx) // the canary gets its one warm replica
	d, err := m.Promote(ctx, f.ws.ID, "credit", 0, "canary error rate 0%")
	if err != nil {
		t.Fatalf("Promote: %v", err)
	}
	if d.ModelVersion != v2 || d.PreviousVersion != 1 || d.Canary != nil {
		t.Fatalf("after promote: version %d previous %d canary %+v", d.ModelVersion, d.PreviousVersion, d.Canary)
	}
	if d.Status.Replicas != 1 || !d.Status.Ready {
		t.Fatalf("promoted canary: %d replicas, ready %v; want its warm replica", d.Status.Replicas, d.Status.Ready)
	}
	resp, err := predict(t, m, f.ws.ID, "credit", oneRow)
	if err != nil || resp.ModelVersion != v2 {
		t.Fatalf("after promote: version %d, %v", resp.ModelVersion, err)
	}
	mu.Lock()
	if loads[v2] != 1 {
		t.Errorf("version %d loaded %d times, want once (promote keeps its replica)", v2, loads[v2])
	}
	mu.Unlock()
	stored, err := f.store.GetDeployment(ctx, f.ws.ID, "credit")
	if err != nil || stored.ModelVersion != v2 || stored.PreviousVersion != 1 {
		t.Fatalf("stored after promote: %+v, %v", stored, err)
	}
	if _, err := m.Rollback(ctx, f.ws.ID, "credit", ""); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	resp, err = predict(t, m, f.ws.ID, "credit", oneRow)
	if err != nil || resp.ModelVersion != 1 {
		t.Fatalf("after rollback: version %d, %v; want 1", resp.ModelVersion, err)
	}
	var kinds []string
	for _, e := range events(t, m, f.ws.ID, "credit") {
		if e.Kind != joule.DeploymentScale {
			kinds = append(kinds, e.Kind+": "+e.Reason)
		}
	}
	want := []string{
		"created: serves model credit version 1; replicas 1 to 4, target concurrency 8",
		"traffic: canary: version 2 takes 50% of requests",
		"promote: version 2 promoted to primary, replacing version 1 (rollback returns to it): canary error rate 0%",
		"rollback: back to version 1 from version 2",
	}
	if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}

	// A restarted server serves what was stored.
	m2 := f.manager(t, nil)
	if err := m2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = predict(t, m2, f.ws.ID, "credit", oneRow)
	if err != nil || resp.ModelVersion != 1 {
		t.Fatalf("after restart: version %d, %v", resp.ModelVersion, err)
	}
}

// TestShadowComparesAndDiscards: a shadow sees the mirrored requests, its
// answers never reach the client, and its agreement with the served
// version is counted.
func TestShadowComparesAndDiscards(t *testing.T) {
	f := newFixture(t)
	same := f.addVersion(t, 7, false)   // the same data as version 1: the same model
	flipped := f.addVersion(t, 7, true) // labels flipped: opposite answers
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", ModelVersion: 1, MinReplicas: 1})
	ctx := t.Context()
	for _, c := range []struct {
		version int
		agree   float64
	}{{same, 1}, {flipped, 0}} {
		if _, err := m.Traffic(ctx, f.ws.ID, "credit", joule.TrafficRequest{Shadow: &joule.DeploymentShadow{ModelVersion: c.version}}); err != nil {
			t.Fatal(err)
		}
		for range 40 {
			resp, err := predict(t, m, f.ws.ID, "credit", `{"instances": [{"a": 0.5, "b": -1, "n": 3}, {"a": 3, "b": -2, "n": 0}]}`)
			if err != nil || resp.ModelVersion != 1 {
				t.Fatalf("served version %d, %v; a shadow must never answer", resp.ModelVersion, err)
			}
		}
		var sc *joule.ShadowComparison
		for range 500 { // the mirrors run in the background
			d, _ := m.Get(ctx, f.ws.ID, "credit")
			if sc = d.Status.Shadow; sc != nil && sc.Requests+sc.Dropped == 40 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if sc == nil || sc.ModelVersion != c.version || sc.Requests+sc.Dropped != 40 || sc.Errors != 0 || sc.Rows != 2*sc.Requests || sc.Requests == 0 {
			t.Fatalf("shadow %d: %+v", c.version, sc)
		}
		if sc.Agreement != c.agree {
			t.Fatalf("shadow %d agreement %g, want %g (%+v)", c.version, sc.Agreement, c.agree, sc)
		}
	}
	if _, err := m.Traffic(ctx, f.ws.ID, "credit", joule.TrafficRequest{ClearShadow: true}); err != nil {
		t.Fatal(err)
	}
	if d, _ := m.Get(ctx, f.ws.ID, "credit"); d.Shadow != nil || d.Status.Shadow != nil || len(d.Status.Traffic) != 0 {
		t.Fatalf("after clearing: %+v %+v", d.Shadow, d.Status)
	}
}

// TestTrafficBadInput: every bad traffic change is refused naming the
// field, and nothing changes.
func TestTrafficBadInput(t *testing.T) {
	f := newFixture(t)
	v2 := f.addVersion(t, 11, false)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", ModelVersion: 1, MinReplicas: 1})
	ctx := t.Context()
	cases := []struct {
		req  joule.TrafficRequest
		want string
	}{
		{joule.TrafficRequest{}, "body: set canary or shadow"},
		{joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: v2, Percent: 0}}, "canary.percent: 0 is not between 0 and 100"},
		{joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: v2, Percent: 100}}, "canary.percent: 100 is not between"},
		{joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: 1, Percent: 5}}, "canary.model_version: version 1 is already the primary"},
		{joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: 9, Percent: 5}}, "canary.model_version: "},
		{joule.TrafficRequest{Shadow: &joule.DeploymentShadow{ModelVersion: v2, Percent: 120}}, "shadow.percent: 120"},
		{joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: v2, Percent: 5}, Shadow: &joule.DeploymentShadow{ModelVersion: v2}}, "shadow.model_version: version 2 is the canary"},
		{joule.TrafficRequest{Canary: &joule.DeploymentCanary{ModelVersion: v2, Percent: 5}, ClearCanary: true}, "canary: set it or clear it"},
	}
	for _, c := range cases {
		_, err := m.Traffic(ctx, f.ws.ID, "credit", c.req)
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), c.want) {
			t.Errorf("%+v: %v, want EINVALID %q", c.req, err, c.want)
		}
	}
	if _, err := m.Promote(ctx, f.ws.ID, "credit", 0, ""); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("promote without a canary: %v", err)
	}
	if _, err := m.Promote(ctx, f.ws.ID, "credit", 1, ""); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("promote the primary: %v", err)
	}
	if _, err := m.Promote(ctx, f.ws.ID, "credit", 42, ""); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("promote a missing version: %v", err)
	}
	d, _ := m.Get(ctx, f.ws.ID, "credit")
	if d.ModelVersion != 1 || d.Canary != nil || d.Shadow != nil {
		t.Fatalf("a refused change changed the deployment: %+v", d)
	}
}

// TestHistory: each autoscaler tick adds a point with the tick's requests
// per second, latency percentiles, errors and replicas.
func TestHistory(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", ModelVersion: 1, MinReplicas: 1})
	ctx := t.Context()
	m.Tick(ctx)
	for range 30 {
		if _, err := predict(t, m, f.ws.ID, "credit", oneRow); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(2 * time.Second)
	m.Tick(ctx)
	f.clock.Advance(time.Second)
	m.Tick(ctx)
	h, err := m.History(ctx, f.ws.ID, "credit")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("history has %d points, want 3", len(h))
	}
	if h[1].RPS != 15 || h[1].Replicas != 1 || h[1].Errors != 0 || !h[1].Time.Equal(f.clock.Now().Add(-time.Second)) {
		t.Fatalf("point after 30 requests in 2 s = %+v, want 15 RPS", h[1])
	}
	if h[2].RPS != 0 || h[2].P99MS != 0 {
		t.Fatalf("quiet tick = %+v", h[2])
	}
	if _, err := m.History(ctx, f.ws.ID, "nope"); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Fatalf("unknown deployment: %v", err)
	}
}
