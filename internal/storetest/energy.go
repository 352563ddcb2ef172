package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

var energyTests = []struct {
	name string
	fn   func(t *testing.T, s joule.Store)
}{
	{"PowerSamples", testPowerSamples},
	{"PowerSampleErrors", testPowerSampleErrors},
	{"EnergyRollupsAdd", testEnergyRollupsAdd},
	{"EnergyRollupsFilter", testEnergyRollupsFilter},
	{"EnergyRollupErrors", testEnergyRollupErrors},
	{"PruneEnergy", testPruneEnergy},
}

var energyT0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func testPowerSamples(t *testing.T, s joule.Store) {
	ctx := t.Context()
	var in []joule.PowerSample
	for i := range 5 {
		at := energyT0.Add(time.Duration(i+1) * time.Second)
		in = append(in,
			joule.PowerSample{NodeID: "node_a", Component: "package-0", Method: "measured:rapl", Time: at, Seconds: 1, Joules: 40 + float64(i)},
			joule.PowerSample{NodeID: "node_a", Component: "dram-0", Method: "measured:rapl", Time: at, Seconds: 1, Joules: 10})
	}
	in = append(in, joule.PowerSample{NodeID: "node_b", Component: "cpu", Method: "estimated:tdp-curve@1", Time: energyT0.Add(time.Second), Seconds: 1.5, Joules: 3})
	if err := s.AppendPowerSamples(ctx, in); err != nil {
		t.Fatalf("AppendPowerSamples() = %v", err)
	}
	if err := s.AppendPowerSamples(ctx, nil); err != nil {
		t.Fatalf("AppendPowerSamples(nil) = %v", err)
	}
	got, err := s.ListPowerSamples(ctx, "node_a", energyT0.Add(2*time.Second), energyT0.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []joule.PowerSample{
		{NodeID: "node_a", Component: "dram-0", Method: "measured:rapl", Time: energyT0.Add(2 * time.Second), Seconds: 1, Joules: 10},
		{NodeID: "node_a", Component: "package-0", Method: "measured:rapl", Time: energyT0.Add(2 * time.Second), Seconds: 1, Joules: 41},
		{NodeID: "node_a", Component: "dram-0", Method: "measured:rapl", Time: energyT0.Add(3 * time.Second), Seconds: 1, Joules: 10},
		{NodeID: "node_a", Component: "package-0", Method: "measured:rapl", Time: energyT0.Add(3 * time.Second), Seconds: 1, Joules: 42},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListPowerSamples(node_a, [t+2s, t+4s)) mismatch (-want +got):\n%s", diff)
	}
	if w := got[1].Watts(); w != 41 {
		t.Errorf("Watts() = %v, want 41", w)
	}
	got, err = s.ListPowerSamples(ctx, "node_b", energyT0, energyT0.Add(time.Hour))
	if err != nil || len(got) != 1 || got[0].Seconds != 1.5 {
		t.Errorf("ListPowerSamples(node_b) = %+v, %v; want the one sample of 1.5 s", got, err)
	}
}

func testPowerSampleErrors(t *testing.T, s joule.Store) {
	ok := joule.PowerSample{NodeID: "n", Component: "cpu", Method: "measured:rapl", Time: energyT0, Seconds: 1, Joules: 1}
	for _, tc := range []struct {
		name   string
		change func(*joule.PowerSample)
	}{
		{"negative joules", func(p *joule.PowerSample) { p.Joules = -1 }},
		{"NaN joules", func(p *joule.PowerSample) { p.Joules = math.NaN() }},
		{"infinite joules", func(p *joule.PowerSample) { p.Joules = math.Inf(1) }},
		{"zero seconds", func(p *joule.PowerSample) { p.Seconds = 0 }},
		{"no node", func(p *joule.PowerSample) { p.NodeID = "" }},
		{"no method", func(p *joule.PowerSample) { p.Method = "" }},
	} {
		bad := ok
		tc.change(&bad)
		err := s.AppendPowerSamples(t.Context(), []joule.PowerSample{ok, bad})
		if joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("AppendPowerSamples(%s) = %v, want EINVALID", tc.name, err)
		}
	}
	got, err := s.ListPowerSamples(t.Context(), "n", energyT0.Add(-time.Hour), energyT0.Add(time.Hour))
	if err != nil || len(got) != 0 {
		t.Errorf("after rejected batches ListPowerSamples() = %v, %v; want nothing stored", got, err)
	}
}

func f64(v float64) *float64 { return &v }

func testEnergyRollupsAdd(t *testing.T, s joule.Store) {
	ctx := t.Context()
	row := joule.EnergyRollup{
		Scope: joule.RollupJob, Width: joule.RollupMinute, NodeID: "node_a", Entity: "job_1", WorkspaceID: "ws_1", Attempt: 1,
		Start: energyT0.Add(30 * time.Second), Seconds: 10, MeasuredJoules: 100, Method: "measured:rapl",
		PUEJoules: 156, EmissionsG: 0.5, IntensitySource: "static:owid-2023 (DE)", MarketEmissionsG: f64(0.1),
		EmbodiedG: 0.01, EnergyCost: 0.002, AmortisationCost: 0.003, Currency: "EUR",
	}
	// The same key twice: the second adds into the first. Start is
	// truncated to the bucket.
	if err := s.AddEnergyRollups(ctx, []joule.EnergyRollup{row, row}); err != nil {
		t.Fatalf("AddEnergyRollups() = %v", err)
	}
	// A part without a market factor makes the row's market figure unknown.
	other := row
	other.Entity, other.MarketEmissionsG = "job_2", nil
	noMarket := row
	noMarket.MarketEmissionsG = nil
	if err := s.AddEnergyRollups(ctx, []joule.EnergyRollup{other}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupJob, Width: joule.RollupMinute})
	if err != nil {
		t.Fatal(err)
	}
	want := row
	want.Start = energyT0
	want.Seconds, want.MeasuredJoules, want.PUEJoules, want.EmissionsG = 20, 200, 312, 1
	want.MarketEmissionsG, want.EmbodiedG, want.EnergyCost, want.AmortisationCost = f64(0.2), 0.02, 0.004, 0.006
	wantOther := other
	wantOther.Start = energyT0
	if diff := cmp.Diff([]joule.EnergyRollup{want, wantOther}, got); diff != "" {
		t.Errorf("ListEnergyRollups() mismatch (-want +got):\n%s", diff)
	}
	if err := s.AddEnergyRollups(ctx, []joule.EnergyRollup{noMarket}); err != nil {
		t.Fatal(err)
	}
	got, err = s.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupJob, Width: joule.RollupMinute, Entity: "job_1"})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListEnergyRollups(job_1) = %v, %v", got, err)
	}
	if got[0].MarketEmissionsG != nil || got[0].MeasuredJoules != 300 {
		t.Errorf("after a part without a market factor: market %v, joules %v; want nil, 300", got[0].MarketEmissionsG, got[0].MeasuredJoules)
	}
}

func testEnergyRollupsFilter(t *testing.T, s joule.Store) {
	ctx := t.Context()
	var rs []joule.EnergyRollup
	for i, c := range []struct {
		scope, node, entity, ws string
		width                   time.Duration
		start                   time.Duration
	}{
		{joule.RollupNode, "node_a", "package-0", "", joule.RollupMinute, 0},
		{joule.RollupNode, "node_a", "package-0", "", joule.RollupMinute, time.Minute},
		{joule.RollupNode, "node_b", "cpu", "", joule.RollupMinute, time.Minute},
		{joule.RollupNode, "node_a", "package-0", "", joule.RollupHour, 0},
		{joule.RollupJob, "node_a", "job_1", "ws_1", joule.RollupMinute, 0},
		{joule.RollupJob, "node_b", "job_2", "ws_2", joule.RollupMinute, 2 * time.Minute},
	} {
		rs = append(rs, joule.EnergyRollup{Scope: c.scope, Width: c.width, NodeID: c.node, Entity: c.entity, WorkspaceID: c.ws,
			Start: energyT0.Add(c.start), Seconds: 60, EstimatedJoules: float64(i + 1), Method: "estimated:tdp-curve@1"})
	}
	if err := s.AddEnergyRollups(ctx, rs); err != nil {
		t.Fatal(err)
	}
	entities := func(f joule.EnergyFilter) []float64 {
		t.Helper()
		got, err := s.ListEnergyRollups(ctx, f)
		if err != nil {
			t.Fatalf("ListEnergyRollups(%+v) = %v", f, err)
		}
		var out []float64
		for _, r := range got {
			out = append(out, r.EstimatedJoules)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    joule.EnergyFilter
		want []float64
	}{
		{"node minutes", joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupMinute}, []float64{1, 3, 2}},
		{"one node", joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupMinute, NodeID: "node_a"}, []float64{1, 2}},
		{"since", joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupMinute, Since: energyT0.Add(time.Minute)}, []float64{3, 2}},
		{"until", joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupMinute, Until: energyT0.Add(time.Minute)}, []float64{1}},
		{"hours", joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupHour}, []float64{4}},
		{"workspace", joule.EnergyFilter{Scope: joule.RollupJob, Width: joule.RollupMinute, WorkspaceID: "ws_2"}, []float64{6}},
	} {
		if diff := cmp.Diff(tc.want, entities(tc.f)); diff != "" {
			t.Errorf("%s: mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
}

func testEnergyRollupErrors(t *testing.T, s joule.Store) {
	ok := joule.EnergyRollup{Scope: joule.RollupNode, Width: joule.RollupMinute, NodeID: "n", Entity: "cpu", Start: energyT0, Seconds: 1, EstimatedJoules: 1}
	for _, tc := range []struct {
		name   string
		change func(*joule.EnergyRollup)
	}{
		{"bad scope", func(r *joule.EnergyRollup) { r.Scope = "rack" }},
		{"bad width", func(r *joule.EnergyRollup) { r.Width = 5 * time.Minute }},
		{"negative joules", func(r *joule.EnergyRollup) { r.EstimatedJoules = -1 }},
		{"NaN emissions", func(r *joule.EnergyRollup) { r.EmissionsG = math.NaN() }},
		{"negative market", func(r *joule.EnergyRollup) { r.MarketEmissionsG = f64(-1) }},
		{"no entity", func(r *joule.EnergyRollup) { r.Entity = "" }},
	} {
		bad := ok
		tc.change(&bad)
		if err := s.AddEnergyRollups(t.Context(), []joule.EnergyRollup{ok, bad}); joule.ErrorCode(err) != joule.EINVALID {
			t.Errorf("AddEnergyRollups(%s) = %v, want EINVALID", tc.name, err)
		}
	}
	if _, err := s.ListEnergyRollups(t.Context(), joule.EnergyFilter{Scope: joule.RollupNode}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("ListEnergyRollups(no width) = %v, want EINVALID", err)
	}
	got, err := s.ListEnergyRollups(t.Context(), joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupMinute})
	if err != nil || len(got) != 0 {
		t.Errorf("after rejected batches ListEnergyRollups() = %v, %v; want nothing stored", got, err)
	}
}

func testPruneEnergy(t *testing.T, s joule.Store) {
	ctx := t.Context()
	old, recent := energyT0.Add(-48*time.Hour), energyT0
	var samples []joule.PowerSample
	var rs []joule.EnergyRollup
	for _, at := range []time.Time{old, recent} {
		samples = append(samples, joule.PowerSample{NodeID: "n", Component: "cpu", Method: "measured:rapl", Time: at, Seconds: 1, Joules: 1})
		for _, w := range []time.Duration{joule.RollupMinute, joule.RollupHour} {
			rs = append(rs, joule.EnergyRollup{Scope: joule.RollupNode, Width: w, NodeID: "n", Entity: "cpu", Start: at, Seconds: 1, MeasuredJoules: 1, Method: "measured:rapl"})
		}
	}
	if err := s.AppendPowerSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEnergyRollups(ctx, rs); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneEnergy(ctx, energyT0.Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneEnergy() = %d, %v; want 2 rows (the old sample and the old minute)", n, err)
	}
	ss, _ := s.ListPowerSamples(ctx, "n", old.Add(-time.Hour), recent.Add(time.Hour))
	if len(ss) != 1 || !ss[0].Time.Equal(recent) {
		t.Errorf("samples after prune = %+v, want the recent one", ss)
	}
	mins, _ := s.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupMinute})
	hours, _ := s.ListEnergyRollups(ctx, joule.EnergyFilter{Scope: joule.RollupNode, Width: joule.RollupHour})
	if len(mins) != 1 || len(hours) != 2 {
		t.Errorf("after prune: %d minute rows, %d hour rows; want 1 and 2 (hours are kept)", len(mins), len(hours))
	}
}
