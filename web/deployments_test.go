package web

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

// fakeDeployments is a DeploymentReader over fixed deployments, events and
// history, for the handler tests. The browser test (cmd/joule) runs the
// pages against the real serving manager.
type fakeDeployments struct {
	mu      sync.Mutex
	deps    []joule.Deployment
	events  map[string][]joule.DeploymentEvent // by deployment ID, oldest first
	history map[string][]joule.DeploymentPoint // by deployment ID
	histErr error
}

var _ DeploymentReader = (*fakeDeployments)(nil)

func (f *fakeDeployments) find(ws, ref string) (joule.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.deps {
		if d.WorkspaceID == ws && (d.ID == ref || d.Name == ref) {
			return d, nil
		}
	}
	return joule.Deployment{}, joule.Errorf(joule.ENOTFOUND, "deployment %q not found", ref)
}

func (f *fakeDeployments) List(_ context.Context, ws string, _ joule.ListOptions) ([]joule.Deployment, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []joule.Deployment
	for _, d := range f.deps {
		if d.WorkspaceID == ws {
			out = append(out, d)
		}
	}
	return out, "", nil
}

func (f *fakeDeployments) Get(_ context.Context, ws, ref string) (joule.Deployment, error) {
	return f.find(ws, ref)
}

// Events pages like the store: Limit events after the cursor, which is
// the index of the next event.
func (f *fakeDeployments) Events(_ context.Context, ws, ref string, opt joule.ListOptions) ([]joule.DeploymentEvent, string, error) {
	d, err := f.find(ws, ref)
	if err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.events[d.ID]
	from := 0
	if opt.Cursor != "" {
		if from, err = strconv.Atoi(opt.Cursor); err != nil {
			return nil, "", joule.Errorf(joule.EINVALID, "cursor")
		}
	}
	to := min(len(all), from+opt.Limit)
	next := ""
	if to < len(all) {
		next = strconv.Itoa(to)
	}
	return slices.Clone(all[from:to]), next, nil
}

func (f *fakeDeployments) History(_ context.Context, ws, ref string) ([]joule.DeploymentPoint, error) {
	d, err := f.find(ws, ref)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.histErr != nil {
		return nil, f.histErr
	}
	return slices.Clone(f.history[d.ID]), nil
}

// newDeploymentsFixture serves a console whose Deployments is a fake
// seeded by seedDeployments.
func newDeploymentsFixture(t *testing.T) (*fixture, *fakeDeployments) {
	t.Helper()
	fd := &fakeDeployments{}
	f := newFixture(t, func(c *Config) { c.Deployments = fd })
	seedDeployments(fd, f)
	return f, fd
}

// seedDeployments gives workspace acme three deployments (one ready with
// a canary, a shadow and measured energy, one at zero with estimated
// energy, one the server could not load) and workspace other one.
func seedDeployments(fd *fakeDeployments, f *fixture) {
	dep := func(ws joule.Workspace, name, model string, v, minR, maxR int) joule.Deployment {
		return joule.Deployment{ID: "dep_" + name, WorkspaceID: ws.ID, Name: name, ModelID: "mdl_" + model, Model: model, ModelVersion: v,
			MinReplicas: minR, MaxReplicas: maxR, TargetConcurrency: 8, IdleTimeout: joule.Duration(5 * time.Minute),
			ColdStartTimeout: joule.Duration(30 * time.Second), BodyLimit: 4 << 20, MaxBatch: 1000,
			CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-time.Hour), CreatedBy: "tok_alice"}
	}
	credit := dep(f.acme, "credit", "german", 3, 1, 4)
	credit.Canary = &joule.DeploymentCanary{ModelVersion: 4, Percent: 10}
	credit.Shadow = &joule.DeploymentShadow{ModelVersion: 5}
	credit.PreviousVersion = 2
	credit.Status = &joule.DeploymentStatus{Replicas: 2, Ready: true, InFlight: 3, RPS: 41.5, Predictions: 123456, Requests: 9876, Errors: 7,
		LatencyMS: map[string]float64{"p50": 1.25, "p95": 4.5, "p99": 9.75}, ColdStartMS: 312,
		Energy: &joule.DeploymentEnergy{Predictions: 123456, CPUSeconds: 12.5, Joules: 432.1, MeasuredJoules: 432.1, EmissionsG: 0.048,
			JoulesPer1000: 3.5, EmissionsGPer1000: 0.00039, Measured: true, Method: "measured:rapl; attribution: node dynamic power by the CPU time of replica worker threads"},
		Traffic: []joule.TrafficShare{
			{ModelVersion: 3, Role: joule.TrafficPrimary, Percent: 90, Replicas: 2, Requests: 8888, Predictions: 111000, Errors: 6, LatencyMS: map[string]float64{"p50": 1.2, "p99": 9.5}},
			{ModelVersion: 4, Role: joule.TrafficCanary, Percent: 10, Replicas: 1, Requests: 988, Predictions: 12456, Errors: 1, LatencyMS: map[string]float64{"p50": 1.4, "p99": 11}},
			{ModelVersion: 5, Role: joule.TrafficShadow, Percent: 100, Replicas: 1, Requests: 9876},
		},
		Shadow: &joule.ShadowComparison{ModelVersion: 5, Requests: 9876, Dropped: 12, Errors: 0, Rows: 120000, Agreement: 0.9731, MeanAbsDiff: 0.0412},
		Drift: &joule.DriftReport{ModelVersion: 3, Time: time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC), Rows: 1000,
			WindowStart: time.Date(2026, 3, 14, 9, 20, 0, 0, time.UTC), WindowEnd: time.Date(2026, 3, 14, 9, 29, 0, 0, time.UTC),
			Reference: "training split", ReferenceRows: 700, PSIThreshold: 0.2, KSThreshold: 0.1,
			Features: []joule.FeatureDrift{{Name: "age", Binning: "deciles", PSI: 0.4123, KS: ptr(0.31), KSPValue: ptr(1e-9), Drifted: true},
				{Name: "<i>limit</i>", Binning: "deciles", PSI: 0.01, KS: ptr(0.02), KSPValue: ptr(0.9)}},
			Prediction: &joule.FeatureDrift{Name: "class", Binning: "values", PSI: 0.05},
			Drifted:    true, DriftedFeatures: []string{"age"}},
		Live: &joule.LiveQuality{ModelVersion: 3, Task: "classification", Predictions: 5000, Labelled: 400,
			Overall: joule.QualityMetrics{Rows: 400, Accuracy: ptr(0.8125), MacroF1: ptr(0.75)}, Window: joule.QualityMetrics{Rows: 100, Accuracy: ptr(0.7)}, Alerting: true},
	}
	idle := dep(f.acme, "idle<b>", "enb", 1, 0, 2)
	idle.Status = &joule.DeploymentStatus{Replicas: 0, Requests: 10, Predictions: 2000,
		Energy: &joule.DeploymentEnergy{Predictions: 2000, Joules: 4, EstimatedJoules: 4, JoulesPer1000: 2, EmissionsGPer1000: 0.0008, Method: "estimated:tdp-curve@1"}}
	broken := dep(f.acme, "broken", "gone", 1, 1, 1) // Status nil: not served
	alien := dep(f.other, "alien", "secret", 1, 1, 1)
	alien.Status = &joule.DeploymentStatus{Replicas: 1, Ready: true}

	ev := func(d joule.Deployment, i int, kind string, from, to int, reason string) joule.DeploymentEvent {
		at := now.Add(-time.Hour + time.Duration(i)*time.Minute)
		return joule.DeploymentEvent{ID: fmt.Sprintf("dev_%03d", i), DeploymentID: d.ID, WorkspaceID: d.WorkspaceID, Time: at, Kind: kind, From: from, To: to, Reason: reason}
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.deps = []joule.Deployment{credit, idle, broken, alien}
	fd.events = map[string][]joule.DeploymentEvent{credit.ID: {
		ev(credit, 0, joule.DeploymentCreated, 0, 0, "serves model german version 2"),
		ev(credit, 1, joule.DeploymentScale, 1, 2, "3 requests in flight over target 1"),
		ev(credit, 2, joule.DeploymentTraffic, 0, 0, "canary version 4 at 10 %"),
		ev(credit, 3, joule.DeploymentPromote, 0, 0, "version 3 promoted: <i>better f1</i>"),
		ev(credit, 4, joule.DeploymentAlert, 0, 0, "PSI of AGE over 0.2"),
	}}
	fd.history = map[string][]joule.DeploymentPoint{}
	for i := range 30 {
		fd.history[credit.ID] = append(fd.history[credit.ID], joule.DeploymentPoint{Time: now.Add(time.Duration(i-30) * time.Second),
			RPS: float64(30 + i), P50MS: 1 + float64(i)/100, P95MS: 4, P99MS: 9, Errors: int64(i % 3), InFlight: i % 5, Replicas: 1 + i/15})
	}
}

// rowOf returns the table row that links to href.
func rowOf(t *testing.T, body, href string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr>\s*<td><a href="` + regexp.QuoteMeta(href) + `">.*?</tr>`).FindString(body)
	if m == "" {
		t.Fatalf("no row linking to %s in:\n%s", href, body)
	}
	return m
}

func TestDeploymentsList(t *testing.T) {
	t.Parallel()
	f, _ := newDeploymentsFixture(t)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/deployments")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /deployments: status %d\n%s", res.StatusCode, res.body)
	}
	if strings.Contains(res.body, "coming soon") || !strings.Contains(res.body, `href="/deployments" class="active"`) {
		t.Error("the deployments list is not the active, built section")
	}
	tests := []struct {
		href string
		want []string
	}{
		{"/deployments/credit", []string{`german@3`, `canary v4`, `shadow v5`, `dep-ok">ready<`, `2 <span class="sub">(1–4)</span>`, `41.5`, `9.75 ms`, `>7<div class="sub">of 9876 requests`,
			`3.5 J <span class="badge kind-measured" title="measured:rapl; attribution: node dynamic power by the CPU time of replica worker threads">measured</span><div class="sub">390 µg CO2e</div><div class="sub method-source">measured:rapl</div>`}},
		{"/deployments/idle%3cb%3e", []string{`idle&lt;b&gt;`, `enb@1`, `dep-zero">at zero<`, `0 <span class="sub">(0–2)</span>`, `2 J <span class="badge kind-estimated" title="estimated:tdp-curve@1">estimated</span><div class="sub">800 µg CO2e</div><div class="sub method-source">estimated:tdp-curve@1</div>`}},
		{"/deployments/broken", []string{`gone@1`, `dep-bad">not served<`, `title="not served on this server">—`}},
	}
	for _, tt := range tests {
		row := rowOf(t, res.body, tt.href)
		for _, w := range tt.want {
			if !strings.Contains(row, w) {
				t.Errorf("row of %s lacks %q:\n%s", tt.href, w, row)
			}
		}
	}
	if strings.Contains(res.body, "idle<b>") {
		t.Error("a deployment's name is not escaped")
	}
	if strings.Contains(res.body, "alien") || strings.Contains(res.body, "secret@") {
		t.Error("the list shows another workspace's deployment")
	}
	if !strings.Contains(res.body, `data-live-src="/deployments?live=1"`) || !strings.Contains(res.body, "/static/live.js?v=") {
		t.Error("the list does not refresh itself")
	}

	live := c.get("/deployments?live=1")
	if live.StatusCode != http.StatusOK || strings.Contains(live.body, "<html") || !strings.Contains(live.body, `table class="data compact deployments"`) ||
		!strings.Contains(live.body, "german@3") {
		t.Errorf("the list's live fragment: status %d\n%s", live.StatusCode, live.body)
	}
}

func TestDeploymentsEmpty(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		fd   DeploymentReader
		want string
	}{
		{"no deployments", &fakeDeployments{}, "No deployments yet."},
		{"no serving", nil, "This server does not serve models"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *Config) { c.Deployments = tt.fd })
			c := f.client(t)
			c.mustLogin(f.viewerSecret)
			res := c.get("/deployments")
			if res.StatusCode != http.StatusOK || !strings.Contains(res.body, tt.want) {
				t.Errorf("GET /deployments: status %d, want 200 with %q\n%s", res.StatusCode, tt.want, res.body)
			}
		})
	}
}

func TestDeploymentPage(t *testing.T) {
	t.Parallel()
	f, _ := newDeploymentsFixture(t)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/deployments/credit")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /deployments/credit: status %d\n%s", res.StatusCode, res.body)
	}
	body := res.body
	for _, want := range []string{
		// settings
		`<th scope="row">Replicas (min–max)</th><td>1–4</td>`, `8 requests in flight per replica`, `<td>5m0s</td>`,
		`version 4, 10 % of requests`, `version 5, 100 % of requests mirrored`, `<th scope="row">Previous version (rollback target)</th><td>2</td>`,
		// now
		`dep-ok" id="dep-state">ready<`, `1.25 ms / 4.5 ms / 9.75 ms`, `312 ms`, `123456 rows predicted`,
		// energy
		`3.5 J <span class="badge kind-measured">measured</span>`, `390 µg CO2e <span class="badge kind-measured">measured</span>`,
		`<span class="card-label">Method</span> measured:rapl; attribution: node dynamic power by the CPU time of replica worker threads`,
		// traffic and shadow
		`role-canary">canary<`, `<td class="num">10 %</td><td class="num">1</td><td class="num">988</td>`, `97.3 %`, `0.0412`, `(12 not mirrored`,
		// drift per feature and live quality
		`<tr class="drifted"><th scope="row">age</th><td>deciles</td><td class="num">0.412</td><td class="num">0.310</td><td class="num">1e-09</td><td>yes</td></tr>`,
		`<th scope="row">&lt;i&gt;limit&lt;/i&gt;</th>`, `prediction (class)`, `Drifted: age`, `against the training split (700 rows)`,
		`<th scope="row">accuracy</th><td class="num">0.8125</td><td class="num">0.7000</td>`, `400 of 5000 predicted rows labelled`, `Below its threshold.`,
		// lifecycle: newest first, key events marked, replicas from → to
		`<span class="replicas">1 → 2</span> 3 requests in flight over target 1`,
		`data-live-src="/deployments/credit?live=1"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the deployment page lacks %q", want)
		}
	}
	if n := strings.Count(body, `<figure class="chart-box"><svg`); n != 3 {
		t.Errorf("%d charts, want 3 (latency, requests, replicas)", n)
	}
	for _, s := range []string{"Latency per autoscaler tick", "p95", "Replicas and requests in flight", "in flight"} {
		if !strings.Contains(body, s) {
			t.Errorf("the charts lack %q", s)
		}
	}
	if strings.Contains(body, "<i>better f1</i>") || !strings.Contains(body, "&lt;i&gt;better f1&lt;/i&gt;") {
		t.Error("an event's reason is not escaped")
	}
	kinds := regexp.MustCompile(`<li class="event( event-key)?"><span class="badge event-(\w+)">`).FindAllStringSubmatch(body, -1)
	var got []string
	for _, k := range kinds {
		got = append(got, k[2]+map[bool]string{true: "*", false: ""}[k[1] != ""])
	}
	want := []string{"alert*", "promote*", "traffic", "scale", "created"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lifecycle history (newest first, * marked) (-want +got):\n%s", diff)
	}

	live := c.get("/deployments/credit?live=1")
	if live.StatusCode != http.StatusOK || strings.Contains(live.body, "<html") || strings.Contains(live.body, "Settings") ||
		!strings.Contains(live.body, "1.25 ms / 4.5 ms / 9.75 ms") || !strings.Contains(live.body, `class="events"`) {
		t.Errorf("the live fragment: status %d\n%s", live.StatusCode, live.body)
	}
}

func TestDeploymentPageStates(t *testing.T) {
	t.Parallel()
	f, fd := newDeploymentsFixture(t)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	for _, tt := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/deployments/idle%3Cb%3E", http.StatusOK, []string{"idle&lt;b&gt;", `dep-zero" id="dep-state">at zero<`, `2 J <span class="badge kind-estimated">estimated</span>`,
			"estimated:tdp-curve@1", "No history yet", "No events yet.", "No drift evaluation yet.", "no canary or shadow"}},
		{"/deployments/broken", http.StatusOK, []string{"not served", "could not be loaded", "not served on this server."}},
		{"/deployments/nope", http.StatusNotFound, []string{`deployment &#34;nope&#34; not found`}},
		{"/deployments/%3Cscript%3Ealert(1)%3C%2Fscript%3E", http.StatusNotFound, []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/deployments/alien", http.StatusNotFound, []string{"not found"}}, // another workspace's
		{"/deployments/credit/extra", http.StatusNotFound, []string{"There is no page at"}},
	} {
		res := c.get(tt.path)
		if res.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.path, res.StatusCode, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(res.body, w) {
				t.Errorf("GET %s lacks %q", tt.path, w)
			}
		}
		if strings.Contains(res.body, "<script>alert") || strings.Contains(res.body, "idle<b>") {
			t.Errorf("GET %s: unescaped input in the page", tt.path)
		}
	}

	fd.mu.Lock()
	fd.histErr = fmt.Errorf("disk on fire")
	fd.mu.Unlock()
	if res := c.get("/deployments/credit"); res.StatusCode != http.StatusInternalServerError || strings.Contains(res.body, "disk on fire") {
		t.Errorf("a failing history: status %d, want 500 without the cause", res.StatusCode)
	}

	signedOut := f.client(t)
	if res := signedOut.get("/deployments/credit?live=1"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("signed out, the live fragment: status %d, want 303 to the login", res.StatusCode)
	}
	noServing := newFixture(t, nil)
	c2 := noServing.client(t)
	c2.mustLogin(noServing.viewerSecret)
	if res := c2.get("/deployments/credit"); res.StatusCode != http.StatusNotFound || !strings.Contains(res.body, "does not serve models") {
		t.Errorf("without serving, a deployment page: status %d", res.StatusCode)
	}
}

// TestLifecycleHistoryNewest checks that a long history shows the newest
// events, read across pages, and says how many it left out.
func TestLifecycleHistoryNewest(t *testing.T) {
	t.Parallel()
	f, fd := newDeploymentsFixture(t)
	d := fd.deps[0]
	var evs []joule.DeploymentEvent
	for i := range 2500 {
		evs = append(evs, joule.DeploymentEvent{ID: fmt.Sprintf("dev_%05d", i), DeploymentID: d.ID, WorkspaceID: d.WorkspaceID,
			Time: now.Add(time.Duration(i) * time.Second), Kind: joule.DeploymentScale, From: i, To: i + 1, Reason: fmt.Sprintf("tick %d", i)})
	}
	fd.mu.Lock()
	fd.events[d.ID] = evs
	fd.mu.Unlock()
	rows, note, err := f.console.lifecycleHistory(t.Context(), d.WorkspaceID, d.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != maxDeploymentEvents || rows[0].Reason != "tick 2499" || rows[len(rows)-1].Reason != fmt.Sprintf("tick %d", 2500-maxDeploymentEvents) {
		t.Errorf("lifecycleHistory: %d rows, first %q, last %q; want the newest %d, newest first", len(rows), rows[0].Reason, rows[len(rows)-1].Reason, maxDeploymentEvents)
	}
	if rows[0].Replicas != "2499 → 2500" {
		t.Errorf("replicas of the newest: %q", rows[0].Replicas)
	}
	if want := fmt.Sprintf("The newest %d of 2500 events read.", maxDeploymentEvents); note != want {
		t.Errorf("note = %q, want %q", note, want)
	}
}

func TestJSONView(t *testing.T) {
	t.Parallel()
	type feature struct {
		PSI     float64 `json:"psi"`
		KS      float64 `json:"ks"`
		Drifted bool    `json:"drifted"`
	}
	type report struct {
		Time     string             `json:"time"`
		Rows     int                `json:"rows"`
		Features map[string]feature `json:"features"`
		Classes  []map[string]any   `json:"classes"`
		Tags     []string           `json:"tags"`
		Window   struct {
			Size int `json:"size"`
		} `json:"window"`
	}
	tests := []struct {
		name string
		in   any
		want *jsonView
	}{
		{"nil", (*joule.DriftReport)(nil), nil},
		{"no fields yet", &struct{}{}, &jsonView{Empty: true}},
		{"report", report{
			Time: "2026-03-14T09:30:00Z", Rows: 500,
			Features: map[string]feature{"LIMIT_BAL": {PSI: 0.012345, KS: 0.04}, "AGE": {PSI: 0.31, KS: 0.2, Drifted: true}},
			Classes:  []map[string]any{{"class": "1", "share": 0.25}, {"class": "2", "share": 0.75, "note": "<b>"}},
			Tags:     []string{"a", "b"},
		}, &jsonView{
			Fields: []settingRow{{"rows", "500"}, {"tags", "a, b"}, {"time", "2026-03-14T09:30:00Z"}, {"window.size", "0"}},
			Tables: []jsonTable{
				{Name: "classes", Columns: []string{"class", "share", "note"}, Rows: []jsonTableRow{{Values: []string{"1", "0.25", "—"}}, {Values: []string{"2", "0.75", "<b>"}}}},
				{Name: "features", Key: "name", Columns: []string{"drifted", "ks", "psi"}, Rows: []jsonTableRow{
					{Key: "AGE", Values: []string{"true", "0.2", "0.31"}}, {Key: "LIMIT_BAL", Values: []string{"false", "0.04", "0.01235"}}}},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := newJSONView(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("newJSONView(%+v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFmtSmallGrams(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   float64
		want string
	}{
		{0, "0 g"}, {1.628e-5, "16.3 µg"}, {0.00039, "390 µg"}, {0.0042, "4.2 mg"}, {0.25, "250 mg"}, {3.5, "3.5 g"}, {2500, "2.5 kg"},
	} {
		if got := fmtSmallGrams(tt.in); got != tt.want {
			t.Errorf("fmtSmallGrams(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
