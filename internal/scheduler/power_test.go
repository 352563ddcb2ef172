package scheduler

import (
	"testing"
	"time"
)

func TestPowerPolicyHysteresis(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	p := PowerPolicy{IdleAfter: 10 * time.Minute, MinDwell: 30 * time.Minute, MinAwake: 1}
	nodes := []NodePower{
		{ID: "a", Since: t0},                               // busy
		{ID: "b", Since: t0, IdleSince: t0},                // idle since t0
		{ID: "c", Since: t0, IdleSince: t0.Add(time.Hour)}, // idle later
	}
	// b has been awake 40 min but idle only 9 min... then 10: sleeps.
	nodes[1].IdleSince = t0.Add(31 * time.Minute)
	if got := p.Decide(t0.Add(40*time.Minute), nodes, 0); len(got) != 0 {
		t.Errorf("idle 9 min: %v, want nothing (hysteresis)", got)
	}
	got := p.Decide(t0.Add(41*time.Minute), nodes, 0)
	if len(got) != 1 || got[0].NodeID != "b" || !got[0].Sleep {
		t.Fatalf("idle 10 min: %v, want b to sleep", got)
	}
	// Work wanted: nothing sleeps.
	if got := p.Decide(t0.Add(41*time.Minute), nodes, 1); len(got) != 0 {
		t.Errorf("with wanted work: %v, want nothing to sleep", got)
	}
	// A node awake for less than the dwell does not sleep, however idle.
	fresh := []NodePower{{ID: "a", Since: t0}, {ID: "b", Since: t0.Add(35 * time.Minute), IdleSince: t0}}
	if got := p.Decide(t0.Add(60*time.Minute), fresh, 0); len(got) != 0 {
		t.Errorf("awake 25 min: %v, want nothing (dwell)", got)
	}
	// MinAwake keeps one node up even when every node is idle.
	allIdle := []NodePower{{ID: "a", Since: t0, IdleSince: t0}, {ID: "b", Since: t0, IdleSince: t0}, {ID: "c", Since: t0, IdleSince: t0}}
	got = p.Decide(t0.Add(2*time.Hour), allIdle, 0)
	if len(got) != 2 || got[0].NodeID != "a" || got[1].NodeID != "b" {
		t.Errorf("all idle: %v, want a and b to sleep, c kept awake", got)
	}
	// Wanted work wakes the longest asleep at once, whatever the dwell.
	sleeping := []NodePower{{ID: "a", Since: t0}, {ID: "b", Asleep: true, Since: t0.Add(time.Hour)}, {ID: "c", Asleep: true, Since: t0.Add(59 * time.Minute)}}
	got = p.Decide(t0.Add(61*time.Minute), sleeping, 1)
	if len(got) != 1 || got[0].NodeID != "c" || got[0].Sleep {
		t.Errorf("wanted 1: %v, want c (asleep longest) woken", got)
	}
	if got := p.Decide(t0.Add(61*time.Minute), sleeping, 5); len(got) != 2 {
		t.Errorf("wanted 5: %v, want both asleep nodes woken", got)
	}
}
