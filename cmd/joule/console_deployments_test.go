package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/joule-dev/joule/internal/browsertest"
)

// TestConsoleDeploymentBrowser is the console's deployment pages on the
// real binary: `joule up` serves a model trained on german.data-numeric,
// predictions run until the serving meter has attributed energy to them,
// and a real headless Chromium signs in, opens the deployments list and
// the deployment's page, and finds there the replicas, the latency, and
// the energy per 1,000 predictions with its measured/estimated badge and
// method, all equal to what the API reports; the page's live part then
// refreshes itself without a browser error (CSP violations included). It
// saves console-deployments.png and console-deployment.png in
// $JOULE_SCREENSHOT_DIR.
func TestConsoleDeploymentBrowser(t *testing.T) {
	t.Parallel()
	chromium := browsertest.FindChromium(t)
	b := startBinary(t)
	base, token, stderr, s := b.base, b.token, b.stderr, b.server
	cli := func(args ...string) (string, error) { return s.cli(t, token, nil, args...) }

	const data = "../../examples/data/finance/german.data-numeric"
	if out, err := cli("dataset", "upload", "german", data, "-q"); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if out, err := cli("train", "--dataset", "german", "--target", "column24", "--algorithm", "logistic_regression", "--split-seed", "42", "--wait"); err != nil {
		t.Fatalf("train: %v\n%s\nserver stderr:\n%s", err, out, stderr.String())
	}
	if out, err := cli("deploy", "german@1", "--name", "credit", "--min", "1", "--max", "2", "--target-concurrency", "4"); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}

	// The file's 1,000 rows as instances: 24 features, then the target.
	raw, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var instances []map[string]any
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) != 25 {
			continue
		}
		in := map[string]any{}
		for i := range 24 {
			n, err := strconv.Atoi(f[i])
			if err != nil {
				t.Fatalf("%s: %q is not a number", data, f[i])
			}
			in[fmt.Sprintf("column%d", i)] = n
		}
		instances = append(instances, in)
	}
	body, _ := json.Marshal(map[string]any{"instances": instances})
	predict := func() {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/v1/workspaces/default/deployments/credit/predict", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("predict = %d", res.StatusCode)
		}
	}
	dep := func() deploymentJSON {
		t.Helper()
		out, err := cli("deployment", "get", "credit", "-o", "json")
		if err != nil {
			t.Fatalf("deployment get: %v\n%s", err, out)
		}
		var d deploymentJSON
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("deployment get -o json: %v\n%s", err, out)
		}
		return d
	}
	// Predict until the 1 Hz power samples have attributed energy.
	var d deploymentJSON
	for deadline := time.Now().Add(60 * time.Second); ; {
		predict()
		if d = dep(); d.Status.Energy != nil && d.Status.Energy.JoulesPer1000 > 0 && d.Status.Energy.Predictions >= 5000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no energy per 1,000 predictions after 60 s: %+v\nserver stderr:\n%s", d.Status, stderr.String())
		}
	}
	e := d.Status.Energy
	kind := "estimated"
	switch {
	case e.Measured:
		kind = "measured"
	case e.EstimatedJoules > 0 && e.EstimatedJoules < e.Joules:
		kind = "measured + estimated"
	}

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
	step := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(run, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range errs.Take() {
			t.Errorf("%s: the browser reported an error: %s", name, m)
		}
	}
	text := func(sel string) string {
		t.Helper()
		got, err := chromedp.Run(run, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.Join(strings.Fields(got), " ")
	}
	shotDir := os.Getenv("JOULE_SCREENSHOT_DIR")
	if shotDir == "" {
		shotDir = t.TempDir()
	}
	screenshot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(run, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(shotDir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	step("sign in",
		chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("nav.sidenav")),
	)
	step("open the deployments list",
		chromedp.Click(chromedp.CSS(`nav.sidenav a[href="/deployments"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.deployments")),
	)
	row := text(`table.deployments tbody tr`)
	for _, want := range []string{"credit", "german@1", "ready", "(1–2)", kind} {
		if !strings.Contains(row, want) {
			t.Errorf("the list's row lacks %q: %q", want, row)
		}
	}
	screenshot("console-deployments.png")

	step("open the deployment",
		chromedp.Click(chromedp.CSS(`table.deployments a[href="/deployments/credit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#card-energy")),
	)
	if got := text("#card-replicas .card-value"); !strings.HasPrefix(got, strconv.Itoa(d.Status.Replicas)+" of 1–2") {
		t.Errorf("replicas card = %q, want %d of 1–2", got, d.Status.Replicas)
	}
	if got := text("#card-latency .card-value"); strings.Count(got, " ms") != 3 {
		t.Errorf("latency card = %q, want p50, p95 and p99 in ms", got)
	}
	got := text("#card-energy .card-value")
	if !strings.Contains(got, " J") && !strings.Contains(got, " kJ") || !strings.HasSuffix(got, kind) {
		t.Errorf("energy card = %q, want joules per 1,000 predictions and the %s badge", got, kind)
	}
	if got := text("#energy-method"); !strings.HasSuffix(got, " "+strings.Join(strings.Fields(e.Method), " ")) || !strings.Contains(got, "cpu time") {
		t.Errorf("energy method = %q, want the API's %q", got, e.Method)
	}
	if got := text("ol.events"); !strings.Contains(got, "created") || !strings.Contains(got, "serves model german version 1") {
		t.Errorf("lifecycle history = %q, want the created event", got)
	}
	settings := text("table.settings")
	if !strings.Contains(settings, "Replicas (min–max) 1–2") || !strings.Contains(settings, "4 requests in flight per replica") {
		t.Errorf("settings = %q", settings)
	}
	// The live part refreshes itself: the status line says when.
	step("see a refresh",
		chromedp.Poll[chromedp.Void](`document.getElementById("live-status").textContent.startsWith("Updated")`,
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.WaitVisible(chromedp.CSS("#card-energy")),
	)
	screenshot("console-deployment.png")
}
