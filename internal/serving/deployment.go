package serving

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/joule-dev/joule"
)

// latencyWindow is how many recent request latencies the percentiles are
// taken over.
const latencyWindow = 2048

// deployment is one live deployment.
type deployment struct {
	now func() time.Time

	mu          sync.Mutex
	spec        joule.Deployment
	mv          joule.ModelVersion
	replicas    []*replica
	seq         int
	loading     chan struct{} // a cold start under way
	loadErr     error
	coldStart   time.Duration
	lastRequest time.Time
	bucket      float64 // rate-limit tokens
	bucketAt    time.Time
	lat         []float64 // ring of latencies in ms
	latNext     int
	rps         float64
	rateAt      time.Time
	rateReqs    int64
	energy      joule.DeploymentEnergy // accounted so far
	retired     []*replica             // stopped, their last CPU time not yet accounted

	inflight    atomic.Int64
	peak        atomic.Int64
	requests    atomic.Int64
	errors      atomic.Int64
	predictions atomic.Int64
}

// admit takes a rate-limit token; the caller holds mu.
func (d *deployment) admit() bool {
	if d.spec.RateLimit <= 0 {
		return true
	}
	now := d.now()
	burst := max(1, math.Ceil(d.spec.RateLimit))
	d.bucket = min(burst, d.bucket+now.Sub(d.bucketAt).Seconds()*d.spec.RateLimit)
	d.bucketAt = now
	if d.bucket < 1 {
		return false
	}
	d.bucket--
	return true
}

func (d *deployment) enter() {
	n := d.inflight.Add(1)
	for {
		p := d.peak.Load()
		if n <= p || d.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (d *deployment) leave() { d.inflight.Add(-1) }

// takePeak returns the peak concurrency since the last call and starts the
// next window at the current concurrency.
func (d *deployment) takePeak() int64 {
	return max(d.peak.Swap(d.inflight.Load()), d.inflight.Load())
}

// pick returns the replica with the fewest requests in flight; the caller
// holds mu and there is at least one.
func (d *deployment) pick() *replica {
	best := d.replicas[0]
	for _, r := range d.replicas[1:] {
		if r.inflight.Load() < best.inflight.Load() {
			best = r
		}
	}
	return best
}

// finish records a request's outcome.
func (d *deployment) finish(start, end time.Time, rows int, err error) {
	d.requests.Add(1)
	if err != nil {
		if c := joule.ErrorCode(err); c == joule.EINTERNAL || c == joule.EUNAVAILABLE {
			d.errors.Add(1)
		}
	} else {
		d.predictions.Add(int64(rows))
	}
	ms := float64(end.Sub(start)) / float64(time.Millisecond)
	d.mu.Lock()
	if len(d.lat) < latencyWindow {
		d.lat = append(d.lat, ms)
	} else {
		d.lat[d.latNext] = ms
		d.latNext = (d.latNext + 1) % latencyWindow
	}
	d.mu.Unlock()
}

// rate updates the requests per second since the previous call; the
// caller holds mu.
func (d *deployment) rate(now time.Time) {
	n := d.requests.Load()
	if !d.rateAt.IsZero() {
		if dt := now.Sub(d.rateAt).Seconds(); dt > 0 {
			d.rps = float64(n-d.rateReqs) / dt
		}
	}
	d.rateAt, d.rateReqs = now, n
}

// percentiles returns p50, p95 and p99 of the recent latencies; the caller
// holds mu.
func (d *deployment) percentiles() map[string]float64 {
	if len(d.lat) == 0 {
		return nil
	}
	s := slices.Clone(d.lat)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)] }
	return map[string]float64{"p50": q(0.50), "p95": q(0.95), "p99": q(0.99)}
}

// status returns the live state.
func (d *deployment) status() *joule.DeploymentStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := &joule.DeploymentStatus{
		Replicas: len(d.replicas), Ready: len(d.replicas) > 0, InFlight: int(d.inflight.Load()),
		Predictions: d.predictions.Load(), Requests: d.requests.Load(), Errors: d.errors.Load(),
		LatencyMS: d.percentiles(), RPS: d.rps,
		ColdStartMS: float64(d.coldStart) / float64(time.Millisecond),
	}
	if d.requests.Load() > 0 {
		t := d.lastRequest.UTC()
		st.LastRequest = &t
	}
	if d.energy.Predictions > 0 || d.energy.CPUSeconds > 0 {
		e := d.energy
		st.Energy = &e
	}
	return st
}
