package serving

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/joule-dev/joule"
)

// Drift statistics.
//
// PSI (population stability index) compares the share of rows in each bin
// of the training (reference) values, e_i, with the share in the live
// window, a_i:
//
//	PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)
//
// Shares under psiEpsilon are raised to it first, so an empty bin on
// either side adds a large but finite term instead of an infinite one.
//
// KS is the two-sample Kolmogorov-Smirnov statistic, the largest distance
// between the two empirical distribution functions:
//
//	D = sup_x |F_ref(x) − F_live(x)|

// psiEpsilon is the smallest share PSI takes the logarithm of.
const psiEpsilon = 1e-4

// maxValueBins is the most distinct training values a feature may have for
// one bin per value; above it the bins are cut at the training deciles.
const maxValueBins = 10

// ksSample is the most training values kept per feature for KS: above it,
// evenly spaced order statistics of the sorted values stand in for them
// (the distribution function is then exact to within 1/ksSample).
const ksSample = 10_000

// psi returns the population stability index of live shares against
// reference shares (same bins, each summing to 1).
func psi(ref, live []float64) float64 {
	s := 0.0
	for i := range ref {
		e, a := max(ref[i], psiEpsilon), max(live[i], psiEpsilon)
		s += (a - e) * math.Log(a/e)
	}
	return s
}

// ks returns the two-sample Kolmogorov-Smirnov statistic of two sorted
// samples (ties handled: both functions step past a value together).
func ks(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	na, nb := float64(len(a)), float64(len(b))
	i, j, d := 0, 0, 0.0
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
		d = max(d, math.Abs(float64(i)/na-float64(j)/nb))
	}
	return d
}

// ksPValue is the asymptotic p-value of statistic d for samples of n and
// m values: the Kolmogorov distribution's survival function at
// d·√(nm/(n+m)), with Stephens' small-sample correction of the argument,
// summed until its terms vanish.
func ksPValue(d float64, n, m int) float64 {
	if n == 0 || m == 0 {
		return 1
	}
	en := math.Sqrt(float64(n) * float64(m) / float64(n+m))
	lambda := (en + 0.12 + 0.11/en) * d
	if lambda < 0.2 {
		return 1
	}
	sum, sign := 0.0, 1.0
	for k := 1; k <= 100; k++ {
		term := sign * math.Exp(-2*float64(k*k)*lambda*lambda)
		sum += term
		if math.Abs(term) < 1e-12 {
			break
		}
		sign = -sign
	}
	return min(1, max(0, 2*sum))
}

// binning maps values to PSI bins, learnt from the reference values:
// one bin per value (values) or bins cut at the deciles (cuts, each bin's
// upper bound, the last bin open above), plus, for values binning, a last
// bin for values the reference never had. labels is the values binning
// of text (classes).
type binning struct {
	kind   string // "values" or "deciles"
	values []float64
	labels []string
	cuts   []float64
	ref    []float64 // reference share per bin
}

// numericBinning learns the bins of a numeric feature from its reference
// values.
func numericBinning(vals []float64) binning {
	s := slices.Clone(vals)
	slices.Sort(s)
	distinct := slices.Compact(slices.Clone(s))
	var b binning
	if len(distinct) <= maxValueBins {
		b = binning{kind: "values", values: distinct}
	} else {
		b.kind = "deciles"
		for k := 1; k <= 9; k++ {
			// The k-th decile as the order statistic at ⌈k·n/10⌉.
			c := s[max(0, int(math.Ceil(float64(k*len(s))/10))-1)]
			if len(b.cuts) == 0 || c > b.cuts[len(b.cuts)-1] {
				b.cuts = append(b.cuts, c)
			}
		}
		// The top cut equal to the maximum would leave the last bin empty
		// in the reference: drop it, the bin above takes its rows.
		if n := len(b.cuts); n > 0 && b.cuts[n-1] >= s[len(s)-1] {
			b.cuts = b.cuts[:n-1]
		}
	}
	b.ref = b.shares(s)
	return b
}

// labelBinning learns one bin per class label of the reference.
func labelBinning(labels []string) binning {
	d := slices.Clone(labels)
	slices.Sort(d)
	b := binning{kind: "values", labels: slices.Compact(d)}
	b.ref = b.labelShares(labels)
	return b
}

func (b binning) bins() int {
	switch {
	case b.labels != nil:
		return len(b.labels) + 1
	case b.kind == "values":
		return len(b.values) + 1
	}
	return len(b.cuts) + 1
}

// bin returns the bin of x.
func (b binning) bin(x float64) int {
	if b.kind == "values" {
		i, ok := slices.BinarySearch(b.values, x)
		if !ok {
			return len(b.values)
		}
		return i
	}
	return sort.SearchFloat64s(b.cuts, x) // the first cut ≥ x: x ≤ cut
}

func (b binning) shares(xs []float64) []float64 {
	out := make([]float64, b.bins())
	if len(xs) == 0 {
		return out
	}
	for _, x := range xs {
		out[b.bin(x)]++
	}
	for i := range out {
		out[i] /= float64(len(xs))
	}
	return out
}

func (b binning) labelShares(ls []string) []float64 {
	out := make([]float64, b.bins())
	if len(ls) == 0 {
		return out
	}
	for _, l := range ls {
		i, ok := slices.BinarySearch(b.labels, l)
		if !ok {
			i = len(b.labels)
		}
		out[i]++
	}
	for i := range out {
		out[i] /= float64(len(ls))
	}
	return out
}

// names labels the bins for reports.
func (b binning) names() []string {
	out := make([]string, 0, b.bins())
	switch {
	case b.labels != nil:
		out = append(out, b.labels...)
		out = append(out, "other")
	case b.kind == "values":
		for _, v := range b.values {
			out = append(out, fmtNum(v))
		}
		out = append(out, "other")
	default:
		lo := "-inf"
		for _, c := range b.cuts {
			out = append(out, fmt.Sprintf("(%s, %s]", lo, fmtNum(c)))
			lo = fmtNum(c)
		}
		out = append(out, fmt.Sprintf("(%s, +inf)", lo))
	}
	return out
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// refFeature is one feature's (or the prediction's) reference: its bins
// and a sorted sample for KS (nil for class labels).
type refFeature struct {
	name   string
	bins   binning
	sample []float64
}

func newRefFeature(name string, vals []float64) refFeature {
	s := slices.Clone(vals)
	slices.Sort(s)
	if len(s) > ksSample {
		t := make([]float64, ksSample)
		for i := range t {
			t[i] = s[int(math.Round(float64(i)*float64(len(s)-1)/float64(ksSample-1)))]
		}
		s = t
	}
	return refFeature{name: name, bins: numericBinning(vals), sample: s}
}

// drift compares live values (sorted in place) with the reference.
func (r refFeature) drift(live []float64, psiMax, ksMax float64) joule.FeatureDrift {
	slices.Sort(live)
	fd := joule.FeatureDrift{Name: r.name, Binning: r.bins.kind}
	shares := r.bins.shares(live)
	fd.PSI = psi(r.bins.ref, shares)
	d := ks(r.sample, live)
	p := ksPValue(d, len(r.sample), len(live))
	fd.KS, fd.KSPValue = &d, &p
	fd.Drifted = fd.PSI >= psiMax || d >= ksMax
	fd.Bins = binRows(r.bins, shares)
	return fd
}

// labelDrift compares live class labels with the reference's.
func (r refFeature) labelDrift(live []string, psiMax float64) joule.FeatureDrift {
	fd := joule.FeatureDrift{Name: r.name, Binning: r.bins.kind}
	shares := r.bins.labelShares(live)
	fd.PSI = psi(r.bins.ref, shares)
	fd.Drifted = fd.PSI >= psiMax
	fd.Bins = binRows(r.bins, shares)
	return fd
}

func binRows(b binning, live []float64) []joule.DriftBin {
	names := b.names()
	out := make([]joule.DriftBin, len(names))
	for i := range names {
		out[i] = joule.DriftBin{Bin: names[i], Reference: b.ref[i], Live: live[i]}
	}
	// The "other" bin is noise when both sides are empty.
	if n := len(out); n > 0 && names[n-1] == "other" && out[n-1].Reference == 0 && out[n-1].Live == 0 {
		out = out[:n-1]
	}
	return out
}

// driftedNames returns the names of the drifted features, in order.
func driftedNames(fs []joule.FeatureDrift) []string {
	var out []string
	for _, f := range fs {
		if f.Drifted {
			out = append(out, f.Name)
		}
	}
	return out
}

// worst returns the features sorted by PSI, largest first.
func worst(fs []joule.FeatureDrift) []joule.FeatureDrift {
	s := slices.Clone(fs)
	slices.SortStableFunc(s, func(a, b joule.FeatureDrift) int { return cmp.Compare(b.PSI, a.PSI) })
	return s
}
