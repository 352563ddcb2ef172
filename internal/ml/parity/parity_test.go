package parity_test

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule/internal/ml"
)

var (
	update = flag.Bool("update", false, "rewrite docs/parity.md (needs JOULE_PARITY=full)")
	nan    = math.NaN()
)

// Tolerances of issue 6. Deterministic models must land within detAbs on
// accuracy and ROC AUC and detRel on RMSE; randomised ones within rndAbs
// and rndRel, or beat scikit-learn.
const (
	detAbs = 0.005
	detRel = 0.01
	rndAbs = 0.03
	rndRel = 0.05
)

// full reports whether the slow rows run (JOULE_PARITY=full): the forests,
// boosting and RBF SVM on the 14k–42k-row sets. They take minutes on a
// 2-core machine, so the default go test path leaves them out.
func full() bool { return os.Getenv("JOULE_PARITY") == "full" }

// allowed lists the misses docs/parity.md explains, keyed by
// "file|model prefix|metric" (the file with " chrono" appended for the
// chronological split). A listed miss does not fail the test; an unlisted
// one does, and so does a listed entry that no longer misses, so the list
// stays honest.
var allowed = map[string]string{}

// result is one row of the report.
type result struct {
	model   string
	cells   []string // "sklearn / joule" per metric column
	verdict string
	ms      float64
}

func TestParity(t *testing.T) {
	secs, err := readReference()
	if err != nil {
		t.Fatal(err)
	}
	var md strings.Builder
	used := map[string]bool{}
	skipped := 0
	for _, s := range secs {
		var results []result
		switch s.kind {
		case "classification":
			results, skipped = runClassification(t, s, used, skipped)
		case "regression":
			results, skipped = runRegression(t, s, used, skipped)
		case "ratings":
			results = runRatings(t, s, used)
		default:
			t.Fatalf("REFERENCE.md: unknown section kind %q", s.kind)
		}
		writeSection(&md, s, results)
	}
	if full() {
		for k := range allowed {
			if !used[k] {
				t.Errorf("allow-list entry %q matched no miss: remove it", k)
			}
		}
	}
	if skipped > 0 {
		t.Logf("%d slow rows skipped; set JOULE_PARITY=full to run them", skipped)
	}
	if *update {
		if !full() || skipped > 0 {
			t.Fatal("-update needs JOULE_PARITY=full so that every row is in docs/parity.md")
		}
		if err := writeDoc(md.String()); err != nil {
			t.Fatal(err)
		}
	}
}

// check compares a joule number with scikit-learn's and records the
// verdict. higher says whether bigger is better; rel selects a relative
// tolerance.
type check struct {
	t       *testing.T
	key     string
	det     bool
	used    map[string]bool
	verdict []string
}

func (c *check) metric(name string, sk, got float64, higher bool) {
	if math.IsNaN(sk) {
		return
	}
	var ok, better bool
	var diff string
	if higher {
		tol := rndAbs
		if c.det {
			tol = detAbs
		}
		ok = math.Abs(got-sk) <= tol+5e-5 // REFERENCE.md rounds to 4 decimals
		better = !c.det && got > sk
		diff = fmt.Sprintf("%+.4f", got-sk)
	} else {
		tol := rndRel
		if c.det {
			tol = detRel
		}
		ok = math.Abs(got-sk) <= tol*sk+5e-5
		better = !c.det && got < sk
		diff = fmt.Sprintf("%+.1f%%", 100*(got-sk)/sk)
	}
	key := c.key + "|" + name
	switch {
	case ok:
	case better:
		c.verdict = append(c.verdict, name+" better")
	default:
		if reason, listed := allowed[key]; listed {
			c.used[key] = true
			c.verdict = append(c.verdict, fmt.Sprintf("%s miss %s (allowed: %s)", name, diff, reason))
			return
		}
		c.t.Errorf("%s: %s = %.4f, scikit-learn %.4f (%s): outside tolerance", c.key, name, got, sk, diff)
		c.verdict = append(c.verdict, fmt.Sprintf("%s MISS %s", name, diff))
	}
}

func (c *check) String() string {
	if len(c.verdict) == 0 {
		return "ok"
	}
	return strings.Join(c.verdict, "; ")
}

func modelPrefix(label string) string {
	p, _, _ := strings.Cut(label, " (")
	return p
}

func sectionKey(s *section) string {
	k := s.file
	if s.chrono {
		k += " chrono"
	}
	if s.target != "" {
		k += " " + s.target
	}
	return k
}

func runClassification(t *testing.T, s *section, used map[string]bool, skipped int) ([]result, int) {
	d, err := loadClassification(s.file)
	if err != nil {
		t.Fatal(err)
	}
	tr, te := ml.TrainTestSplit(len(d.Y), 42)
	xtr, ytr := rowsAt(d.X, tr), rowsAt(d.Y, tr)
	xte, yte := rowsAt(d.X, te), rowsAt(d.Y, te)
	var out []result
	for _, r := range s.rows {
		prefix := modelPrefix(r.model)
		run, ok := classifiers[prefix]
		if !ok {
			t.Errorf("%s: no joule model for %q", s.file, r.model)
			continue
		}
		if run.slow(len(tr)) && !full() {
			skipped++
			out = append(out, result{model: r.model, verdict: "skipped (set JOULE_PARITY=full)"})
			continue
		}
		a, b := xtr, xte
		if strings.Contains(r.model, "[scaled]") {
			a, b = scale(t, xtr, xte)
		}
		start := time.Now()
		pred, score, err := run.fit(a, ytr, b)
		ms := float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			t.Errorf("%s %s: %v", s.file, prefix, err)
			continue
		}
		c, err := ml.NewConfusion(yte, pred)
		if err != nil {
			t.Fatal(err)
		}
		auc, err := ml.ROCAUC(yte, score)
		if err != nil {
			t.Fatal(err)
		}
		ap, err := ml.AveragePrecision(yte, score)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{
			"accuracy": c.Accuracy(), "precision": c.Precision(), "recall": c.Recall(),
			"F1": c.F1(), "ROC AUC": auc, "PR AUC (AP)": ap,
		}
		chk := &check{t: t, key: sectionKey(s) + "|" + prefix, det: run.det, used: used}
		chk.metric("accuracy", s.value(r, "accuracy"), c.Accuracy(), true)
		chk.metric("ROC AUC", s.value(r, "ROC AUC"), auc, true)
		out = append(out, result{model: r.model, cells: cells(s, r, got), verdict: chk.String(), ms: ms})
		t.Logf("%s | %s | %s | %s", s.file, prefix, strings.Join(cells(s, r, got), " | "), chk)
	}
	return out, skipped
}

func runRegression(t *testing.T, s *section, used map[string]bool, skipped int) ([]result, int) {
	X, y, err := loadRegression(s.file, s.target)
	if err != nil {
		t.Fatal(err)
	}
	var tr, te []int
	if s.chrono {
		tr, te = chronoSplit(len(y))
	} else {
		tr, te = ml.TrainTestSplit(len(y), 42)
	}
	xtr, ytr := rowsAt(X, tr), rowsAt(y, tr)
	xte, yte := rowsAt(X, te), rowsAt(y, te)
	var out []result
	for _, r := range s.rows {
		prefix := modelPrefix(r.model)
		var pred []float64
		var ms float64
		det := true
		if lag, ok := baselineLag(r.model); ok {
			pred = make([]float64, len(te))
			for k, i := range te {
				pred[k] = y[i-lag]
			}
		} else {
			run, ok := regressors[prefix]
			if !ok {
				t.Errorf("%s: no joule model for %q", s.file, r.model)
				continue
			}
			det = run.det
			if run.slow(len(tr)) && !full() {
				skipped++
				out = append(out, result{model: r.model, verdict: "skipped (set JOULE_PARITY=full)"})
				continue
			}
			a, b := xtr, xte
			if strings.Contains(r.model, "[scaled]") {
				a, b = scale(t, xtr, xte)
			}
			start := time.Now()
			pred, err = run.fit(a, ytr, b)
			ms = float64(time.Since(start).Microseconds()) / 1000
			if err != nil {
				t.Errorf("%s %s: %v", s.file, prefix, err)
				continue
			}
		}
		m, err := ml.ScoreRegression(yte, pred)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{"RMSE": m.RMSE, "MAE": m.MAE, "R2": m.R2}
		chk := &check{t: t, key: sectionKey(s) + "|" + prefix, det: det, used: used}
		chk.metric("RMSE", s.value(r, "RMSE"), m.RMSE, false)
		out = append(out, result{model: r.model, cells: cells(s, r, got), verdict: chk.String(), ms: ms})
		t.Logf("%s %s | %s | %s | %s", s.file, sectionKey(s), prefix, strings.Join(cells(s, r, got), " | "), chk)
	}
	return out, skipped
}

// baselineLag recognises the forecasting baselines: the train mean (lag
// -1 marks it) and y[t-lag].
func baselineLag(label string) (int, bool) {
	if _, rest, ok := strings.Cut(label, "(y[t-"); ok {
		var lag int
		if _, err := fmt.Sscanf(rest, "%d]", &lag); err == nil {
			return lag, true
		}
	}
	return 0, false
}

func cells(s *section, r refRow, got map[string]float64) []string {
	var out []string
	for i, col := range s.columns {
		g, ok := got[col]
		if !ok || i >= len(r.values) || math.IsNaN(r.values[i]) {
			continue
		}
		out = append(out, fmt.Sprintf("%.4f / %.4f", r.values[i], g))
	}
	return out
}

func scale(t *testing.T, a, b [][]float64) ([][]float64, [][]float64) {
	t.Helper()
	s, err := ml.FitStandardScaler(a)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := s.Transform(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := s.Transform(b)
	if err != nil {
		t.Fatal(err)
	}
	return sa, sb
}

func writeSection(md *strings.Builder, s *section, rs []result) {
	fmt.Fprintf(md, "\n### %s\n\n", s.heading)
	var metricCols []string
	for _, c := range s.columns {
		if c != "fit ms" {
			metricCols = append(metricCols, c)
		}
	}
	fmt.Fprintf(md, "| model | %s | joule fit ms | verdict |\n", strings.Join(metricCols, " | "))
	fmt.Fprintf(md, "|---|%s---|---|\n", strings.Repeat("---|", len(metricCols)))
	for _, r := range rs {
		c := append([]string(nil), r.cells...)
		for len(c) < len(metricCols) {
			c = append(c, "")
		}
		ms := "-"
		if r.ms > 0 {
			ms = fmt.Sprintf("%.1f", r.ms)
		}
		fmt.Fprintf(md, "| %s | %s | %s | %s |\n", r.model, strings.Join(c, " | "), ms, r.verdict)
	}
}

const docPath = "../../../docs/parity.md"

// writeDoc replaces the generated part of docs/parity.md, below its
// marker line, keeping the prose above it.
func writeDoc(tables string) error {
	const marker = "<!-- generated by go test ./internal/ml/parity -update; do not edit below -->"
	b, err := os.ReadFile(docPath)
	if err != nil {
		return err
	}
	head, _, ok := strings.Cut(string(b), marker)
	if !ok {
		return errors.New(filepath.Base(docPath) + ": no generated-section marker")
	}
	return os.WriteFile(docPath, []byte(head+marker+"\n"+tables), 0o644)
}
