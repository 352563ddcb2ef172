package serving

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule"
)

// MaxFeedbackBody bounds a feedback body.
const MaxFeedbackBody = 8 << 20

// liveState is a version's quality on labelled rows: running totals over
// every labelled row, and a ring of the latest ones for the window.
type liveState struct {
	predictions int64
	labelled    int64
	classifier  bool
	conf        map[[2]string]int64 // (true, predicted) → rows
	n           int64
	sumSq       float64
	sumAbs      float64
	ring        []labelledRow
	next        int
	alerting    bool
	updated     time.Time
}

type labelledRow struct {
	truth, pred   string
	truthV, predV float64
}

func (l *liveState) add(r labelledRow, windowRows int, now time.Time) {
	l.labelled++
	l.updated = now
	if l.classifier {
		if l.conf == nil {
			l.conf = map[[2]string]int64{}
		}
		l.conf[[2]string{r.truth, r.pred}]++
	} else {
		e := r.predV - r.truthV
		l.n++
		l.sumSq += e * e
		l.sumAbs += math.Abs(e)
	}
	if len(l.ring) < windowRows {
		l.ring = append(l.ring, r)
		l.next = len(l.ring) % windowRows
		return
	}
	if len(l.ring) > windowRows { // the window shrank: keep the latest
		latest := append(slices.Clone(l.ring[l.next:]), l.ring[:l.next]...)
		l.ring = latest[len(latest)-windowRows:]
		l.next = 0
	}
	l.ring[l.next] = r
	l.next = (l.next + 1) % windowRows
}

// quality returns the live figures with the window's settings.
func (l *liveState) quality(version int, set joule.DeploymentMonitor) joule.LiveQuality {
	q := joule.LiveQuality{ModelVersion: version, Task: "regression", Predictions: l.predictions, Labelled: l.labelled, Alerting: l.alerting}
	if l.classifier {
		q.Task = "classification"
	}
	if !l.updated.IsZero() {
		t := l.updated
		q.UpdatedAt = &t
	}
	if l.classifier {
		q.Overall = classMetrics(l.conf)
		win := map[[2]string]int64{}
		for _, r := range l.ring {
			win[[2]string{r.truth, r.pred}]++
		}
		q.Window = classMetrics(win)
	} else {
		q.Overall = regMetrics(l.n, l.sumSq, l.sumAbs)
		var sq, ab float64
		for _, r := range l.ring {
			e := r.predV - r.truthV
			sq += e * e
			ab += math.Abs(e)
		}
		q.Window = regMetrics(int64(len(l.ring)), sq, ab)
	}
	return q
}

// classMetrics computes accuracy and macro F1 from a confusion count: F1
// is averaged over every label that is a true or a predicted one, as
// scikit-learn's f1_score(average="macro") does.
func classMetrics(conf map[[2]string]int64) joule.QualityMetrics {
	var n, correct int64
	tp, fp, fn := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for k, c := range conf {
		n += c
		if k[0] == k[1] {
			correct += c
			tp[k[0]] += c
			continue
		}
		fn[k[0]] += c
		fp[k[1]] += c
	}
	q := joule.QualityMetrics{Rows: n}
	if n == 0 {
		return q
	}
	labels := map[string]bool{}
	for k := range conf {
		labels[k[0]], labels[k[1]] = true, true
	}
	f1 := 0.0
	for l := range labels {
		if d := 2*tp[l] + fp[l] + fn[l]; d > 0 {
			f1 += 2 * float64(tp[l]) / float64(d)
		}
	}
	acc, mf1 := float64(correct)/float64(n), f1/float64(len(labels))
	q.Accuracy, q.MacroF1 = &acc, &mf1
	return q
}

func regMetrics(n int64, sumSq, sumAbs float64) joule.QualityMetrics {
	q := joule.QualityMetrics{Rows: n}
	if n == 0 {
		return q
	}
	rmse, mae := math.Sqrt(sumSq/float64(n)), sumAbs/float64(n)
	q.RMSE, q.MAE = &rmse, &mae
	return q
}

// feedbackItem is one parsed label: text is the label as text (a JSON
// string's content, or a number as written), num its value when it is a
// number.
type feedbackItem struct {
	id    string
	row   int
	text  string
	num   float64
	isNum bool
}

// label is how the item's label compares with a row's: the class, or the
// value's shortest text.
func (it feedbackItem) label(classifier bool) string {
	if classifier {
		return it.text
	}
	return strconv.FormatFloat(it.num, 'g', -1, 64)
}

// parseFeedback reads a feedback body, {"labels": [{"id": …, "row": …,
// "label": …}, …]}, checking its shape: every error is EINVALID and names
// the item (labels[i].field).
func parseFeedback(body []byte) ([]feedbackItem, error) {
	var raw struct {
		Labels []json.RawMessage `json:"labels"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return nil, joule.Errorf(joule.EINVALID, `body: empty; send {"labels": [{"id": PREDICTION_ID, "row": 0, "label": LABEL}]}`)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, joule.Errorf(joule.EINVALID, `body: unknown field %s; send {"labels": […]}`, strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, joule.Errorf(joule.EINVALID, "body: %s: a JSON %s where %s is wanted", cmp.Or(te.Field, "top level"), te.Value, te.Type)
		}
		return nil, joule.Errorf(joule.EINVALID, "body: not JSON: %v", err)
	}
	if dec.More() {
		return nil, joule.Errorf(joule.EINVALID, "body: more than one JSON value")
	}
	switch {
	case len(raw.Labels) == 0:
		return nil, joule.Errorf(joule.EINVALID, `labels: empty; send at least one {"id": PREDICTION_ID, "row": 0, "label": LABEL}`)
	case len(raw.Labels) > joule.MaxFeedbackLabels:
		return nil, joule.Errorf(joule.EINVALID, "labels: %d labels is over the limit of %d per call", len(raw.Labels), joule.MaxFeedbackLabels)
	}
	items := make([]feedbackItem, len(raw.Labels))
	seen := map[string]int{}
	for i, r := range raw.Labels {
		where := fmt.Sprintf("labels[%d]", i)
		var it struct {
			ID    *json.RawMessage `json:"id"`
			Row   *json.RawMessage `json:"row"`
			Label *json.RawMessage `json:"label"`
		}
		d := json.NewDecoder(bytes.NewReader(r))
		d.DisallowUnknownFields()
		if err := d.Decode(&it); err != nil {
			if strings.HasPrefix(err.Error(), "json: unknown field ") {
				return nil, joule.Errorf(joule.EINVALID, "%s: unknown field %s; an item has id, row and label", where, strings.TrimPrefix(err.Error(), "json: unknown field "))
			}
			return nil, joule.Errorf(joule.EINVALID, `%s: not an object; send {"id": PREDICTION_ID, "row": 0, "label": LABEL}`, where)
		}
		if it.ID == nil || string(*it.ID) == "null" {
			return nil, joule.Errorf(joule.EINVALID, "%s.id: required; the id of the predict response", where)
		}
		if err := json.Unmarshal(*it.ID, &items[i].id); err != nil || items[i].id == "" {
			return nil, joule.Errorf(joule.EINVALID, "%s.id: %s is not a prediction ID; send the predict response's id as a string", where, clip(string(*it.ID)))
		}
		if it.Row != nil {
			n, err := strconv.Atoi(strings.TrimSpace(string(*it.Row)))
			if err != nil || n < 0 {
				return nil, joule.Errorf(joule.EINVALID, "%s.row: %s is not a row index; send a whole number from 0", where, clip(string(*it.Row)))
			}
			items[i].row = n
		}
		if it.Label == nil || string(*it.Label) == "null" {
			return nil, joule.Errorf(joule.EINVALID, "%s.label: required; send the row's true class or value", where)
		}
		lab := strings.TrimSpace(string(*it.Label))
		switch {
		case strings.HasPrefix(lab, `"`):
			if err := json.Unmarshal(*it.Label, &items[i].text); err != nil {
				return nil, joule.Errorf(joule.EINVALID, "%s.label: %v", where, err)
			}
			if items[i].text == "" {
				return nil, joule.Errorf(joule.EINVALID, "%s.label: empty; send the row's true class", where)
			}
		case strings.HasPrefix(lab, "{") || strings.HasPrefix(lab, "[") || lab == "true" || lab == "false":
			return nil, joule.Errorf(joule.EINVALID, "%s.label: %s is not a label; send a class as a string or number, a value as a number", where, clip(lab))
		default:
			f, err := strconv.ParseFloat(lab, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, joule.Errorf(joule.EINVALID, "%s.label: %s is not a number", where, clip(lab))
			}
			items[i].num, items[i].isNum = f, true
			items[i].text = strconv.FormatFloat(f, 'g', -1, 64)
		}
		key := items[i].id + "\x00" + strconv.Itoa(items[i].row)
		if j, ok := seen[key]; ok {
			return nil, joule.Errorf(joule.EINVALID, "%s: row %d of %s is labelled twice in this call (also labels[%d])", where, items[i].row, items[i].id, j)
		}
		seen[key] = i
	}
	return items, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Feedback records true labels for predicted rows (a joule.FeedbackRequest
// body) and updates live quality. The call is all or nothing: any bad
// item (unknown or forgotten ID, row out of range, a label of the wrong
// type or not a class, a row already labelled otherwise) is EINVALID
// naming it, and no label is kept. A row sent again with the label it has
// is counted as a duplicate and ignored.
func (m *Manager) Feedback(ctx context.Context, workspaceID, ref string, body io.Reader) (joule.FeedbackResult, error) {
	d, err := m.lookup(workspaceID, ref)
	if err != nil {
		return joule.FeedbackResult{}, err
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxFeedbackBody+1))
	if err != nil {
		return joule.FeedbackResult{}, joule.Errorf(joule.EINVALID, "body: %v", err)
	}
	if len(data) > MaxFeedbackBody {
		return joule.FeedbackResult{}, joule.Errorf(joule.ETOOLARGE, "body: over the feedback limit of %d bytes", MaxFeedbackBody)
	}
	items, err := parseFeedback(data)
	if err != nil {
		return joule.FeedbackResult{}, err
	}
	d.mu.Lock()
	spec := d.spec
	d.mu.Unlock()
	set := spec.Monitor.WithDefaults()
	if set.Disabled {
		return joule.FeedbackResult{}, joule.Errorf(joule.EINVALID, "deployment %q has monitoring disabled: its predictions are not remembered for feedback", spec.Name)
	}
	limit := cmpInt(m.cfg.Monitor.FeedbackRows, DefaultFeedbackRows)
	dm := m.mon.dep(spec.ID)
	// The versions' classes, read before taking the lock.
	dm.mu.Lock()
	need := map[int]bool{}
	for _, it := range items {
		if rec, ok := dm.lookup(it.id); ok {
			need[int(rec.version)] = true
		}
	}
	dm.mu.Unlock()
	mvs := map[int]joule.ModelVersion{}
	for v := range need {
		mv, err := m.mon.version(ctx, spec.ModelID, v)
		if err != nil {
			return joule.FeedbackResult{}, err
		}
		mvs[v] = mv
	}
	now := m.cfg.Now().UTC()
	var res joule.FeedbackResult
	touched := map[int]bool{}
	dm.mu.Lock()
	// Check every item before keeping any.
	for i, it := range items {
		where := fmt.Sprintf("labels[%d]", i)
		rec, ok := dm.lookup(it.id)
		if !ok {
			dm.mu.Unlock()
			return res, joule.Errorf(joule.EINVALID, "%s.id: prediction %q is unknown to deployment %q: it was not made by it, or it is older than the latest %d predicted rows the server remembers, or the server restarted since", where, it.id, spec.Name, limit)
		}
		if n := int(rec.n); it.row >= n {
			dm.mu.Unlock()
			return res, joule.Errorf(joule.EINVALID, "%s.row: %d is out of range: prediction %s has %d rows (0 to %d)", where, it.row, it.id, n, n-1)
		}
		mv, ok := mvs[int(rec.version)]
		if !ok {
			dm.mu.Unlock()
			return res, joule.Errorf(joule.EUNAVAILABLE, "%s: model version %d was not read; retry", where, rec.version)
		}
		if rec.classifier {
			if !slices.Contains(mv.Classes, it.text) {
				dm.mu.Unlock()
				return res, joule.Errorf(joule.EINVALID, "%s.label: %q is not a class of model version %d (its classes: %s)", where, it.text, rec.version, strings.Join(mv.Classes, ", "))
			}
		} else if !it.isNum {
			dm.mu.Unlock()
			return res, joule.Errorf(joule.EINVALID, "%s.label: %q is a string, but model version %d is a regressor; send the true value as a JSON number", where, it.text, rec.version)
		}
		if row := dm.row(rec, it.row); row.labelled && dm.labelText(rec, row.truth) != it.label(rec.classifier) {
			dm.mu.Unlock()
			return res, joule.Errorf(joule.EINVALID, "%s: row %d of %s already has the label %s; labels are final", where, it.row, it.id, dm.labelText(rec, row.truth))
		}
	}
	for _, it := range items {
		rec, _ := dm.lookup(it.id)
		row := dm.row(rec, it.row)
		if row.labelled {
			res.Duplicates++
			continue
		}
		row.labelled = true
		version := int(rec.version)
		t := dm.track(version)
		r := labelledRow{truth: it.text, truthV: it.num}
		if rec.classifier {
			row.truth = float64(dm.classIndex(version, it.text))
			t.live.classifier = true
			r.pred = dm.class(rec.version, row.pred)
		} else {
			row.truth = it.num
			r.predV = row.pred
		}
		t.live.add(r, set.WindowRows, now)
		touched[version] = true
		res.Accepted++
	}
	type check struct {
		version int
		q       joule.LiveQuality
		was     bool
	}
	var checks []check
	versions := make([]int, 0, len(touched))
	for v := range touched {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	for _, v := range versions {
		t := dm.tracks[v]
		q := t.live.quality(v, set)
		was := t.live.alerting
		t.live.alerting = qualityBad(q.Window, set) != ""
		q.Alerting = t.live.alerting
		checks = append(checks, check{v, q, was})
		res.Live = append(res.Live, q)
	}
	dm.mu.Unlock()
	for _, c := range checks {
		switch why := qualityBad(c.q.Window, set); {
		case why != "" && !c.was:
			m.mon.alert(ctx, spec, fmt.Sprintf("live quality: version %d: %s", c.version, why))
		case why == "" && c.was:
			m.event(ctx, spec, joule.DeploymentAlert, 0, 0, fmt.Sprintf("live quality: version %d is within its thresholds again over the latest %d labelled rows", c.version, c.q.Window.Rows))
		}
	}
	return res, nil
}

// qualityBad says why window metrics are past the thresholds ("" when
// they are not, or hold fewer than MinLabels rows).
func qualityBad(w joule.QualityMetrics, set joule.DeploymentMonitor) string {
	if w.Rows < int64(set.MinLabels) {
		return ""
	}
	if set.MinAccuracy > 0 && w.Accuracy != nil && *w.Accuracy < set.MinAccuracy {
		return fmt.Sprintf("accuracy %.4f over the latest %d labelled rows is below monitor.min_accuracy %g", *w.Accuracy, w.Rows, set.MinAccuracy)
	}
	if set.MaxRMSE > 0 && w.RMSE != nil && *w.RMSE > set.MaxRMSE {
		return fmt.Sprintf("RMSE %.4g over the latest %d labelled rows is above monitor.max_rmse %g", *w.RMSE, w.Rows, set.MaxRMSE)
	}
	return ""
}
