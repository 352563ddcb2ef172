package httpapi_test

import (
	"context"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
	"github.com/joule-dev/joule/internal/sustain"
)

// seedSustain writes two months (September and October 2026) of finished
// jobs on the env's node, with hourly job and node rollups: one job every
// 6 hours, 1 to 3 hours long, at 150 to 400 W, under an intensity that
// varies by hour of day, with a market factor and a price.
func seedSustain(t *testing.T, e *env) joule.Workspace {
	t.Helper()
	ctx := t.Context()
	ws, err := e.store.GetWorkspace(ctx, joule.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	intensity := func(t time.Time) float64 { return 250 + 120*math.Cos(float64(t.Hour())/24*2*math.Pi) }
	busy := map[time.Time]float64{}
	var rows []joule.EnergyRollup
	for i := 0; i < 61*4; i++ {
		at := start.Add(time.Duration(i) * 6 * time.Hour)
		hours := 1 + i%3
		watts := 150 + float64(i%6)*50
		end := at.Add(time.Duration(hours) * time.Hour)
		team := []string{"vision", "speech"}[i%2]
		j := joule.Job{ID: joule.NewID("job", at), WorkspaceID: ws.ID, State: joule.JobSucceeded, NodeID: e.node.ID, Attempts: 1,
			Spec:      joule.JobSpec{Name: "train-" + strconv.Itoa(i), Command: []string{"true"}, Labels: map[string]string{"team": team}},
			CreatedAt: at, UpdatedAt: end, StartedAt: &at, FinishedAt: &end,
			Energy: &joule.JobEnergy{Joules: watts * 3600 * float64(hours), EstimatedJoules: watts * 3600 * float64(hours), PUE: 1.3, Method: "estimated:tdp-curve@1"}}
		if err := e.store.CreateJob(ctx, j, nil); err != nil {
			t.Fatal(err)
		}
		for k := range hours {
			h := at.Add(time.Duration(k) * time.Hour)
			jl := watts * 3600
			f := jl * 1.3 / 3.6e6
			m := f * 90
			rows = append(rows, joule.EnergyRollup{Scope: joule.RollupJob, Width: time.Hour, NodeID: e.node.ID, Entity: j.ID, WorkspaceID: ws.ID, Attempt: 1,
				Start: h, Seconds: 3600, EstimatedJoules: jl, Method: "estimated:tdp-curve@1", PUEJoules: jl * 1.3, EmissionsG: f * intensity(h),
				IntensitySource: "static table", MarketEmissionsG: &m, EmbodiedG: 3, EnergyCost: f * 0.3, Currency: "EUR"})
			busy[h] = jl
		}
	}
	for h := start; h.Before(start.AddDate(0, 2, 0)); h = h.Add(time.Hour) {
		jl := 60*3600 + busy[h]
		f := jl * 1.3 / 3.6e6
		rows = append(rows, joule.EnergyRollup{Scope: joule.RollupNode, Width: time.Hour, NodeID: e.node.ID, Entity: "cpu", Start: h, Seconds: 3600,
			EstimatedJoules: jl, Method: "estimated:tdp-curve@1", PUEJoules: jl * 1.3, EmissionsG: f * intensity(h), IntensitySource: "static table",
			EnergyCost: f * 0.3, Currency: "EUR"})
	}
	if err := e.store.AddEnergyRollups(ctx, rows); err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestSustainAPI drives indicators, baselines, targets, KPIs,
// recommendations and the report through the client, and checks that the
// report's figures are the indicators' figures for the same period.
func TestSustainAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mustOpenSQLite(t))
	ws := seedSustain(t, e)
	ctx := t.Context()
	c := &httpapi.Client{BaseURL: e.srv.URL, Token: e.admin}
	oct := httpapi.SustainQuery{Period: "2026-10"}

	set, err := c.Indicators(ctx, ws.Name, oct)
	if err != nil {
		t.Fatal(err)
	}
	energy, _ := set.Get(joule.IndEnergyKWh)
	util, _ := set.Get(joule.IndUtilisation)
	if !energy.Available || energy.Value <= 0 || energy.MeasuredShare == nil || *energy.MeasuredShare != 0 || !util.Available {
		t.Fatalf("indicators = %+v", set)
	}
	vision, err := c.Indicators(ctx, ws.Name, httpapi.SustainQuery{Period: "2026-10", Slice: "label:team=vision"})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := vision.Get(joule.IndEnergyKWh); !(v.Value > 0 && v.Value < energy.Value) {
		t.Errorf("vision energy %v, want part of %v", v.Value, energy.Value)
	}
	if _, err := c.Indicators(ctx, ws.Name, httpapi.SustainQuery{Period: "2026-13"}); joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), "period") {
		t.Errorf("bad period: %v, want EINVALID naming period", err)
	}
	if _, err := c.Indicators(ctx, ws.Name, httpapi.SustainQuery{Slice: "colour:red"}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("bad slice: %v, want EINVALID", err)
	}
	viewer := &httpapi.Client{BaseURL: e.srv.URL, Token: e.viewer}
	if _, err := viewer.Indicators(ctx, ws.Name, httpapi.SustainQuery{Period: "2026-10", Slice: "node:" + e.node.Name}); joule.ErrorCode(err) != joule.EFORBIDDEN {
		t.Errorf("node slice as viewer: %v, want EFORBIDDEN", err)
	}
	if vs, err := viewer.Indicators(ctx, ws.Name, oct); err != nil {
		t.Fatal(err)
	} else if v, _ := vs.Get(joule.IndIdleShare); v.Available {
		t.Errorf("a workspace viewer sees whole-node idle share: %+v", v)
	}

	b, err := c.CreateBaseline(ctx, ws.Name, httpapi.CreateBaselineRequest{Name: "2026-09", Indicator: joule.IndEmissionsKg})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Until.Equal(b.Since.AddDate(0, 1, 0)) || b.Units != 120 || b.PerDay != b.Value/30 {
		t.Errorf("baseline = %+v, want 30 days and 120 jobs", b)
	}
	if _, err := c.CreateBaseline(ctx, ws.Name, httpapi.CreateBaselineRequest{Name: "2026-09", Indicator: joule.IndEmissionsKg}); joule.ErrorCode(err) != joule.ECONFLICT {
		t.Errorf("duplicate baseline: %v, want ECONFLICT", err)
	}
	if _, err := c.CreateBaseline(ctx, ws.Name, httpapi.CreateBaselineRequest{Name: "future", Indicator: joule.IndEmissionsKg, Period: "2027-01"}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("future baseline: %v, want EINVALID", err)
	}
	tg, err := c.CreateTarget(ctx, ws.Name, httpapi.CreateTargetRequest{Name: "cut-carbon", Baseline: "2026-09", ReductionPct: 30, Due: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Status == nil || tg.TargetValue != tg.BaselineValue*0.7 || tg.Unit != "kg CO2e/day" {
		t.Errorf("target = %+v", tg)
	}
	if _, err := c.CreateTarget(ctx, ws.Name, httpapi.CreateTargetRequest{Name: "x", Baseline: "nope", ReductionPct: 10, Due: tg.Due}); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("target on a missing baseline: %v, want ENOTFOUND", err)
	}
	if _, err := c.CreateTarget(ctx, ws.Name, httpapi.CreateTargetRequest{Name: "y", Baseline: "2026-09", ReductionPct: 120, Due: tg.Due}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("reduction 120%%: %v, want EINVALID", err)
	}
	d, err := c.GetTarget(ctx, ws.Name, "cut-carbon")
	if err != nil || len(d.History) != 1 || d.Description == "" {
		t.Errorf("GetTarget = %+v, %v", d, err)
	}

	if _, err := c.CreateKPI(ctx, ws.Name, httpapi.CreateKPIRequest{Name: "training-hours", Unit: "h"}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.AddKPIPoints(ctx, ws.Name, "training-hours", httpapi.KPIPointsRequest{CSV: "time,value\n2026-10-02T00:00:00Z,4\n2026-10-09T00:00:00Z,6.5\n"}); err != nil || r.Stored != 2 {
		t.Errorf("AddKPIPoints = %+v, %v", r, err)
	}
	if _, err := c.AddKPIPoints(ctx, ws.Name, "training-hours", httpapi.KPIPointsRequest{CSV: "time,value\n2026-10-02,abc\n"}); joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), "csv:2") {
		t.Errorf("bad KPI CSV: %v, want EINVALID naming csv:2", err)
	}

	recs, err := c.Recommendations(ctx, ws.Name, oct)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range recs {
		kinds[r.Kind] = true
		if r.Method == "" || r.Title == "" {
			t.Errorf("recommendation without method: %+v", r)
		}
	}
	if !kinds["shift"] || !kinds["idle"] {
		t.Errorf("recommendations = %+v, want shift and idle", recs)
	}

	// The report's figures are the indicators' for the same period.
	set, err = c.Indicators(ctx, ws.Name, oct) // now with the KPI
	if err != nil {
		t.Fatal(err)
	}
	rep, err := c.Report(ctx, ws.Name, oct)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(set.Indicators, rep.Summary); diff != "" {
		t.Errorf("report summary differs from the indicators (-api +report):\n%s", diff)
	}
	if len(rep.Targets) != 1 || len(rep.Daily) != 31 || rep.Scope2.MarketKg == nil {
		t.Errorf("report: %d targets, %d days, market %v", len(rep.Targets), len(rep.Daily), rep.Scope2.MarketKg)
	}
	html, err := c.ReportRaw(ctx, ws.Name, oct, "html")
	if err != nil {
		t.Fatal(err)
	}
	tiles := regexp.MustCompile(`id="ind-([a-z_:.-]+)"><small>[^<]*</small><b data-value="([^"]+)">([^<]+)</b>`).FindAllStringSubmatch(string(html), -1)
	if len(tiles) < 10 {
		t.Fatalf("HTML report shows %d indicator tiles", len(tiles))
	}
	for _, m := range tiles {
		v, _ := set.Get(m[1])
		got, err := strconv.ParseFloat(m[2], 64)
		if err != nil || got != v.Value || m[3] != sustain.Fmt(v.Value) {
			t.Errorf("HTML %s = %s (%s), API %v", m[1], m[2], m[3], v.Value)
		}
	}
	csvOut, err := c.ReportRaw(ctx, ws.Name, oct, "csv")
	if err != nil || !strings.Contains(string(csvOut), "summary,energy_kwh,,"+sustain.Fmt(energy.Value)+",kWh") {
		t.Errorf("CSV report lacks the energy %s: %v", sustain.Fmt(energy.Value), err)
	}
	if st, body := e.do(t, "GET", "/v1/workspaces/"+ws.Name+"/sustainability/report?period=2026-10&format=pdf", e.admin, ""); st != http.StatusBadRequest || !strings.Contains(string(body), "format") {
		t.Errorf("format=pdf: %d %s", st, body)
	}
	if st, _ := e.do(t, "GET", "/v1/sustainability/report?period=2026-10", e.viewer, ""); st != http.StatusForbidden {
		t.Errorf("installation report as a viewer: %d, want 403", st)
	}
}

// TestSustainReportBrowser renders the HTML report the API serves in
// headless chromium: no console errors, the scope 2 figure is the API's,
// and a screenshot goes to $JOULE_SCREENSHOT_DIR (docs/img).
func TestSustainReportBrowser(t *testing.T) {
	t.Parallel()
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found, and CI is set")
		}
		t.Skip("chromium not found")
	}
	e := newEnv(t, mustOpenSQLite(t))
	ws := seedSustain(t, e)
	c := &httpapi.Client{BaseURL: e.srv.URL, Token: e.admin}
	ctx := t.Context()
	oct := httpapi.SustainQuery{Period: "2026-10"}
	if _, err := c.CreateBaseline(ctx, ws.Name, httpapi.CreateBaselineRequest{Name: "2026-09", Indicator: joule.IndEnergyKWh}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTarget(ctx, ws.Name, httpapi.CreateTargetRequest{Name: "cut-energy", Baseline: "2026-09", ReductionPct: 20, Due: time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	html, err := c.ReportRaw(ctx, ws.Name, oct, "html")
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.Indicators(ctx, ws.Name, oct)
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, html, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	var mu sync.Mutex
	var errs []string
	if err := chromedp.Listen(browserCtx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				errs = append(errs, "console.error")
			}
		case *runtime.EventExceptionThrown:
			errs = append(errs, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				errs = append(errs, "log: "+ev.Entry.Text)
			}
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run, cancel := context.WithTimeout(browserCtx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(run, chromedp.Navigate("file://"+page), chromedp.WaitVisible(chromedp.CSS("#scope2-location"))); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(run, chromedp.Text(chromedp.CSS("#scope2-location")))
	if err != nil {
		t.Fatal(err)
	}
	em, _ := set.Get(joule.IndEmissionsKg)
	if strings.TrimSpace(got) != sustain.Fmt(em.Value) {
		t.Errorf("scope 2 location-based in the browser = %q, API %s", got, sustain.Fmt(em.Value))
	}
	svgs, err := chromedp.Run(run, chromedp.Evaluate[int](`document.querySelectorAll("svg").length`))
	if err != nil || svgs < 4 {
		t.Errorf("%d SVG charts rendered (%v), want 4", svgs, err)
	}
	png, err := chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, m := range errs {
		t.Errorf("the browser reported an error: %s", m)
	}
	mu.Unlock()
	if dir := os.Getenv("JOULE_SCREENSHOT_DIR"); dir != "" {
		shot := filepath.Join(dir, "sustainability-report.png")
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	}
}
