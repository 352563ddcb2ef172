package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/joule-dev/joule"
)

// Recipe is a declarative list of steps that makes a new version from an
// old one. Steps run in order; each sees the columns the previous left.
// After Apply, the steps that learn from data (impute, clip, winsorize,
// normalize, standardize, onehot, ordinal) carry what they learned in
// Fitted, and the fitted recipe replays exactly, on a table or one row.
type Recipe struct {
	Steps []Step `json:"steps" yaml:"steps"`
}

// Step is one recipe step: exactly one operation field is set.
type Step struct {
	Select      []string          `json:"select,omitempty" yaml:"select"`
	Drop        []string          `json:"drop,omitempty" yaml:"drop"`
	Rename      map[string]string `json:"rename,omitempty" yaml:"rename"`
	Cast        map[string]string `json:"cast,omitempty" yaml:"cast"` // column → joule type
	Filter      string            `json:"filter,omitempty" yaml:"filter"`
	Dedupe      *DedupeStep       `json:"dedupe,omitempty" yaml:"dedupe"`
	Impute      *ImputeStep       `json:"impute,omitempty" yaml:"impute"`
	Clip        *ClipStep         `json:"clip,omitempty" yaml:"clip"`
	Winsorize   *WinsorizeStep    `json:"winsorize,omitempty" yaml:"winsorize"`
	Normalize   *ColumnsStep      `json:"normalize,omitempty" yaml:"normalize"`
	Standardize *ColumnsStep      `json:"standardize,omitempty" yaml:"standardize"`
	OneHot      *ColumnsStep      `json:"onehot,omitempty" yaml:"onehot"`
	Ordinal     *ColumnsStep      `json:"ordinal,omitempty" yaml:"ordinal"`
	Bucketize   *BucketizeStep    `json:"bucketize,omitempty" yaml:"bucketize"`
	Log         *ColumnsStep      `json:"log,omitempty" yaml:"log"`
	DateParts   *DatePartsStep    `json:"date_parts,omitempty" yaml:"date_parts"`
	Lag         *LagStep          `json:"lag,omitempty" yaml:"lag"`
	Rolling     *RollingStep      `json:"rolling,omitempty" yaml:"rolling"`
	SQL         string            `json:"sql,omitempty" yaml:"sql"`
	Split       *SplitStep        `json:"split,omitempty" yaml:"split"`

	// Fitted is what the step learned from the training rows, per column.
	Fitted map[string]*Fitted `json:"fitted,omitempty" yaml:"fitted"`
}

// Fitted holds the parameters a step learned for one column.
type Fitted struct {
	Value      *string  `json:"value,omitempty" yaml:"value"` // impute: the fill value, as text
	Mean       *float64 `json:"mean,omitempty" yaml:"mean"`
	Std        *float64 `json:"std,omitempty" yaml:"std"`
	Min        *float64 `json:"min,omitempty" yaml:"min"`
	Max        *float64 `json:"max,omitempty" yaml:"max"`
	Lo         *float64 `json:"lo,omitempty" yaml:"lo"` // clip/winsorize bounds
	Hi         *float64 `json:"hi,omitempty" yaml:"hi"`
	Categories []string `json:"categories,omitempty" yaml:"categories"`
}

// DedupeStep keeps the first of rows equal on Columns (all columns when
// empty).
type DedupeStep struct {
	Columns []string `json:"columns,omitempty" yaml:"columns"`
}

// ImputeStep fills missing values: mean, median, mode or constant (Value).
type ImputeStep struct {
	Columns  []string `json:"columns" yaml:"columns"`
	Strategy string   `json:"strategy" yaml:"strategy"`
	Value    *string  `json:"value,omitempty" yaml:"value"`
}

// ClipStep bounds outliers: iqr (Q1 − K·IQR, Q3 + K·IQR; K default 1.5)
// or zscore (mean ± K·std; K default 3).
type ClipStep struct {
	Columns []string `json:"columns" yaml:"columns"`
	Method  string   `json:"method" yaml:"method"`
	K       float64  `json:"k,omitempty" yaml:"k"`
}

// WinsorizeStep clamps values to the Lower and Upper quantiles (default 0.05
// and 0.95).
type WinsorizeStep struct {
	Columns []string `json:"columns" yaml:"columns"`
	Lower   float64  `json:"lower,omitempty" yaml:"lower"`
	Upper   float64  `json:"upper,omitempty" yaml:"upper"`
}

// ColumnsStep applies to the listed columns.
type ColumnsStep struct {
	Columns []string `json:"columns" yaml:"columns"`
}

// BucketizeStep replaces a numeric column by the index of its bin: 0 below
// Edges[0], i between Edges[i-1] and Edges[i], len(Edges) above.
type BucketizeStep struct {
	Column string    `json:"column" yaml:"column"`
	Edges  []float64 `json:"edges" yaml:"edges"`
}

// DatePartsStep adds COLUMN_PART columns: year, month, day, dow (ISO, 1 =
// Monday), hour, dayofyear.
type DatePartsStep struct {
	Column string   `json:"column" yaml:"column"`
	Parts  []string `json:"parts" yaml:"parts"`
}

// LagStep adds COLUMN_lag_P columns: the value P rows earlier within the
// entity (By), in time order (Order).
type LagStep struct {
	Column  string `json:"column" yaml:"column"`
	Periods []int  `json:"periods" yaml:"periods"`
	By      string `json:"by,omitempty" yaml:"by"`
	Order   string `json:"order,omitempty" yaml:"order"`
}

// RollingStep adds COLUMN_rolling_FN_W: FN (mean, sum, min, max, std) over
// the last W rows within the entity, in time order, the current row
// included.
type RollingStep struct {
	Column string `json:"column" yaml:"column"`
	Window int    `json:"window" yaml:"window"`
	Fn     string `json:"fn,omitempty" yaml:"fn"`
	By     string `json:"by,omitempty" yaml:"by"`
	Order  string `json:"order,omitempty" yaml:"order"`
}

// SplitStep adds a "split" column of train or test. Random is the
// SplitMix64 permutation of internal/ml (seed, then the first n−⌈n·test⌉
// rows of the permutation are train); stratified does the same within each
// class of By; chronological puts the last ⌈n·test⌉ rows in By order (file
// order without By) in test.
type SplitStep struct {
	Method   string  `json:"method,omitempty" yaml:"method"` // random (default), stratified, chronological
	Seed     uint64  `json:"seed" yaml:"seed"`
	TestSize float64 `json:"test_size,omitempty" yaml:"test_size"` // default 0.2
	By       string  `json:"by,omitempty" yaml:"by"`
}

// SplitColumn is the column a split step adds.
const SplitColumn = "split"

// name returns the step's operation name, or "" when none or several are
// set.
func (s *Step) name() string {
	var names []string
	add := func(set bool, n string) {
		if set {
			names = append(names, n)
		}
	}
	add(s.Select != nil, "select")
	add(s.Drop != nil, "drop")
	add(s.Rename != nil, "rename")
	add(s.Cast != nil, "cast")
	add(s.Filter != "", "filter")
	add(s.Dedupe != nil, "dedupe")
	add(s.Impute != nil, "impute")
	add(s.Clip != nil, "clip")
	add(s.Winsorize != nil, "winsorize")
	add(s.Normalize != nil, "normalize")
	add(s.Standardize != nil, "standardize")
	add(s.OneHot != nil, "onehot")
	add(s.Ordinal != nil, "ordinal")
	add(s.Bucketize != nil, "bucketize")
	add(s.Log != nil, "log")
	add(s.DateParts != nil, "date_parts")
	add(s.Lag != nil, "lag")
	add(s.Rolling != nil, "rolling")
	add(s.SQL != "", "sql")
	add(s.Split != nil, "split")
	if len(names) != 1 {
		return strings.Join(names, "+")
	}
	return names[0]
}

// stepError is an EINVALID error naming the step (1-based) and its
// operation.
func stepError(i int, s *Step, format string, args ...any) error {
	return joule.Errorf(joule.EINVALID, "step %d (%s): %s", i+1, s.name(), fmt.Sprintf(format, args...))
}

// MaxRecipeSteps bounds a recipe.
const MaxRecipeSteps = 200

// ParseRecipe reads a recipe from YAML or JSON (JSON when it starts with
// '{'). Unknown keys are errors, and every step is checked as in Validate.
func ParseRecipe(data []byte) (Recipe, error) {
	var r Recipe
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return r, joule.Errorf(joule.EINVALID, "recipe: empty")
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return r, joule.Errorf(joule.EINVALID, "recipe: %v", err)
		}
		if dec.More() {
			return r, joule.Errorf(joule.EINVALID, "recipe: trailing data after the JSON object")
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(trimmed))
		dec.KnownFields(true)
		if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) {
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			msg = strings.ReplaceAll(strings.TrimPrefix(msg, "unmarshal errors:\n"), "\n", ";")
			return r, joule.Errorf(joule.EINVALID, "recipe: %s", strings.TrimSpace(msg))
		}
	}
	return r, r.Validate()
}

// Validate checks each step on its own (columns are checked against the
// data when the recipe runs).
func (r Recipe) Validate() error {
	if len(r.Steps) == 0 {
		return joule.Errorf(joule.EINVALID, "recipe: steps: at least one step is needed")
	}
	if len(r.Steps) > MaxRecipeSteps {
		return joule.Errorf(joule.EINVALID, "recipe: steps: at most %d", MaxRecipeSteps)
	}
	for i := range r.Steps {
		if err := r.Steps[i].validate(i); err != nil {
			return err
		}
	}
	return nil
}

func nonEmpty(i int, s *Step, field string, cols []string) error {
	if len(cols) == 0 {
		return stepError(i, s, "%s: at least one column is needed", field)
	}
	for _, c := range cols {
		if c == "" {
			return stepError(i, s, "%s: empty column name", field)
		}
	}
	return nil
}

func (s *Step) validate(i int) error {
	switch s.name() {
	case "":
		return joule.Errorf(joule.EINVALID, "step %d: no operation (one of select, drop, rename, cast, filter, dedupe, impute, clip, winsorize, normalize, standardize, onehot, ordinal, bucketize, log, date_parts, lag, rolling, sql, split)", i+1)
	case "select":
		return nonEmpty(i, s, "select", s.Select)
	case "drop":
		return nonEmpty(i, s, "drop", s.Drop)
	case "rename":
		for from, to := range s.Rename {
			if from == "" || to == "" {
				return stepError(i, s, "rename: empty column name")
			}
		}
	case "cast":
		for c, t := range s.Cast {
			if !slices.Contains(joule.ColumnTypes, t) {
				return stepError(i, s, "column %q: %q is not one of %s", c, t, strings.Join(joule.ColumnTypes, ", "))
			}
		}
	case "impute":
		if err := nonEmpty(i, s, "columns", s.Impute.Columns); err != nil {
			return err
		}
		switch s.Impute.Strategy {
		case "mean", "median", "mode":
		case "constant":
			if s.Impute.Value == nil {
				return stepError(i, s, "strategy constant needs a value")
			}
		default:
			return stepError(i, s, "strategy: %q is not one of mean, median, mode, constant", s.Impute.Strategy)
		}
	case "clip":
		if err := nonEmpty(i, s, "columns", s.Clip.Columns); err != nil {
			return err
		}
		if s.Clip.Method != "iqr" && s.Clip.Method != "zscore" {
			return stepError(i, s, "method: %q is not one of iqr, zscore", s.Clip.Method)
		}
		if s.Clip.K < 0 || s.Clip.K != s.Clip.K {
			return stepError(i, s, "k: must be positive")
		}
	case "winsorize":
		w := s.Winsorize
		if err := nonEmpty(i, s, "columns", w.Columns); err != nil {
			return err
		}
		lo, hi := w.bounds()
		if !(lo >= 0 && lo < hi && hi <= 1) {
			return stepError(i, s, "lower %v and upper %v must satisfy 0 <= lower < upper <= 1", lo, hi)
		}
	case "normalize":
		return nonEmpty(i, s, "columns", s.Normalize.Columns)
	case "standardize":
		return nonEmpty(i, s, "columns", s.Standardize.Columns)
	case "onehot":
		return nonEmpty(i, s, "columns", s.OneHot.Columns)
	case "ordinal":
		return nonEmpty(i, s, "columns", s.Ordinal.Columns)
	case "log":
		return nonEmpty(i, s, "columns", s.Log.Columns)
	case "bucketize":
		b := s.Bucketize
		if b.Column == "" || len(b.Edges) == 0 {
			return stepError(i, s, "column and edges are needed")
		}
		for k := 1; k < len(b.Edges); k++ {
			if !(b.Edges[k] > b.Edges[k-1]) {
				return stepError(i, s, "edges must increase")
			}
		}
	case "date_parts":
		d := s.DateParts
		if d.Column == "" || len(d.Parts) == 0 {
			return stepError(i, s, "column and parts are needed")
		}
		for _, p := range d.Parts {
			if !slices.Contains(dateParts, p) {
				return stepError(i, s, "part %q is not one of %s", p, strings.Join(dateParts, ", "))
			}
		}
	case "lag":
		l := s.Lag
		if l.Column == "" || len(l.Periods) == 0 {
			return stepError(i, s, "column and periods are needed")
		}
		for _, p := range l.Periods {
			if p < 1 || p > 100000 {
				return stepError(i, s, "period %d is outside 1 to 100000", p)
			}
		}
	case "rolling":
		r := s.Rolling
		if r.Column == "" || r.Window < 1 || r.Window > 100000 {
			return stepError(i, s, "column and a window from 1 to 100000 are needed")
		}
		if r.Fn == "" {
			r.Fn = "mean"
		}
		if !slices.Contains([]string{"mean", "sum", "min", "max", "std"}, r.Fn) {
			return stepError(i, s, "fn: %q is not one of mean, sum, min, max, std", r.Fn)
		}
	case "split":
		sp := s.Split
		if sp.Method == "" {
			sp.Method = "random"
		}
		if sp.TestSize == 0 {
			sp.TestSize = 0.2
		}
		if !(sp.TestSize > 0 && sp.TestSize < 1) {
			return stepError(i, s, "test_size: %v is outside (0, 1)", sp.TestSize)
		}
		switch sp.Method {
		case "random", "chronological":
		case "stratified":
			if sp.By == "" {
				return stepError(i, s, "stratified needs by: the class column")
			}
		default:
			return stepError(i, s, "method: %q is not one of random, stratified, chronological", sp.Method)
		}
	case "filter", "dedupe", "sql":
	default:
		return joule.Errorf(joule.EINVALID, "step %d: sets %s; a step does exactly one thing", i+1, s.name())
	}
	return nil
}

var dateParts = []string{"year", "month", "day", "dow", "hour", "dayofyear"}

func (w *WinsorizeStep) bounds() (float64, float64) {
	lo, hi := w.Lower, w.Upper
	if lo == 0 && hi == 0 {
		lo, hi = 0.05, 0.95
	}
	if hi == 0 {
		hi = 0.95
	}
	return lo, hi
}
