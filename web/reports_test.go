package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/browsertest"
	"github.com/joule-dev/joule/internal/sustain"
)

// TestReportsPage shows the report of a month and serves its files: the
// JSON is sustain.AssembleReport's (what the API serves) and its energy the
// hand-computed sum of the fixture's jobs; the CSV and HTML carry the same
// figures.
func TestReportsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	sf := seedSustain(t, f)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)

	res := c.get("/reports?period=2026-02")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /reports: status %d\n%s", res.StatusCode, res.body)
	}
	for _, want := range []string{
		`data-period="2026-02" data-scope="acme"`,
		`<iframe class="report"`, `src="/reports/report.html?period=2026-02"`, "sandbox",
		`href="/reports/report.csv?period=2026-02"`, `href="/reports/report.json?period=2026-02"`, `href="/reports/report.html?period=2026-02" download`,
		`<option value="2026-02" selected>February 2026</option>`, `<option value="2026-Q1">2026-Q1 (to date)</option>`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("reports page lacks %q", want)
		}
	}
	if strings.Contains(res.body, `name="workspace"`) {
		t.Error("a workspace viewer is offered other workspaces")
	}
	if def := c.get("/reports"); !strings.Contains(def.body, `data-period="2026-03"`) {
		t.Errorf("the default report is not this month's")
	}

	// The JSON equals the report the API builds for the same request.
	js := c.get("/reports/report.json?period=2026-02")
	if js.StatusCode != http.StatusOK || js.Header.Get("Content-Type") != "application/json" ||
		js.Header.Get("Content-Disposition") != `attachment; filename="joule-report-acme-2026-02.json"` {
		t.Fatalf("report.json: status %d, headers %v", js.StatusCode, js.Header)
	}
	var got sustain.Report
	if err := json.Unmarshal([]byte(js.body), &got); err != nil {
		t.Fatal(err)
	}
	since, until, _ := sustain.ParsePeriod("2026-02")
	want, err := sustain.AssembleReport(t.Context(), f.store, sustain.ReportRequest{WorkspaceID: f.acme.ID, Scope: "acme", Period: "2026-02",
		Since: since, Until: until, Deadline: sustain.DefaultDeadline, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	var wantBack sustain.Report
	_ = json.Unmarshal(wantJSON, &wantBack)
	if d := cmp.Diff(wantBack, got); d != "" {
		t.Errorf("console report differs from AssembleReport's (-want +got):\n%s", d)
	}
	var feb float64
	for day, kwh := range sf.kwh {
		if !day.Before(since) && day.Before(until) {
			feb += kwh
		}
	}
	energy := summary(t, got, joule.IndEnergyKWh)
	if math.Abs(energy.Value-feb) > 1e-9*feb {
		t.Errorf("energy_kwh = %v, want the jobs' %v", energy.Value, feb)
	}
	if energy.MeasuredShare == nil || *energy.MeasuredShare <= 0 || *energy.MeasuredShare >= 1 {
		t.Errorf("energy measured share = %v, want a mix", energy.MeasuredShare)
	}
	if len(got.Targets) != 1 || got.Targets[0].Name != "cut-energy" {
		t.Errorf("report targets = %+v", got.Targets)
	}

	// CSV and HTML carry the same figure.
	cs := c.get("/reports/report.csv?period=2026-02")
	if cs.StatusCode != http.StatusOK || !strings.HasPrefix(cs.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("report.csv: status %d, type %q", cs.StatusCode, cs.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(cs.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r[0] == "summary" && r[1] == joule.IndEnergyKWh {
			found = r[3] == sustain.Fmt(energy.Value)
		}
	}
	if !found {
		t.Errorf("the CSV's energy_kwh is not %s", sustain.Fmt(energy.Value))
	}
	h := c.get("/reports/report.html?period=2026-02")
	if h.StatusCode != http.StatusOK || !strings.Contains(h.body, `data-value="`) || !strings.Contains(h.body, "Sustainability report · 2026-02") {
		t.Fatalf("report.html: status %d", h.StatusCode)
	}
	if csp := h.Header.Get("Content-Security-Policy"); csp != "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'" || h.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Errorf("report.html: CSP %q, X-Frame-Options %q", csp, h.Header.Get("X-Frame-Options"))
	}
	var b bytes.Buffer
	if err := sustain.RenderHTML(&b, want); err != nil {
		t.Fatal(err)
	}
	if b.String() != h.body {
		t.Error("the console's HTML report differs from sustain.RenderHTML of the same report")
	}

	// A custom period: both days included.
	cu := c.get("/reports/report.json?period=custom&from=2026-02-01&to=2026-02-28")
	var custom sustain.Report
	if err := json.Unmarshal([]byte(cu.body), &custom); err != nil {
		t.Fatalf("custom report: %v\n%s", err, cu.body)
	}
	if !custom.Since.Equal(since) || !custom.Until.Equal(until) || summary(t, custom, joule.IndEnergyKWh).Value != energy.Value {
		t.Errorf("custom report of February: %s to %s, energy %v; want the month's", custom.Since, custom.Until, summary(t, custom, joule.IndEnergyKWh).Value)
	}
}

func summary(t *testing.T, r sustain.Report, name string) joule.IndicatorValue {
	t.Helper()
	for _, v := range r.Summary {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("report has no %s", name)
	return joule.IndicatorValue{}
}

// TestReportsBadInput answers bad periods, workspaces and files with an
// error page and the right status.
func TestReportsBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	seedSustain(t, f)
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/reports?period=2026-13", http.StatusBadRequest, "period &#34;2026-13&#34;: want a month"},
		{"/reports/report.csv?period=last-month", http.StatusBadRequest, "period &#34;last-month&#34;"},
		{"/reports?period=custom&from=2026-02-30&to=2026-03-01", http.StatusBadRequest, "from: &#34;2026-02-30&#34; is not a date"},
		{"/reports?period=custom&from=2026-02-01", http.StatusBadRequest, "to: &#34;&#34; is not a date"},
		{"/reports?period=custom&from=2026-03-01&to=2026-02-01", http.StatusBadRequest, "is before from"},
		{"/reports?period=custom&from=2024-01-01&to=2026-02-01", http.StatusBadRequest, "the most is 400"},
		{"/reports?workspace=other", http.StatusForbidden, "another workspace"},
		{"/reports/report.json?workspace=*", http.StatusForbidden, "installation-wide report needs an admin token"},
		{"/reports/report.xlsx?period=2026-02", http.StatusNotFound, "There is no page"},
		{"/reports/summary.csv", http.StatusNotFound, "There is no page"},
	} {
		res := c.get(tc.path)
		if res.StatusCode != tc.status || !strings.Contains(res.body, tc.want) || !strings.Contains(res.body, `class="error-box`) {
			t.Errorf("GET %s: status %d, want %d with %q:\n%s", tc.path, res.StatusCode, tc.status, tc.want, res.body)
		}
	}
}

// TestReportsPlatformAdmin lets an admin of the default workspace choose
// any workspace, or the installation, whose report has whole-node figures.
func TestReportsPlatformAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	sf := seedSustain(t, f)
	c := f.client(t)
	c.mustLogin(sf.platform)
	page := c.get("/reports?period=2026-02&workspace=*")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `<option value="*" selected>all (installation)</option>`) ||
		!strings.Contains(page.body, `<option value="acme">acme</option>`) || !strings.Contains(page.body, `data-scope="installation"`) {
		t.Fatalf("platform admin's reports page: status %d\n%s", page.StatusCode, page.body)
	}
	var all, acme sustain.Report
	if err := json.Unmarshal([]byte(c.get("/reports/report.json?period=2026-02&workspace=*").body), &all); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(c.get("/reports/report.json?period=2026-02&workspace=acme").body), &acme); err != nil {
		t.Fatal(err)
	}
	if all.Scope != "installation" || acme.Scope != "acme" || len(all.ByWorkspace) != 2 || len(acme.ByWorkspace) != 1 {
		t.Errorf("scopes %q (%d workspaces), %q (%d)", all.Scope, len(all.ByWorkspace), acme.Scope, len(acme.ByWorkspace))
	}
	if a, w := summary(t, all, joule.IndEnergyKWh).Value, summary(t, acme, joule.IndEnergyKWh).Value; !(a > w) {
		t.Errorf("installation energy %v, acme %v: want more", a, w)
	}
	if idle := summary(t, all, joule.IndIdleShare); !idle.Available {
		t.Errorf("the installation report has no idle share: %+v", idle)
	}
	if res := c.get("/reports?workspace=nope"); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, "no such workspace") {
		t.Errorf("unknown workspace: status %d", res.StatusCode)
	}
}

// TestReportPDFUnavailable: without Chromium the page says so and the PDF
// URL answers 503 with the reason.
func TestReportPDFUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Chromium = "/nonexistent/chromium" })
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	page := c.get("/reports")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `id="no-pdf"`) || !strings.Contains(page.body, "/nonexistent/chromium") || strings.Contains(page.body, "report.pdf") {
		t.Errorf("reports page without chromium: status %d\n%s", page.StatusCode, page.body)
	}
	res := c.get("/reports/report.pdf?period=2026-02")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(res.body, "PDF needs Chromium") {
		t.Errorf("report.pdf without chromium: status %d\n%s", res.StatusCode, res.body)
	}
}

// TestReportPDF prints the report with the real headless Chromium.
func TestReportPDF(t *testing.T) {
	chromium := browsertest.FindChromium(t)
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Chromium = chromium })
	seedSustain(t, f)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	if page := c.get("/reports?period=2026-02"); !strings.Contains(page.body, `href="/reports/report.pdf?period=2026-02"`) {
		t.Fatalf("the reports page offers no PDF with chromium at %s", chromium)
	}
	res := c.get("/reports/report.pdf?period=2026-02")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="joule-report-acme-2026-02.pdf"` {
		t.Fatalf("report.pdf: status %d, headers %v\n%.500s", res.StatusCode, res.Header, res.body)
	}
	if !strings.HasPrefix(res.body, "%PDF-") || len(res.body) < 10_000 || !strings.Contains(res.body[len(res.body)-1024:], "%%EOF") {
		t.Errorf("report.pdf is not a whole PDF (%d bytes, starts %q)", len(res.body), res.body[:min(len(res.body), 8)])
	}
}
