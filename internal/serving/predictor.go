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

	"github.com/joule-dev/joule"
	"github.com/joule-dev/joule/internal/dataset"
	"github.com/joule-dev/joule/internal/ml"
)

// Predictor is a loaded model version: the fitted model, its feature
// schema and, when it was trained with one, its fitted recipe and the raw
// columns the recipe reads.
type Predictor struct {
	version joule.ModelVersion
	clf     ml.Classifier
	reg     ml.Regressor
	classes []string
	// recipe is set when the model replays a fitted recipe on raw rows
	// whose columns are inputs.
	recipe *dataset.Recipe
	inputs []joule.DatasetColumn
	engine dataset.EngineConfig
	// index maps each feature's name to its place, for fastMatrix.
	index map[string]int
	// boxed holds each class label as an any, made once: boxing a string
	// allocates, and a prediction is one per row.
	boxed []any
}

// NewPredictor wraps a loaded model. recipe and inputs are the fitted
// recipe from the model file's header and the columns of the dataset
// version it was fitted on (nil for a model without a recipe).
func NewPredictor(mv joule.ModelVersion, m ml.Model, classes []string, recipe *dataset.Recipe, inputs []joule.DatasetColumn, engine dataset.EngineConfig) (*Predictor, error) {
	p := &Predictor{version: mv, classes: classes, recipe: recipe, inputs: inputs, engine: engine}
	switch m := m.(type) {
	case ml.Classifier:
		p.clf = m
	case ml.Regressor:
		p.reg = m
	default:
		return nil, joule.Errorf(joule.EINVALID, "model: a %s model does not predict rows", m.Task())
	}
	if m.NumFeatures() != len(mv.Features) {
		return nil, joule.Errorf(joule.EINVALID, "model: its file reads %d features, its version lists %d", m.NumFeatures(), len(mv.Features))
	}
	p.index = make(map[string]int, len(mv.Features))
	for j, f := range mv.Features {
		p.index[f.Name] = j
	}
	if p.clf != nil {
		for c := range p.clf.NumClasses() {
			p.boxed = append(p.boxed, p.label(c))
		}
	}
	return p, nil
}

// rowError names the row and the field a bad value is in.
func rowError(where string, format string, args ...any) error {
	return joule.Errorf(joule.EINVALID, "%s: %s", where, fmt.Sprintf(format, args...))
}

// request is a parsed predict body: one raw row per instance, each value
// kept as its JSON text, with where names the row and field for errors.
type request struct {
	rows    []map[string]json.RawMessage
	columns bool // the body used "inputs"
}

func (q *request) where(i int, field string) string {
	switch {
	case q.columns && field != "":
		return fmt.Sprintf("inputs.%s[%d]", field, i)
	case q.columns:
		return fmt.Sprintf("inputs row %d", i)
	case field != "":
		return fmt.Sprintf("instances[%d].%s", i, field)
	}
	return fmt.Sprintf("instances[%d]", i)
}

// parseRequest reads a predict body: {"instances": [{…}, …]} or
// {"inputs": {feature: [values]}}, at most maxBatch rows.
func parseRequest(body []byte, maxBatch int) (*request, error) {
	var raw struct {
		Instances []map[string]json.RawMessage `json:"instances"`
		Inputs    map[string][]json.RawMessage `json:"inputs"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, joule.Errorf(joule.EINVALID, "body: empty; send {\"instances\": [{feature: value, …}]} or {\"inputs\": {feature: [values]}}")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, joule.Errorf(joule.EINVALID, "body: %s: a JSON %s where %s is wanted", cmp.Or(te.Field, "top level"), te.Value, te.Type)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			return nil, joule.Errorf(joule.EINVALID, "body: unknown field %s; send \"instances\" or \"inputs\"", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return nil, joule.Errorf(joule.EINVALID, "body: not JSON: %v", err)
	}
	if dec.More() {
		return nil, joule.Errorf(joule.EINVALID, "body: more than one JSON value")
	}
	q := &request{}
	switch {
	case raw.Instances != nil && raw.Inputs != nil:
		return nil, joule.Errorf(joule.EINVALID, "body: send \"instances\" or \"inputs\", not both")
	case raw.Instances != nil:
		q.rows = raw.Instances
		for i, r := range q.rows {
			if r == nil {
				return nil, rowError(q.where(i, ""), "null; each instance is an object of feature values")
			}
		}
	case raw.Inputs != nil:
		q.columns = true
		names := make([]string, 0, len(raw.Inputs))
		for k := range raw.Inputs {
			names = append(names, k)
		}
		slices.Sort(names)
		n := -1
		for _, k := range names {
			if n >= 0 && len(raw.Inputs[k]) != n {
				return nil, joule.Errorf(joule.EINVALID, "inputs.%s: %d values, but inputs.%s has %d; every column needs one value per row", k, len(raw.Inputs[k]), names[0], n)
			}
			n = len(raw.Inputs[k])
		}
		q.rows = make([]map[string]json.RawMessage, max(n, 0))
		for i := range q.rows {
			q.rows[i] = make(map[string]json.RawMessage, len(names))
			for _, k := range names {
				q.rows[i][k] = raw.Inputs[k][i]
			}
		}
	default:
		return nil, joule.Errorf(joule.EINVALID, "body: send {\"instances\": [{feature: value, …}]} or {\"inputs\": {feature: [values]}}")
	}
	if len(q.rows) == 0 {
		what := "instances"
		if q.columns {
			what = "inputs"
		}
		return nil, joule.Errorf(joule.EINVALID, "%s: empty batch; send at least one row", what)
	}
	if maxBatch > 0 && len(q.rows) > maxBatch {
		return nil, joule.Errorf(joule.EINVALID, "batch: %d rows is over this deployment's limit of %d", len(q.rows), maxBatch)
	}
	return q, nil
}

// Predict parses body and predicts its rows.
func (p *Predictor) Predict(ctx context.Context, body []byte, maxBatch int) (joule.PredictResponse, error) {
	x, ok := p.fastMatrix(body, maxBatch)
	if !ok {
		q, err := parseRequest(body, maxBatch)
		if err != nil {
			return joule.PredictResponse{}, err
		}
		if x, err = p.matrix(ctx, q); err != nil {
			return joule.PredictResponse{}, err
		}
	}
	keepInputs(ctx, p.version.Version, x) // monitor: Manager.Predict copies x into the drift window after this returns; do not reuse x
	out := joule.PredictResponse{ModelVersion: p.version.Version, Predictions: make([]any, len(x))}
	if p.reg != nil {
		for i, r := range x {
			out.Predictions[i] = p.reg.Predict(r)
		}
		return out, nil
	}
	k := p.clf.NumClasses()
	var buf [16]float64
	scores := buf[:0]
	if k > len(buf) {
		scores = make([]float64, k)
	}
	scores = scores[:k]
	if p.clf.Probabilistic() {
		out.Probabilities = make([]map[string]float64, len(x))
	}
	for i, r := range x {
		p.clf.Scores(r, scores)
		best := 0
		for c := range scores {
			if scores[c] > scores[best] {
				best = c
			}
		}
		out.Predictions[i] = p.boxed[best]
		if out.Probabilities != nil {
			m := make(map[string]float64, k)
			for c, s := range scores {
				m[p.label(c)] = s
			}
			out.Probabilities[i] = m
		}
	}
	return out, nil
}

func (p *Predictor) label(c int) string {
	if c < len(p.classes) {
		return p.classes[c]
	}
	return fmt.Sprint(c)
}

// matrix turns the rows into feature vectors, through the recipe when the
// model has one, checking every value against the feature schema.
func (p *Predictor) matrix(ctx context.Context, q *request) ([][]float64, error) {
	feats := p.version.Features
	x := make([][]float64, len(q.rows))
	if p.recipe == nil {
		for i, row := range q.rows {
			for k := range row {
				if !slices.ContainsFunc(feats, func(f joule.ModelFeature) bool { return f.Name == k }) {
					return nil, rowError(q.where(i, k), "not a feature of model version %d (its features: %s)", p.version.Version, featureNames(feats))
				}
			}
			x[i] = make([]float64, len(feats))
			for j, f := range feats {
				v, ok := row[f.Name]
				if !ok {
					return nil, rowError(q.where(i, ""), "missing feature %q", f.Name)
				}
				n, err := number(v, f.Type)
				if err != nil {
					return nil, rowError(q.where(i, f.Name), "%v", err)
				}
				x[i][j] = n
			}
		}
		return x, nil
	}
	// The recipe reads the raw columns of the dataset version it was
	// fitted on; TransformRow checks their types and replays the fitted
	// steps with the batch path's SQL.
	for i, row := range q.rows {
		for k := range row {
			if !slices.ContainsFunc(p.inputs, func(c joule.DatasetColumn) bool { return c.Name == k }) {
				return nil, rowError(q.where(i, k), "not a column the model's recipe reads (its columns: %s)", columnNames(p.inputs))
			}
		}
		b, err := json.Marshal(row)
		if err != nil {
			return nil, rowError(q.where(i, ""), "%v", err)
		}
		out, err := dataset.TransformRow(ctx, p.engine, p.inputs, *p.recipe, b)
		if err != nil {
			if joule.ErrorCode(err) == joule.EINVALID {
				return nil, rowError(q.where(i, ""), "%s", strings.TrimPrefix(joule.ErrorMessage(err), "row: "))
			}
			return nil, err
		}
		if out == nil {
			return nil, rowError(q.where(i, ""), "the model's recipe filters this row out")
		}
		x[i] = make([]float64, len(feats))
		for j, f := range feats {
			n, ok := toFloat(out[f.Name])
			if !ok {
				return nil, rowError(q.where(i, ""), "feature %q is empty after the model's recipe: is a raw column missing?", f.Name)
			}
			x[i][j] = n
		}
	}
	return x, nil
}

// number reads one JSON value as a feature of type typ.
func number(v json.RawMessage, typ string) (float64, error) {
	s := strings.TrimSpace(string(v))
	switch {
	case s == "null":
		return 0, errors.New("null; a value is required")
	case s == "true" || s == "false":
		if typ != joule.TypeBoolean {
			return 0, fmt.Errorf("%s is a boolean, but the feature is %s", s, cmp.Or(typ, "numeric"))
		}
		if s == "true" {
			return 1, nil
		}
		return 0, nil
	case strings.HasPrefix(s, `"`):
		return 0, fmt.Errorf("%s is a string, but the feature is %s; send a JSON number", s, cmp.Or(typ, "numeric"))
	case strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{"):
		return 0, fmt.Errorf("an array or object, but the feature is %s", cmp.Or(typ, "numeric"))
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not a number", s)
	}
	if typ == joule.TypeInteger && f != math.Trunc(f) {
		return 0, fmt.Errorf("%s is not a whole number, but the feature is integer", s)
	}
	if typ == joule.TypeBoolean && f != 0 && f != 1 {
		return 0, fmt.Errorf("%s is not a boolean (true, false, 0 or 1)", s)
	}
	return f, nil
}

// toFloat reads a value the data engine returned.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func featureNames(fs []joule.ModelFeature) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

func columnNames(cs []joule.DatasetColumn) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// fastMatrix reads the common body, {"instances": [{feature: number, …},
// …]} for a model without a recipe, straight into feature vectors, without
// the generic decoder's maps and reflection. It takes only bodies that
// parseRequest and matrix accept, and gives the same vectors: each value is
// a JSON number that strconv.ParseFloat reads as encoding/json does, every
// feature once, no other field, a whole number for an integer feature, 0
// or 1 for a boolean one, and at most maxBatch rows. For anything else ok
// is false and the caller runs the full parser, which names the problem.
func (p *Predictor) fastMatrix(body []byte, maxBatch int) (x [][]float64, ok bool) {
	if p.recipe != nil {
		return nil, false
	}
	feats := p.version.Features
	s := fastScanner{b: body}
	if !s.byte('{') || s.key() != "instances" || !s.byte('[') {
		return nil, false
	}
	var seenBuf [64]bool
	seen := seenBuf[:0]
	if len(feats) > len(seenBuf) {
		seen = make([]bool, len(feats))
	}
	seen = seen[:len(feats)]
	for {
		if maxBatch > 0 && len(x) >= maxBatch {
			return nil, false
		}
		if !s.byte('{') {
			return nil, false
		}
		row := make([]float64, len(feats))
		clear(seen)
		for n := 0; ; n++ {
			if n > 0 && !s.byte(',') {
				break
			}
			k, ok := s.rawKey()
			if !ok {
				return nil, false
			}
			// Clients mostly send the features in schema order: try the
			// next one before the map.
			j := n
			if j >= len(feats) || feats[j].Name != string(k) {
				if j, ok = p.index[string(k)]; !ok {
					return nil, false
				}
			}
			if seen[j] {
				return nil, false
			}
			v, ok := s.number()
			if !ok {
				return nil, false
			}
			switch feats[j].Type {
			case joule.TypeInteger:
				if v != math.Trunc(v) {
					return nil, false
				}
			case joule.TypeBoolean:
				if v != 0 && v != 1 {
					return nil, false
				}
			}
			row[j], seen[j] = v, true
		}
		if !s.byte('}') || slices.Contains(seen, false) {
			return nil, false
		}
		x = append(x, row)
		if s.byte(']') {
			break
		}
		if !s.byte(',') {
			return nil, false
		}
	}
	if !s.byte('}') {
		return nil, false
	}
	s.space()
	return x, s.i == len(s.b)
}

// fastScanner reads the few JSON forms fastMatrix takes.
type fastScanner struct {
	b []byte
	i int
}

func (s *fastScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte skips white space and then c, reporting whether c was there.
func (s *fastScanner) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// rawKey reads an object key without escapes and the colon after it.
func (s *fastScanner) rawKey() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			k := s.b[start:s.i]
			s.i++
			return k, s.byte(':')
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes, control bytes and non-ASCII: the full parser
		}
		s.i++
	}
	return nil, false
}

func (s *fastScanner) key() string {
	k, ok := s.rawKey()
	if !ok {
		return ""
	}
	return string(k)
}

// number reads a JSON number (RFC 8259 grammar) as a finite float64.
func (s *fastScanner) number() (float64, bool) {
	s.space()
	b, start := s.b, s.i
	digits := func() bool {
		n := s.i
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
		return s.i > n
	}
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case !digits():
		return 0, false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if !digits() {
			return 0, false
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if !digits() {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(b[start:s.i]), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}
