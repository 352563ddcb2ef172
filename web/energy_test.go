package web

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// energyFixture is what seedEnergy stored.
type energyFixture struct {
	edge, gpu              joule.Node
	train, etl, old, alien joule.Job
}

// seedEnergy stores two nodes with per-minute and hourly node rollups over
// the last three hours (edge-01 estimated, gpu-01 measured by RAPL and
// NVML), at an intensity of 300 gCO2e/kWh before now−90m and 500 after, and
// job rollups: train (most energy, early, low intensity), etl (less energy,
// late, high intensity: most emissions), old (outside the last 24 h) and a
// job of the other workspace.
func seedEnergy(t testing.TB, f *fixture) energyFixture {
	t.Helper()
	ctx := t.Context()
	var ef energyFixture
	mk := func(name string, meters []joule.Meter) joule.Node {
		n, err := f.store.UpsertNode(ctx, joule.Node{ID: joule.NewID("node", now), Name: name, Hostname: name, CPUCores: 8, MemoryBytes: 32 << 30,
			Meters: meters, State: joule.NodeReady, CreatedAt: now.Add(-4 * time.Hour), LastHeartbeat: now})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ef.edge = mk("edge-01", nil)
	ef.gpu = mk("gpu-01", []joule.Meter{{Kind: joule.MeterRAPL, Name: "package-0"}})
	intensity := func(at time.Time) (float64, string) {
		if at.Before(now.Add(-90 * time.Minute)) {
			return 300, "file: de.csv"
		}
		return 500, "file: de.csv"
	}
	// row is one component's or job's use over [start, start+width) at
	// watts, PUE 1.2.
	row := func(scope string, width time.Duration, node joule.Node, entity, ws string, start time.Time, watts float64, method string) joule.EnergyRollup {
		sec := width.Seconds()
		j := watts * sec
		ci, src := intensity(start)
		r := joule.EnergyRollup{Scope: scope, Width: width, NodeID: node.ID, Entity: entity, Start: start, Seconds: sec, Method: method,
			PUEJoules: j * 1.2, EmissionsG: j * 1.2 / 3.6e6 * ci, IntensitySource: src}
		if scope == joule.RollupJob {
			r.WorkspaceID, r.Attempt = ws, 1
		}
		if strings.HasPrefix(method, "measured:") {
			r.MeasuredJoules = j
		} else {
			r.EstimatedJoules = j
		}
		return r
	}
	var rows []joule.EnergyRollup
	start := now.Add(-3 * time.Hour).Truncate(time.Hour)
	for m := start; m.Before(now); m = m.Add(time.Minute) {
		rows = append(rows,
			row(joule.RollupNode, time.Minute, ef.edge, "cpu", "", m, 20, "estimated:tdp-curve@1"),
			row(joule.RollupNode, time.Minute, ef.edge, "memory", "", m, 3, "estimated:tdp-curve@1"),
			row(joule.RollupNode, time.Minute, ef.gpu, "package-0", "", m, 80, "measured:rapl"),
			row(joule.RollupNode, time.Minute, ef.gpu, "gpu-0", "", m, 250, "measured:nvml"),
		)
	}
	for h := start; h.Before(now); h = h.Add(time.Hour) {
		rows = append(rows,
			row(joule.RollupNode, time.Hour, ef.edge, "cpu", "", h, 20, "estimated:tdp-curve@1"),
			row(joule.RollupNode, time.Hour, ef.gpu, "package-0", "", h, 80, "measured:rapl"))
	}
	// The jobs ran and succeeded.
	ended := func(ws joule.Workspace, name string, node joule.Node, from, to time.Time) joule.Job {
		j := mustCreateJob(t, f.store, ws, name, from.Add(-time.Minute), nil)
		startJob(t, f.store, j.ID, node.ID, 1, from)
		return mustMoveJob(t, f.store, j.ID, joule.JobSucceeded, "exited with status 0", to, func(j *joule.Job) { j.ExitCode, j.FinishedAt = ptr(0), ptr(to) })
	}
	ef.train = ended(f.acme, "train-bert", ef.gpu, now.Add(-150*time.Minute), now.Add(-120*time.Minute))
	ef.etl = ended(f.acme, "etl-nightly", ef.edge, now.Add(-60*time.Minute), now.Add(-40*time.Minute))
	ef.old = ended(f.acme, "last-week", ef.edge, now.Add(-30*time.Hour), now.Add(-29*time.Hour))
	ef.alien = ended(f.other, "alien-job", ef.edge, now.Add(-60*time.Minute), now.Add(-40*time.Minute))
	// train: 30 minutes at 200 W from now−150m (300 g/kWh): 360 kJ.
	for m := now.Add(-150 * time.Minute); m.Before(now.Add(-120 * time.Minute)); m = m.Add(time.Minute) {
		rows = append(rows, row(joule.RollupJob, time.Minute, ef.gpu, ef.train.ID, f.acme.ID, m, 200, "measured:nvml+measured:rapl"))
	}
	// etl: 20 minutes at 250 W from now−60m (500 g/kWh): 300 kJ, more grams.
	for m := now.Add(-60 * time.Minute); m.Before(now.Add(-40 * time.Minute)); m = m.Add(time.Minute) {
		rows = append(rows, row(joule.RollupJob, time.Minute, ef.edge, ef.etl.ID, f.acme.ID, m, 250, "estimated:tdp-curve@1"))
		rows = append(rows, row(joule.RollupJob, time.Minute, ef.edge, ef.alien.ID, f.other.ID, m, 900, "estimated:tdp-curve@1"))
	}
	rows = append(rows, row(joule.RollupJob, time.Minute, ef.edge, ef.old.ID, f.acme.ID, now.Add(-30*time.Hour).Truncate(time.Minute), 999, "estimated:tdp-curve@1"))
	if err := f.store.AddEnergyRollups(ctx, rows); err != nil {
		t.Fatalf("add rollups: %v", err)
	}
	return ef
}

func TestEnergyPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ef := seedEnergy(t, f)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/energy")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /energy: status %d\n%s", res.StatusCode, res.body)
	}
	b := res.body
	for _, want := range []string{
		`aria-current="page"`, "Energy &amp; Carbon", "per minute",
		// Node power, per node and component, with the method.
		"edge-01", "gpu-01", "package-0", "gpu-0", "memory",
		"measured:rapl", "measured:nvml", "estimated:tdp-curve@1",
		"RAPL energy counters (powercap)", "NVML GPU energy counter or power samples", "model tdp-curve@1 from CPU TDP and utilisation",
		`<svg`, "Power of gpu-01", "gpu-0 (measured:nvml)", "cpu (estimated:tdp-curve@1)",
		"330 W mean", // 80 + 250
		"23 W mean",  // 20 + 3
		// Intensity over time, with its source.
		"Grid carbon intensity used", "file: de.csv",
		// Top jobs.
		"train-bert", "etl-nightly", "measured &#43; estimated",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("GET /energy lacks %q", want)
		}
	}
	for _, unwanted := range []string{"alien-job", ef.alien.ID, "last-week", "coming soon"} {
		if strings.Contains(b, unwanted) {
			t.Errorf("GET /energy shows %q", unwanted)
		}
	}
	// By energy train (360 kJ) leads; by emissions etl (300 kJ at 500
	// g/kWh × 1.2 = 50 g, against train's 36 g).
	top := func(table string) string {
		i := strings.Index(b, `top-jobs top-`+table)
		if i < 0 {
			t.Fatalf("no top-%s table", table)
		}
		return b[i:]
	}
	if e := top("energy"); strings.Index(e, "train-bert") > strings.Index(e, "etl-nightly") {
		t.Error("top jobs by energy: etl-nightly before train-bert")
	}
	if e := top("emissions"); strings.Index(e, "etl-nightly") > strings.Index(e, "train-bert") {
		t.Error("top jobs by emissions: train-bert before etl-nightly")
	}
	for _, want := range []string{"360 kJ", "300 kJ", "50 g", "36 g", "660 kJ"} {
		if !strings.Contains(b, want) {
			t.Errorf("GET /energy lacks the figure %q", want)
		}
	}
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	if m := inline.FindString(b); m != "" {
		t.Errorf("/energy has inline script or style (%q), which the CSP blocks", m)
	}

	// A shorter period leaves train out; one over 48 h reads hourly rows.
	res = c.get("/energy?period=1h")
	if res.StatusCode != http.StatusOK || strings.Contains(res.body, "train-bert") || !strings.Contains(res.body, "etl-nightly") {
		t.Errorf("GET /energy?period=1h: status %d, want etl-nightly only", res.StatusCode)
	}
	if !strings.Contains(res.body, `value="1h" selected`) {
		t.Error("GET /energy?period=1h: the selector does not show 1h")
	}
	res = c.get("/energy?period=3d")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "per hour") || !strings.Contains(res.body, `value="3d" selected`) {
		t.Errorf("GET /energy?period=3d: status %d, want hourly figures with 3d selected", res.StatusCode)
	}
}

func TestEnergyPageBadPeriod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	for _, p := range []string{"abc", "0h", "-5h", "30s", "91d", "1000000000000000h", "7x", "d", "1.5d", "%3Cscript%3E"} {
		res := c.get("/energy?period=" + p)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, "is not a period such as 6h, 24h or 7d") {
			t.Errorf("GET /energy?period=%s: status %d, want 400 naming the period", p, res.StatusCode)
		}
		if strings.Contains(res.body, "<script>") {
			t.Errorf("GET /energy?period=%s: the error page echoes markup", p)
		}
	}
}

func TestEnergyPageEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.client(t)
	c.mustLogin(f.viewerSecret)
	res := c.get("/energy")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /energy: status %d", res.StatusCode)
	}
	for _, want := range []string{"No node recorded power in this period", "No intensity in this period", "No job of this workspace recorded energy"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("empty /energy lacks %q", want)
		}
	}
}

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"1m": time.Minute, "90m": 90 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "90d": MaxEnergyPeriod} {
		if got, err := parsePeriod(in); err != nil || got != want {
			t.Errorf("parsePeriod(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
}

func TestMethodKind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"measured:rapl":                       "measured",
		"measured:nvml+measured:rapl":         "measured",
		"estimated:tdp-curve@1":               "estimated",
		"estimated:tdp-curve@1+measured:nvml": "measured + estimated",
		"something":                           "estimated",
		"":                                    "no data",
	} {
		if got := methodKind(in); got != want {
			t.Errorf("methodKind(%q) = %q, want %q", in, got, want)
		}
	}
}
