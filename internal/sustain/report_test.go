package sustain

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sim"
)

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in           string
		since, until string
	}{
		{"2026-11", "2026-11-01", "2026-12-01"},
		{"2026-Q3", "2026-07-01", "2026-10-01"},
		{"2026", "2026-01-01", "2027-01-01"},
		{"2026-11-05", "2026-11-05", "2026-11-06"},
	} {
		s, u, err := ParsePeriod(tt.in)
		if err != nil || s.Format(time.DateOnly) != tt.since || u.Format(time.DateOnly) != tt.until {
			t.Errorf("ParsePeriod(%q) = %v, %v, %v; want %s, %s", tt.in, s, u, err, tt.since, tt.until)
		}
	}
	for _, bad := range []string{"", "2026-13", "2026-Q5", "Nov 2026"} {
		if _, _, err := ParsePeriod(bad); joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("ParsePeriod(%q) = %v, want EINVALID", bad, err)
		}
	}
}

// TestReportFigures: the report's summary, daily series and breakdowns add
// up to the indicators of the same data, and the HTML and CSV show them.
func TestReportFigures(t *testing.T) {
	t.Parallel()
	h := genHistory()
	recs, _ := Recommend(h.finishedJobs(), h.data.NodeRows, h.data.JobRows, nil, RecommendOptions{Deadline: sim.NextWorkday})
	r, err := BuildReport(h.data, ReportInput{Period: "2026-11", Scope: "installation", Now: h.start.AddDate(0, 1, 0), Recommendations: recs,
		WorkspaceNames: map[string]string{"ws_prod": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := Compute(h.data, "")
	e, _ := set.Get(joule.IndEnergyKWh)
	var daily, byWS, byNode float64
	for _, d := range r.Daily {
		daily += d.KWh
	}
	for _, b := range r.ByWorkspace {
		byWS += b.KWh
	}
	for _, b := range r.ByNode {
		byNode += b.KWh
	}
	if len(r.Daily) != 30 || !closeRel(daily, e.Value) || !closeRel(byWS, e.Value) || !closeRel(byNode, e.Value) {
		t.Errorf("daily %v (%d days), by workspace %v, by node %v; want each %v", daily, len(r.Daily), byWS, byNode, e.Value)
	}
	if r.Scope2.MarketKg == nil {
		t.Error("scope 2 market-based missing though every row has a factor")
	}
	var html, csvOut bytes.Buffer
	if err := RenderHTML(&html, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{Fmt(e.Value), Fmt(r.Scope2.LocationKg), Fmt(*r.Scope2.MarketKg), "<svg", "prod", "Method notes", "simulator"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if err := RenderCSV(&csvOut, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows {
		if row[0] == "summary" && row[1] == joule.IndEnergyKWh && row[3] == Fmt(e.Value) {
			found = true
		}
	}
	if !found {
		t.Errorf("CSV lacks the summary energy %s", Fmt(e.Value))
	}
}
