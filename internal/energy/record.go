package energy

import (
	"slices"
	"time"

	"github.com/joule-dev/joule"
)

// AccountNode accounts one node interval as a whole, for the node rollups:
// one entry per metered component (Entity is the component), with the
// component's whole energy (idle and dynamic), its emissions and energy
// cost as [Account] computes them, and the node's time-based figures (SCI
// embodied emissions of the whole node, and the hardware amortisation of
// one node-hour rate) split equally across the components, so that the
// components of an interval add up to the node.
func AccountNode(cfg AccountConfig, n NodeInterval) []Entry {
	comps := append(slices.Clone(n.CPU), n.GPU...)
	if len(comps) == 0 {
		return nil
	}
	a := Attribution{Start: n.Start, End: n.End, Policy: IdleSeparate}
	share := 1 / float64(len(comps))
	out := make([]Entry, 0, len(comps))
	for _, c := range comps {
		a.Jobs = []JobShare{{ID: c.Component, ReservedShare: share, Dynamic: JoulesOf(finiteNonNeg(c.Joules), c.Method)}}
		out = append(out, Account(cfg, a)[0])
	}
	return out
}

// PowerSamples returns the raw samples of a node interval: one per
// component.
func PowerSamples(nodeID string, n NodeInterval) []joule.PowerSample {
	d := n.End.Sub(n.Start).Seconds()
	if !(d > 0) {
		return nil
	}
	var out []joule.PowerSample
	for _, c := range append(slices.Clone(n.CPU), n.GPU...) {
		out = append(out, joule.PowerSample{NodeID: nodeID, Component: c.Component, Method: c.Method, Time: n.End, Seconds: d, Joules: finiteNonNeg(c.Joules)})
	}
	return out
}

// RollupKey is what the stored rollups of a set of entries belong to.
type RollupKey struct {
	Scope       string // joule.RollupNode or joule.RollupJob
	NodeID      string
	WorkspaceID string // jobs
	Attempt     int    // jobs
}

// StoreRollups sums entries into per-minute and hourly rows for
// [joule.EnergyStore.AddEnergyRollups], as [Rollup] does, with each row's
// Seconds the time its entries cover in the bucket. Entries of one entity
// are expected not to overlap in time.
func StoreRollups(k RollupKey, entries []Entry) []joule.EnergyRollup {
	var out []joule.EnergyRollup
	for _, width := range []time.Duration{joule.RollupMinute, joule.RollupHour} {
		secs := coveredSeconds(entries, width)
		for _, r := range Rollup(entries, width) {
			j := r.JobEnergy
			out = append(out, joule.EnergyRollup{
				Scope: k.Scope, Width: width, NodeID: k.NodeID, Entity: r.Entity, WorkspaceID: k.WorkspaceID, Attempt: k.Attempt,
				Start: r.Start, Seconds: secs[bucketKey{r.Entity, r.Start.UnixNano()}],
				MeasuredJoules: j.MeasuredJoules, EstimatedJoules: j.EstimatedJoules, Method: j.Method,
				PUEJoules: j.Joules * j.PUE, EmissionsG: j.EmissionsG, IntensitySource: j.IntensitySource,
				MarketEmissionsG: j.MarketEmissionsG, EmbodiedG: j.EmbodiedG,
				EnergyCost: j.EnergyCost, AmortisationCost: j.AmortisationCost, Currency: j.Currency,
			})
		}
	}
	return out
}

type bucketKey struct {
	entity string
	start  int64
}

// coveredSeconds returns, per entity and bucket, the seconds of the
// entries that fall in the bucket.
func coveredSeconds(entries []Entry, width time.Duration) map[bucketKey]float64 {
	out := map[bucketKey]float64{}
	for _, e := range entries {
		start, end := e.Start.UTC(), e.End.UTC()
		for b := start.Truncate(width); b.Before(end); b = b.Add(width) {
			lo, hi := maxTime(b, start), minTime(b.Add(width), end)
			if hi.After(lo) {
				out[bucketKey{e.Entity, b.UnixNano()}] += hi.Sub(lo).Seconds()
			}
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
