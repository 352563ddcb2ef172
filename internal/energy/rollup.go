package energy

import (
	"cmp"
	"slices"
	"time"
)

// RollupRow is one entity's totals over one bucket [Start, End).
type RollupRow struct {
	Entity string    `json:"entity"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	JobEnergy
}

// Rollup sums entries per entity into buckets of width (time.Minute and
// time.Hour for the per-minute and hourly rollups), aligned as
// time.Time.Truncate aligns them: for widths that divide a day, to the
// start of the UTC day. A width ≤ 0 means time.Minute. An entry that spans a bucket boundary is split in
// proportion to time, on the assumption that power was constant over it;
// an entry of zero length falls in the bucket holding its Start. Rows come
// sorted by Start, then Entity. Every additive field (joules, emissions,
// embodied, costs) of the rows sums to that of the entries.
func Rollup(entries []Entry, width time.Duration) []RollupRow {
	if width <= 0 {
		width = time.Minute
	}
	type key struct {
		entity string
		start  int64 // UnixNano of the bucket start
	}
	rows := make(map[key]*RollupRow)
	add := func(e Entry, bucket time.Time) {
		k := key{e.Entity, bucket.UnixNano()}
		r := rows[k]
		if r == nil {
			r = &RollupRow{Entity: e.Entity, Start: bucket, End: bucket.Add(width)}
			rows[k] = r
		}
		r.JobEnergy.Add(e)
	}
	for _, e := range entries {
		start, end := e.Start.UTC(), e.End.UTC()
		b := start.Truncate(width)
		if !end.After(start) || !end.After(b.Add(width)) {
			add(e, b)
			continue
		}
		total := end.Sub(start).Seconds()
		for t := start; t.Before(end); b = b.Add(width) {
			next := end
			if bEnd := b.Add(width); bEnd.Before(end) {
				next = bEnd
			}
			add(scaleEntry(e, next.Sub(t).Seconds()/total), b)
			t = next
		}
	}
	out := make([]RollupRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b RollupRow) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Entity, b.Entity))
	})
	return out
}

// scaleEntry returns the share f of e's additive figures.
func scaleEntry(e Entry, f float64) Entry {
	e.Energy = e.Energy.Scale(f)
	e.EmissionsG *= f
	e.EmbodiedG *= f
	e.EnergyCost *= f
	e.AmortisationCost *= f
	if e.MarketEmissionsG != nil {
		m := *e.MarketEmissionsG * f
		e.MarketEmissionsG = &m
	}
	return e
}
