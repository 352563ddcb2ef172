package serving

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// spinPredictor burns CPU for each call, half of them while sleeping
// too: its calls' CPU time is known, and differs from their wall time.
type spinPredictor struct {
	spin, sleep time.Duration
}

func (p spinPredictor) Predict(ctx context.Context, body []byte, maxBatch int) (joule.PredictResponse, error) {
	for end := time.Now().Add(p.spin); time.Now().Before(end); {
	}
	time.Sleep(p.sleep)
	return joule.PredictResponse{Predictions: []any{"1"}}, nil
}

// TestReplicaCPUSampled: the calls between measured ones are charged
// their wall time times the measured ratio, so the replica's CPU time
// follows the calls' CPU time, not their wall time.
func TestReplicaCPUSampled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread CPU time is read on Linux only; elsewhere wall time stands in")
	}
	p := spinPredictor{spin: 2 * time.Millisecond, sleep: 2 * time.Millisecond}
	r := newReplica("r1", p, 1, 1, 0)
	const calls = 4 * cpuSampleEvery
	start := time.Now()
	for range calls {
		task := &task{ctx: context.Background(), done: make(chan result, 1)}
		if err := r.submit(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		<-task.done
	}
	wall := time.Since(start)
	cpu := time.Duration(r.cpuNanos.Load())
	want := calls * p.spin
	t.Logf("%d calls: CPU %v charged, %v spun, wall %v", calls, cpu, want, wall)
	// Spinning on a shared machine can be descheduled, and each call's
	// clock reads cost a little: wide bounds, but far from wall time.
	if cpu < want/2 || cpu > want*3/2 {
		t.Errorf("charged %v of CPU for %v spun (wall %v)", cpu, want, wall)
	}
	if r.predictions.Load() != calls {
		t.Errorf("%d predictions, want %d", r.predictions.Load(), calls)
	}
}

func TestReplicaChargeRatio(t *testing.T) {
	r := newReplica("r1", spinPredictor{}, 1, 1, 0)
	r.charge(time.Millisecond) // no measured call yet: wall time
	if got := r.cpuNanos.Load(); got != int64(time.Millisecond) {
		t.Fatalf("before any measured call: %d, want the wall time", got)
	}
	r.measured(int64(250*time.Microsecond), time.Millisecond) // ratio 0.25
	r.charge(4 * time.Millisecond)
	if got, want := r.cpuNanos.Load(), int64(time.Millisecond+250*time.Microsecond+time.Millisecond); got != want {
		t.Fatalf("after a 0.25 ratio: %d, want %d", got, want)
	}
	r.measured(int64(time.Millisecond), time.Millisecond) // ratio 1: running 0.25*7/8 + 1/8
	before := r.cpuNanos.Load()
	r.charge(8 * time.Millisecond)
	if got, want := r.cpuNanos.Load()-before, int64(float64(8*time.Millisecond)*(0.25*7/8+1.0/8)); got != want {
		t.Fatalf("running ratio: charged %d, want %d", got, want)
	}
}
