package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/joule-dev/joule/internal/browsertest"
	"github.com/joule-dev/joule/internal/dataset"
)

// TestDatasetBrowser opens the datasets list and a version page in a real
// headless Chromium, checks the histograms render and that the browser
// reports no error (CSP violations included), and saves a screenshot
// (console-dataset.png in $JOULE_SCREENSHOT_DIR).
func TestDatasetBrowser(t *testing.T) {
	chromium := browsertest.FindChromium(t)
	var svc *dataset.Service
	f := newFixture(t, func(c *Config) {
		svc = &dataset.Service{Store: c.Store, DataDir: t.TempDir(), Now: func() time.Time { return now.Add(-25 * time.Minute) }}
		c.Datasets = svc
	})
	ctx := t.Context()
	if _, _, err := svc.IngestFile(ctx, f.acme.ID, "enb", "../examples/data/energy/ENB2012_data.csv", "upload:ENB2012_data.csv",
		dataset.IngestOptions{Roles: map[string]string{"Y1": "target"}}, f.admin.ID); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../examples/recipes/enb-standardize.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dataset.ParseRecipe(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ApplyRecipe(ctx, f.acme.ID, "enb", 1, rec, f.admin.ID, ""); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	var errs browsertest.Errors
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
	step("sign in",
		chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), f.viewerSecret),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("nav.sidenav")),
	)
	step("open the datasets list",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/datasets"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.datasets")),
	)
	step("open the dataset",
		chromedp.Click(chromedp.CSS(`a[href="/datasets/enb"]`)),
		chromedp.WaitVisible(chromedp.CSS(".histograms svg")),
		chromedp.WaitVisible(chromedp.CSS("table.preview")),
	)
	got, err := chromedp.Run(run, chromedp.Text(chromedp.CSS("main.content")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"version 2", "random, seed 42: 614 train, 154 test", "standardize", "Lineage", "Histograms", "The first 20 of 768 rows."} {
		if !strings.Contains(got, want) {
			t.Errorf("the version page does not show %q", want)
		}
	}
	png, err := chromedp.Run(run, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("JOULE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, "console-dataset.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
