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
)

// TestModelBrowser opens the models list, a model with its comparison and
// the version pages of a classifier and a regressor in a real headless
// Chromium, checks the confusion matrix and the residual charts render and
// that the browser reports no error (CSP violations included), and saves a
// screenshot (console-model.png in $JOULE_SCREENSHOT_DIR).
func TestModelBrowser(t *testing.T) {
	chromium := browsertest.FindChromium(t)
	f := newFixture(t, func(c *Config) { c.ModelCard = fakeCard })
	seedModels(t, f)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
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
	text := func() string {
		t.Helper()
		got, err := chromedp.Run(run, chromedp.Text(chromedp.CSS("main.content")))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	step("sign in",
		chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), f.viewerSecret),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("nav.sidenav")),
	)
	step("open the models list",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/models"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.models")),
	)
	step("open the model",
		chromedp.Click(chromedp.CSS(`a[href="/models/credit-risk"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.versions")),
		chromedp.WaitVisible(chromedp.CSS("table.comparison")),
	)
	step("compare versions 1 and 2",
		chromedp.Click(chromedp.CSS("#cmp-3")), // uncheck the default
		chromedp.Click(chromedp.CSS("#cmp-1")),
		chromedp.Click(chromedp.CSS(".compare-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`table.comparison a[href="/models/credit-risk/versions/1"]`)),
	)
	if got := text(); !strings.Contains(got, "0.8200 ★") || !strings.Contains(got, "max_depth ≠") {
		t.Errorf("the comparison of versions 1 and 2 does not show the best accuracy or the params diff:\n%s", got)
	}
	step("open the regressor",
		chromedp.Navigate(base+"/models/heating-load/versions/1"),
		chromedp.WaitVisible(chromedp.CSS(".residuals svg")),
	)
	step("open the classifier version",
		chromedp.Navigate(base+"/models/credit-risk/versions/2"),
		chromedp.WaitVisible(chromedp.CSS("table.confusion")),
		chromedp.WaitVisible(chromedp.CSS(".model-card")),
	)
	got := text()
	for _, want := range []string{"Confusion matrix", "164 of 200 test rows correct", "Training energy, emissions and cost", "measured", "Lineage and details", "Model card"} {
		if !strings.Contains(got, want) {
			t.Errorf("the version page does not show %q", want)
		}
	}
	png, err := chromedp.Run(run, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("JOULE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, "console-model.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
