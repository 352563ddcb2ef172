package scheduler_test

import (
	"errors"
	"math"
	"testing"

	"pgregory.net/rapid"

	"github.com/joule-dev/joule/internal/scheduler"
)

var profile = scheduler.ScalingProfile{
	{0, 0, 0}, {1, 100, 50}, {2, 180, 100}, {3, 240, 150},
}

func TestPlanElasticHandWorked(t *testing.T) {
	t.Parallel()
	// Step 1 is four times greener than steps 0 and 2. 400 units of work
	// by step 3: greedy takes step 1's three replicas first (values
	// 100/(50·50)=0.04, 80/(50·50)=0.032, 60/(50·50)=0.024), then the
	// first replica of step 0 (100/(50·200)=0.01): 240 + 100 ≥ 400? no,
	// 340 — then step 2's first replica (tie with step 0's, later step):
	// 440 ≥ 400.
	f := []float64{200, 50, 200}
	plan, err := scheduler.PlanElastic(f, profile, 400, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (scheduler.ElasticPlan{1, 3, 1}); !equal(plan, want) {
		t.Errorf("plan %v, want %v", plan, want)
	}
	if w := plan.Work(profile); w < 400 {
		t.Errorf("planned work %v < 400", w)
	}
	// g = (200·50 + 50·150 + 200·50) × 1 h / 1000 = 27.5 g.
	if g := plan.Grams(profile, f, 1); math.Abs(g-27.5) > 1e-12 {
		t.Errorf("grams %v, want 27.5", g)
	}
	if _, err := scheduler.PlanElastic(f, profile, 1000, 3, 0); !errors.Is(err, scheduler.ErrNoWindow) {
		t.Errorf("work beyond 3 × 240: %v, want ErrNoWindow", err)
	}
	if p, _ := scheduler.PlanElastic(f, profile, 250, 3, 1); !equal(p, scheduler.ElasticPlan{1, 1, 1}) {
		t.Errorf("max 1 replica: %v, want one in each step", p)
	}
	for _, bad := range []scheduler.ScalingProfile{
		{{0, 0, 0}},
		{{1, 100, 50}},
		{{0, 0, 0}, {1, 100, 50}, {2, 90, 100}},
		{{0, 0, 0}, {1, math.NaN(), 50}},
		{{0, 5, 0}, {1, 100, 50}},
	} {
		if _, err := scheduler.PlanElastic(f, bad, 10, 3, 0); err == nil {
			t.Errorf("profile %v: no error", bad)
		}
	}
}

// TestPlanElasticProperties: under random forecasts, the plan does the
// work before the deadline within the replica cap, and it never emits more
// than suspend-resume at any fixed scale, less the greedy's overshoot (at
// most one replica-step).
func TestPlanElasticProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 48).Draw(t, "steps")
		f := rapid.SliceOfN(rapid.Float64Range(1, 800), n, n).Draw(t, "forecast")
		maxR := rapid.IntRange(0, 3).Draw(t, "max")
		top := 3
		if maxR > 0 {
			top = maxR
		}
		work := rapid.Float64Range(1, float64(n)*profile[top].Throughput).Draw(t, "work")
		plan, err := scheduler.PlanElastic(f, profile, work, n, maxR)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Work(profile) < work*(1-1e-9) {
			t.Fatalf("plan %v does %v of %v", plan, plan.Work(profile), work)
		}
		for _, r := range plan {
			if r > top {
				t.Fatalf("plan %v exceeds %d replicas", plan, top)
			}
		}
		g := plan.Grams(profile, f, 1)
		var maxStep float64
		for _, v := range f {
			maxStep = math.Max(maxStep, v*profile[top].PowerW/1000)
		}
		for r := 1; r <= top; r++ {
			sr, err := scheduler.SuspendResumePlan(f, profile, work, n, r)
			if err != nil {
				continue
			}
			if g > sr.Grams(profile, f, 1)+maxStep+1e-9 {
				t.Fatalf("greedy %v g > suspend-resume at %d replicas %v g (plan %v vs %v)", g, r, sr.Grams(profile, f, 1), plan, sr)
			}
		}
	})
}

func equal(a, b scheduler.ElasticPlan) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
