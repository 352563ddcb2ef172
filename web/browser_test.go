package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/browsertest"
)

// TestBrowser signs in with a real headless Chromium, looks at the overview
// and the audit log, and fails on any error the browser reports.
func TestBrowser(t *testing.T) {
	chromium := browsertest.FindChromium(t)
	jobDir := t.TempDir()
	f := newFixture(t, withJobDir(jobDir))
	ctx := t.Context()
	node, err := f.store.UpsertNode(ctx, joule.Node{
		ID: joule.NewID("node", now), Name: "lab-01", Hostname: "lab-01", OS: "linux", Arch: "amd64", Kernel: "6.12.48",
		CPUModel: "Intel(R) Xeon(R) CPU @ 2.20GHz", CPUCores: 2, MemoryBytes: 8 << 30,
		State: joule.NodeReady, Version: joule.Version, CreatedAt: now.Add(-3 * time.Hour), LastHeartbeat: now.Add(-3 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Heartbeat(ctx, node.ID, now.Add(-9*time.Second), &joule.NodeUsage{Time: now.Add(-9 * time.Second), CPUFraction: 0.42, MemoryUsed: 3 << 30, Load1: 0.9}); err != nil {
		t.Fatal(err)
	}
	// Jobs: one that ended with metrics, artifacts and a retry, one that
	// runs and writes its log while the browser watches, and two more.
	train := seedTrainJob(t, f, jobDir, node)
	tail := mustCreateJob(t, f.store, f.acme, "tail-me", now.Add(-3*time.Minute), func(j *joule.Job) {
		j.Spec.Command = []string{"python", "-u", "serve.py"}
	})
	startJob(t, f.store, tail.ID, node.ID, 1, now.Add(-2*time.Minute))
	writeLog(t, jobDir, tail.ID, 1, "starting <server>\nlistening on :8080\n", false)
	failed := mustCreateJob(t, f.store, f.acme, "eval-nightly", now.Add(-40*time.Minute), nil)
	startJob(t, f.store, failed.ID, node.ID, 1, now.Add(-39*time.Minute))
	mustMoveJob(t, f.store, failed.ID, joule.JobFailed, "exit status 2: dataset shard 7 missing", now.Add(-38*time.Minute), func(j *joule.Job) {
		j.ExitCode, j.FinishedAt = ptr(2), ptr(now.Add(-38*time.Minute))
	})
	mustCreateJob(t, f.store, f.acme, "sweep-lr", now.Add(-30*time.Second), func(j *joule.Job) { j.Reason = "waiting for 1 GPU" })

	seedEnergy(t, f)
	sf := seedSustain(t, f)
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now.Add(-2 * time.Hour), WorkspaceID: f.acme.ID, Principal: "system", Action: "workspace.create", Resource: f.acme.ID, Outcome: "success", Detail: "bootstrap"})
	mustAppendAudit(t, f.store, joule.AuditEntry{Time: now.Add(-time.Hour), WorkspaceID: f.acme.ID, Principal: f.admin.ID, Action: "token.create", Resource: f.viewer.ID, RequestID: "req_01HX", Outcome: "success", Detail: "viewer token for dashboards"})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	var errs browsertest.Errors
	// Listen starts the browser; its context has no deadline, because a
	// deadline on the first call would stop the whole browser.
	if err := chromedp.Listen(browserCtx, errs.Listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run, cancel := context.WithTimeout(browserCtx, 90*time.Second)
	defer cancel()
	base := f.server.URL
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(run, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range errs.Take() {
			t.Errorf("%s: the browser reported an error: %s", name, m)
		}
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(run, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(run, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	step("open the console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if loc := location(); loc != base+"/login" {
		t.Fatalf("signed out, / led to %s, want %s/login", loc, base)
	}

	step("sign in",
		chromedp.SendKeys(chromedp.CSS("#token"), f.adminSecret),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.data")),
	)
	if loc := location(); loc != base+"/" {
		t.Errorf("after sign-in the browser is at %s, want %s/", loc, base)
	}
	if got := text("table.data"); !strings.Contains(got, "lab-01") || !strings.Contains(got, "no power meter detected") {
		t.Errorf("overview table does not show node lab-01 and its missing meter:\n%s", got)
	}
	if got := text("header.topbar"); !strings.Contains(got, "acme") || !strings.Contains(got, "admin") {
		t.Errorf("header does not show the workspace and role: %q", got)
	}
	step("wait for the chart", chromedp.WaitVisible(chromedp.CSS("figure.chart-box svg")))

	png, err := chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("JOULE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(name string, png []byte) {
		t.Helper()
		shot := filepath.Join(dir, name)
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	}
	save("console-overview.png", png)
	if got := text("a.jobs-card"); !strings.Contains(got, "1 running") || !strings.Contains(got, "1 queued") || !strings.Contains(got, "1 failed") {
		t.Errorf("overview's jobs card: %q", got)
	}

	step("open the jobs list",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/jobs"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.jobs")),
	)
	if got := text("table.jobs"); !strings.Contains(got, "train-resnet") || !strings.Contains(got, "tail-me") || !strings.Contains(got, "waiting for 1 GPU") {
		t.Errorf("jobs list does not show the jobs:\n%s", got)
	}
	png, err = chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	save("console-jobs.png", png)
	step("filter the jobs list",
		chromedp.SetValue(chromedp.CSS(`select[name="state"]`), "failed"),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.btn-quiet[href="/jobs"]`)),
	)
	if got := text("table.jobs"); !strings.Contains(got, "eval-nightly") || strings.Contains(got, "tail-me") {
		t.Errorf("jobs list filtered by failed:\n%s", got)
	}

	step("open a finished job",
		chromedp.Navigate(base+"/jobs"),
		chromedp.WaitVisible(chromedp.CSS("table.jobs")),
		chromedp.Click(chromedp.CSS(`a[href="/jobs/`+train.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("figure.chart-box svg")),
		chromedp.WaitVisible(chromedp.CSS("ol.timeline")),
		chromedp.WaitVisible(chromedp.CSS("pre#log")),
	)
	if got := text("pre#log"); !strings.Contains(got, "<script>alert(1)</script>") {
		t.Errorf("the log shows %q, want the script tag as text", got)
	}
	if got := text("#log-status"); !strings.Contains(got, "ended") {
		t.Errorf("a finished job's log status says %q", got)
	}
	png, err = chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	save("console-job.png", png)

	step("follow a running job's log",
		chromedp.Navigate(base+"/jobs/"+tail.ID),
		chromedp.WaitVisible(chromedp.CSS("pre#log")),
	)
	if got := text("pre#log"); !strings.Contains(got, "starting <server>") {
		t.Fatalf("the running job's log shows %q", got)
	}
	writeLog(t, jobDir, tail.ID, 1, "GET /healthz 200 <ok> & fine\n", true)
	step("see the new log line",
		chromedp.Poll[chromedp.Void](`document.getElementById("log").textContent.includes("GET /healthz 200 <ok> & fine")`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)),
	)
	writeLog(t, jobDir, tail.ID, 1, "shutting down\n", true)
	mustMoveJob(t, f.store, tail.ID, joule.JobSucceeded, "exited with status 0", now, func(j *joule.Job) { j.ExitCode, j.FinishedAt = ptr(0), ptr(now) })
	step("see the job end",
		chromedp.Poll[chromedp.Void](`document.getElementById("job-state").textContent === "succeeded" && document.getElementById("log").textContent.includes("shutting down")`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)),
	)
	if got := text("pre#log"); strings.Count(got, "GET /healthz") != 1 || strings.Count(got, "starting <server>") != 1 {
		t.Errorf("the followed log repeats or loses lines:\n%s", got)
	}

	step("open the audit log",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("form.filters")),
	)
	if got := text("table.data"); !strings.Contains(got, "token.create") || !strings.Contains(got, "viewer token for dashboards") {
		t.Errorf("audit table does not show the token.create entry:\n%s", got)
	}

	step("open Energy & Carbon",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/energy"]`)),
		chromedp.WaitVisible(chromedp.CSS(".node-energy figure.chart-box svg")),
		chromedp.WaitVisible(chromedp.CSS("table.top-energy")),
	)
	if got := text("table.top-emissions"); !strings.Contains(got, "etl-nightly") || !strings.Contains(got, "estimated") {
		t.Errorf("top jobs by emissions:\n%s", got)
	}
	if got := text("main.content"); !strings.Contains(got, "measured:rapl") || !strings.Contains(got, "estimated:tdp-curve@1") || !strings.Contains(got, "Grid carbon intensity used") {
		t.Errorf("the energy page does not name its methods and intensity:\n%s", got)
	}
	png, err = chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	save("console-energy.png", png)
	step("choose another period",
		chromedp.SetValue(chromedp.CSS(`select[name="period"]`), "1h"),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p[data-period="1h"]`)),
	)
	if got := text("table.top-energy"); strings.Contains(got, "train-bert") || !strings.Contains(got, "etl-nightly") {
		t.Errorf("top jobs by energy over the last hour:\n%s", got)
	}

	step("open Targets",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/targets"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section#target-`+sf.target.ID+` figure.chart-box svg`)),
		chromedp.WaitVisible(chromedp.CSS("table.history")),
	)
	if got := text(chromedp.CSS("section#target-" + sf.target.ID)); !strings.Contains(got, "reduce energy_kwh by 10% versus baseline 2025-12") || !strings.Contains(got, "90 % interval") || !strings.Contains(got, "% measured") {
		t.Errorf("the target's section:\n%s", got)
	}
	step("set a target with the form",
		chromedp.SendKeys(chromedp.CSS(`#new-target input[name="name"]`), "halve-energy"),
		chromedp.SetValue(chromedp.CSS(`#new-target input[name="reduce"]`), "50"),
		chromedp.Click(chromedp.CSS(`#new-target button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.target:nth-of-type(2) figure.chart-box svg`)),
	)
	if got := text("main.content"); !strings.Contains(got, "reduce energy_kwh by 50% versus baseline 2025-12") {
		t.Errorf("the new target is not shown:\n%s", got)
	}
	if err := chromedp.Do(run, chromedp.Navigate(base+"/targets"), chromedp.WaitVisible(chromedp.CSS("section.target figure.chart-box svg"))); err != nil {
		t.Fatal(err)
	}
	png, err = chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	save("console-targets.png", png)

	step("open Reports",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/reports"]`)),
		chromedp.WaitVisible(chromedp.CSS("iframe.report")),
		chromedp.SetValue(chromedp.CSS(`select[name="period"]`), "2026-02"),
		chromedp.Click(chromedp.CSS(`#report-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h2[data-period="2026-02"]`)),
		// A viewport as tall as the page, so that the whole frame is painted
		// for the screenshot; then load the frame again and wait for it: the
		// page cannot look into the sandboxed frame, but it sees its load
		// event.
		chromedp.EmulateViewport(1280, 1950),
		chromedp.Evaluate[chromedp.Void](`window.reportLoaded = false; (f => { f.addEventListener("load", () => { window.reportLoaded = true; }); f.src = f.src; })(document.querySelector("iframe.report"))`),
		chromedp.Poll[chromedp.Void](`window.reportLoaded === true`, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)),
	)
	if got := text(".downloads"); !strings.Contains(got, "CSV") || !strings.Contains(got, "JSON") || !strings.Contains(got, "PDF") {
		t.Errorf("the report's downloads: %q", got)
	}
	png, err = chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	save("console-reports.png", png)
	step("restore the viewport", chromedp.EmulateViewport(1280, 800))

	for _, s := range sections {
		step("open "+s.name, chromedp.Navigate(base+s.path), chromedp.WaitVisible(chromedp.CSS("main.content h1")))
	}
	// A missing page answers 404, which Chromium logs as a failed load of
	// the page itself; that error, and only that, is expected.
	if err := chromedp.Do(run, chromedp.Navigate(base+"/no-such-page"), chromedp.WaitVisible(chromedp.CSS(".error-box"))); err != nil {
		t.Fatalf("open a missing page: %v", err)
	}
	for _, m := range errs.Take() {
		if !strings.Contains(m, "404") || !strings.HasSuffix(m, "/no-such-page") {
			t.Errorf("open a missing page: the browser reported an error: %s", m)
		}
	}

	// Prove the listener works: an error the page logs must be caught.
	if _, err := chromedp.Run(run, chromedp.Evaluate[chromedp.Void](`console.error("joule-probe")`)); err != nil {
		t.Fatal(err)
	}
	if got := errs.Take(); len(got) != 1 || !strings.Contains(got[0], "joule-probe") {
		t.Errorf("the console listener caught %q, want the probe error", got)
	}

	step("sign out",
		chromedp.Navigate(base+"/settings"),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
}
