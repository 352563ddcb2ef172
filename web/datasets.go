package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/chart"
)

// DatasetReader reads rows and rejects of a dataset version for the console
// (internal/dataset implements it; cmd/joule wires it). nil: the version
// page shows no preview or rejects.
type DatasetReader interface {
	Preview(ctx context.Context, v joule.DatasetVersion, limit, offset int64) (joule.DatasetRows, error)
	Rejects(ctx context.Context, v joule.DatasetVersion, limit, offset int64) ([]joule.Reject, error)
}

// Limits of the dataset pages.
const (
	datasetsPageSize = 100
	previewRows      = 20
	rejectRows       = 50
	maxHistograms    = 40
)

type datasetsView struct {
	Datasets []joule.Dataset
	Next     string
}

func (c *Console) datasetsList(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ds, next, err := c.cfg.Store.ListDatasets(r.Context(), p.WorkspaceID, joule.ListOptions{Limit: datasetsPageSize, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	v := datasetsView{Datasets: ds}
	if next != "" {
		v.Next = "/datasets?cursor=" + next
	}
	c.render(w, r, http.StatusOK, "datasets.html", view{Title: "Datasets", Path: "/datasets", Principal: p, Data: v})
}

// datasetView is the data of a version page.
type datasetView struct {
	Dataset  joule.Dataset
	Version  joule.DatasetVersion
	Versions []joule.DatasetVersion // newest first, for lineage
	Steps    []string               // the recipe's steps, when a recipe made it
	Columns  []columnView
	Corr     *joule.Correlations
	Balance  []joule.ValueCount
	Target   string
	Preview  *joule.DatasetRows
	Rejects  []joule.Reject
	Note     string // why preview or rejects are missing
}

type columnView struct {
	joule.ColumnProfile
	Role      string
	TopText   string // the three most frequent values, numbers shortened
	Histogram template.HTML
}

// topText lists up to three top values with their counts.
func topText(cp joule.ColumnProfile) string {
	var parts []string
	for i, t := range cp.Top {
		if i == 3 {
			break
		}
		v := t.Value
		if cp.Type == joule.TypeFloat {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				v = chart.FormatValue(f)
			}
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", v, t.Count))
	}
	return strings.Join(parts, ", ")
}

func fmtF(f *float64) string {
	if f == nil {
		return "—"
	}
	return chart.FormatValue(*f)
}

func (c *Console) datasetPage(w http.ResponseWriter, r *http.Request) {
	p, ok := c.jobAccess(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	d, err := c.cfg.Store.GetDataset(ctx, p.WorkspaceID, r.PathValue("name"))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	n := 0
	if s := r.URL.Query().Get("v"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			c.fail(w, r, http.StatusBadRequest, "Bad request", fmt.Sprintf("%q is not a version number.", s))
			return
		}
	}
	v := datasetView{Dataset: d}
	if d.LatestVersion > 0 {
		if v.Version, err = c.cfg.Store.GetDatasetVersion(ctx, d.ID, n); err != nil {
			c.failErr(w, r, err)
			return
		}
	} else if n > 0 {
		c.failErr(w, r, joule.Errorf(joule.ENOTFOUND, "dataset %q has no versions", d.Name))
		return
	}
	all, _, err := c.cfg.Store.ListDatasetVersions(ctx, d.ID, joule.ListOptions{Limit: joule.MaxLimit})
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	for i := len(all) - 1; i >= 0; i-- {
		all[i].Profile = nil
		v.Versions = append(v.Versions, all[i])
	}
	if len(v.Version.Recipe) > 0 {
		var rec struct {
			Steps []map[string]json.RawMessage `json:"steps"`
		}
		if json.Unmarshal(v.Version.Recipe, &rec) == nil {
			for _, s := range rec.Steps {
				for k, raw := range s {
					if k == "fitted" {
						continue
					}
					v.Steps = append(v.Steps, k+" "+cut(string(raw), 120))
				}
			}
		}
	}
	roles := map[string]string{}
	for _, col := range v.Version.Columns {
		roles[col.Name] = col.Role
	}
	if prof := v.Version.Profile; prof != nil {
		v.Corr, v.Balance, v.Target = prof.Correlations, prof.TargetBalance, prof.Target
		for i, cp := range prof.Columns {
			cv := columnView{ColumnProfile: cp, Role: roles[cp.Name], TopText: topText(cp)}
			if len(cp.Histogram) > 0 && i < maxHistograms {
				var b bytes.Buffer
				bars := make([]chart.Item, len(cp.Histogram))
				for k, h := range cp.Histogram {
					bars[k] = chart.Item{Label: chart.FormatValue(h.Lo), Value: float64(h.Count)}
				}
				if err := chart.Bar(&b, chart.BarChart{Title: cp.Name, Width: 360, Height: 160, Unit: "rows", Bars: bars}); err != nil {
					c.internal(w, r, err)
					return
				}
				// The chart package escapes all text and emits no script or style.
				cv.Histogram = template.HTML(b.String())
			}
			v.Columns = append(v.Columns, cv)
		}
	}
	if c.cfg.Datasets == nil {
		v.Note = "Previews and rejects are not available on this server."
	} else if v.Version.ID != "" {
		t, err := c.cfg.Datasets.Preview(ctx, v.Version, previewRows, 0)
		if err != nil {
			c.failErr(w, r, err)
			return
		}
		for _, row := range t.Rows {
			for i, x := range row {
				if x == nil {
					row[i] = "NULL"
				}
			}
		}
		v.Preview = &t
		if v.Rejects, err = c.cfg.Datasets.Rejects(ctx, v.Version, rejectRows, 0); err != nil {
			c.failErr(w, r, err)
			return
		}
	}
	title := d.Name
	if v.Version.Version > 0 {
		title += " v" + strconv.Itoa(v.Version.Version)
	}
	c.render(w, r, http.StatusOK, "dataset.html", view{Title: title, Path: "/datasets", Principal: p, Data: v})
}

// corrCell formats a correlation for the matrix.
func corrCell(f *float64) string {
	if f == nil {
		return "—"
	}
	return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(*f, 'f', 2, 64), "0"), ".")
}
