package sustain_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sqlite"
	"github.com/joule-dev/joule/internal/sustain"
)

// receiver is a webhook endpoint that verifies each delivery's HMAC and
// answers 503 to the first `fail` deliveries.
type receiver struct {
	t      *testing.T
	secret []byte
	fail   int

	mu       sync.Mutex
	attempts int
	alerts   []sustain.Alert
	badSig   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	ts := r.Header.Get(sustain.TimestampHeader)
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		rc.badSig++
		http.Error(w, "no timestamp", http.StatusBadRequest)
		return
	}
	if err := sustain.VerifySignature(rc.secret, ts, body, r.Header.Get(sustain.SignatureHeader)); err != nil {
		rc.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.attempts <= rc.fail {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var a sustain.Alert
	if err := json.Unmarshal(body, &a); err != nil || r.Header.Get(sustain.EventHeader) != a.Kind {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.alerts = append(rc.alerts, a)
}

// TestWebhookSignedAndRetried: the receiver verifies the HMAC of every
// delivery; two 503s are retried after 1 s and 2 s; a tampered secret is
// rejected and not retried.
func TestWebhookSignedAndRetried(t *testing.T) {
	t.Parallel()
	rc := &receiver{t: t, secret: []byte("0123456789abcdef-secret"), fail: 2}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var waits []time.Duration
	wh := &sustain.Webhook{URL: srv.URL, Secret: rc.secret, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	if err := wh.Validate(); err != nil {
		t.Fatal(err)
	}
	a := sustain.Alert{ID: "alert_1", Kind: "indicator.threshold", Time: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), Subject: "pue", Message: "pue above 1.5"}
	if err := wh.Send(t.Context(), a); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rc.attempts != 3 || len(rc.alerts) != 1 || rc.alerts[0].Message != a.Message || rc.badSig != 0 {
		t.Errorf("receiver: %d attempts, alerts %+v, %d bad signatures; want 3, the alert, 0", rc.attempts, rc.alerts, rc.badSig)
	}
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Errorf("backoff waits = %v, want [1s 2s]", waits)
	}
	wrong := &sustain.Webhook{URL: srv.URL, Secret: []byte("another-secret-of-16+"), Sleep: wh.Sleep}
	if err := wrong.Send(t.Context(), a); err == nil {
		t.Error("Send with the wrong secret succeeded")
	}
	if rc.badSig != 1 {
		t.Errorf("bad signatures = %d, want 1 (a 401 is not retried)", rc.badSig)
	}
}

// TestMonitorTargetAtRisk runs the monitor over a real store: an energy
// target whose weekly energy falls 1% a week against −20% in 10 weeks is
// evaluated at risk, recorded in its history and in the events, and sent
// to the webhook, signed; a second tick the same day sends nothing more.
func TestMonitorTargetAtRisk(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "joule.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 7, 6, 0, 0, 0, 0, time.UTC)
	ws := joule.Workspace{ID: joule.NewID("ws", start), Name: "research", CreatedAt: start}
	if err := st.CreateWorkspace(ctx, ws); err != nil {
		t.Fatal(err)
	}
	// Four baseline weeks at 100 kWh a day, then eight weeks each 1% below
	// the last: one row a day.
	var rows []joule.EnergyRollup
	for d := range 12 * 7 {
		kwh := 100.0
		if w := d / 7; w >= 4 {
			for range w - 3 {
				kwh *= 0.99
			}
		}
		rows = append(rows, joule.EnergyRollup{Scope: joule.RollupJob, Width: time.Hour, NodeID: "node_1", Entity: "job_" + strconv.Itoa(d),
			WorkspaceID: ws.ID, Attempt: 1, Start: start.Add(time.Duration(d) * 24 * time.Hour), Seconds: 3600,
			MeasuredJoules: kwh * 3.6e6, PUEJoules: kwh * 3.6e6, Method: "measured:rapl"})
	}
	if err := st.AddEnergyRollups(ctx, rows); err != nil {
		t.Fatal(err)
	}
	d, err := sustain.Load(ctx, st, ws.ID, start, start.Add(4*sustain.Week), false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sustain.MakeBaseline(d, "2026-Q3", joule.IndEnergyKWh, "")
	if err != nil {
		t.Fatal(err)
	}
	b.ID, b.WorkspaceID, b.CreatedAt = joule.NewID("bl", start), ws.ID, start
	if err := st.CreateBaseline(ctx, b); err != nil {
		t.Fatal(err)
	}
	now := start.Add(12 * sustain.Week)
	tg, err := sustain.MakeTarget(joule.Target{ID: joule.NewID("tgt", start), WorkspaceID: ws.ID, Name: "cut-energy", ReductionPct: 20, Due: now.Add(10 * sustain.Week)}, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTarget(ctx, tg); err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, secret: []byte("0123456789abcdef-secret")}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	m := &sustain.Monitor{Store: st, Webhook: &sustain.Webhook{URL: srv.URL, Secret: rc.secret}, Now: func() time.Time { return now }}
	if err := m.Tick(ctx); err != nil {
		t.Fatalf("Tick: %v", err)
	}
	if len(rc.alerts) != 1 || rc.alerts[0].Kind != "target.at_risk" || rc.alerts[0].Target == nil || rc.alerts[0].Target.Status == nil {
		t.Fatalf("alerts = %+v, want one target.at_risk with its status", rc.alerts)
	}
	s := rc.alerts[0].Target.Status
	if s.Points != 8 || !(s.Projected > tg.TargetValue) || s.Projected > 100 {
		t.Errorf("status = %+v, want 8 weekly points and a projection above the target %v", s, tg.TargetValue)
	}
	t.Logf("alert: %s", rc.alerts[0].Message)
	evs, _, err := st.ListEvents(ctx, ws.ID, joule.ListOptions{})
	if err != nil || len(evs) != 1 || evs[0].Kind != "target.at_risk" {
		t.Errorf("events = %+v, %v", evs, err)
	}
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	hist, _ := st.ListTargetHistory(ctx, tg.ID)
	if len(rc.alerts) != 1 || len(hist) != 1 {
		t.Errorf("after a second tick: %d alerts, %d history entries; want 1 and 1", len(rc.alerts), len(hist))
	}
}
