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

// historyLen is how many autoscaler ticks of history a deployment keeps
// (one hour at one tick a second).
const historyLen = 3600

// tickSample bounds the latencies kept for one tick's percentiles.
const tickSample = 8192

// latencies is a ring of the latest request latencies in milliseconds.
type latencies struct {
	ms   []float64
	next int
}

func (l *latencies) add(ms float64) {
	if len(l.ms) < latencyWindow {
		l.ms = append(l.ms, ms)
		return
	}
	l.ms[l.next] = ms
	l.next = (l.next + 1) % latencyWindow
}

// percentiles returns p50, p95 and p99 of s (nil when empty).
func percentiles(s []float64) map[string]float64 {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)] }
	return map[string]float64{"p50": q(0.50), "p95": q(0.95), "p99": q(0.99)}
}

// track is one served model version of a deployment, in one traffic role:
// the primary, a canary or a shadow. Each track has its own replicas, cold
// start and counters, and the autoscaler sizes each by its own load.
type track struct {
	mv      joule.ModelVersion
	role    string
	percent float64 // share of requests (the shadow: share mirrored)

	// Guarded by the deployment's mu.
	replicas    []*replica
	loading     chan struct{} // a cold start under way
	loadErr     error
	coldStart   time.Duration
	lastRequest time.Time
	lat         latencies
	rps         float64 // over the last tick
	rateAt      time.Time
	rateReqs    int64

	inflight    atomic.Int64
	peak        atomic.Int64
	requests    atomic.Int64
	errors      atomic.Int64
	predictions atomic.Int64
}

func (t *track) enter() {
	n := t.inflight.Add(1)
	for {
		p := t.peak.Load()
		if n <= p || t.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (t *track) leave() { t.inflight.Add(-1) }

// takePeak returns the peak concurrency since the last call and starts the
// next window at the current concurrency.
func (t *track) takePeak() int64 {
	return max(t.peak.Swap(t.inflight.Load()), t.inflight.Load())
}

// rate updates the track's requests per second since the previous call;
// the caller holds the deployment's mu.
func (t *track) rate(now time.Time) float64 {
	n := t.requests.Load()
	if !t.rateAt.IsZero() {
		if dt := now.Sub(t.rateAt).Seconds(); dt > 0 {
			t.rps = float64(n-t.rateReqs) / dt
		}
	}
	t.rateAt, t.rateReqs = now, n
	return t.rps
}

// pick returns the replica with the fewest requests in flight; the caller
// holds the deployment's mu and there is at least one.
func (t *track) pick() *replica {
	best := t.replicas[0]
	for _, r := range t.replicas[1:] {
		if r.inflight.Load() < best.inflight.Load() {
			best = r
		}
	}
	return best
}

// deployment is one live deployment: its settings and its tracks, the
// primary first.
type deployment struct {
	now func() time.Time

	mu          sync.Mutex
	spec        joule.Deployment
	tracks      []*track
	seq         int
	lastRequest time.Time
	bucket      float64 // rate-limit tokens
	bucketAt    time.Time
	// canaryCredit and shadowCredit split traffic by percentage exactly:
	// each request adds the share in millionths of a percent, and each
	// whole 100% sends one request.
	canaryCredit int64
	shadowCredit int64
	lat          latencies
	tickLat      []float64 // latencies since the last tick, for history
	rps          float64
	rateAt       time.Time
	rateReqs     int64
	errsAt       int64 // errors at the last tick
	history      []joule.DeploymentPoint
	histNext     int
	energy       joule.DeploymentEnergy // accounted so far
	retired      []*replica             // stopped, their last CPU time not yet accounted
	shadow       shadowStats

	inflight    atomic.Int64
	peak        atomic.Int64
	requests    atomic.Int64
	errors      atomic.Int64
	predictions atomic.Int64
}

// primary returns the primary track; the caller holds mu.
func (d *deployment) primary() *track { return d.tracks[0] }

// trackOf returns the track serving version v in role, or nil; the caller
// holds mu.
func (d *deployment) trackOf(role string) *track {
	for _, t := range d.tracks {
		if t.role == role {
			return t
		}
	}
	return nil
}

// route picks the track for the next request (the primary or the canary)
// and whether to mirror it to the shadow; the caller holds mu.
func (d *deployment) route() (served, shadow *track) {
	served = d.primary()
	if c := d.trackOf(joule.TrafficCanary); c != nil && take(&d.canaryCredit, c.percent) {
		served = c
	}
	if s := d.trackOf(joule.TrafficShadow); s != nil && take(&d.shadowCredit, s.percent) {
		shadow = s
	}
	return served, shadow
}

// whole is 100% in millionths of a percent.
const whole = 100_000_000

// take adds percent to credit and says whether a whole request's worth was
// reached (then taken).
func take(credit *int64, percent float64) bool {
	*credit += int64(math.Round(percent * 1e6))
	if *credit >= whole {
		*credit -= whole
		return true
	}
	return false
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

// countsAsError says whether a failed request is the server's fault.
func countsAsError(err error) bool {
	c := joule.ErrorCode(err)
	return c == joule.EINTERNAL || c == joule.EUNAVAILABLE
}

// finish records a request's outcome, on the deployment and, when it
// reached one, on its track.
func (d *deployment) finish(t *track, start, end time.Time, rows int, err error) {
	d.requests.Add(1)
	if t != nil {
		t.requests.Add(1)
	}
	if err != nil {
		if countsAsError(err) {
			d.errors.Add(1)
			if t != nil {
				t.errors.Add(1)
			}
		}
	} else {
		d.predictions.Add(int64(rows))
		if t != nil {
			t.predictions.Add(int64(rows))
		}
	}
	ms := float64(end.Sub(start)) / float64(time.Millisecond)
	d.mu.Lock()
	d.lat.add(ms)
	if t != nil {
		t.lat.add(ms)
	}
	if len(d.tickLat) < tickSample {
		d.tickLat = append(d.tickLat, ms)
	} else {
		d.tickLat[int(d.requests.Load())%tickSample] = ms
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

// record appends one tick to the history; the caller holds mu.
func (d *deployment) record(now time.Time, peak int64) {
	p := joule.DeploymentPoint{Time: now.UTC(), RPS: d.rps, InFlight: int(peak), Replicas: d.replicaCount()}
	if q := percentiles(d.tickLat); q != nil {
		p.P50MS, p.P95MS, p.P99MS = q["p50"], q["p95"], q["p99"]
	}
	d.tickLat = d.tickLat[:0]
	errs := d.errors.Load()
	p.Errors, d.errsAt = errs-d.errsAt, errs
	if len(d.history) < historyLen {
		d.history = append(d.history, p)
		return
	}
	d.history[d.histNext] = p
	d.histNext = (d.histNext + 1) % historyLen
}

// historyPoints returns the history, oldest first; the caller holds mu.
func (d *deployment) historyPoints() []joule.DeploymentPoint {
	return slices.Concat(d.history[d.histNext:], d.history[:d.histNext])
}

// replicaCount is the replicas of every track; the caller holds mu.
func (d *deployment) replicaCount() int {
	n := 0
	for _, t := range d.tracks {
		n += len(t.replicas)
	}
	return n
}

// status returns the live state.
func (d *deployment) status() *joule.DeploymentStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.primary()
	st := &joule.DeploymentStatus{
		Replicas: d.replicaCount(), Ready: len(p.replicas) > 0, InFlight: int(d.inflight.Load()),
		Predictions: d.predictions.Load(), Requests: d.requests.Load(), Errors: d.errors.Load(),
		LatencyMS: percentiles(d.lat.ms), RPS: d.rps,
		ColdStartMS: float64(p.coldStart) / float64(time.Millisecond),
	}
	if d.requests.Load() > 0 {
		t := d.lastRequest.UTC()
		st.LastRequest = &t
	}
	if d.energy.Predictions > 0 || d.energy.CPUSeconds > 0 {
		e := d.energy
		st.Energy = &e
	}
	if len(d.tracks) > 1 {
		for _, t := range d.tracks {
			st.Traffic = append(st.Traffic, joule.TrafficShare{
				ModelVersion: t.mv.Version, Role: t.role, Percent: t.percent, Replicas: len(t.replicas),
				Requests: t.requests.Load(), Predictions: t.predictions.Load(), Errors: t.errors.Load(),
				LatencyMS: percentiles(t.lat.ms),
			})
		}
	}
	if s := d.trackOf(joule.TrafficShadow); s != nil {
		st.Shadow = d.shadow.comparison(s.mv.Version)
	}
	return st
}
