package httpapi

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/joule-dev/joule"
)

// Predict answers are the API's hot path: encoding/json spends most of its
// time there on reflection over []any and a map per row (docs/perf.md,
// "Serving"). appendPredictJSON writes the same bytes directly, and the
// buffers are pooled.

// predictBufs holds answer buffers; one over maxPooledAnswer is not kept.
var predictBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledAnswer = 64 << 10

// writePredictJSON writes resp as writeCompactJSON would, byte for byte.
func writePredictJSON(w http.ResponseWriter, status int, resp *joule.PredictResponse) {
	bp := predictBufs.Get().(*[]byte)
	b, ok := appendPredictJSON((*bp)[:0], resp)
	if !ok {
		predictBufs.Put(bp)
		writeCompactJSON(w, status, resp)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= maxPooledAnswer {
		*bp = b
		predictBufs.Put(bp)
	}
}

// Header values shared by every answer; net/http only reads them.
var (
	jsonContentType = []string{"application/json"}
	nosniff         = []string{"nosniff"}
)

// appendPredictJSON appends resp as encoding/json's Encoder (HTML escaping
// off) writes it, newline included. ok is false, and b is to be dropped,
// for anything outside the usual answer: a prediction that is neither a
// string nor a number, a number JSON cannot hold (NaN, ±Inf), a string
// that needs escaping, or a row of more than 64 classes. The caller then
// uses encoding/json.
func appendPredictJSON(b []byte, resp *joule.PredictResponse) ([]byte, bool) {
	ok := true
	b = append(b, '{')
	if resp.ID != "" {
		b = append(b, `"id":`...)
		if b, ok = appendPlainString(b, resp.ID); !ok {
			return b, false
		}
		b = append(b, ',')
	}
	b = append(b, `"deployment":`...)
	if b, ok = appendPlainString(b, resp.Deployment); !ok {
		return b, false
	}
	b = append(b, `,"model":`...)
	if b, ok = appendPlainString(b, resp.Model); !ok {
		return b, false
	}
	b = append(b, `,"model_version":`...)
	b = strconv.AppendInt(b, int64(resp.ModelVersion), 10)
	b = append(b, `,"predictions":`...)
	if resp.Predictions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range resp.Predictions {
			if i > 0 {
				b = append(b, ',')
			}
			switch v := p.(type) {
			case string:
				if b, ok = appendPlainString(b, v); !ok {
					return b, false
				}
			case float64:
				if b, ok = appendFloat(b, v); !ok {
					return b, false
				}
			default:
				return b, false
			}
		}
		b = append(b, ']')
	}
	if len(resp.Probabilities) > 0 {
		b = append(b, `,"probabilities":[`...)
		var keys [64]string
		for i, m := range resp.Probabilities {
			if i > 0 {
				b = append(b, ',')
			}
			if m == nil {
				b = append(b, "null"...)
				continue
			}
			if len(m) > len(keys) {
				return b, false
			}
			ks := keys[:0]
			for k := range m {
				ks = append(ks, k)
			}
			slices.Sort(ks) // encoding/json sorts map keys
			b = append(b, '{')
			for j, k := range ks {
				if j > 0 {
					b = append(b, ',')
				}
				if b, ok = appendPlainString(b, k); !ok {
					return b, false
				}
				b = append(b, ':')
				if b, ok = appendFloat(b, m[k]); !ok {
					return b, false
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, '}', '\n')
	return b, true
}

// appendPlainString appends s quoted; ok is false when s holds a byte
// encoding/json would escape or check (a control character, a quote, a
// backslash, anything outside ASCII).
func appendPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return b, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendFloat appends f as encoding/json does for a float64.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
