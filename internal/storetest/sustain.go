package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

var sustainTests = []struct {
	name string
	fn   func(t *testing.T, s joule.Store)
}{
	{"SustainBaselinesAndTargets", testSustainBaselinesAndTargets},
	{"SustainKPIsAndSeries", testSustainKPIsAndSeries},
}

// testSustainBaselinesAndTargets checks that baselines and targets
// round-trip, names are unique per workspace, and a target's history keeps
// every evaluation with the latest as its status.
func testSustainBaselinesAndTargets(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	since := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	b := joule.Baseline{ID: idAt("bl", 1), WorkspaceID: w.ID, Name: "2026-Q3", Indicator: joule.IndEnergyKWh, Slice: "label:team=vision",
		Since: since, Until: since.AddDate(0, 3, 0), Unit: "kWh", Value: 920.125, PerDay: 10, Extensive: true,
		FunctionalUnit: "job", Units: 46, PerUnit: 20.002717391304348, Method: "measured:rapl", CreatedAt: since.AddDate(0, 3, 1), CreatedBy: "tok_1"}
	if err := s.CreateBaseline(ctx, b); err != nil {
		t.Fatalf("CreateBaseline: %v", err)
	}
	if err := s.CreateBaseline(ctx, b); joule.ErrorCode(err) != joule.ECONFLICT {
		t.Errorf("CreateBaseline(again) = %v, want ECONFLICT", err)
	}
	dup := b
	dup.ID = idAt("bl", 2)
	if err := s.CreateBaseline(ctx, dup); joule.ErrorCode(err) != joule.ECONFLICT {
		t.Errorf("CreateBaseline(same name) = %v, want ECONFLICT", err)
	}
	bad := b
	bad.ID, bad.Name = idAt("bl", 3), "no spaces allowed"
	if err := s.CreateBaseline(ctx, bad); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("CreateBaseline(bad name) = %v, want EINVALID", err)
	}
	for _, ref := range []string{b.ID, b.Name} {
		got, err := s.GetBaseline(ctx, w.ID, ref)
		if err != nil {
			t.Fatalf("GetBaseline(%s): %v", ref, err)
		}
		if diff := cmp.Diff(b, got); diff != "" {
			t.Errorf("GetBaseline(%s) mismatch (-want +got):\n%s", ref, diff)
		}
	}
	if _, err := s.GetBaseline(ctx, "ws_other", b.Name); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("GetBaseline(other workspace) = %v, want ENOTFOUND", err)
	}
	if bs, err := s.ListBaselines(ctx, w.ID); err != nil || len(bs) != 1 {
		t.Errorf("ListBaselines = %v, %v; want one", bs, err)
	}

	tg := joule.Target{ID: idAt("tgt", 1), WorkspaceID: w.ID, Name: "cut-energy", Indicator: b.Indicator, Slice: b.Slice, BaselineID: b.ID,
		ReductionPct: 20, Due: since.AddDate(1, 0, 0), BaselineValue: 10, TargetValue: 8, Unit: "kWh/day", CreatedAt: b.CreatedAt}
	if err := s.CreateTarget(ctx, tg); err != nil {
		t.Fatalf("CreateTarget: %v", err)
	}
	if err := s.CreateTarget(ctx, tg); joule.ErrorCode(err) != joule.ECONFLICT {
		t.Errorf("CreateTarget(again) = %v, want ECONFLICT", err)
	}
	got, err := s.GetTarget(ctx, w.ID, tg.Name)
	if err != nil || got.Status != nil {
		t.Fatalf("GetTarget before evaluation = %+v, %v; want no status", got, err)
	}
	st1 := joule.TargetStatus{Time: tg.CreatedAt.Add(time.Hour), Status: joule.TargetUnknown, Points: 1, Reason: "too few weeks", Method: "ols"}
	st2 := joule.TargetStatus{Time: tg.CreatedAt.Add(30 * 24 * time.Hour), Status: joule.TargetAtRisk, Current: 9.5, Projected: 8.4, Low: 8.1, High: 8.7,
		TargetValue: 8, SlopePerWeek: -0.1, Points: 4, Reason: "misses", Method: "ols"}
	for _, st := range []joule.TargetStatus{st1, st2} {
		if err := s.AppendTargetStatus(ctx, tg.ID, st); err != nil {
			t.Fatalf("AppendTargetStatus: %v", err)
		}
	}
	if err := s.AppendTargetStatus(ctx, "tgt_missing", st1); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("AppendTargetStatus(missing) = %v, want ENOTFOUND", err)
	}
	want := tg
	want.Status = &st2
	got, err = s.GetTarget(ctx, w.ID, tg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetTarget mismatch (-want +got):\n%s", diff)
	}
	hist, err := s.ListTargetHistory(ctx, tg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]joule.TargetStatus{st1, st2}, hist); diff != "" {
		t.Errorf("ListTargetHistory mismatch (-want +got):\n%s", diff)
	}
	all, err := s.ListTargets(ctx, "")
	if err != nil || len(all) != 1 || all[0].Status == nil || all[0].Status.Status != joule.TargetAtRisk {
		t.Errorf("ListTargets(all) = %+v, %v", all, err)
	}
}

// testSustainKPIsAndSeries checks KPIs and stored series: points replace
// those at the same time, ranges are half-open, and names list by prefix.
func testSustainKPIsAndSeries(t *testing.T, s joule.Store) {
	ctx := t.Context()
	w := mustCreateWorkspace(t, s, "research")
	k := joule.KPI{ID: idAt("kpi", 1), WorkspaceID: w.ID, Name: "training-hours", Unit: "h", Description: "hours of training delivered",
		Aggregate: "sum", CreatedAt: base.UTC()}
	if err := s.CreateKPI(ctx, k); err != nil {
		t.Fatalf("CreateKPI: %v", err)
	}
	if err := s.CreateKPI(ctx, k); joule.ErrorCode(err) != joule.ECONFLICT {
		t.Errorf("CreateKPI(again) = %v, want ECONFLICT", err)
	}
	bad := k
	bad.ID, bad.Name, bad.Aggregate = idAt("kpi", 2), "other", "median"
	if err := s.CreateKPI(ctx, bad); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("CreateKPI(bad aggregate) = %v, want EINVALID", err)
	}
	got, err := s.GetKPI(ctx, w.ID, "training-hours")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k, got); diff != "" {
		t.Errorf("GetKPI mismatch (-want +got):\n%s", diff)
	}
	if ks, err := s.ListKPIs(ctx, w.ID); err != nil || len(ks) != 1 {
		t.Errorf("ListKPIs = %v, %v", ks, err)
	}

	h := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	pts := []joule.SeriesPoint{{Time: h, Value: 1.5}, {Time: h.Add(time.Hour), Value: 2.25, Note: "filled: linear"}, {Time: h.Add(2 * time.Hour), Value: 0}}
	if err := s.PutSeries(ctx, w.ID, "kpi:training-hours", pts); err != nil {
		t.Fatalf("PutSeries: %v", err)
	}
	// Replace the middle point, add one in another workspace's namespace.
	pts[1] = joule.SeriesPoint{Time: h.Add(time.Hour), Value: 3, Note: "corrected"}
	if err := s.PutSeries(ctx, w.ID, "kpi:training-hours", pts[1:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSeries(ctx, "", "meter:facility", []joule.SeriesPoint{{Time: h, Value: 3.6e6}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSeries(ctx, "", "rec:wind", []joule.SeriesPoint{{Time: h, Value: 1e6}}); err != nil {
		t.Fatal(err)
	}
	got2, err := s.ListSeries(ctx, w.ID, "kpi:training-hours", h, h.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pts[:2], got2); diff != "" {
		t.Errorf("ListSeries mismatch (-want +got):\n%s", diff)
	}
	names, err := s.ListSeriesNames(ctx, "", "rec:")
	if err != nil || !cmp.Equal(names, []string{"rec:wind"}) {
		t.Errorf("ListSeriesNames(rec:) = %v, %v", names, err)
	}
	if names, _ := s.ListSeriesNames(ctx, "", ""); len(names) != 2 {
		t.Errorf("ListSeriesNames(all) = %v, want two", names)
	}
	if err := s.PutSeries(ctx, w.ID, "kpi:x", []joule.SeriesPoint{{Time: h, Value: 1e300}}); joule.ErrorCode(err) != joule.EINVALID {
		t.Errorf("PutSeries(huge) = %v, want EINVALID", err)
	}
}
