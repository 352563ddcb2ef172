package sustain

import (
	"fmt"
	"math"
	"time"

	"github.com/joule-dev/joule"
)

// Week is the step of target series.
const Week = 7 * 24 * time.Hour

// MakeBaseline snapshots an indicator of a slice over d's period: its value,
// its value per day (extensive indicators) and per job, the functional
// unit.
func MakeBaseline(d Data, name, indicator string, slice joule.Slice) (joule.Baseline, error) {
	set, err := Compute(d, slice)
	if err != nil {
		return joule.Baseline{}, err
	}
	v, ok := set.Get(indicator)
	if !ok {
		return joule.Baseline{}, joule.Errorf(joule.EINVALID, "indicator %q: unknown (want one of the built-in indicators or kpi:NAME)", indicator)
	}
	if !v.Available {
		return joule.Baseline{}, joule.Errorf(joule.EINVALID, "indicator %q has no value over the baseline period: %s", indicator, v.Note)
	}
	jobs, _ := set.Get(joule.IndJobs)
	days := d.Until.Sub(d.Since).Hours() / 24
	b := joule.Baseline{Name: name, Indicator: indicator, Slice: slice, Since: d.Since, Until: d.Until, Unit: v.Unit,
		Value: v.Value, PerDay: v.Value, FunctionalUnit: "job", Units: jobs.Value, Method: v.Method}
	if v.Extensive {
		b.Extensive = true
		b.PerDay = v.Value / days
	}
	if jobs.Value > 0 {
		b.PerUnit = v.Value / jobs.Value
	}
	return b, nil
}

// MakeTarget fills a target's baseline and target values from its
// baseline: per job when PerUnit, else per day for extensive indicators and
// the value itself for ratios.
func MakeTarget(t joule.Target, b joule.Baseline) (joule.Target, error) {
	if t.Indicator == "" {
		t.Indicator = b.Indicator
	}
	if t.Indicator != b.Indicator {
		return t, joule.Errorf(joule.EINVALID, "target indicator %q differs from baseline %s's indicator %q", t.Indicator, b.Name, b.Indicator)
	}
	t.Slice, t.BaselineID, t.Unit = b.Slice, b.ID, b.Unit
	t.BaselineValue = b.PerDay
	if t.PerUnit {
		if b.Units <= 0 {
			return t, joule.Errorf(joule.EINVALID, "baseline %s has no jobs: a per-unit target needs work in the baseline period", b.Name)
		}
		t.BaselineValue = b.PerUnit
		t.Unit += "/job"
	} else if b.Extensive {
		t.Unit += "/day"
	}
	t.TargetValue = t.BaselineValue * (1 - t.ReductionPct/100)
	if err := t.Validate(); err != nil {
		return t, err
	}
	if !t.Due.After(b.Until) {
		return t, joule.Errorf(joule.EINVALID, "target due %s is not after the baseline period ends (%s)", t.Due.Format(time.DateOnly), b.Until.Format(time.DateOnly))
	}
	return t, nil
}

// TargetSeries returns the target's comparable figure in each complete week
// from the baseline's end to until: the indicator per day (extensive), per
// job (PerUnit), or as is.
func TargetSeries(d Data, t joule.Target, b joule.Baseline, until time.Time) ([]joule.SeriesPoint, error) {
	vals, err := Bucketed(d, t.Slice, t.Indicator, b.Until, until, Week)
	if err != nil {
		return nil, err
	}
	var jobs map[int64]float64
	if t.PerUnit {
		js, err := Bucketed(d, t.Slice, joule.IndJobs, b.Until, until, Week)
		if err != nil {
			return nil, err
		}
		jobs = map[int64]float64{}
		for _, p := range js {
			jobs[p.Time.Unix()] = p.Value
		}
	}
	ext := b.Extensive
	out := make([]joule.SeriesPoint, 0, len(vals))
	for _, p := range vals {
		switch {
		case t.PerUnit:
			n := jobs[p.Time.Unix()]
			if n <= 0 {
				continue
			}
			p.Value /= n
		case ext:
			p.Value /= 7
		}
		out = append(out, p)
	}
	return out, nil
}

// Progress is how far a target has come: 0 at the baseline, 1 at the
// target, from the latest value; NaN-free (0 when undefined).
func Progress(t joule.Target) float64 {
	if t.Status == nil || t.BaselineValue == t.TargetValue {
		return 0
	}
	p := (t.BaselineValue - t.Status.Current) / (t.BaselineValue - t.TargetValue)
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return 0
	}
	return p
}

// Describe renders a target as a sentence.
func Describe(t joule.Target, baselineName string) string {
	verb := "reduce"
	pct := t.ReductionPct
	if pct < 0 {
		verb, pct = "raise", -pct
	}
	per := ""
	if t.PerUnit {
		per = " per job"
	}
	return fmt.Sprintf("%s %s%s by %g%% versus baseline %s by %s", verb, t.Indicator, per, pct, baselineName, t.Due.Format(time.DateOnly))
}
