package sustain

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sim"
)

// Recommendation is one thing to change, with the saving it is estimated
// to bring and how that was estimated.
type Recommendation struct {
	Kind    string  `json:"kind"` // "shift" or "idle"
	Title   string  `json:"title"`
	Subject string  `json:"subject"` // what it is about: a node, "jobs"
	KWh     float64 `json:"kwh"`
	KgCO2e  float64 `json:"kg_co2e"`
	Money   float64 `json:"money"`
	// Currency is "" when no price is configured (Money is then 0).
	Currency string `json:"currency,omitempty"`
	Method   string `json:"method"`
	// Items are the jobs or hours behind it, largest saving first (at most
	// 20).
	Items []RecommendationItem `json:"items,omitempty"`
}

// RecommendationItem is one job or node behind a recommendation.
type RecommendationItem struct {
	ID     string  `json:"id"`
	Name   string  `json:"name,omitempty"`
	KgCO2e float64 `json:"kg_co2e"`
	KWh    float64 `json:"kwh,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// RecommendOptions are the assumptions of Recommend.
type RecommendOptions struct {
	// Deadline is the rule that gives jobs without their own deadline or
	// flexibility their spare time in the replay; zero is sim.NoDeadline
	// (no jobs can move), so callers pass sim.NextWorkday by default.
	Deadline sim.Deadline
	// SleepWatts is a node's assumed draw while asleep (default 0: off).
	SleepWatts float64
	// MinKWh drops idle recommendations below it (default 0.1 kWh).
	MinKWh float64
}

// HourlyIntensity returns the energy-weighted grid intensity the accounting
// used in each hour (Σ emissions ÷ Σ facility kWh of the rows), and the
// hours from the first to the last with none filled with the previous
// hour's value; filled counts those.
func HourlyIntensity(rows []joule.EnergyRollup) (pts []joule.SeriesPoint, filled int) {
	type acc struct{ g, kwh float64 }
	by := map[int64]*acc{}
	for _, r := range rows {
		k := r.Start.Truncate(time.Hour).Unix()
		a := by[k]
		if a == nil {
			a = &acc{}
			by[k] = a
		}
		a.g += r.EmissionsG
		a.kwh += r.PUEJoules / 3.6e6
	}
	var keys []int64
	for k, a := range by {
		if a.kwh > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, 0
	}
	slices.Sort(keys)
	prev := 0.0
	for k := keys[0]; k <= keys[len(keys)-1]; k += 3600 {
		t := time.Unix(k, 0).UTC()
		if a, ok := by[k]; ok && a.kwh > 0 {
			prev = a.g / a.kwh
			pts = append(pts, joule.SeriesPoint{Time: t, Value: prev})
			continue
		}
		filled++
		pts = append(pts, joule.SeriesPoint{Time: t, Value: prev, Note: "filled: previous hour"})
	}
	return pts, filled
}

// ShiftJob turns a finished job into the simulator's job and the power it
// drew, or ok false when it cannot be replayed (not finished, no energy).
// PowerKW is its facility energy (joules × PUE) spread over the whole
// steps the simulator runs it for, so that the simulated baseline uses the
// job's real energy.
func ShiftJob(j joule.Job, step time.Duration) (sj sim.Job, powerKW float64, ok bool) {
	if j.Energy == nil || j.StartedAt == nil || j.FinishedAt == nil || j.Energy.Joules <= 0 {
		return sim.Job{}, 0, false
	}
	d := j.FinishedAt.Sub(*j.StartedAt)
	if d <= 0 {
		return sim.Job{}, 0, false
	}
	sj = sim.Job{ID: j.ID, Arrival: j.CreatedAt.UTC(), Duration: d, Interruptible: j.Spec.Interruptible}
	switch {
	case j.Spec.Deadline != nil:
		sj.Deadline = j.Spec.Deadline.UTC()
	case j.Spec.Flexibility > 0:
		sj.Deadline = sj.Arrival.Add(d + time.Duration(j.Spec.Flexibility))
	}
	steps := math.Ceil(float64(d) / float64(step))
	pue := j.Energy.PUE
	if pue <= 0 {
		pue = 1
	}
	return sj, j.Energy.Joules * pue / 3.6e6 / steps, true
}

// ShiftConfig is the simulator configuration Recommend replays with: one
// step per hour from the intensity series' first hour, deadlines kept
// strictly (no look-ahead step), jobs not interrupted unless marked.
func ShiftConfig(intensity []joule.SeriesPoint, rule sim.Deadline, powerKW float64) sim.Config {
	return sim.Config{Start: intensity[0].Time, Step: time.Hour, Deadline: rule, StrictWindow: true, PowerKW: powerKW}
}

// Recommend returns what the platform's own history says could be saved:
//
//   - shift: each finished job is replayed through the carbon-aware
//     simulator (internal/sim, the greedy policy with a perfect forecast of
//     the intensities the accounting used) with its real energy; the
//     saving is the simulator's baseline minus policy grams. Jobs already
//     planned by the carbon-aware dispatcher are left out. Shifting moves
//     energy rather than saving it: kWh is 0 and the money is not
//     estimated (a flat tariff is assumed).
//   - idle: for each node, the hours in which no job drew energy; the
//     saving is their energy less SleepWatts, with the emissions and cost
//     the accounting gave those hours, scaled alike.
func Recommend(jobs []joule.Job, nodeRows, jobRows []joule.EnergyRollup, nodeNames map[string]string, opts RecommendOptions) ([]Recommendation, error) {
	if opts.MinKWh <= 0 {
		opts.MinKWh = 0.1
	}
	var out []Recommendation
	rows := nodeRows
	if len(rows) == 0 {
		rows = jobRows
	}
	intensity, filled := HourlyIntensity(rows)
	if len(intensity) > 0 {
		ci := make([]float64, len(intensity))
		for i, p := range intensity {
			ci[i] = p.Value
		}
		rec := Recommendation{Kind: "shift", Subject: "jobs"}
		var replayed, skipped, planned int
		for _, j := range jobs {
			if j.Shift != nil && j.Shift.Fallback == "" {
				planned++
				continue
			}
			sj, kw, ok := ShiftJob(j, time.Hour)
			if !ok {
				skipped++
				continue
			}
			res, err := sim.Run(ShiftConfig(intensity, opts.Deadline, kw), ci, []sim.Job{sj})
			if err != nil {
				return nil, fmt.Errorf("replay job %s: %w", j.ID, err)
			}
			if res.Jobs == 0 {
				skipped++
				continue
			}
			replayed++
			saved := res.BaselineGrams - res.PolicyGrams
			if saved > 1e-9 {
				rec.KgCO2e += saved / 1000
				rec.Items = append(rec.Items, RecommendationItem{ID: j.ID, Name: j.Spec.Name, KgCO2e: saved / 1000,
					Detail: fmt.Sprintf("%.1f%% of its %.3f kg at arrival", res.SavingsPct, res.BaselineGrams/1000)})
			}
		}
		slices.SortFunc(rec.Items, func(a, b RecommendationItem) int { return cmp.Compare(b.KgCO2e, a.KgCO2e) })
		rec.Title = fmt.Sprintf("%d of %d jobs could have run in greener hours within their deadlines", len(rec.Items), replayed)
		rec.Items = rec.Items[:min(len(rec.Items), 20)]
		rec.Method = fmt.Sprintf("replay of %d finished jobs through the carbon-aware simulator (greedy policy, 1-hour steps, deadline rule %s "+
			"for jobs without their own deadline or flexibility, no look-ahead step) on the hourly intensities the accounting used "+
			"(%d hours without metered energy carried forward from the hour before); each job at its real facility energy; "+
			"saving = simulated baseline (run at arrival) − policy; %d jobs already planned carbon-aware and %d without energy or run times left out; "+
			"shifting moves energy, so no kWh or money is claimed", replayed, opts.Deadline, filled, planned, skipped)
		if replayed > 0 {
			out = append(out, rec)
		}
	}

	// Idle nodes.
	busy := map[string]bool{}
	for _, r := range jobRows {
		if r.Joules() > 0 {
			busy[hourKey(r.NodeID, r.Start)] = true
		}
	}
	type idleAcc struct {
		j, g, cost   float64
		hours, total map[string]bool
		currency     []string
	}
	nodes := map[string]*idleAcc{}
	for _, r := range nodeRows {
		a := nodes[r.NodeID]
		if a == nil {
			a = &idleAcc{hours: map[string]bool{}, total: map[string]bool{}}
			nodes[r.NodeID] = a
		}
		k := hourKey(r.NodeID, r.Start)
		a.total[k] = true
		if busy[k] {
			continue
		}
		a.hours[k] = true
		a.j += r.Joules()
		a.g += r.EmissionsG
		a.cost += r.EnergyCost
		if r.Currency != "" {
			a.currency = append(a.currency, r.Currency)
		}
	}
	ids := make([]string, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := nodes[id]
		kwh := a.j / 3.6e6
		saved := kwh - opts.SleepWatts*float64(len(a.hours))/1000
		if saved < opts.MinKWh || kwh <= 0 {
			continue
		}
		f := saved / kwh
		name := cmp.Or(nodeNames[id], id)
		out = append(out, Recommendation{Kind: "idle", Subject: id,
			Title: fmt.Sprintf("node %s drew %.2f kWh in %d of its %d metered hours with no job: let it sleep (joule up --on-idle)", name, kwh, len(a.hours), len(a.total)),
			KWh:   saved, KgCO2e: a.g * f / 1000, Money: a.cost * f, Currency: labels(a.currency),
			Method: fmt.Sprintf("Σ node energy in hours with no job energy on it (hourly rollups), less an assumed sleep draw of %g W over those hours; "+
				"emissions and cost as the accounting gave those hours, scaled by the same fraction (%.4f)", opts.SleepWatts, f)})
	}
	return out, nil
}
