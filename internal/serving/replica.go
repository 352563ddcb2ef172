package serving

import (
	"context"
	"errors"
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

// replica is one loaded copy of the model with a bounded pool of workers.
// Each worker is locked to its OS thread for its life, so the thread's CPU
// time before and after a call is the call's own CPU time.
type replica struct {
	id       string
	pred     predictor
	proc     *server // the model server process, for kind command
	maxBatch int
	work     chan *task // bounded queue; closed by stop
	wg       sync.WaitGroup
	// closing is closed first by stop; senders hold mu's read lock, so
	// stop closes work only once none is sending.
	closing chan struct{}
	mu      sync.RWMutex
	once    sync.Once

	cpuNanos    atomic.Int64 // CPU time in predict calls
	predictions atomic.Int64 // rows predicted
	inflight    atomic.Int64 // queued or running tasks
}

// newReplica starts workers goroutines with a queue of queue tasks.
func newReplica(id string, pred predictor, workers, queue, maxBatch int) *replica {
	r := &replica{id: id, pred: pred, maxBatch: maxBatch, work: make(chan *task, queue), closing: make(chan struct{})}
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

// errClosed means the replica stopped before it took the task.
var errClosed = errors.New("replica stopped")

// submit queues t, waiting while the queue is full, until ctx ends or the
// replica stops (errClosed: try another).
func (r *replica) submit(ctx context.Context, t *task) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	select {
	case <-r.closing:
		return errClosed
	default:
	}
	r.inflight.Add(1)
	select {
	case r.work <- t:
		return nil
	case <-r.closing:
		r.inflight.Add(-1)
		return errClosed
	case <-ctx.Done():
		r.inflight.Add(-1)
		return ctx.Err()
	}
}

// stop closes the queue once every sender has left; the workers finish
// what is queued and exit. Safe more than once.
func (r *replica) stop() {
	r.once.Do(func() {
		close(r.closing)
		r.mu.Lock()
		close(r.work)
		r.mu.Unlock()
		if r.proc != nil {
			go func() {
				r.wg.Wait() // the queued requests first
				r.proc.stop()
			}()
		}
	})
}
