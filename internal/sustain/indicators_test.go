package sustain

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// truthJob is one job of the generated history, with its energy known by
// construction.
type truthJob struct {
	id, ws, node, team string
	start              time.Time
	hours              int
	watts              float64 // constant draw
	measured           bool
	embodiedGPerHour   float64
}

// history is a generated 30-day history: jobs with a known constant power,
// on three nodes with a known idle draw and PUE, under an hourly intensity
// that varies by hour of day, a market factor, and a price.
type history struct {
	start       time.Time
	jobs        []truthJob
	nodes       []string
	idleW       map[string]float64
	pue         map[string]float64
	intensity   func(t time.Time) float64
	marketG     float64 // g/kWh
	price       float64 // per kWh
	amortPerJob float64 // per hour of job
	data        Data
}

func genHistory() history {
	h := history{
		start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		nodes: []string{"node_a", "node_b", "node_c"},
		idleW: map[string]float64{"node_a": 40, "node_b": 55, "node_c": 70},
		pue:   map[string]float64{"node_a": 1.2, "node_b": 1.2, "node_c": 1.5},
		intensity: func(t time.Time) float64 {
			return 200 + 150*math.Sin(float64(t.Hour())/24*2*math.Pi) + float64(t.Day())
		},
		marketG: 120, price: 0.25, amortPerJob: 0.01,
	}
	wss := []string{"ws_research", "ws_prod"}
	teams := []string{"vision", "speech", "nlp"}
	for i := range 240 {
		h.jobs = append(h.jobs, truthJob{
			id: fmt.Sprintf("job_%03d", i), ws: wss[i%2], node: h.nodes[i%3], team: teams[i%3],
			// One job per node every 9 hours over the 30 days, never overlapping.
			start:    h.start.Add(time.Duration(i/3) * 9 * time.Hour),
			hours:    1 + i%3,
			watts:    100 + float64(i%11)*17.5,
			measured: i%4 != 0,
			// Embodied share per hour.
			embodiedGPerHour: 2.5 + float64(i%5),
		})
	}
	jobs := map[string]joule.Job{}
	nodeJ := map[string]float64{} // node@hour → attributed joules
	for _, j := range h.jobs {
		jobs[j.id] = joule.Job{ID: j.id, WorkspaceID: j.ws, NodeID: j.node, Spec: joule.JobSpec{Name: j.id, Labels: map[string]string{"team": j.team}}}
		for k := range j.hours {
			t := j.start.Add(time.Duration(k) * time.Hour)
			joules := j.watts * 3600
			r := joule.EnergyRollup{Scope: joule.RollupJob, Width: time.Hour, NodeID: j.node, Entity: j.id, WorkspaceID: j.ws, Attempt: 1,
				Start: t, Seconds: 3600, PUEJoules: joules * h.pue[j.node], IntensitySource: "test table", Currency: "EUR",
				EmbodiedG: j.embodiedGPerHour, AmortisationCost: h.amortPerJob}
			if j.measured {
				r.MeasuredJoules, r.Method = joules, "measured:rapl"
			} else {
				r.EstimatedJoules, r.Method = joules, "estimated:tdp-curve@1"
			}
			kwhF := joules * h.pue[j.node] / 3.6e6
			r.EmissionsG = kwhF * h.intensity(t)
			m := kwhF * h.marketG
			r.MarketEmissionsG = &m
			r.EnergyCost = kwhF * h.price
			h.data.JobRows = append(h.data.JobRows, r)
			nodeJ[j.node+t.Format(time.RFC3339)] += joules
		}
	}
	for _, n := range h.nodes {
		for hr := range 30 * 24 {
			t := h.start.Add(time.Duration(hr) * time.Hour)
			joules := h.idleW[n]*3600 + nodeJ[n+t.Format(time.RFC3339)]
			h.data.NodeRows = append(h.data.NodeRows, joule.EnergyRollup{Scope: joule.RollupNode, Width: time.Hour, NodeID: n, Entity: "cpu",
				Start: t, Seconds: 3600, MeasuredJoules: joules, Method: "measured:rapl", PUEJoules: joules * h.pue[n],
				EmissionsG: joules * h.pue[n] / 3.6e6 * h.intensity(t), EnergyCost: joules * h.pue[n] / 3.6e6 * h.price, Currency: "EUR"})
		}
	}
	h.data.Jobs = jobs
	h.data.Since, h.data.Until = h.start, h.start.Add(30*24*time.Hour)
	return h
}

func closeRel(got, want float64) bool {
	if want == 0 {
		return math.Abs(got) < 1e-12
	}
	return math.Abs(got-want)/math.Abs(want) <= 1e-9
}

// TestIndicatorsThirtyDays computes every indicator of a generated 30-day
// history, overall and per slice, and compares each with a hand
// computation from the jobs' known power, the nodes' idle draw and PUE, the
// hourly intensity, the market factor and the price.
func TestIndicatorsThirtyDays(t *testing.T) {
	t.Parallel()
	h := genHistory()
	slices := []struct {
		slice  joule.Slice
		keep   func(truthJob) bool
		nodes  []string // nil: node indicators unavailable
		wantOK bool
	}{
		{"", func(truthJob) bool { return true }, h.nodes, true},
		{"label:team=vision", func(j truthJob) bool { return j.team == "vision" }, nil, true},
		{"workspace:ws_prod", func(j truthJob) bool { return j.ws == "ws_prod" }, nil, true},
		{"node:node_c", func(j truthJob) bool { return j.node == "node_c" }, []string{"node_c"}, true},
	}
	for _, sl := range slices {
		t.Run(string(sl.slice), func(t *testing.T) {
			t.Parallel()
			var joules, measured, facility, emis, market, cost, embodied, jobs float64
			busyHours := 0
			for _, j := range h.jobs {
				if !sl.keep(j) {
					continue
				}
				jobs++
				busyHours += j.hours
				for k := range j.hours {
					tt := j.start.Add(time.Duration(k) * time.Hour)
					e := j.watts * 3600
					joules += e
					if j.measured {
						measured += e
					}
					f := e * h.pue[j.node] / 3.6e6
					facility += f
					emis += f * h.intensity(tt)
					market += f * h.marketG
					cost += f*h.price + h.amortPerJob
					embodied += j.embodiedGPerHour
				}
			}
			want := map[string]float64{
				joule.IndEnergyKWh:         joules / 3.6e6,
				joule.IndPUE:               facility * 3.6e6 / joules,
				joule.IndFacilityKWh:       facility,
				joule.IndEmissionsKg:       emis / 1000,
				joule.IndMarketEmissionsKg: market / 1000,
				joule.IndCost:              cost,
				joule.IndJobs:              jobs,
				joule.IndJoulesPerJob:      joules / jobs,
				joule.IndSCI:               (emis + embodied) / jobs,
				joule.IndEmbodiedKg:        embodied / 1000,
			}
			if sl.nodes != nil {
				var nodeJ float64
				for _, n := range sl.nodes {
					nodeJ += h.idleW[n] * 3600 * 30 * 24
				}
				nodeJ += joules
				want[joule.IndNodeEnergyKWh] = nodeJ / 3.6e6
				want[joule.IndIdleShare] = (nodeJ - joules) / nodeJ
				want[joule.IndUtilisation] = float64(busyHours) / float64(len(sl.nodes)*30*24)
			}
			set, err := Compute(h.data, sl.slice)
			if err != nil {
				t.Fatalf("Compute(%q): %v", sl.slice, err)
			}
			for name, w := range want {
				v, ok := set.Get(name)
				if !ok || !v.Available {
					t.Errorf("%s: missing or unavailable (%+v)", name, v)
					continue
				}
				if !closeRel(v.Value, w) {
					t.Errorf("%s = %.12g, want %.12g (hand-computed)", name, v.Value, w)
				}
				if v.Method == "" {
					t.Errorf("%s: no method", name)
				}
			}
			if v, _ := set.Get(joule.IndEnergyKWh); v.MeasuredShare == nil || !closeRel(*v.MeasuredShare, measured/joules) {
				t.Errorf("energy measured share = %v, want %v", v.MeasuredShare, measured/joules)
			}
			if sl.nodes == nil {
				if v, _ := set.Get(joule.IndIdleShare); v.Available || v.Note == "" {
					t.Errorf("idle share on slice %q: %+v, want unavailable with a note", sl.slice, v)
				}
			}
			if v, _ := set.Get(joule.IndCFEShare); v.Available || v.Note == "" {
				t.Errorf("cfe share without certificates: %+v, want unavailable with a note", v)
			}
		})
	}
}

// TestIndicatorsMeasuredPUEAndCFE: a facility meter replaces the configured
// PUE with facility ÷ node energy and scales emissions and energy cost; a
// certificate series gives the CFE share.
func TestIndicatorsMeasuredPUEAndCFE(t *testing.T) {
	t.Parallel()
	h := genHistory()
	base, _ := Compute(h.data, "")
	var nodeJ float64
	for _, r := range h.data.NodeRows {
		nodeJ += r.Joules()
	}
	// The facility draws 1.4 × the nodes every hour, plus a constant 10 kW·h
	// on the first day only.
	byHour := map[time.Time]float64{}
	for _, r := range h.data.NodeRows {
		byHour[r.Start] += r.Joules()
	}
	var fac float64
	for hr := range 30 * 24 {
		tt := h.start.Add(time.Duration(hr) * time.Hour)
		v := byHour[tt] * 1.4
		if hr < 24 {
			v += 36e6
		}
		fac += v
		h.data.Facility = append(h.data.Facility, joule.SeriesPoint{Time: tt, Value: v})
	}
	h.data.REC = []joule.SeriesPoint{{Time: h.start, Value: 1e9}}
	set, err := Compute(h.data, "")
	if err != nil {
		t.Fatal(err)
	}
	pue, _ := set.Get(joule.IndPUE)
	if !closeRel(pue.Value, fac/nodeJ) || pue.Method[:9] != "measured:" {
		t.Errorf("pue = %v (%s), want measured %v", pue.Value, pue.Method, fac/nodeJ)
	}
	confPUE, _ := base.Get(joule.IndPUE)
	be, _ := base.Get(joule.IndEmissionsKg)
	e, _ := set.Get(joule.IndEmissionsKg)
	if !closeRel(e.Value, be.Value*pue.Value/confPUE.Value) {
		t.Errorf("emissions with measured PUE = %v, want %v × %v / %v", e.Value, be.Value, pue.Value, confPUE.Value)
	}
	cfe, _ := set.Get(joule.IndCFEShare)
	if !cfe.Available || !closeRel(cfe.Value, 1e9/(nodeJ*pue.Value)) {
		t.Errorf("cfe share = %+v, want %v", cfe, 1e9/(nodeJ*pue.Value))
	}
}

// TestSCIWorked is the SCI specification's formula on round numbers: a job
// batch used 2 kWh at 400 gCO2e/kWh with 50 g of embodied emissions over
// 10 jobs: (2 × 400 + 50) ÷ 10 = 85 g per job.
func TestSCIWorked(t *testing.T) {
	t.Parallel()
	if got := SCI(2, 400, 50, 10); got != 85 {
		t.Errorf("SCI(2 kWh, 400 g/kWh, 50 g, 10) = %v, want 85", got)
	}
	// The same through Compute: 10 one-hour jobs of 200 W (0.2 kWh each,
	// PUE 1), 400 g/kWh, 5 g embodied each.
	var d Data
	d.Since = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.Until = d.Since.Add(24 * time.Hour)
	for i := range 10 {
		d.JobRows = append(d.JobRows, joule.EnergyRollup{Scope: joule.RollupJob, Width: time.Hour, NodeID: "n", Entity: fmt.Sprint("j", i),
			Start: d.Since.Add(time.Duration(i) * time.Hour), EstimatedJoules: 720e3, PUEJoules: 720e3, EmissionsG: 80, EmbodiedG: 5, Method: "estimated:x"})
	}
	set, err := Compute(d, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := set.Get(joule.IndSCI); !closeRel(v.Value, 85) {
		t.Errorf("Compute SCI = %v, want 85", v.Value)
	}
}

func TestParseSliceErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"label", "label:", "label:=x", "node:", "model:m1", "colour:red"} {
		if _, _, _, err := ParseSlice(s); joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("ParseSlice(%q) = %v, want EINVALID", s, err)
		}
	}
}
