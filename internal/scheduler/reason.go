package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// diagnose says why e fits no slot. Along with the Unplaced it returns, for
// a reservation, the eligible slot large enough for e that is closest to
// fitting it, or nil. held is the reserved slot, and holder the job it is
// held for.
func diagnose(slots []*slot, e *entry, held *slot, holder *entry, now time.Time) (Unplaced, *slot) {
	u := Unplaced{JobID: e.p.JobID}
	var matching, large []*slot
	for _, s := range slots {
		if s.eligible(e) {
			matching = append(matching, s)
			if e.req.Fits(s.size) {
				large = append(large, s)
			}
		}
	}
	where := "no ready node"
	if len(e.p.Selector) > 0 {
		where += " matching " + formatSelector(e.p.Selector)
	}
	switch {
	case len(matching) == 0:
		u.Cause, u.Reason = CauseNoNode, noNodeReason(slots, e)
	case len(large) == 0:
		u.Cause, u.Reason = CauseTooLarge, shortReason(where, e.req, matching, false)
	case held != nil && held.eligible(e) && e.req.Fits(held.free):
		u.Cause = CauseBusy
		u.Reason = fmt.Sprintf("%s has room but is held for job %s, which has waited %s",
			held.name, holder.p.JobID, now.Sub(holder.p.QueuedAt).Round(time.Second))
	default:
		u.Cause, u.Reason = CauseBusy, shortReason(where, e.req, matching, true)
	}
	var closest *slot
	for _, s := range large {
		if closest == nil || compareShortfall(e.req, s, closest) < 0 {
			closest = s
		}
	}
	return u, closest
}

// compareShortfall compares how far a and b are from having room for req:
// missing GPUs first, then CPU, then memory.
func compareShortfall(req joule.Resources, a, b *slot) int {
	short := func(need, free int64) int64 { return max(need-free, 0) }
	return cmp.Or(
		cmp.Compare(short(int64(req.GPUs), int64(a.free.GPUs)), short(int64(req.GPUs), int64(b.free.GPUs))),
		cmp.Compare(short(req.CPUMillis, a.free.CPUMillis), short(req.CPUMillis, b.free.CPUMillis)),
		cmp.Compare(short(req.MemoryBytes, a.free.MemoryBytes), short(req.MemoryBytes, b.free.MemoryBytes)),
	)
}

// noNodeReason explains that no ready node matches e's selector.
func noNodeReason(slots []*slot, e *entry) string {
	if len(e.p.Selector) == 0 {
		if len(slots) == 0 {
			return "no nodes are registered"
		}
		return "no node is ready"
	}
	var names []string
	for _, s := range slots {
		if s.dup {
			continue
		}
		s := *s
		s.ready = true
		if s.eligible(e) {
			names = append(names, s.name)
		}
	}
	r := "no ready node matches selector " + formatSelector(e.p.Selector)
	switch {
	case len(names) == 1:
		r += " (" + names[0] + " matches but is not ready)"
	case len(names) > 3:
		r += " (" + strings.Join(names[:3], ", ") + fmt.Sprintf(" and %d more match but are not ready)", len(names)-3)
	case len(names) > 1:
		r += " (" + strings.Join(names, ", ") + " match but are not ready)"
	}
	return r
}

// dim is one kind of resource, for reasons.
type dim struct {
	get  func(joule.Resources) int64
	num  func(int64) string       // a bare quantity: "2", "1.5", "4Gi"
	noun func(int64, bool) string // "2 free GPUs", "8Gi of memory"
}

var dims = []dim{
	{
		get: func(r joule.Resources) int64 { return int64(r.GPUs) },
		num: func(v int64) string { return strconv.FormatInt(v, 10) },
		noun: func(v int64, free bool) string {
			return strconv.FormatInt(v, 10) + freeWord(free) + plural(" GPU", v == 1)
		},
	},
	{
		get: func(r joule.Resources) int64 { return r.CPUMillis },
		num: formatCPU,
		noun: func(v int64, free bool) string {
			return formatCPU(v) + freeWord(free) + plural(" CPU", v == 1000)
		},
	},
	{
		get: func(r joule.Resources) int64 { return r.MemoryBytes },
		num: formatMemory,
		noun: func(v int64, free bool) string {
			return formatMemory(v) + " of" + freeWord(free) + " memory"
		},
	},
}

func freeWord(free bool) string {
	if free {
		return " free"
	}
	return ""
}

func plural(s string, one bool) string {
	if one {
		return s
	}
	return s + "s"
}

// shortReason explains which of req's resources no node in nodes has: in
// what is free now when free is set, else in capacity. where begins the
// sentence, e.g. "no ready node".
func shortReason(where string, req joule.Resources, nodes []*slot, free bool) string {
	have := func(s *slot) joule.Resources {
		if free {
			return s.free
		}
		return s.size
	}
	var parts []string
	for _, d := range dims {
		need := d.get(req)
		var best *slot
		for _, s := range nodes {
			if best == nil || d.get(have(s)) > d.get(have(best)) {
				best = s
			}
		}
		if most := d.get(have(best)); most < need {
			if free {
				parts = append(parts, fmt.Sprintf("%s (largest free: %s on %s)", d.noun(need, true), d.num(most), best.name))
			} else {
				parts = append(parts, fmt.Sprintf("%s (largest: %s on %s)", d.noun(need, false), d.num(most), best.name))
			}
		}
	}
	verb := " has "
	if !free {
		verb = " is large enough for "
	}
	if len(parts) > 0 {
		return where + verb + strings.Join(parts, ", nor ")
	}
	// Each resource is there on some node, but not all on one.
	for _, d := range dims {
		if v := d.get(req); v > 0 {
			parts = append(parts, d.noun(v, free))
		}
	}
	if len(parts) == 0 { // only a node with negative room can turn away an empty request
		for _, d := range dims {
			parts = append(parts, d.noun(0, free))
		}
	}
	list := parts[0]
	if n := len(parts); n > 1 {
		list = strings.Join(parts[:n-1], ", ") + " and " + parts[n-1]
	}
	return where + verb + list + " at once"
}

// formatSelector writes a selector as sorted key=value pairs.
func formatSelector(sel map[string]string) string {
	pairs := make([]string, 0, len(sel))
	for k, v := range sel {
		pairs = append(pairs, k+"="+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// formatCPU writes millicores as cores: 1500 → "1.5".
func formatCPU(m int64) string {
	return strconv.FormatFloat(float64(m)/1000, 'f', -1, 64)
}

// formatMemory writes bytes with a binary suffix (Ki, Mi, Gi, Ti), exactly
// when whole and otherwise truncated to two decimals, so that a figure never
// reads larger than it is: 1536Mi → "1.5Gi".
func formatMemory(b int64) string {
	units := []struct {
		suffix string
		size   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}}
	abs := b
	if abs < 0 {
		abs = -abs
	}
	for _, u := range units {
		if abs < u.size {
			continue
		}
		if b%u.size == 0 {
			return strconv.FormatInt(b/u.size, 10) + u.suffix
		}
		v := math.Trunc(float64(b)/float64(u.size)*100) / 100
		return strconv.FormatFloat(v, 'f', -1, 64) + u.suffix
	}
	return strconv.FormatInt(b, 10) + "B"
}
