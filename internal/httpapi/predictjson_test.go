package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"testing"

	"github.com/joule-dev/joule"
)

// compactJSON is what writeCompactJSON writes for v.
func compactJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return b.Bytes()
}

func TestAppendPredictJSON(t *testing.T) {
	cases := []joule.PredictResponse{
		{},
		{Deployment: "credit", Model: "german", ModelVersion: 3, Predictions: []any{}},
		{ID: "prd_01M8F489F404SK3J0000000001", Deployment: "rf", Model: "credit", ModelVersion: 1,
			Predictions: []any{"1", "0"}, Probabilities: []map[string]float64{{"0": 0.18, "1": 0.8200000000000001}, {"1": 0, "0": 1}}},
		{Deployment: "reg", Model: "m", ModelVersion: -2, Predictions: []any{1.5, math.Copysign(0, -1), 1e-7, 1e21, 123456789.125, 5e-324, math.MaxFloat64, 1e20, 0.000001}},
		{Deployment: "p", Model: "m", Predictions: []any{"a"}, Probabilities: []map[string]float64{nil, {"b": 2, "a": 1, "c": 1e-9}}},
		{Deployment: "p", Model: "m", Predictions: []any{"a"}, Probabilities: []map[string]float64{}},
	}
	for i, resp := range cases {
		want := compactJSON(t, resp)
		got, ok := appendPredictJSON(nil, &resp)
		if !ok {
			t.Errorf("case %d: not encoded", i)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
	// Outside the usual answer: refused, and writePredictJSON falls back.
	for i, resp := range []joule.PredictResponse{
		{Deployment: "q\"uote", Predictions: []any{"a"}},
		{Deployment: "d", Model: "<é>", Predictions: []any{"a"}},
		{Deployment: "d", Predictions: []any{true}},
		{Deployment: "d", Predictions: []any{1}},
		{Deployment: "d", Predictions: []any{"a\n"}},
		{Deployment: "d", Predictions: []any{"a"}, Probabilities: []map[string]float64{{"a": math.NaN()}}},
	} {
		if _, ok := appendPredictJSON(nil, &resp); ok {
			t.Errorf("fallback case %d: encoded", i)
		}
		rec := httptest.NewRecorder()
		writePredictJSON(rec, 200, &resp)
		if want := compactJSON(t, resp); want != nil && !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("fallback case %d: wrote %s, want %s", i, rec.Body.Bytes(), want)
		}
	}
}

func FuzzAppendPredictJSON(f *testing.F) {
	f.Add("rf", "credit", 1, "1", 0.18, 0.82, 2.5)
	f.Add("", "x\ty", -7, "é", 1e-7, -1e22, math.Inf(1))
	f.Fuzz(func(t *testing.T, dep, model string, version int, label string, p0, p1, v float64) {
		resp := joule.PredictResponse{ID: dep, Deployment: dep, Model: model, ModelVersion: version,
			Predictions:   []any{label, v},
			Probabilities: []map[string]float64{{label: p0, "zz": p1, model: v}}}
		got, ok := appendPredictJSON(nil, &resp)
		want := compactJSON(t, resp)
		if !ok {
			return // encoding/json's own path answers
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

func BenchmarkPredictJSON(b *testing.B) {
	resp := joule.PredictResponse{ID: "prd_01M8F489F404SK3J0000000001", Deployment: "rf", Model: "credit", ModelVersion: 1,
		Predictions: []any{"1"}, Probabilities: []map[string]float64{{"0": 0.18, "1": 0.8200000000000001}}}
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			compactJSON(b, resp)
		}
	})
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = appendPredictJSON(buf[:0], &resp)
		}
	})
}
