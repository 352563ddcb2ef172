package serving

import (
	"context"
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

// replica is one loaded copy of the model with a bounded pool of workers.
// Each worker is locked to its OS thread for its life, so the thread's CPU
// time before and after a call is the call's own CPU time.
type replica struct {
	id       string
	pred     *Predictor
	maxBatch int
	work     chan *task // bounded queue; closed by stop
	wg       sync.WaitGroup

	cpuNanos    atomic.Int64 // CPU time in predict calls
	predictions atomic.Int64 // rows predicted
	inflight    atomic.Int64 // queued or running tasks
}

// newReplica starts workers goroutines with a queue of queue tasks.
func newReplica(id string, pred *Predictor, workers, queue, maxBatch int) *replica {
	r := &replica{id: id, pred: pred, maxBatch: maxBatch, work: make(chan *task, queue)}
	for range workers {
		r.wg.Go(r.worker)
	}
	return r
}

func (r *replica) worker() {
	// Never unlocked: when the worker ends its thread ends with it, so no
	// other goroutine inherits the counter.
	runtime.LockOSThread()
	for t := range r.work {
		r.run(t)
	}
}

func (r *replica) run(t *task) {
	defer r.inflight.Add(-1)
	if err := t.ctx.Err(); err != nil {
		t.done <- result{err: joule.Errorf(joule.EUNAVAILABLE, "request ended before a worker took it")}
		return
	}
	c0, ok := threadCPU()
	w0 := time.Now()
	resp, err := r.pred.Predict(t.ctx, t.body, r.maxBatch)
	c1, _ := threadCPU()
	if ok {
		r.cpuNanos.Add(max(c1-c0, 0))
	} else {
		r.cpuNanos.Add(int64(time.Since(w0)))
	}
	if err == nil {
		r.predictions.Add(int64(len(resp.Predictions)))
	}
	t.done <- result{resp: resp, err: err}
}

// offer queues t without blocking; false when the queue is full. The
// caller holds the deployment's lock, which stop also takes, so the queue
// is never closed under it.
func (r *replica) offer(t *task) bool {
	r.inflight.Add(1)
	select {
	case r.work <- t:
		return true
	default:
		r.inflight.Add(-1)
		return false
	}
}

// stop closes the queue; the workers finish what is queued and exit. The
// caller holds the deployment's lock.
func (r *replica) stop() { close(r.work) }
