package ml_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/modelfile"
	"github.com/joule-dev/joule/internal/ml/xgb"
)

// xgbFixture reads a model of internal/ml/xgb/testdata (made by
// scripts/make-xgb-fixtures.py) with its rows and xgboost's predictions.
func xgbFixture(t testing.TB, name string) ([]byte, [][]float64, [][]float64) {
	t.Helper()
	model, err := os.ReadFile(filepath.Join("xgb", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("xgb", "testdata", name+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	nf, np := 0, 0
	for _, h := range rows[0] {
		switch {
		case strings.HasPrefix(h, "f"):
			nf++
		case strings.HasPrefix(h, "pred"):
			np++
		}
	}
	var X, pred [][]float64
	for _, r := range rows[1:] {
		v := make([]float64, len(r))
		for j, s := range r {
			v[j] = math.NaN()
			if s != "" {
				if v[j], err = strconv.ParseFloat(s, 32); err != nil {
					t.Fatal(err)
				}
			}
		}
		X, pred = append(X, v[:nf]), append(pred, v[len(v)-np:])
	}
	return model, X, pred
}

// TestImportXGBoost checks that an imported model predicts as xgboost
// does on every fixture row (1e-6), and that Save and Load keep it
// exactly.
func TestImportXGBoost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		task    ml.Task
		classes int
	}{
		{"binary", ml.Classification, 2},
		{"softprob", ml.Classification, 3},
		{"softmax", ml.Classification, 3},
		{"regression", ml.Regression, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, X, want := xgbFixture(t, tt.name)
			m, h, err := ml.ImportXGBoost(data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Task() != tt.task || m.Algorithm() != "xgboost" || len(h.Features) != len(X[0]) || len(h.Classes) != tt.classes {
				t.Fatalf("imported %s %s, %d features, classes %v", m.Algorithm(), m.Task(), len(h.Features), h.Classes)
			}
			var buf bytes.Buffer
			if err := ml.Save(&buf, m, *h); err != nil {
				t.Fatal(err)
			}
			loaded, lh, err := ml.Load(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if lh.Params["objective"] != h.Params["objective"] {
				t.Errorf("loaded objective %q, want %q", lh.Params["objective"], h.Params["objective"])
			}
			for i, x := range X {
				got, again := predictAll(m, x), predictAll(loaded, x)
				for k := range got {
					if got[k] != again[k] {
						t.Fatalf("row %d: loaded model gives %v, imported %v", i, again, got)
					}
				}
				switch {
				case h.Params["objective"] == xgb.MultiSoftmax:
					if c := ml.PredictClass(m.(ml.Classifier), x); float64(c) != want[i][0] {
						t.Errorf("row %d: class %d, xgboost %v", i, c, want[i][0])
					}
				case tt.classes == 2:
					if d := math.Abs(got[1] - want[i][0]); d > 1e-6 {
						t.Errorf("row %d: P(1) = %v, xgboost %v", i, got[1], want[i][0])
					}
				default:
					for k := range got {
						if d := math.Abs(got[k] - want[i][k]); d > 1e-6 {
							t.Errorf("row %d: output %d = %v, xgboost %v", i, k, got[k], want[i][k])
						}
					}
				}
			}
		})
	}
}

func TestImportXGBoostErrors(t *testing.T) {
	t.Parallel()
	for _, data := range []string{"", "{", `{"learner":{}}`, "null"} {
		if _, _, err := ml.ImportXGBoost([]byte(data)); !errors.Is(err, xgb.ErrInvalid) {
			t.Errorf("ImportXGBoost(%q) = %v, want xgb.ErrInvalid", data, err)
		}
	}
}

// FuzzDecodeXGBoost rewraps fuzzed bodies of imported models in a valid
// model file, so that the fuzzer reaches the xgboost decoder.
func FuzzDecodeXGBoost(f *testing.F) {
	for i, name := range []string{"binary", "regression"} {
		data, _, _ := xgbFixture(f, name)
		m, h, err := ml.ImportXGBoost(data)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := ml.Save(&buf, m, *h); err != nil {
			f.Fatal(err)
		}
		_, body := splitBody(f, buf.Bytes())
		f.Add(append([]byte{byte(i)}, body...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		task := []ml.Task{ml.Classification, ml.Regression}[data[0]%2]
		var buf bytes.Buffer
		h := &modelfile.Header{Algorithm: "xgboost", Task: string(task)}
		if err := modelfile.Write(&buf, h, func(e *modelfile.Encoder) { e.Raw(data[1:]) }); err != nil {
			t.Fatal(err)
		}
		m, _, err := ml.Load(buf.Bytes())
		if err != nil {
			if !errors.Is(err, modelfile.ErrCorrupt) {
				t.Errorf("Load error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		x := make([]float64, m.NumFeatures())
		predictAll(m, x)
		x[0] = math.NaN()
		predictAll(m, x)
	})
}
