package xgb_test

import (
	"encoding/csv"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/joule-dev/joule/internal/ml/xgb"
)

var fixtures = []string{"binary", "softprob", "softmax", "regression"}

// fixture is one testdata model and xgboost's own outputs for its rows,
// as scripts/make-xgb-fixtures.py wrote them.
type fixture struct {
	model        []byte
	X            [][]float64
	margin, pred [][]float64
}

func readFixture(t testing.TB, name string) fixture {
	t.Helper()
	model, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", name+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	fx := fixture{model: model}
	head := rows[0]
	nm, np := 0, 0
	for _, h := range head {
		switch {
		case strings.HasPrefix(h, "margin"):
			nm++
		case strings.HasPrefix(h, "pred"):
			np++
		}
	}
	nf := len(head) - nm - np
	for _, r := range rows[1:] {
		vals := make([]float64, len(r))
		for j, s := range r {
			if s == "" {
				vals[j] = math.NaN()
				continue
			}
			// The script writes float32 values in their shortest form;
			// read them back as float32, as xgboost holds them.
			v, err := strconv.ParseFloat(s, 32)
			if err != nil {
				t.Fatal(err)
			}
			vals[j] = v
		}
		fx.X = append(fx.X, vals[:nf])
		fx.margin = append(fx.margin, vals[nf:nf+nm])
		fx.pred = append(fx.pred, vals[nf+nm:])
	}
	return fx
}

// TestFixtures checks that the margins and predictions of every fixture
// model equal xgboost's on every fixture row, to 1e-6.
func TestFixtures(t *testing.T) {
	t.Parallel()
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := readFixture(t, name)
			m, err := xgb.Parse(fx.model)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, m.NumOutputs())
			missing, worst := 0, 0.0
			for i, x := range fx.X {
				for _, v := range x {
					if math.IsNaN(v) {
						missing++
					}
				}
				m.Margin(x, out)
				for k, v := range out {
					d := math.Abs(float64(v) - fx.margin[i][k])
					worst = max(worst, d)
					if d > 1e-6 {
						t.Errorf("row %d: margin %d = %v, xgboost %v", i, k, v, fx.margin[i][k])
					}
				}
				m.Transform(out)
				if m.Objective == xgb.MultiSoftmax {
					best := 0
					for k, v := range out {
						if v > out[best] {
							best = k
						}
					}
					if float64(best) != fx.pred[i][0] {
						t.Errorf("row %d: class %d, xgboost %v", i, best, fx.pred[i][0])
					}
					continue
				}
				for k, v := range out {
					d := math.Abs(float64(v) - fx.pred[i][k])
					worst = max(worst, d)
					if d > 1e-6 {
						t.Errorf("row %d: prediction %d = %v, xgboost %v", i, k, v, fx.pred[i][k])
					}
				}
			}
			t.Logf("%d rows, %d missing values, largest difference from xgboost %.3g", len(fx.X), missing, worst)
			if missing == 0 {
				t.Error("no missing values in the fixture: default directions go untested")
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(filepath.Join("testdata", "softprob.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	for _, tt := range []struct {
		name, data, want string
	}{
		{"empty", "", "EOF"},
		{"truncated", s[:len(s)/2], "unexpected EOF"},
		{"not a model", `{"a": 1}`, "no learner"},
		{"trailing data", s + "{}", "data after the model"},
		{"gblinear", strings.Replace(s, `"name":"gbtree"`, `"name":"gblinear"`, 1), `booster "gblinear"`},
		{"objective", strings.Replace(s, `"multi:softprob"`, `"rank:pairwise"`, 1), `objective "rank:pairwise" is not supported`},
		{"child out of range", strings.Replace(s, `"left_children":[1,`, `"left_children":[99,`, 1), "child 99"},
		{"cycle", strings.Replace(s, `"left_children":[1,`, `"left_children":[0,`, 1), "reached twice"},
		{"feature out of range", strings.Replace(s, `"split_indices":[12,`, `"split_indices":[13,`, 1), "feature 13 of 13"},
		{"negative feature", strings.Replace(s, `"split_indices":[12,`, `"split_indices":[-1,`, 1), "feature -1"},
		{"categorical", strings.Replace(s, `"split_type":[0,`, `"split_type":[1,`, 1), "categorical"},
		{"num_feature", strings.Replace(s, `"num_class":"3","num_feature":"13"`, `"num_class":"3","num_feature":"x"`, 1), "num_feature"},
		{"tree_info", strings.Replace(s, `"tree_info":[0,`, `"tree_info":[7,`, 1), "output 7 of 3"},
		{"num_trees", strings.Replace(s, `"num_trees":"60"`, `"num_trees":"61"`, 1), "num_trees says 61"},
		{"default_left", strings.Replace(s, `"default_left":[1,`, `"default_left":[2,`, 1), "default_left entry 2"},
		{"threshold overflow", strings.Replace(s, `"split_conditions":[4.5E0,`, `"split_conditions":[1E300,`, 1), "float32"},
	} {
		if tt.data == s && tt.name != "trailing data" {
			t.Fatalf("%s: the replacement did not apply", tt.name)
		}
		_, err := xgb.Parse([]byte(tt.data))
		if err == nil || !errors.Is(err, xgb.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Parse = %v, want an ErrInvalid naming %q", tt.name, err, tt.want)
		}
	}
}

// FuzzParse checks that no input makes Parse panic, and that a model it
// accepts predicts without panicking, missing values included. The seeds
// are whole fixture models (up to 120 kB), so fuzz with a short
// minimisation, or the fuzzer spends its time shrinking each new input:
//
//	go test -run '^$' -fuzz FuzzParse -fuzzminimizetime 100x ./internal/ml/xgb
func FuzzParse(f *testing.F) {
	for _, name := range fixtures {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"learner":{"learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"1"},` +
		`"objective":{"name":"reg:squarederror"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],` +
		`"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[0,0,0],` +
		`"split_conditions":[0.5,1,2],"default_left":[1,0,0],"split_type":[0,0,0]}]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := xgb.Parse(data)
		if err != nil {
			if !errors.Is(err, xgb.ErrInvalid) {
				t.Errorf("Parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		out := make([]float32, m.NumOutputs())
		for _, v := range []float64{0, math.NaN(), math.Inf(1), -1e30} {
			x := make([]float64, m.NumFeatures)
			for j := range x {
				x[j] = v
			}
			m.Margin(x, out)
			m.Transform(out)
		}
	})
}
