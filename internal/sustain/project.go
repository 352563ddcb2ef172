package sustain

import (
	"fmt"
	"math"
	"time"

	"github.com/joule-dev/joule"
)

// Projection is a linear trend fitted to a series and extended to a date.
type Projection struct {
	// Value is the trend at the date and [Low, High] its 90 % prediction
	// interval (for a new observation at that date).
	Value, Low, High float64
	// SlopePerDay is the trend's change per day; Points the points fitted.
	SlopePerDay float64
	Points      int
}

// MinPoints is the fewest points Project fits a trend to.
const MinPoints = 3

// ProjectionMethod describes Project for reports and target statuses.
const ProjectionMethod = "ordinary least squares line through the weekly values since the baseline, " +
	"extended to the due date; 90% prediction interval ŷ ± t(0.95, n−2) · s · √(1 + 1/n + (x−x̄)²/Sxx)"

// Project fits value = a + b·t by ordinary least squares to pts (t in
// days) and returns the line at `at` with its 90 % prediction interval:
//
//	ŷ ± t₀.₉₅,ₙ₋₂ · s · √(1 + 1/n + (x − x̄)² / Sxx),  s² = Σ residual² / (n − 2)
//
// It needs MinPoints points at two or more distinct times (EINVALID
// otherwise). A series on an exact line gives a zero-width interval.
func Project(pts []joule.SeriesPoint, at time.Time) (Projection, error) {
	n := len(pts)
	if n < MinPoints {
		return Projection{}, joule.Errorf(joule.EINVALID, "projection: %d points, want at least %d", n, MinPoints)
	}
	origin := pts[0].Time
	x := func(t time.Time) float64 { return t.Sub(origin).Hours() / 24 }
	var mx, my float64
	for _, p := range pts {
		mx += x(p.Time)
		my += p.Value
	}
	mx /= float64(n)
	my /= float64(n)
	var sxx, sxy float64
	for _, p := range pts {
		dx := x(p.Time) - mx
		sxx += dx * dx
		sxy += dx * (p.Value - my)
	}
	if sxx == 0 {
		return Projection{}, joule.Errorf(joule.EINVALID, "projection: every point is at the same time")
	}
	b := sxy / sxx
	a := my - b*mx
	var sse float64
	for _, p := range pts {
		r := p.Value - (a + b*x(p.Time))
		sse += r * r
	}
	s := math.Sqrt(sse / float64(n-2))
	xa := x(at)
	y := a + b*xa
	half := tQuantile95(n-2) * s * math.Sqrt(1+1/float64(n)+(xa-mx)*(xa-mx)/sxx)
	return Projection{Value: y, Low: y - half, High: y + half, SlopePerDay: b, Points: n}, nil
}

// t95 holds the 0.95 quantiles of Student's t for 1 to 30 degrees of
// freedom (two-sided 90 %).
var t95 = [...]float64{6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812,
	1.796, 1.782, 1.771, 1.761, 1.753, 1.746, 1.740, 1.734, 1.729, 1.725,
	1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697}

func tQuantile95(df int) float64 {
	switch {
	case df < 1:
		return t95[0]
	case df <= 30:
		return t95[df-1]
	case df <= 40:
		return 1.684
	case df <= 60:
		return 1.671
	case df <= 120:
		return 1.658
	}
	return 1.645
}

// Status judges a projection against a target value, for an indicator
// where lower is better (a reduction: target < baseline) or higher is
// better (target > baseline). The rules, in order:
//
//   - on track: the whole prediction interval meets the target;
//   - off track: the trend runs away from the target (or is flat) while
//     the projection misses it, or the projection misses by more than half
//     the planned change (baseline − target);
//   - at risk: otherwise: the projection misses by less than half the
//     planned change, or the interval straddles the target.
func Status(baseline, target float64, p Projection) (status, reason string) {
	lowerBetter := target <= baseline
	// Work in "distance still to go": positive misses the target.
	miss := p.Value - target
	worst := p.High - target
	slope := p.SlopePerDay
	if !lowerBetter {
		miss, worst, slope = -miss, target-p.Low, -slope
	}
	planned := math.Abs(baseline - target)
	switch {
	case worst <= 0:
		return joule.TargetOnTrack, fmt.Sprintf("the whole 90%% interval [%s, %s] meets the target %s", num(p.Low), num(p.High), num(target))
	case miss > 0 && slope >= 0:
		return joule.TargetOffTrack, fmt.Sprintf("the trend (%+s per week) moves away from the target; projected %s vs target %s", num(p.SlopePerDay*7), num(p.Value), num(target))
	case miss > planned/2:
		return joule.TargetOffTrack, fmt.Sprintf("projected %s misses the target %s by %s, more than half the planned change %s", num(p.Value), num(target), num(math.Abs(miss)), num(planned))
	case miss > 0:
		return joule.TargetAtRisk, fmt.Sprintf("projected %s misses the target %s by %s (less than half the planned change %s)", num(p.Value), num(target), num(math.Abs(miss)), num(planned))
	}
	return joule.TargetAtRisk, fmt.Sprintf("projected %s meets the target %s, but the 90%% interval [%s, %s] straddles it", num(p.Value), num(target), num(p.Low), num(p.High))
}

func num(v float64) string { return fmt.Sprintf("%.4g", v) }

// Evaluate projects a target's weekly series to its due date and returns
// the status, with TargetUnknown when there are fewer than MinPoints
// weeks.
func Evaluate(t joule.Target, weekly []joule.SeriesPoint, now time.Time) joule.TargetStatus {
	st := joule.TargetStatus{Time: now, TargetValue: t.TargetValue, Points: len(weekly), Method: ProjectionMethod}
	if len(weekly) > 0 {
		st.Current = weekly[len(weekly)-1].Value
	}
	p, err := Project(weekly, t.Due)
	if err != nil {
		st.Status = joule.TargetUnknown
		st.Reason = fmt.Sprintf("%d complete weeks since the baseline; the projection needs at least %d", len(weekly), MinPoints)
		return st
	}
	st.Projected, st.Low, st.High, st.SlopePerWeek = p.Value, p.Low, p.High, p.SlopePerDay*7
	st.Status, st.Reason = Status(t.BaselineValue, t.TargetValue, p)
	return st
}
