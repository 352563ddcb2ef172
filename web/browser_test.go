package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/joule-dev/joule"
)

// findChromium returns the path of a Chromium or Chrome binary. Without one
// it skips the test, unless CI is set, where a missing browser is a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found, and CI is set: install it (apt-get install chromium)")
	}
	t.Skip("chromium not found: skipping the browser test (apt-get install chromium)")
	return ""
}

// browserErrors collects what the page reports as errors: console.error
// calls, uncaught exceptions and browser log entries at level error (failed
// loads, CSP violations).
type browserErrors struct {
	mu   sync.Mutex
	msgs []string
}

func (b *browserErrors) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg = "console.error: " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		msg = "uncaught exception: " + ev.ExceptionDetails.Text
		if ex := ev.ExceptionDetails.Exception; ex != nil {
			msg += " " + ex.Description
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level != log.EntryLevelError {
			return
		}
		msg = "log " + string(ev.Entry.Source) + ": " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	b.mu.Lock()
	b.msgs = append(b.msgs, msg)
	b.mu.Unlock()
}

func (b *browserErrors) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.msgs
	b.msgs = nil
	return m
}

// TestBrowser signs in with a real headless Chromium, looks at the overview
// and the audit log, and fails on any error the browser reports.
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	f := newFixture(t, nil)
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

	var errs browserErrors
	// Listen starts the browser; its context has no deadline, because a
	// deadline on the first call would stop the whole browser.
	if err := chromedp.Listen(browserCtx, errs.listen); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run, cancel := context.WithTimeout(browserCtx, 60*time.Second)
	defer cancel()
	base := f.server.URL
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(run, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range errs.take() {
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
	shot := filepath.Join(dir, "console-overview.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("overview screenshot: %s (%d bytes)", shot, len(png))

	step("open the audit log",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("form.filters")),
	)
	if got := text("table.data"); !strings.Contains(got, "token.create") || !strings.Contains(got, "viewer token for dashboards") {
		t.Errorf("audit table does not show the token.create entry:\n%s", got)
	}

	for _, s := range sections {
		step("open "+s.name, chromedp.Navigate(base+s.path), chromedp.WaitVisible(chromedp.CSS("main.content h1")))
	}
	// A missing page answers 404, which Chromium logs as a failed load of
	// the page itself; that error, and only that, is expected.
	if err := chromedp.Do(run, chromedp.Navigate(base+"/no-such-page"), chromedp.WaitVisible(chromedp.CSS(".error-box"))); err != nil {
		t.Fatalf("open a missing page: %v", err)
	}
	for _, m := range errs.take() {
		if !strings.Contains(m, "404") || !strings.HasSuffix(m, "/no-such-page") {
			t.Errorf("open a missing page: the browser reported an error: %s", m)
		}
	}

	// Prove the listener works: an error the page logs must be caught.
	if _, err := chromedp.Run(run, chromedp.Evaluate[chromedp.Void](`console.error("joule-probe")`)); err != nil {
		t.Fatal(err)
	}
	if got := errs.take(); len(got) != 1 || !strings.Contains(got[0], "joule-probe") {
		t.Errorf("the console listener caught %q, want the probe error", got)
	}

	step("sign out",
		chromedp.Navigate(base+"/settings"),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#token")),
	)
}
