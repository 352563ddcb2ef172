package sustain

import (
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sim"
)

func (h history) finishedJobs() []joule.Job {
	var out []joule.Job
	for _, tj := range h.jobs {
		j := h.data.Jobs[tj.id]
		start, end := tj.start, tj.start.Add(time.Duration(tj.hours)*time.Hour)
		j.CreatedAt, j.StartedAt, j.FinishedAt, j.State = start, &start, &end, joule.JobSucceeded
		j.Energy = &joule.JobEnergy{Joules: tj.watts * 3600 * float64(tj.hours), PUE: h.pue[tj.node]}
		out = append(out, j)
	}
	return out
}

// TestRecommendShiftEqualsSimulator: the "could have been shifted" figure
// is the simulator's own output on the same history — every job replayed
// with sim.Run on the hourly intensities, at its real facility energy —
// summed here independently of Recommend.
func TestRecommendShiftEqualsSimulator(t *testing.T) {
	t.Parallel()
	h := genHistory()
	jobs := h.finishedJobs()
	recs, err := Recommend(jobs, h.data.NodeRows, h.data.JobRows, nil, RecommendOptions{Deadline: sim.NextWorkday})
	if err != nil {
		t.Fatal(err)
	}
	var shift *Recommendation
	for i := range recs {
		if recs[i].Kind == "shift" {
			shift = &recs[i]
		}
	}
	if shift == nil {
		t.Fatalf("no shift recommendation in %+v", recs)
	}
	// Independently: the intensity of each hour of the 30 days, and one
	// simulator run per job at kWh × PUE over its hours.
	ci := make([]float64, 30*24)
	for i := range ci {
		ci[i] = h.intensity(h.start.Add(time.Duration(i) * time.Hour))
	}
	var want float64
	for _, tj := range h.jobs {
		kw := tj.watts * float64(tj.hours) * 3600 * h.pue[tj.node] / 3.6e6 / float64(tj.hours)
		res, err := sim.Run(sim.Config{Start: h.start, Step: time.Hour, Deadline: sim.NextWorkday, StrictWindow: true, PowerKW: kw},
			ci, []sim.Job{{ID: tj.id, Arrival: tj.start, Duration: time.Duration(tj.hours) * time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		want += res.BaselineGrams - res.PolicyGrams
	}
	if want <= 0 || !closeRel(shift.KgCO2e, want/1000) {
		t.Errorf("shift saving = %.9g kg, want the simulator's %.9g kg", shift.KgCO2e, want/1000)
	}
	if shift.KWh != 0 || !strings.Contains(shift.Method, "simulator") || len(shift.Items) == 0 {
		t.Errorf("shift recommendation = %+v", shift)
	}
	t.Logf("%s: %.3f kg CO2e; method: %s", shift.Title, shift.KgCO2e, shift.Method)
}

// TestRecommendIdle: each node's hours without a job, at its known idle
// draw, less the sleep draw.
func TestRecommendIdle(t *testing.T) {
	t.Parallel()
	h := genHistory()
	recs, err := Recommend(nil, h.data.NodeRows, h.data.JobRows, map[string]string{"node_a": "alpha"}, RecommendOptions{SleepWatts: 5})
	if err != nil {
		t.Fatal(err)
	}
	busy := map[string]int{}
	for _, tj := range h.jobs {
		busy[tj.node] += tj.hours
	}
	n := 0
	for _, r := range recs {
		if r.Kind != "idle" {
			continue
		}
		n++
		idleHours := 30*24 - busy[r.Subject]
		wantKWh := (h.idleW[r.Subject] - 5) * float64(idleHours) / 1000
		var g, kwhAll float64
		for hr := range 30 * 24 {
			tt := h.start.Add(time.Duration(hr) * time.Hour)
			isBusy := false
			for _, tj := range h.jobs {
				if tj.node == r.Subject && !tt.Before(tj.start) && tt.Before(tj.start.Add(time.Duration(tj.hours)*time.Hour)) {
					isBusy = true
				}
			}
			if !isBusy {
				e := h.idleW[r.Subject] * 3600 / 3.6e6
				kwhAll += e
				g += e * h.pue[r.Subject] * h.intensity(tt)
			}
		}
		f := wantKWh / kwhAll
		if !closeRel(r.KWh, wantKWh) || !closeRel(r.KgCO2e, g*f/1000) || !closeRel(r.Money, kwhAll*h.pue[r.Subject]*h.price*f) || r.Method == "" {
			t.Errorf("%s: %.6g kWh %.6g kg %.6g %s, want %.6g kWh %.6g kg %.6g", r.Subject, r.KWh, r.KgCO2e, r.Money, r.Currency, wantKWh, g*f/1000, kwhAll*h.pue[r.Subject]*h.price*f)
		}
		if r.Subject == "node_a" && !strings.Contains(r.Title, "alpha") {
			t.Errorf("title %q lacks the node name", r.Title)
		}
	}
	if n != 3 {
		t.Errorf("%d idle recommendations, want 3", n)
	}
}
