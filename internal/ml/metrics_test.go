package ml_test

import (
	"errors"
	"math"
	"testing"

	"github.com/joule-dev/joule/internal/ml"
)

func TestConfusionMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		y, pred            []int
		acc, prec, rec, f1 float64
	}{
		// TP=2 FP=1 TN=2 FN=1.
		{"mixed", []int{1, 1, 1, 0, 0, 0}, []int{1, 1, 0, 1, 0, 0}, 4.0 / 6, 2.0 / 3, 2.0 / 3, 2.0 / 3},
		// TP=1 FP=0 FN=2: precision 1, recall 1/3, F1 = 2/(2+2) = 0.5.
		{"conservative", []int{1, 1, 1, 0}, []int{1, 0, 0, 0}, 0.5, 1, 1.0 / 3, 0.5},
		// Nothing predicted positive: zero_division=0.
		{"no positive predictions", []int{1, 0, 0}, []int{0, 0, 0}, 2.0 / 3, 0, 0, 0},
		// sklearn docs (binary subset): y=[0,1,1,0], pred=[0,1,0,0].
		{"perfect precision", []int{0, 1, 1, 0}, []int{0, 1, 0, 0}, 0.75, 1, 0.5, 2.0 / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ml.NewConfusion(tt.y, tt.pred)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []struct {
				name      string
				got, want float64
			}{
				{"Accuracy", c.Accuracy(), tt.acc},
				{"Precision", c.Precision(), tt.prec},
				{"Recall", c.Recall(), tt.rec},
				{"F1", c.F1(), tt.f1},
			} {
				if math.Abs(m.got-m.want) > 1e-12 {
					t.Errorf("%s(%v, %v) = %v, want %v", m.name, tt.y, tt.pred, m.got, m.want)
				}
			}
		})
	}
}

func TestConfusionErrors(t *testing.T) {
	t.Parallel()
	if _, err := ml.NewConfusion([]int{1}, []int{1, 0}); !errors.Is(err, ml.ErrLength) {
		t.Errorf("length mismatch: err = %v, want ErrLength", err)
	}
	if _, err := ml.NewConfusion([]int{2}, []int{1}); !errors.Is(err, ml.ErrLabel) {
		t.Errorf("label 2: err = %v, want ErrLabel", err)
	}
}

func TestRankingMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		y       []int
		score   []float64
		auc, ap float64
	}{
		// The examples in scikit-learn's roc_auc_score and
		// average_precision_score docs.
		{"sklearn docs", []int{0, 0, 1, 1}, []float64{0.1, 0.4, 0.35, 0.8}, 0.75, 0.8333333333333333},
		{"perfect", []int{0, 0, 1, 1}, []float64{0.1, 0.2, 0.3, 0.4}, 1, 1},
		// AP = 1/2·1/3 (at 0.2) + 1/2·1/2 (at 0.1) = 5/12.
		{"reversed", []int{1, 1, 0, 0}, []float64{0.1, 0.2, 0.3, 0.4}, 0, 5.0 / 12},
		// All tied: one diagonal step; AP = recall 1 × precision 1/2.
		{"all tied", []int{0, 1}, []float64{0.5, 0.5}, 0.5, 0.5},
		// Ties across classes: thresholds 0.9 (TP1 FP1) and 0.1 (TP2 FP2).
		{"tied pairs", []int{1, 0, 1, 0}, []float64{0.9, 0.9, 0.1, 0.1}, 0.5, 0.5},
		// Thresholds 0.8 (TP1 FP0), 0.6 (TP2 FP1), 0.2 (TP3 FP2):
		// ROC points (0,1/3) (1/2,2/3) (1,1): area = 1/2·(1/3+2/3)/2 + 1/2·(2/3+1)/2 = 2/3.
		// AP = 1/3·1 + 1/3·2/3 + 1/3·3/5 = 0.7555….
		{"tie straddles", []int{1, 1, 0, 1, 0}, []float64{0.8, 0.6, 0.6, 0.2, 0.2}, 2.0 / 3, (1 + 2.0/3 + 3.0/5) / 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			auc, err := ml.ROCAUC(tt.y, tt.score)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(auc-tt.auc) > 1e-12 {
				t.Errorf("ROCAUC(%v, %v) = %v, want %v", tt.y, tt.score, auc, tt.auc)
			}
			ap, err := ml.AveragePrecision(tt.y, tt.score)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ap-tt.ap) > 1e-12 {
				t.Errorf("AveragePrecision(%v, %v) = %v, want %v", tt.y, tt.score, ap, tt.ap)
			}
		})
	}
}

func TestRankingErrors(t *testing.T) {
	t.Parallel()
	if _, err := ml.ROCAUC([]int{1, 1}, []float64{0.1, 0.2}); !errors.Is(err, ml.ErrOneClass) {
		t.Errorf("ROCAUC one class: err = %v, want ErrOneClass", err)
	}
	if _, err := ml.AveragePrecision([]int{0, 0}, []float64{0.1, 0.2}); !errors.Is(err, ml.ErrOneClass) {
		t.Errorf("AveragePrecision no positives: err = %v, want ErrOneClass", err)
	}
	if _, err := ml.ROCAUC(nil, nil); !errors.Is(err, ml.ErrLength) {
		t.Errorf("ROCAUC empty: err = %v, want ErrLength", err)
	}
}

func TestStandardScaler(t *testing.T) {
	t.Parallel()
	X := [][]float64{{1, 5, 0}, {2, 5, 10}, {3, 5, 20}, {6, 5, 30}}
	s, err := ml.FitStandardScaler(X)
	if err != nil {
		t.Fatal(err)
	}
	// Column 0: mean 3, population variance (4+1+0+9)/4 = 3.5.
	// Column 1 is constant: scale 1. Column 2: mean 15, variance 125.
	wantMean := []float64{3, 5, 15}
	wantScale := []float64{math.Sqrt(3.5), 1, math.Sqrt(125)}
	for j := range wantMean {
		if math.Abs(s.Mean[j]-wantMean[j]) > 1e-12 || math.Abs(s.Scale[j]-wantScale[j]) > 1e-12 {
			t.Errorf("feature %d: mean %v scale %v, want %v %v", j, s.Mean[j], s.Scale[j], wantMean[j], wantScale[j])
		}
	}
	out, err := s.Transform([][]float64{{3, 7, 15}})
	if err != nil {
		t.Fatal(err)
	}
	if out[0][0] != 0 || out[0][1] != 2 || out[0][2] != 0 {
		t.Errorf("Transform = %v, want [0 2 0]", out[0])
	}
	if _, err := s.Transform([][]float64{{1}}); err == nil {
		t.Error("Transform of a short row: no error")
	}
}
