package web

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
)

// The model pages read the registry rows (joule.ModelStore) straight from
// the store; the model card comes from Config.ModelCard, which
// internal/model implements.

// ModelCardFunc renders version n of a model of a workspace as the body of
// an HTML model card: escaped HTML with no script or style.
type ModelCardFunc func(ctx context.Context, workspaceID, model string, n int) (string, error)

// Limits of the model pages.
const (
	modelsPageSize   = 100
	maxModelVersions = 500 // the model page lists at most this many
	residualBins     = 12
)

// lowerIsBetter lists the metrics where a smaller value is better.
var lowerIsBetter = map[string]bool{"rmse": true, "mae": true, "mape": true, "log_loss": true, "mse": true}

// headlineMetrics are the metrics the lists show, by task, best first.
var headlineMetrics = map[string][]string{
	"classification": {"accuracy", "f1", "roc_auc"},
	"regression":     {"rmse", "mae", "r2"},
}

// metricView is one metric with its formatted value.
type metricView struct {
	Name, Value string
}

// headline returns the task's headline metrics that v has.
func headline(v joule.ModelVersion) []metricView {
	var out []metricView
	for _, k := range headlineMetrics[v.Task] {
		if x, ok := v.Metrics[k]; ok {
			out = append(out, metricView{k, fmtMetric(x)})
		}
	}
	return out
}

// fmtMetric formats a metric with four decimals, as the model card does.
func fmtMetric(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "—"
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

// trainingEnergy is a version's training energy as the pages show it:
// every figure says whether it is measured or estimated, and how.
type trainingEnergy struct {
	Known    bool
	Note     string // why there are no figures
	Energy   joule.JobEnergy
	Kind     string // measured, estimated, or measured + estimated
	How      string
	FromJob  bool // read from the training job; the registry row is not yet updated
	Cost     string
	Emission string
}

// energyOf returns v's training energy, reading the training job when the
// version does not carry it yet (the registry copies it on its next read).
func (c *Console) energyOf(ctx context.Context, v joule.ModelVersion) trainingEnergy {
	e := v.Energy
	te := trainingEnergy{}
	if e == nil && v.JobID != "" {
		if j, err := c.cfg.Store.GetJob(ctx, v.WorkspaceID, v.JobID); err == nil && j.State.Terminal() && j.Energy != nil {
			e, te.FromJob = j.Energy, true
		}
	}
	switch {
	case e != nil:
	case v.JobID == "":
		te.Note = "not known: imported, not trained by joule"
		return te
	default:
		te.Note = "not yet accounted: the training job has not ended or its energy is not yet attributed"
		return te
	}
	te.Known, te.Energy = true, *e
	switch {
	case e.MeasuredJoules > 0 && e.EstimatedJoules > 0:
		te.Kind = "measured + estimated"
	case e.MeasuredJoules > 0:
		te.Kind = "measured"
	default:
		te.Kind = "estimated"
	}
	te.How = methodHow(e.Method)
	te.Emission = fmtGrams(e.EmissionsG) + " CO2e"
	if e.Currency != "" {
		te.Cost = fmtCost(e.Cost) + " " + e.Currency
	}
	return te
}

// fmtCost formats a cost: two decimals from 1 up, else two significant
// digits (training runs often cost fractions of a cent).
func fmtCost(x float64) string {
	if math.Abs(x) >= 1 || x == 0 {
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strconv.FormatFloat(x, 'g', 2, 64)
}

// modelRow is a model as the list shows it.
type modelRow struct {
	joule.Model
	Latest   *joule.ModelVersion
	Headline []metricView
	Energy   trainingEnergy
}

type modelsView struct {
	Models []modelRow
	Next   string
}

func (c *Console) modelsList(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	ms, next, err := c.cfg.Store.ListModels(ctx, p.WorkspaceID, joule.ListOptions{Limit: modelsPageSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	v := modelsView{}
	for _, m := range ms {
		row := modelRow{Model: m}
		if m.LatestVersion > 0 {
			mv, err := c.cfg.Store.GetModelVersion(ctx, m.ID, 0)
			if err != nil {
				c.failErr(w, r, err)
				return
			}
			row.Latest, row.Headline, row.Energy = &mv, headline(mv), c.energyOf(ctx, mv)
		}
		v.Models = append(v.Models, row)
	}
	if next != "" {
		v.Next = "/models?cursor=" + next
	}
	c.render(w, r, http.StatusOK, "models.html", view{Title: "Models", Path: "/models", Principal: p, Data: v})
}

// versionRow is a version as the model page lists it.
type versionRow struct {
	joule.ModelVersion
	Headline []metricView
	Energy   trainingEnergy
	Compared bool
}

// compareRow is one line of the comparison table.
type compareRow struct {
	Name   string
	Values []compareCell
	Differ bool
}

type compareCell struct {
	Value string
	Best  bool
}

type modelView struct {
	Model     joule.Model
	Versions  []versionRow // newest first
	Editor    bool         // may change stages: show the CLI commands
	Truncated bool
	// The comparison of the selected versions.
	Compare     []int
	Span        int // columns of the comparison table
	CompareNote string
	Metrics     []compareRow
	Params      []compareRow
	Other       []compareRow // algorithm, data, energy
}

// parseVersion reads a version number (1 or more).
func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, joule.Errorf(joule.EINVALID, "%q is not a version number (1, 2, …)", cut(s, 40))
	}
	return n, nil
}

func (c *Console) modelPage(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := c.cfg.Store.GetModel(ctx, p.WorkspaceID, r.PathValue("name"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	var all []joule.ModelVersion
	cursor := ""
	for {
		page, next, err := c.cfg.Store.ListModelVersions(ctx, m.ID, joule.ListOptions{Limit: joule.MaxLimit, Cursor: cursor})
		if err != nil {
			c.failErr(w, r, err)
			return
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		if len(all) >= maxModelVersions {
			all = all[len(all)-maxModelVersions:]
			break
		}
		cursor = next
	}
	v := modelView{Model: m, Editor: joule.Authorize(p, joule.RoleEditor, p.WorkspaceID) == nil, Truncated: m.LatestVersion > len(all)}
	byNum := map[int]joule.ModelVersion{}
	for _, mv := range all {
		byNum[mv.Version] = mv
	}

	// The versions to compare: ?cmp=N (repeated); the newest two by default.
	if sel := r.URL.Query()["cmp"]; len(sel) > 0 {
		for _, s := range sel {
			n, err := parseVersion(s)
			if err != nil {
				c.failErr(w, r, err)
				return
			}
			if _, ok := byNum[n]; !ok {
				c.failErr(w, r, joule.Errorf(joule.ENOTFOUND, "model %q has no version %d", m.Name, n))
				return
			}
			if !slices.Contains(v.Compare, n) {
				v.Compare = append(v.Compare, n)
			}
		}
		slices.Sort(v.Compare)
	} else if len(all) >= 2 {
		v.Compare = []int{all[len(all)-2].Version, all[len(all)-1].Version}
	}
	for i := len(all) - 1; i >= 0; i-- {
		mv := all[i]
		v.Versions = append(v.Versions, versionRow{ModelVersion: mv, Headline: headline(mv), Energy: c.energyOf(ctx, mv), Compared: slices.Contains(v.Compare, mv.Version)})
	}
	switch {
	case len(all) < 2:
		v.CompareNote = "A comparison needs two or more versions."
		v.Compare = nil
	case len(v.Compare) < 2:
		v.CompareNote = "Select two or more versions to compare."
	default:
		var vs []versionRow
		for _, n := range v.Compare {
			for _, row := range v.Versions {
				if row.Version == n {
					vs = append(vs, row)
				}
			}
		}
		v.Metrics, v.Params, v.Other = compareVersions(vs)
		v.Span = len(vs) + 1
	}
	c.render(w, r, http.StatusOK, "model.html", view{Title: m.Name, Path: "/models", Principal: p, Data: v})
}

// compareVersions builds the comparison tables: metrics side by side with
// the best value marked, the params with the differing ones marked, and the
// algorithm, data and training energy.
func compareVersions(vs []versionRow) (metrics, params, other []compareRow) {
	keys := map[string]bool{}
	pkeys := map[string]bool{}
	for _, v := range vs {
		for k := range v.Metrics {
			keys[k] = true
		}
		for k := range v.Params {
			pkeys[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		row := compareRow{Name: k}
		best := math.NaN()
		for _, v := range vs {
			x, ok := v.Metrics[k]
			if !ok || math.IsNaN(x) {
				continue
			}
			if math.IsNaN(best) || (lowerIsBetter[k] && x < best) || (!lowerIsBetter[k] && x > best) {
				best = x
			}
		}
		seen := map[string]bool{}
		for _, v := range vs {
			x, ok := v.Metrics[k]
			cell := compareCell{Value: "—"}
			if ok {
				cell = compareCell{Value: fmtMetric(x), Best: x == best}
			}
			seen[cell.Value] = true
			row.Values = append(row.Values, cell)
		}
		row.Differ = len(seen) > 1
		if !row.Differ {
			for i := range row.Values {
				row.Values[i].Best = false
			}
		}
		metrics = append(metrics, row)
	}
	line := func(name string, f func(versionRow) string) compareRow {
		row := compareRow{Name: name}
		seen := map[string]bool{}
		for _, v := range vs {
			s := f(v)
			seen[s] = true
			row.Values = append(row.Values, compareCell{Value: s})
		}
		row.Differ = len(seen) > 1
		return row
	}
	for _, k := range slices.Sorted(maps.Keys(pkeys)) {
		params = append(params, line(k, func(v versionRow) string {
			if s, ok := v.Params[k]; ok {
				return s
			}
			return "(default)"
		}))
	}
	other = append(other,
		line("algorithm", func(v versionRow) string { return v.Algorithm + " (" + v.Task + ")" }),
		line("stage", func(v versionRow) string { return v.Stage }),
		line("dataset", func(v versionRow) string {
			if v.DatasetName == "" {
				return "— (" + v.Source + ")"
			}
			return fmt.Sprintf("%s v%d", v.DatasetName, v.DatasetVersion)
		}),
		line("rows (train / test)", func(v versionRow) string { return fmt.Sprintf("%d / %d", v.TrainRows, v.TestRows) }),
		line("features", func(v versionRow) string { return strconv.Itoa(len(v.Features)) }),
		line("training energy", func(v versionRow) string {
			if !v.Energy.Known {
				return "—"
			}
			return fmtJoules(v.Energy.Energy.Joules) + " (" + v.Energy.Kind + ")"
		}),
		line("training emissions", func(v versionRow) string {
			if !v.Energy.Known {
				return "—"
			}
			return v.Energy.Emission + " (" + v.Energy.Kind + ")"
		}),
	)
	return metrics, params, other
}

// confusionView is a confusion matrix with its shading and per-class
// figures.
type confusionView struct {
	Classes []string
	Rows    []confusionRow
	Total   int
	Correct int
}

type confusionRow struct {
	Class     string
	Cells     []confusionCell
	Support   int
	Recall    string
	Precision string
}

type confusionCell struct {
	Count int
	Shade int // 0..9: the cell's share of its true class
	Diag  bool
}

// confusion builds the matrix view; nil when v has none or its shape does
// not match its classes.
func confusion(v joule.ModelVersion) *confusionView {
	e := v.Evaluation
	if e == nil || len(e.Confusion) == 0 {
		return nil
	}
	k := len(e.Confusion)
	classes := v.Classes
	if len(classes) != k {
		classes = make([]string, k)
		for i := range classes {
			classes[i] = "class " + strconv.Itoa(i)
		}
	}
	colSum := make([]int, k)
	for _, row := range e.Confusion {
		if len(row) != k {
			return nil
		}
		for j, n := range row {
			colSum[j] += n
		}
	}
	cv := &confusionView{Classes: classes}
	for i, row := range e.Confusion {
		r := confusionRow{Class: classes[i], Recall: "—", Precision: "—"}
		for _, n := range row {
			r.Support += n
		}
		for j, n := range row {
			cell := confusionCell{Count: n, Diag: i == j}
			if r.Support > 0 {
				cell.Shade = min(9, int(float64(n)/float64(r.Support)*10))
			}
			r.Cells = append(r.Cells, cell)
		}
		if r.Support > 0 {
			r.Recall = fmtMetric(float64(row[i]) / float64(r.Support))
		}
		if colSum[i] > 0 {
			r.Precision = fmtMetric(float64(row[i]) / float64(colSum[i]))
		}
		cv.Total += r.Support
		cv.Correct += row[i]
		cv.Rows = append(cv.Rows, r)
	}
	return cv
}

// residualView is a regressor's residual summary and charts.
type residualView struct {
	N         int
	Quantiles []metricView
	Histogram template.HTML
	Fit       template.HTML
}

// residuals summarises the stored sample of test residuals (actual −
// predicted); nil without one.
func residuals(v joule.ModelVersion) (*residualView, error) {
	if v.Evaluation == nil || len(v.Evaluation.Residuals) == 0 {
		return nil, nil
	}
	rs := v.Evaluation.Residuals
	var res []float64
	for _, x := range rs {
		d := x.Actual - x.Predicted
		if !math.IsNaN(d) && !math.IsInf(d, 0) {
			res = append(res, d)
		}
	}
	if len(res) == 0 {
		return nil, nil
	}
	sorted := slices.Clone(res)
	sort.Float64s(sorted)
	q := func(p float64) float64 {
		// Linear interpolation between closest ranks, as numpy's default.
		h := p * float64(len(sorted)-1)
		lo := int(math.Floor(h))
		hi := min(lo+1, len(sorted)-1)
		return sorted[lo] + (h-float64(lo))*(sorted[hi]-sorted[lo])
	}
	var sumAbs float64
	for _, d := range res {
		sumAbs += math.Abs(d)
	}
	rv := &residualView{N: len(res)}
	for _, qq := range []struct {
		name string
		p    float64
	}{{"min", 0}, {"5 %", 0.05}, {"25 %", 0.25}, {"median", 0.5}, {"75 %", 0.75}, {"95 %", 0.95}, {"max", 1}} {
		rv.Quantiles = append(rv.Quantiles, metricView{qq.name, chart.FormatValue(q(qq.p))})
	}
	rv.Quantiles = append(rv.Quantiles, metricView{"mean |residual|", chart.FormatValue(sumAbs / float64(len(res)))})

	lo, hi := sorted[0], sorted[len(sorted)-1]
	bins := make([]float64, residualBins)
	width := (hi - lo) / residualBins
	if width <= 0 {
		width = 1
	}
	for _, d := range res {
		i := min(residualBins-1, int((d-lo)/width))
		bins[i]++
	}
	bars := make([]chart.Item, residualBins)
	for i, n := range bins {
		bars[i] = chart.Item{Label: chart.FormatValue(lo + float64(i)*width), Value: n}
	}
	var err error
	if rv.Histogram, err = svg(func(b *bytes.Buffer) error {
		return chart.Bar(b, chart.BarChart{Title: "Test residuals (actual − predicted), by lower bin edge", Unit: "rows", Width: 560, Height: 240, Bars: bars})
	}); err != nil {
		return nil, err
	}
	// Actual and predicted over the sample sorted by actual: how closely
	// the predictions follow the target.
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rs[idx[a]].Actual < rs[idx[b]].Actual })
	actual, predicted := chart.Series{Name: "actual"}, chart.Series{Name: "predicted"}
	for rank, i := range idx {
		actual.Points = append(actual.Points, chart.Point{X: float64(rank + 1), Y: rs[i].Actual})
		predicted.Points = append(predicted.Points, chart.Point{X: float64(rank + 1), Y: rs[i].Predicted})
	}
	target := cmpOr(v.Target, "target")
	if rv.Fit, err = svg(func(b *bytes.Buffer) error {
		return chart.Line(b, chart.LineChart{Title: "Actual and predicted " + target + ", test rows sorted by actual", Unit: target, Width: 560, Height: 240, Series: []chart.Series{actual, predicted}})
	}); err != nil {
		return nil, err
	}
	return rv, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type modelVersionView struct {
	Model     joule.Model
	Version   joule.ModelVersion
	Metrics   []metricView
	Params    []metricView
	Energy    trainingEnergy
	Confusion *confusionView
	Residuals *residualView
	Card      template.HTML
	CardNote  string
	Editor    bool
}

func (c *Console) modelVersionPage(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	n, err := parseVersion(r.PathValue("v"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	m, err := c.cfg.Store.GetModel(ctx, p.WorkspaceID, r.PathValue("name"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	mv, err := c.cfg.Store.GetModelVersion(ctx, m.ID, n)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	v := modelVersionView{Model: m, Version: mv, Energy: c.energyOf(ctx, mv), Confusion: confusion(mv),
		Editor: joule.Authorize(p, joule.RoleEditor, p.WorkspaceID) == nil}
	for _, k := range slices.Sorted(maps.Keys(mv.Metrics)) {
		v.Metrics = append(v.Metrics, metricView{k, fmtMetric(mv.Metrics[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(mv.Params)) {
		v.Params = append(v.Params, metricView{k, mv.Params[k]})
	}
	if v.Residuals, err = residuals(mv); err != nil {
		c.internal(w, r, err)
		return
	}
	if c.cfg.ModelCard == nil {
		v.CardNote = "Model cards are not available on this server."
	} else if card, err := c.cfg.ModelCard(ctx, p.WorkspaceID, m.Name, mv.Version); err != nil {
		c.failErr(w, r, err)
		return
	} else {
		// ModelCard returns escaped HTML without script or style.
		v.Card = template.HTML(card)
	}
	c.render(w, r, http.StatusOK, "model_version.html", view{Title: fmt.Sprintf("%s v%d", m.Name, mv.Version), Path: "/models", Principal: p, Data: v})
}

// shadeClass names the CSS class of a confusion-matrix cell.
func shadeClass(c confusionCell) string {
	s := "cm-" + strconv.Itoa(c.Shade)
	if c.Diag {
		s += " cm-diag"
	}
	return s
}

// modelPageNames are the templates of the model pages.
var modelPageNames = []string{"models.html", "model.html", "model_version.html"}

func (c *Console) modelRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /models", c.authed(c.modelsList))
	m.HandleFunc("GET /models/{name}", c.authed(c.modelPage))
	m.HandleFunc("GET /models/{name}/versions/{v}", c.authed(c.modelVersionPage))
}
