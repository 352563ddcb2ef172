package web

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sustain"
)

// TestOverviewSustainability shows the last 30 days on the Overview: the
// totals (energy equal to the fixture's hand sum, with its measured share),
// the three trend charts, the target's status, the top jobs by energy and
// the recommendations with their estimated savings, each labelled.
func TestOverviewSustainability(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	sf := seedSustain(t, f)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d\n%s", res.StatusCode, res.body)
	}
	until := now.Truncate(24 * time.Hour)
	since := until.AddDate(0, 0, -DashboardDays)
	var kwh, measured, total float64
	for day, v := range sf.kwh {
		if !day.Before(since) && day.Before(until) {
			kwh += v
		}
	}
	for i, j := range sf.jobs {
		if j.StartedAt.Before(since) || !j.StartedAt.Before(until) {
			continue
		}
		total += j.Energy.Joules
		if i%2 == 0 {
			measured += j.Energy.Joules
		}
	}
	rep, err := sustain.AssembleReport(t.Context(), f.store, sustain.ReportRequest{WorkspaceID: f.acme.ID, Scope: "acme", Since: since,
		Until: until, Deadline: sustain.DefaultDeadline, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	energy := summary(t, rep, joule.IndEnergyKWh)
	if math.Abs(energy.Value-kwh) > 1e-9*kwh {
		t.Fatalf("fixture: the report's 30-day energy %v, hand sum %v", energy.Value, kwh)
	}
	if len(rep.Recommend) == 0 || rep.Recommend[0].Kind != "shift" || rep.Recommend[0].KgCO2e <= 0 {
		t.Fatalf("fixture: recommendations %+v, want jobs that could have been shifted", rep.Recommend)
	}
	share := measuredText(ptr(measured / total))
	for _, want := range []string{
		`<div class="card" id="sus-energy"><div class="card-label">Energy</div><div class="card-value">` + sustain.Fmt(kwh) + ` kWh</div>`,
		share, "location-based, from that energy (" + share + ")",
		sustain.Fmt(summary(t, rep, joule.IndEmissionsKg).Value) + " kg CO2e",
		sustain.Fmt(summary(t, rep, joule.IndCost).Value) + " EUR",
		"Energy per day", "Emissions per day (location-based)", "Cost per day",
		`<span class="badge status-` + rep.Targets[0].Status.Status + `">1 ` + statusText(rep.Targets[0].Status.Status) + `</span>`,
		`<a href="/targets#target-` + sf.target.ID + `"><strong>cut-energy</strong></a>`,
		`<table class="data compact sus-top">`, `<span class="badge kind-measured">measured</span>`, `<span class="badge kind-estimated">estimated</span>`,
		`<span class="badge kind-estimated">estimated</span> <strong>` + rep.Recommend[0].Title,
		sustain.Fmt(rep.Recommend[0].KgCO2e) + " kg CO2e",
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// The top job is the newest 30-day job with the most energy: the
	// earliest, as the power falls every day.
	var top joule.Job
	for _, j := range sf.jobs {
		if !j.StartedAt.Before(since) {
			top = j
			break
		}
	}
	tbl := res.body[strings.Index(res.body, `<table class="data compact sus-top">`):]
	if i := strings.Index(tbl, "<tbody>"); i < 0 || !strings.Contains(tbl[i:i+300], top.Spec.Name) {
		t.Errorf("the first top consumer is not %s:\n%.600s", top.Spec.Name, tbl)
	}
	if n := strings.Count(tbl[:strings.Index(tbl, "</table>")], "<tr>"); n != 1+dashboardTop {
		t.Errorf("top consumers has %d rows, want a header and %d jobs", n, dashboardTop)
	}
}

// TestOverviewSustainabilityEmpty: without energy the section says so and
// draws no chart.
func TestOverviewSustainabilityEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/")
	for _, want := range []string{"Sustainability, last 30 days", "no energy recorded", "No targets yet", "No job of this workspace recorded energy", "No recommendations"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("empty overview lacks %q", want)
		}
	}
	if strings.Contains(res.body, "Energy per day") {
		t.Error("the empty overview draws trend charts")
	}
}
