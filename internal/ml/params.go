package ml

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Param documents one hyperparameter of an algorithm.
type Param struct {
	Name    string
	Default string // as text; "none" where scikit-learn's default is None
	Doc     string
}

// params reads typed hyperparameter values out of the text map a training
// job passes, recording the first error; every error names the parameter.
type params struct {
	algo string
	in   map[string]string
	spec []Param
	err  error
}

func newParams(algo string, spec []Param, in map[string]string) *params {
	p := &params{algo: algo, in: map[string]string{}, spec: spec}
	for _, s := range spec {
		p.in[s.Name] = s.Default
	}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		if !slices.ContainsFunc(spec, func(s Param) bool { return s.Name == k }) {
			names := make([]string, len(spec))
			for i, s := range spec {
				names[i] = s.Name
			}
			p.fail(k, "unknown parameter (%s takes %s)", algo, orNone(names))
			break
		}
		p.in[k] = strings.TrimSpace(in[k])
	}
	return p
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "no parameters"
	}
	return strings.Join(names, ", ")
}

func (p *params) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = &ParamError{Algorithm: p.algo, Param: name, Msg: fmt.Sprintf(format, args...)}
	}
}

// resolved returns every parameter's value as text, defaults included.
func (p *params) resolved() map[string]string { return maps.Clone(p.in) }

// intv parses an integer of at least lo; "none" gives none.
func (p *params) intv(name string, lo, none int) int {
	s := p.in[name]
	if s == "none" {
		return none
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		p.fail(name, "%q is not an integer", s)
		return 0
	}
	if v < lo {
		p.fail(name, "%d is below the minimum %d", v, lo)
	}
	return v
}

// floatv parses a finite number above lo (or at least lo when closed).
func (p *params) floatv(name string, lo float64, closed bool) float64 {
	s := p.in[name]
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		p.fail(name, "%q is not a finite number", s)
		return 0
	}
	if v < lo || (!closed && v == lo) {
		op := ">"
		if closed {
			op = ">="
		}
		p.fail(name, "%v: want a number %s %v", v, op, lo)
	}
	return v
}

func (p *params) choice(name string, allowed ...string) string {
	s := p.in[name]
	if !slices.Contains(allowed, s) {
		p.fail(name, "%q: want one of %s", s, strings.Join(allowed, ", "))
	}
	return s
}

func (p *params) boolv(name string) bool {
	v, err := strconv.ParseBool(p.in[name])
	if err != nil {
		p.fail(name, "%q is not true or false", p.in[name])
	}
	return v
}

func (p *params) seed(name string) uint64 {
	s := p.in[name]
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		p.fail(name, "%q is not a non-negative integer", s)
	}
	return v
}

// ParamError is a bad hyperparameter: unknown, or a value out of range.
type ParamError struct {
	Algorithm, Param, Msg string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%s: parameter %q: %s", e.Algorithm, e.Param, e.Msg)
}
