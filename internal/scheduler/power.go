package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Consolidation and power states. Place packs work (best fit: the node
// left with the least free), so that with spare capacity whole nodes fall
// idle; PowerPolicy then decides, with hysteresis, which idle nodes to put
// in a low-power state (the operator's on_idle hook) and when to bring them
// back (on_wake). The live dispatcher and the cluster simulator call the
// same Decide.

// Defaults for PowerPolicy.
const (
	DefaultIdleAfter = 10 * time.Minute
	DefaultMinDwell  = 30 * time.Minute
)

// PowerPolicy is the hysteresis of node power states.
type PowerPolicy struct {
	// IdleAfter is how long a node must have had no job before it is put to
	// sleep: a node that is busy again sooner is never touched. Zero means
	// DefaultIdleAfter.
	IdleAfter time.Duration
	// MinDwell is the least time a node stays awake after waking (or after
	// it was first seen) before it may sleep again, so that a node does not
	// flap. Waking is never delayed: work comes first. Zero means
	// DefaultMinDwell.
	MinDwell time.Duration
	// MinAwake is how many nodes are always kept awake, so that new work
	// never waits for a wake-up; zero means one. It is at least one.
	MinAwake int
}

func (p PowerPolicy) withDefaults() PowerPolicy {
	if p.IdleAfter <= 0 {
		p.IdleAfter = DefaultIdleAfter
	}
	if p.MinDwell <= 0 {
		p.MinDwell = DefaultMinDwell
	}
	p.MinAwake = max(p.MinAwake, 1)
	return p
}

// NodePower is one node as the power policy sees it.
type NodePower struct {
	ID     string
	Asleep bool
	// Since is when the node entered its current power state.
	Since time.Time
	// IdleSince is when the node last had no job placed or running; zero
	// while it has one.
	IdleSince time.Time
}

// PowerAction puts one node to sleep or wakes it.
type PowerAction struct {
	NodeID string
	Sleep  bool // false: wake
	Reason string
}

// Decide returns what to do at now. wanted is how many more awake nodes the
// queue needs: jobs that fit no awake node's free capacity. Nodes are woken
// at once for wanted work, longest asleep first. Idle nodes are put to
// sleep, longest idle first, only when no work is wanted, each after
// IdleAfter of idleness and MinDwell awake, keeping MinAwake nodes awake.
// Ties go to the lower ID, so the answer is deterministic.
func (p PowerPolicy) Decide(now time.Time, nodes []NodePower, wanted int) []PowerAction {
	p = p.withDefaults()
	var asleep, idle []NodePower
	awake := 0
	for _, n := range nodes {
		switch {
		case n.Asleep:
			asleep = append(asleep, n)
		default:
			awake++
			if !n.IdleSince.IsZero() {
				idle = append(idle, n)
			}
		}
	}
	var out []PowerAction
	if wanted > 0 {
		slices.SortFunc(asleep, func(a, b NodePower) int { return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.ID, b.ID)) })
		for _, n := range asleep[:min(wanted, len(asleep))] {
			out = append(out, PowerAction{NodeID: n.ID, Reason: fmt.Sprintf("waking: queued work needs %d more node(s)", wanted)})
		}
		return out
	}
	slices.SortFunc(idle, func(a, b NodePower) int { return cmp.Or(a.IdleSince.Compare(b.IdleSince), cmp.Compare(a.ID, b.ID)) })
	for _, n := range idle {
		if awake <= p.MinAwake {
			break
		}
		idleFor, awakeFor := now.Sub(n.IdleSince), now.Sub(n.Since)
		if idleFor < p.IdleAfter || awakeFor < p.MinDwell {
			continue
		}
		out = append(out, PowerAction{NodeID: n.ID, Sleep: true,
			Reason: fmt.Sprintf("idle for %s (after %s), awake for %s (dwell %s)", idleFor.Round(time.Second), p.IdleAfter, awakeFor.Round(time.Second), p.MinDwell)})
		awake--
	}
	return out
}
