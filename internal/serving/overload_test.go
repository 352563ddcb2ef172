package serving

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/auth"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/httpapi"
	"github.com/joule-dev/joule/internal/ml"
)

var _ ml.Classifier = (*gatedClassifier)(nil)

// gatedClassifier holds every Scores call until its gate is closed, and
// counts the calls running at once.
type gatedClassifier struct {
	ml.Classifier
	gate       chan struct{}
	running    atomic.Int64
	maxRunning atomic.Int64
}

func (g *gatedClassifier) Scores(x, out []float64) {
	n := g.running.Add(1)
	for {
		m := g.maxRunning.Load()
		if n <= m || g.maxRunning.CompareAndSwap(m, n) {
			break
		}
	}
	<-g.gate
	g.Classifier.Scores(x, out)
	g.running.Add(-1)
}

// answer is one HTTP answer: status and body.
type answer struct {
	status int
	body   []byte
}

// overloadEnv is the API over a serving manager whose replicas predict
// with g, on the fixture's store.
type overloadEnv struct {
	f   *fixture
	m   *Manager
	srv *httptest.Server
}

func newOverloadEnv(t *testing.T, g *gatedClassifier) *overloadEnv {
	return newOverloadEnvSlots(t, g, 0)
}

// newOverloadEnvSlots is newOverloadEnv with Config.ComputeSlots set
// (0: the default).
func newOverloadEnvSlots(t *testing.T, g *gatedClassifier, computeSlots int) *overloadEnv {
	t.Helper()
	f := newFixture(t)
	g.Classifier = f.model
	load := func(_ context.Context, mv joule.ModelVersion) (*Predictor, error) {
		return NewPredictor(mv, g, []string{"no", "yes"}, nil, nil, dataset.EngineConfig{})
	}
	m := NewManager(Config{Store: f.store, DataDir: f.dir, Now: f.clock.Now, Load: load, ComputeSlots: computeSlots})
	t.Cleanup(m.Stop)
	api, err := httpapi.New(httpapi.Config{Store: f.store, Authenticate: (&auth.Authenticator{Store: f.store}).Authenticate, Deployments: m,
		Status: func(context.Context) (joule.ServerStatus, error) { return joule.ServerStatus{}, nil }})
	if err != nil {
		t.Fatalf("httpapi.New: %v", err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 256
	return &overloadEnv{f: f, m: m, srv: srv}
}

// burst sends n predict calls to deployment name at once and delivers each
// answer on the returned channel, which is closed after the last one.
func (e *overloadEnv) burst(t *testing.T, name string, n int) <-chan answer {
	t.Helper()
	url := e.srv.URL + "/v1/workspaces/" + e.f.ws.Name + "/deployments/" + name + "/predict"
	out := make(chan answer, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := e.srv.Client().Post(url, "application/json", strings.NewReader(`{"instances": [{"a": 0.5, "b": -1, "n": 2}]}`))
			if err != nil {
				t.Errorf("POST %s: %v", url, err)
				out <- answer{}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out <- answer{resp.StatusCode, body}
		})
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// checkRefusal fails unless a is a 429 or 503 in the JSON error shape with
// the code its status maps to.
func checkRefusal(t *testing.T, a answer, wantStatus int, wantCode, wantIn string) {
	t.Helper()
	if a.status != wantStatus {
		t.Fatalf("status %d (%s), want %d", a.status, a.body, wantStatus)
	}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &eb); err != nil || eb.Error.Code != wantCode || !strings.Contains(eb.Error.Message, wantIn) {
		t.Fatalf("refusal body %s (%v), want code %q and a message with %q", a.body, err, wantCode, wantIn)
	}
}

func checkPrediction(t *testing.T, a answer) {
	t.Helper()
	var r joule.PredictResponse
	if a.status != http.StatusOK || json.Unmarshal(a.body, &r) != nil || len(r.Predictions) != 1 {
		t.Fatalf("answer %d %s, want 200 with one prediction", a.status, a.body)
	}
}

// TestOverloadAdmissionBound holds every admitted call in the model and
// sends far more calls than a deployment admits: the admitted ones never
// exceed max × target × (1 + queue per worker) and never run more than
// target at once, every other call is refused with 503 in the JSON error
// shape while the admitted ones are still held (so refusals do not wait
// for predictions), and once the model is released every admitted call
// answers 200.
func TestOverloadAdmissionBound(t *testing.T) {
	t.Parallel()
	g := &gatedClassifier{gate: make(chan struct{})}
	e := newOverloadEnv(t, g)
	const workers, calls = 2, 200
	bound := 1 * workers * (1 + DefaultQueuePerWorker) // max 1 replica
	e.f.deploy(t, e.m, joule.Deployment{Name: "small", MinReplicas: 1, MaxReplicas: 1, TargetConcurrency: workers, Public: true})
	e.m.Tick(t.Context()) // start the replica
	d, err := e.m.lookup(e.f.ws.ID, "small")
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	r := d.tracks[0].replicas[0]
	d.mu.Unlock()

	answers := e.burst(t, "small", calls)
	// Every call either answers or is in the replica; admitted calls
	// stay there while the gate is shut, so this state is reached and
	// then holds.
	refused := 0
	for refused+int(r.inflight.Load()) != calls {
		select {
		case a := <-answers:
			checkRefusal(t, a, http.StatusServiceUnavailable, joule.EUNAVAILABLE, "overloaded")
			refused++
		case <-time.After(time.Millisecond):
		}
	}
	admitted := int(r.inflight.Load())
	if admitted < 1 || admitted > bound {
		t.Errorf("admitted at once = %d, want 1 to %d", admitted, bound)
	}
	if got := d.inflight.Load(); got != int64(admitted) {
		t.Errorf("deployment in flight = %d with %d admitted, want equal", got, admitted)
	}
	if got := g.maxRunning.Load(); got > workers {
		t.Errorf("predict calls running at once = %d, want at most %d", got, workers)
	}
	close(g.gate)
	ok := 0
	for a := range answers {
		checkPrediction(t, a)
		ok++
	}
	if ok != admitted {
		t.Errorf("200s after release = %d, want the %d admitted", ok, admitted)
	}
	if got := d.inflight.Load(); got != 0 {
		t.Errorf("in flight after the burst = %d, want 0", got)
	}
}

// TestComputeSlots holds every call in the model while two deployments
// each admit more calls than the manager's ComputeSlots: at most that many
// compute at once over both (the rest wait off the CPU, so that reading
// and refusing requests keeps a thread), every admitted call is still
// answered once the model is released, and a call that waits for a slot
// still counts as running in its replica.
func TestComputeSlots(t *testing.T) {
	t.Parallel()
	g := &gatedClassifier{gate: make(chan struct{})}
	const slots, perDeployment = 3, 8
	e := newOverloadEnvSlots(t, g, slots)
	var release sync.Once // on failure too, so that the server can close
	t.Cleanup(func() { release.Do(func() { close(g.gate) }) })
	for _, name := range []string{"a", "b"} {
		e.f.deploy(t, e.m, joule.Deployment{Name: name, MinReplicas: 1, MaxReplicas: 1, TargetConcurrency: perDeployment, Public: true})
	}
	e.m.Tick(t.Context())
	inflight := func() int64 {
		n := int64(0)
		for _, name := range []string{"a", "b"} {
			d, err := e.m.lookup(e.f.ws.ID, name)
			if err != nil {
				t.Fatal(err)
			}
			n += d.inflight.Load()
		}
		return n
	}
	a, b := e.burst(t, "a", perDeployment), e.burst(t, "b", perDeployment)
	for deadline := time.Now().Add(10 * time.Second); inflight() != 2*perDeployment || g.running.Load() != slots; {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d calls in flight, %d in the model; want %d and %d", inflight(), g.running.Load(), 2*perDeployment, slots)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a call past the bound would get in now
	if got := g.maxRunning.Load(); got != slots {
		t.Errorf("calls computing at once = %d, want %d (ComputeSlots) with %d waiting", got, slots, 2*perDeployment)
	}
	release.Do(func() { close(g.gate) })
	for _, answers := range []<-chan answer{a, b} {
		for ans := range answers {
			checkPrediction(t, ans)
		}
	}
	if got := inflight(); got != 0 {
		t.Errorf("in flight after the bursts = %d, want 0", got)
	}
}

// TestOverloadRateLimit sends a burst at a rate-limited deployment with
// the clock stopped: exactly the bucket's burst (one second's worth) is
// served and every other call gets 429 in the JSON error shape.
func TestOverloadRateLimit(t *testing.T) {
	t.Parallel()
	g := &gatedClassifier{gate: make(chan struct{})}
	close(g.gate)
	e := newOverloadEnv(t, g)
	e.f.deploy(t, e.m, joule.Deployment{Name: "limited", MinReplicas: 1, MaxReplicas: 1, TargetConcurrency: 64, RateLimit: 5, Public: true})
	e.m.Tick(t.Context())
	counts := map[int]int{}
	for a := range e.burst(t, "limited", 200) {
		if a.status == http.StatusTooManyRequests {
			checkRefusal(t, a, http.StatusTooManyRequests, joule.ERATELIMITED, "rate limit")
		} else {
			checkPrediction(t, a)
		}
		counts[a.status]++
	}
	if counts[http.StatusOK] != 5 || counts[http.StatusTooManyRequests] != 195 {
		t.Errorf("answers by status = %v, want 5 × 200 and 195 × 429", counts)
	}
}

// TestOverloadHeapBounded sends 25 bursts of 200 calls, about 12 times a
// deployment's admission bound (1 × (1 + 16)), and checks the answers (200 or 503, never
// anything else) and that the live heap after the last burst is within 4
// MiB of the live heap after the first: a server that kept anything per
// refused or served call (200 B × 5,000 calls is already 1 MiB) would
// grow with the count of calls, not with the bound.
//
// Not parallel: it reads the process's heap, so it runs while no other
// test of the package does.
func TestOverloadHeapBounded(t *testing.T) {
	g := &gatedClassifier{gate: make(chan struct{})}
	close(g.gate)
	e := newOverloadEnv(t, g)
	e.f.deploy(t, e.m, joule.Deployment{Name: "busy", MinReplicas: 1, MaxReplicas: 1, TargetConcurrency: 1, Public: true})
	e.m.Tick(t.Context())
	live := func() uint64 {
		runtime.GC()
		runtime.GC() // a second cycle frees what sync.Pools dropped in the first
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var base uint64
	counts := map[int]int{}
	for round := range 25 {
		for a := range e.burst(t, "busy", 200) {
			switch a.status {
			case http.StatusOK:
				checkPrediction(t, a)
			default:
				checkRefusal(t, a, http.StatusServiceUnavailable, joule.EUNAVAILABLE, "overloaded")
			}
			counts[a.status]++
		}
		if round == 0 {
			base = live()
		}
	}
	grown := int64(live()) - int64(base)
	t.Logf("answers by status: %v; live heap %d B after the first burst, grown by %d B after 24 more", counts, base, grown)
	if grown > 4<<20 {
		t.Errorf("live heap grew by %d B over 24 bursts of 200 calls, want under 4 MiB", grown)
	}
	if counts[http.StatusOK] == 0 {
		t.Errorf("answers by status = %v, want some 200s", counts)
	}
}

var _ ml.Classifier = (*gatedClassifier)(nil)
