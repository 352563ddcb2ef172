package serving

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/joule-dev/joule"
)

// task is one predict call handed to a replica's worker.
type task struct {
	ctx  context.Context
	body []byte
	done chan result
}

type result struct {
	resp joule.PredictResponse
	err  error
}

// predictor answers predict calls: a loaded model (*Predictor) or the
// user's model server (*server).
type predictor interface {
	Predict(ctx context.Context, body []byte, maxBatch int) (joule.PredictResponse, error)
}

// replica is one loaded copy of the model that runs at most workers
// predict calls at once and holds at most queue more waiting for a turn.
// A call runs on the goroutine that submitted it; no other thread takes
// the request and hands it back (two thread wake-ups per call, each
// exposed to the OS scheduler's delay on a busy machine). One call in
// cpuSampleEvery runs locked to its OS thread, so the thread's CPU time
// before and after is that call's own CPU time (run).
type replica struct {
	id       string
	pred     predictor
	proc     *server // the model server process, for kind command
	maxBatch int
	room     chan struct{} // one per queued or running call; capacity workers + queue
	slots    chan struct{} // one per running call; capacity workers
	// compute, for a model served in process, is the manager's gate of
	// calls computing at once over all replicas (Config.ComputeSlots); a
	// running call holds one of its tokens while it predicts. nil for a
	// model server process, whose calls wait on I/O.
	compute chan struct{}
	// closing is closed by stop: calls not yet admitted go elsewhere.
	closing chan struct{}
	once    sync.Once

	cpuNanos    atomic.Int64  // CPU time in predict calls, measured or estimated (run)
	cpuRatio    atomic.Uint64 // float64 bits: the measured calls' CPU/wall ratio, 0 before the first
	calls       atomic.Int64  // predict calls run
	predictions atomic.Int64  // rows predicted
	inflight    atomic.Int64  // queued or running calls
}

// newReplica returns a replica that runs workers calls at once with room
// for queue more.
func newReplica(id string, pred predictor, workers, queue, maxBatch int) *replica {
	return &replica{id: id, pred: pred, maxBatch: maxBatch,
		room: make(chan struct{}, workers+queue), slots: make(chan struct{}, workers), closing: make(chan struct{})}
}

// errNotTaken answers a call whose request ended while it waited for a
// worker or, in process, for a compute slot.
var errNotTaken = joule.Errorf(joule.EUNAVAILABLE, "request ended before a worker took it")

// cpuSampleEvery is how often a predict call reads its thread's CPU
// time: reading it costs two system calls, about 1 µs of a ~45 µs call
// and about 1 ms of p99 at 20,000 calls/s on the serving benchmark
// (docs/perf.md, "Serving"). The calls between are charged
// their wall time times the CPU/wall ratio of the measured ones.
const cpuSampleEvery = 16

// run predicts t on the calling goroutine. Every cpuSampleEvery-th call
// (the first included) runs locked to its thread and measures its CPU
// time; the others add their estimate (replica.charge).
func (r *replica) run(t *task) {
	if err := t.ctx.Err(); err != nil {
		t.done <- result{err: errNotTaken}
		return
	}
	if r.compute != nil {
		select {
		case r.compute <- struct{}{}:
			defer func() { <-r.compute }()
		case <-t.ctx.Done():
			t.done <- result{err: errNotTaken}
			return
		}
	}
	var c0 int64
	ok := false // c0 was read
	if r.calls.Add(1)%cpuSampleEvery == 1 {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c0, ok = threadCPU()
	}
	w0 := time.Now()
	resp, err := r.pred.Predict(t.ctx, t.body, r.maxBatch)
	wall := time.Since(w0)
	if ok {
		c1, _ := threadCPU()
		r.measured(max(c1-c0, 0), wall)
	} else {
		r.charge(wall)
	}
	if err == nil {
		r.predictions.Add(int64(len(resp.Predictions)))
	}
	t.done <- result{resp: resp, err: err}
}

// measured adds a measured call's CPU time and folds its CPU/wall ratio
// into the running ratio (an exponential average over the latest eight
// or so measured calls).
func (r *replica) measured(cpu int64, wall time.Duration) {
	r.cpuNanos.Add(cpu)
	if wall <= 0 {
		return
	}
	x := min(float64(cpu)/float64(wall), 1) // one thread: at most its wall time
	old := r.cpuRatio.Load()
	next := x
	if old != 0 {
		next = math.Float64frombits(old)*7/8 + x/8
	}
	r.cpuRatio.Store(math.Float64bits(next))
}

// charge adds an unmeasured call's estimated CPU time: its wall time
// times the running ratio, or its wall time (an upper bound) when no
// call was measured yet, or off Linux.
func (r *replica) charge(wall time.Duration) {
	ratio := 1.0
	if b := r.cpuRatio.Load(); b != 0 {
		ratio = math.Float64frombits(b)
	}
	r.cpuNanos.Add(int64(float64(wall) * ratio))
}

// errClosed means the replica stopped before it took the task.
var errClosed = errors.New("replica stopped")

// submit queues t, waiting while the queue is full, until ctx ends or the
// replica stops (errClosed: try another), then runs it once a worker slot
// is free; t.done (buffered) holds the result when submit returns nil. A
// call admitted before stop still runs.
func (r *replica) submit(ctx context.Context, t *task) error {
	select {
	case <-r.closing:
		return errClosed
	default:
	}
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	select {
	case r.room <- struct{}{}:
	case <-r.closing:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.room }()
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		t.done <- result{err: errNotTaken}
		return nil
	}
	r.run(t)
	<-r.slots
	return nil
}

// stop turns away calls not yet admitted; admitted ones finish. A model
// server process is stopped once they have (or after stopGrace). Safe more
// than once.
func (r *replica) stop() {
	r.once.Do(func() {
		close(r.closing)
		if r.proc != nil {
			go func() {
				for deadline := time.Now().Add(stopGrace); r.inflight.Load() > 0 && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				r.proc.stop()
			}()
		}
	})
}
