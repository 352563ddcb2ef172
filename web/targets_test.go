package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/sustain"
)

// TestTargetsPage shows the seeded target with the figures the API
// computes: baseline, target, current and projected values, the interval,
// the status, the chart and the recorded history.
func TestTargetsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	sf := seedSustain(t, f)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/targets")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /targets: status %d\n%s", res.StatusCode, res.body)
	}
	tgt, err := f.store.GetTarget(t.Context(), f.acme.ID, sf.target.ID)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sustain.LoadTargetState(t.Context(), f.store, tgt, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Live.Status == joule.TargetUnknown || len(st.History) != 1 {
		t.Fatalf("fixture: live status %q, %d history entries; want a projection and one recorded evaluation", st.Live.Status, len(st.History))
	}
	for _, want := range []string{
		`id="target-` + sf.target.ID + `" data-status="` + st.Live.Status + `"`,
		`<span class="badge status-` + st.Live.Status + `">` + statusText(st.Live.Status) + `</span>`,
		"reduce energy_kwh by 10% versus baseline 2025-12 by 2026-06-30",
		`<b class="target-value">` + sustain.Fmt(st.Target.TargetValue) + `</b>`,
		`<b class="current">` + sustain.Fmt(st.Live.Current) + `</b>`,
		`<b class="projected">` + sustain.Fmt(st.Live.Projected) + `</b>`,
		"90 % interval [" + sustain.Fmt(st.Live.Low) + ", " + sustain.Fmt(st.Live.High) + "]",
		"kWh/day",
		"% measured, ",
		"Projected at 2026-06-30 (estimated)",
		"<svg", "trend → projection", "90 % interval (low)",
		`<table class="data compact history">`, "Status history (1 recorded evaluations)",
		"joule target create cut-energy", // a viewer gets the CLI, not the form
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("targets page lacks %q", want)
		}
	}
	if strings.Contains(res.body, `action="/targets"`) {
		t.Error("a viewer is offered the target form")
	}
	// The admin (an editor) gets the form with the baseline to choose.
	a := f.client(t)
	a.mustLogin(f.adminSecret)
	res = a.get("/targets")
	if !strings.Contains(res.body, `<form method="post" action="/targets"`) || !strings.Contains(res.body, `<option value="`+sf.baseline.ID+`">2025-12 · energy_kwh`) {
		t.Errorf("the admin's targets page has no target form with the baseline:\n%s", res.body)
	}
}

func TestTargetsPageEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	res := c.get("/targets")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "no targets yet") || !strings.Contains(res.body, "joule baseline create 2026-02 --indicator energy_kwh --period 2026-02") {
		t.Errorf("GET /targets without targets: status %d\n%s", res.StatusCode, res.body)
	}
}

// TestCreateTarget sets a target through the form: it is stored, evaluated
// and audited, and bad values get a clear error page with the right
// status.
func TestCreateTarget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	sf := seedSustain(t, f)
	c := f.client(t)
	c.mustLogin(f.adminSecret)
	token := csrf(t, c.get("/targets").body)
	form := func(edit func(url.Values)) url.Values {
		v := url.Values{"csrf": {token}, "name": {"greener-jobs"}, "baseline": {sf.baseline.ID}, "reduce": {"25"}, "due": {"2026-12-31"}, "per_unit": {"1"}}
		if edit != nil {
			edit(v)
		}
		return v
	}
	res := c.post("/targets", form(nil))
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/targets#target-tgt") {
		t.Fatalf("POST /targets: status %d, Location %q\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	got, err := f.store.GetTarget(t.Context(), f.acme.ID, "greener-jobs")
	if err != nil {
		t.Fatal(err)
	}
	if !got.PerUnit || got.ReductionPct != 25 || got.Unit != "kWh/job" || got.TargetValue != sf.baseline.PerUnit*0.75 || got.Status == nil || got.CreatedBy != f.admin.ID {
		t.Errorf("stored target = %+v", got)
	}
	if res.Header.Get("Location") != "/targets#target-"+got.ID {
		t.Errorf("Location %q, want the new target's anchor", res.Header.Get("Location"))
	}
	if page := c.get("/targets").body; !strings.Contains(page, `id="target-`+got.ID+`"`) || !strings.Contains(page, "reduce energy_kwh per job by 25%") {
		t.Errorf("the new target is not on the page")
	}
	entries, _, err := f.store.ListAudit(t.Context(), joule.AuditFilter{WorkspaceID: f.acme.ID, Action: "target.create"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Outcome != "success" || entries[0].Resource != got.ID || !strings.Contains(entries[0].Detail, "via console") {
		t.Errorf("audit = %+v, want one successful target.create via the console", entries)
	}

	for _, tc := range []struct {
		name   string
		edit   func(url.Values)
		status int
		want   string
	}{
		{"duplicate name", nil, http.StatusConflict, "greener-jobs"},
		{"bad name", func(v url.Values) { v.Set("name", "no spaces") }, http.StatusBadRequest, "name"},
		{"no baseline", func(v url.Values) { v.Del("baseline") }, http.StatusBadRequest, "choose a baseline"},
		{"unknown baseline", func(v url.Values) { v.Set("baseline", "1999-Q1") }, http.StatusBadRequest, "no such baseline"},
		{"reduce not a number", func(v url.Values) { v.Set("reduce", "twenty") }, http.StatusBadRequest, "reduce: &#34;twenty&#34; is not a number"},
		{"reduce 100", func(v url.Values) { v.Set("reduce", "100") }, http.StatusBadRequest, "reduction_pct"},
		{"reduce NaN", func(v url.Values) { v.Set("reduce", "NaN") }, http.StatusBadRequest, "reduction_pct"},
		{"bad due", func(v url.Values) { v.Set("due", "next year") }, http.StatusBadRequest, "due: &#34;next year&#34; is not a date"},
		{"due before the baseline ends", func(v url.Values) { v.Set("due", "2025-12-15") }, http.StatusBadRequest, "not after the baseline period ends"},
		{"no csrf", func(v url.Values) { v.Del("csrf") }, http.StatusForbidden, "Form expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.post("/targets", form(func(v url.Values) {
				v.Set("name", "t-"+strings.ReplaceAll(tc.name, " ", "-"))
				if tc.name == "duplicate name" {
					v.Set("name", "greener-jobs")
				}
				if tc.edit != nil {
					tc.edit(v)
				}
			}))
			if res.StatusCode != tc.status || !strings.Contains(res.body, tc.want) || !strings.Contains(res.body, `class="error-box`) {
				t.Errorf("status %d, want %d with %q on the error page:\n%s", res.StatusCode, tc.status, tc.want, res.body)
			}
		})
	}

	// A viewer may not, even with a valid form.
	v := f.client(t)
	v.mustLogin(f.viewerSecret)
	res = v.post("/targets", url.Values{"csrf": {csrf(t, v.get("/targets").body)}, "name": {"sneaky"}, "baseline": {sf.baseline.ID}, "reduce": {"10"}, "due": {"2026-12-31"}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "Editor role needed") {
		t.Errorf("viewer POST /targets: status %d\n%s", res.StatusCode, res.body)
	}
	if _, err := f.store.GetTarget(t.Context(), f.acme.ID, "sneaky"); joule.ErrorCode(err) != joule.ENOTFOUND {
		t.Errorf("the viewer's target was stored: %v", err)
	}
}
