package serving

import (
	"math"
	"testing"

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/ml"
)

// fastPredictor is a predictor over a float, b float, n integer and f
// boolean, for comparing fastMatrix with the full parser.
func fastPredictor(t testing.TB) *Predictor {
	t.Helper()
	est, err := ml.New("logistic_regression", ml.Classification, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := est.Fit([][]float64{{0, 0, 0, 0}, {1, 1, 1, 1}, {0, 1, 2, 0}, {1, 0, 3, 1}}, []float64{0, 1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	mv := joule.ModelVersion{Version: 1, Features: []joule.ModelFeature{
		{Name: "a", Type: joule.TypeFloat}, {Name: "b", Type: joule.TypeFloat},
		{Name: "n", Type: joule.TypeInteger}, {Name: "f", Type: joule.TypeBoolean}}}
	p, err := NewPredictor(mv, m, []string{"no", "yes"}, nil, nil, dataset.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkFast fails when fastMatrix takes a body that the full parser
// refuses, or reads a value other than the full parser's, bit for bit.
func checkFast(t *testing.T, p *Predictor, body string, maxBatch int) (taken bool) {
	t.Helper()
	fast, ok := p.fastMatrix([]byte(body), maxBatch)
	if !ok {
		return false
	}
	q, err := parseRequest([]byte(body), maxBatch)
	if err != nil {
		t.Fatalf("fastMatrix took %q, but parseRequest says %v", body, err)
	}
	full, err := p.matrix(t.Context(), q)
	if err != nil {
		t.Fatalf("fastMatrix took %q, but matrix says %v", body, err)
	}
	if len(fast) != len(full) {
		t.Fatalf("fastMatrix(%q) = %d rows, want %d", body, len(fast), len(full))
	}
	for i := range full {
		for j := range full[i] {
			if math.Float64bits(fast[i][j]) != math.Float64bits(full[i][j]) {
				t.Fatalf("fastMatrix(%q)[%d][%d] = %v, want %v", body, i, j, fast[i][j], full[i][j])
			}
		}
	}
	return true
}

func TestFastMatrix(t *testing.T) {
	t.Parallel()
	p := fastPredictor(t)
	for _, tc := range []struct {
		name  string
		body  string
		taken bool
	}{
		{"one row", `{"instances":[{"a":1.5,"b":-2,"n":3,"f":1}]}`, true},
		{"white space and order", " {\n \"instances\" : [ { \"f\":0 , \"n\":-0, \"b\":1e-3,\t\"a\":0.1 } , {\"a\":2,\"b\":3,\"n\":4E2,\"f\":1} ] }\r\n", true},
		{"exponents", `{"instances":[{"a":1.7976931348623157e308,"b":5e-324,"n":1e2,"f":0}]}`, true},
		{"missing feature", `{"instances":[{"a":1,"b":2,"n":3}]}`, false},
		{"unknown field", `{"instances":[{"a":1,"b":2,"n":3,"f":0,"z":1}]}`, false},
		{"duplicate", `{"instances":[{"a":1,"a":2,"b":2,"n":3,"f":0}]}`, false},
		{"string value", `{"instances":[{"a":"1","b":2,"n":3,"f":0}]}`, false},
		{"null", `{"instances":[{"a":null,"b":2,"n":3,"f":0}]}`, false},
		{"boolean", `{"instances":[{"a":1,"b":2,"n":3,"f":true}]}`, false},
		{"fraction for integer", `{"instances":[{"a":1,"b":2,"n":3.5,"f":0}]}`, false},
		{"two for boolean", `{"instances":[{"a":1,"b":2,"n":3,"f":2}]}`, false},
		{"leading zero", `{"instances":[{"a":01,"b":2,"n":3,"f":0}]}`, false},
		{"overflow", `{"instances":[{"a":1e400,"b":2,"n":3,"f":0}]}`, false},
		{"escaped key", `{"instances":[{"\u0061":1,"b":2,"n":3,"f":0}]}`, false},
		{"columns", `{"inputs":{"a":[1],"b":[2],"n":[3],"f":[0]}}`, false},
		{"empty", `{"instances":[]}`, false},
		{"trailing data", `{"instances":[{"a":1,"b":2,"n":3,"f":0}]} {}`, false},
		{"trailing comma", `{"instances":[{"a":1,"b":2,"n":3,"f":0},]}`, false},
		{"over max batch", `{"instances":[{"a":1,"b":2,"n":3,"f":0},{"a":1,"b":2,"n":3,"f":0},{"a":1,"b":2,"n":3,"f":0}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := checkFast(t, p, tc.body, 2); got != tc.taken {
				t.Errorf("fastMatrix(%q) taken = %t, want %t", tc.body, got, tc.taken)
			}
		})
	}
}

// FuzzFastMatrix checks that the fast path never takes a body the full
// parser refuses and always reads the same numbers.
func FuzzFastMatrix(f *testing.F) {
	f.Add(`{"instances":[{"a":1.5,"b":-2,"n":3,"f":1}]}`)
	f.Add(`{"instances":[{"f":0,"n":-0,"b":1e-3,"a":0.1},{"a":2,"b":3,"n":4E2,"f":1}]}`)
	f.Add(`{"instances":[{"a":1e400,"b":2,"n":3,"f":0}]}`)
	f.Add(`{"inputs":{"a":[1],"b":[2],"n":[3],"f":[0]}}`)
	p := fastPredictor(f)
	f.Fuzz(func(t *testing.T, body string) {
		checkFast(t, p, body, 3)
	})
}
