package ml_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule/internal/ml"
)

// sklearnMetrics is testdata/metrics.json, written by
// scripts/make-ml-expected.py with scikit-learn 1.2.1.
type sklearnMetrics struct {
	Multiclass struct {
		K         int
		Y, Pred   []int
		Prob      [][]float64
		LogLoss   float64 `json:"log_loss"`
		Confusion [][]int
		Macro     map[string]float64
		Weighted  map[string]float64
		PerClass  struct {
			Precision, Recall, F1 []float64
			Support               []int
		} `json:"per_class"`
	}
	Calibration struct {
		Y     []int
		Prob  []float64
		Cases []struct {
			Bins     int
			ProbTrue []float64 `json:"prob_true"`
			ProbPred []float64 `json:"prob_pred"`
		}
	}
	BinaryLogLoss float64 `json:"binary_log_loss"`
	NDCG          struct {
		Relevance, Score [][]float64
		Cases            []struct {
			K    int
			NDCG float64
		}
	}
}

func readSklearnMetrics(t *testing.T) *sklearnMetrics {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s sklearnMetrics
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*max(1, math.Abs(b)) }

func nearAll(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !near(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestMulticlassMetricsSklearn(t *testing.T) {
	t.Parallel()
	s := readSklearnMetrics(t).Multiclass
	ll, err := ml.LogLoss(s.Y, s.Prob)
	if err != nil || !near(ll, s.LogLoss) {
		t.Errorf("LogLoss = %v, %v; scikit-learn %v", ll, err, s.LogLoss)
	}
	m, err := ml.ScoreMulticlass(s.Y, s.Pred, s.K)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Confusion, m.Confusion); diff != "" {
		t.Errorf("confusion matrix (-sklearn +joule):\n%s", diff)
	}
	if diff := cmp.Diff(s.PerClass.Support, m.Support); diff != "" {
		t.Errorf("support (-sklearn +joule):\n%s", diff)
	}
	for c := range s.K {
		got, want := m.PerClass[c], []float64{s.PerClass.Precision[c], s.PerClass.Recall[c], s.PerClass.F1[c]}
		if !nearAll([]float64{got.Precision, got.Recall, got.F1}, want) {
			t.Errorf("class %d: %+v, scikit-learn P/R/F1 %v", c, got, want)
		}
	}
	for name, pair := range map[string]struct {
		got  ml.ClassScores
		want map[string]float64
	}{"macro": {m.Macro, s.Macro}, "weighted": {m.Weighted, s.Weighted}} {
		g, w := pair.got, pair.want
		if !nearAll([]float64{g.Precision, g.Recall, g.F1}, []float64{w["precision"], w["recall"], w["f1"]}) {
			t.Errorf("%s: %+v, scikit-learn %v", name, g, w)
		}
	}
}

func TestCalibrationAndBinaryLogLossSklearn(t *testing.T) {
	t.Parallel()
	all := readSklearnMetrics(t)
	s := all.Calibration
	for _, c := range s.Cases {
		frac, mean, err := ml.CalibrationCurve(s.Y, s.Prob, c.Bins)
		if err != nil {
			t.Fatal(err)
		}
		if !nearAll(frac, c.ProbTrue) || !nearAll(mean, c.ProbPred) {
			t.Errorf("%d bins: CalibrationCurve = %v, %v; scikit-learn %v, %v", c.Bins, frac, mean, c.ProbTrue, c.ProbPred)
		}
	}
	rows := make([][]float64, len(s.Prob))
	for i, p := range s.Prob {
		rows[i] = []float64{1 - p, p}
	}
	if ll, err := ml.LogLoss(s.Y, rows); err != nil || !near(ll, all.BinaryLogLoss) {
		t.Errorf("binary LogLoss = %v, %v; scikit-learn %v", ll, err, all.BinaryLogLoss)
	}
}

func TestNDCGSklearn(t *testing.T) {
	t.Parallel()
	s := readSklearnMetrics(t).NDCG
	for _, c := range s.Cases {
		got, err := ml.NDCG(s.Relevance, s.Score, c.K)
		if err != nil || !near(got, c.NDCG) {
			t.Errorf("NDCG@%d = %v, %v; scikit-learn %v", c.K, got, err, c.NDCG)
		}
	}
}

// TestScoreTopK works two users by hand.
func TestScoreTopK(t *testing.T) {
	t.Parallel()
	rec := [][]int{{5, 1, 9, 7}, {2, 3, 4, 8}, {1}}
	rel := [][]int{{1, 7, 20}, {6}, {}} // the third user has nothing held out: skipped
	got, err := ml.ScoreTopK(rec, rel, 3)
	if err != nil {
		t.Fatal(err)
	}
	// User 0: hit at rank 2 only (7 is at rank 4); precision 1/3, recall
	// 1/3, DCG 1/log2(3), IDCG 1 + 1/log2(3) + 1/2. User 1: no hit.
	l3 := 1 / math.Log2(3)
	want := ml.TopKMetrics{K: 3, Users: 2, Precision: (1.0 / 3) / 2, Recall: (1.0 / 3) / 2,
		NDCG: l3 / (1 + l3 + 0.5) / 2, HitRate: 0.5}
	if diff := cmp.Diff(want, got, cmp.Comparer(near)); diff != "" {
		t.Errorf("ScoreTopK (-want +got):\n%s", diff)
	}
	// Binary-relevance NDCG of a list is NDCG over ranks as scores.
	nd, err := ml.NDCG([][]float64{{0, 1, 0, 1, 0, 1}}, [][]float64{{6, 5, 4, 3, 2, 1}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	k0, err := ml.ScoreTopK([][]int{{5, 1, 9, 7, 8, 20}}, [][]int{{1, 7, 20}}, 3)
	if err != nil || !near(k0.NDCG, nd) {
		t.Errorf("ScoreTopK NDCG = %v, %v; NDCG %v", k0.NDCG, err, nd)
	}
}

func TestClassMetricsErrors(t *testing.T) {
	t.Parallel()
	if _, err := ml.LogLoss([]int{0, 2}, [][]float64{{0.5, 0.5}, {0.5, 0.5}}); !errors.Is(err, ml.ErrLabel) {
		t.Errorf("LogLoss class out of range: %v", err)
	}
	if _, err := ml.LogLoss([]int{0}, [][]float64{{1.5, -0.5}}); !errors.Is(err, ml.ErrProbability) {
		t.Errorf("LogLoss bad probability: %v", err)
	}
	if _, err := ml.LogLoss([]int{0, 1}, [][]float64{{0.5, 0.5}, {1}}); !errors.Is(err, ml.ErrProbability) {
		t.Errorf("LogLoss ragged: %v", err)
	}
	if _, err := ml.ScoreMulticlass([]int{0, 3}, []int{0, 1}, 3); !errors.Is(err, ml.ErrLabel) {
		t.Errorf("ScoreMulticlass class out of range: %v", err)
	}
	if _, err := ml.ConfusionMatrix(nil, nil, 2); !errors.Is(err, ml.ErrLength) {
		t.Errorf("ConfusionMatrix empty: %v", err)
	}
	if _, _, err := ml.CalibrationCurve([]int{0, 1}, []float64{0.5, math.NaN()}, 5); !errors.Is(err, ml.ErrProbability) {
		t.Errorf("CalibrationCurve NaN: %v", err)
	}
	if _, _, err := ml.CalibrationCurve([]int{0, 1}, []float64{0.5, 0.2}, 0); err == nil {
		t.Error("CalibrationCurve 0 bins: no error")
	}
	if _, err := ml.NDCG([][]float64{{1, 2}}, [][]float64{{1}}, 0); !errors.Is(err, ml.ErrLength) {
		t.Errorf("NDCG ragged: %v", err)
	}
	if _, err := ml.ScoreTopK([][]int{{1}}, [][]int{{}}, 5); !errors.Is(err, ml.ErrOneClass) {
		t.Errorf("ScoreTopK with nothing relevant: %v", err)
	}
	if _, err := ml.ScoreTopK([][]int{{1}}, [][]int{{1}}, 0); err == nil {
		t.Error("ScoreTopK k=0: no error")
	}
}
