package serving

import (
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// TestTargetRPSScalesUp: with a target of requests per second per
// replica, the autoscaler wants enough replicas for the rate even when
// requests never overlap, capped at max, and says so in the event.
func TestTargetRPSScalesUp(t *testing.T) {
	f := newFixture(t)
	m := f.manager(t, nil)
	f.deploy(t, m, joule.Deployment{Name: "credit", MinReplicas: 1, MaxReplicas: 3, TargetRPS: 10})
	ctx := t.Context()
	m.Tick(ctx)
	for range 25 { // one at a time: concurrency 1
		if _, err := predict(t, m, f.ws.ID, "credit", oneRow); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(time.Second)
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 3 {
		t.Fatalf("25 requests in 1 s at a target of 10/s: %d replicas, want 3", n)
	}
	es := events(t, m, f.ws.ID, "credit")
	if last := es[len(es)-1]; last.From != 1 || last.To != 3 || !strings.Contains(last.Reason, "25.0 requests per second over a target of 10 per replica") {
		t.Fatalf("scale event = %+v", last)
	}
	for range 60 {
		if _, err := predict(t, m, f.ws.ID, "credit", oneRow); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(time.Second)
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 3 {
		t.Fatalf("60 requests in 1 s: %d replicas, want max 3", n)
	}
	f.clock.Advance(time.Second)
	m.Tick(ctx)
	if n := replicas(t, m, f.ws.ID, "credit"); n != 1 {
		t.Fatalf("a quiet second: %d replicas, want min 1", n)
	}
	if _, err := m.Create(ctx, f.ws.ID, joule.Deployment{Name: "bad", Model: "credit", TargetRPS: -1}, "t"); joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(err.Error(), "target_rps") {
		t.Fatalf("negative target_rps: %v", err)
	}
}
