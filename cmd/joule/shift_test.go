package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/httpapi"
)

// TestCarbonForecastShiftsAFlexibleJob is the live acceptance case: with a
// forecast file whose minimum lies 6 h ahead, a 1-hour job with a 12-hour
// deadline is scheduled at that minimum, and the CLI shows the planned start
// and the expected saving.
func TestCarbonForecastShiftsAFlexibleJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hour := time.Now().UTC().Truncate(time.Hour)
	var csv strings.Builder
	csv.WriteString("timestamp,g_per_kwh\n")
	for i := -1; i < 24; i++ {
		v := 320.0
		if i == 6 {
			v = 180
		}
		fmt.Fprintf(&csv, "%s,%g\n", hour.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), v)
	}
	forecast := filepath.Join(dir, "forecast.csv")
	if err := os.WriteFile(forecast, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "--carbon-forecast", forecast)
	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", "nightly", "--deadline", "12h", "--expected-duration", "1h", "--", "true"); err != nil {
		t.Fatalf("job run: %v\n%s", err, out)
	}
	var d httpapi.JobDetail
	deadline := time.Now().Add(30 * time.Second)
	for d.Shift == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the job was not planned: %s (%s)", d.State, d.Reason)
		}
		out, err := s.cli(t, s.token, nil, "job", "get", "nightly", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := hour.Add(6 * time.Hour)
	if d.State != joule.JobScheduled || d.StartAt == nil || !d.StartAt.Equal(want) || d.Shift.Source != "file forecast.csv" {
		t.Fatalf("job %s start %v shift %+v; want scheduled at %s from the file", d.State, d.StartAt, d.Shift, want)
	}
	if d.Shift.ExpectedSavingG <= 0 || d.Shift.ForecastGPerKWh != 180 || d.Shift.NowGPerKWh != 320 {
		t.Errorf("shift %+v: want 180 vs 320 g/kWh and a positive saving", d.Shift)
	}
	out, err := s.cli(t, s.token, nil, "job", "get", "nightly")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("joule job get nightly:\n%s", out)
	for _, w := range []string{"waiting for a greener window: starts ", want.Format("15:04 UTC"), "Carbon shift:", "planned start", "expected saving:", "180 gCO2e/kWh in the window vs 320 at submission (file forecast.csv)"} {
		if !strings.Contains(out, w) {
			t.Errorf("job get lacks %q:\n%s", w, out)
		}
	}
}
