package serving

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// spinPredictor burns spin of its thread's CPU time for each call, then
// sleeps: its calls' CPU time is known, and differs from their wall time.
// It counts CPU time, not wall time, so that a busy machine, which
// deschedules the spinning thread, does not change how much CPU a call
// takes.
type spinPredictor struct {
	spin, sleep time.Duration
}

func (p spinPredictor) Predict(ctx context.Context, body []byte, maxBatch int) (joule.PredictResponse, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if c0, ok := threadCPU(); ok {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			if c, _ := threadCPU(); c-c0 >= int64(p.spin) {
				break
			}
		}
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
	// Each call's clock reads cost a little, and on a busy machine the
	// unmeasured calls' wall time varies more than their CPU time (with
	// three CPU hogs on 2 cores: 96–189 ms charged for 128 ms): wide
	// bounds, but well under the wall time (each call also sleeps).
	if cpu < want/2 || cpu > want*2 || cpu > wall*3/4 {
		t.Errorf("charged %v of CPU for %v spun (wall %v): want %v to %v, and well under the wall time", cpu, want, wall, want/2, want*2)
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
