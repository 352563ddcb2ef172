package energy

import (
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the table in VALIDATION.md")

func TestCalibrateLeavesOutTheCPU(t *testing.T) {
	t.Parallel()
	ps := DefaultProfiles()
	tests := []struct {
		leaveOut string
		want     []string
	}{
		// Both folders of the E3-1240 v2 go, whichever is evaluated; the
		// suspect E5-1240 folder is never used.
		{"Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz", []string{"AMD_EPYC_8024P_8C", "AMD_Threadripper", "E5-2620"}},
		{"AMD EPYC 8024P 8-Core Processor", []string{"AMD_Threadripper", "E3-1240", "E5-2620"}},
		{"", []string{"AMD_EPYC_8024P_8C", "AMD_Threadripper", "E3-1240", "E5-2620"}},
	}
	for _, tt := range tests {
		m := Calibrate(ps, tt.leaveOut)
		if !slices.Equal(m.CalibratedOn, tt.want) {
			t.Errorf("Calibrate(%q).CalibratedOn = %v, want %v", tt.leaveOut, m.CalibratedOn, tt.want)
		}
		if !(m.Idle >= MinIdleFraction) || !(m.Dynamic > 0) || !(m.Exponent > 0) {
			t.Errorf("Calibrate(%q) = %+v: want idle ≥ floor, positive dynamic and exponent", tt.leaveOut, m)
		}
	}
	if m := Calibrate(nil, ""); len(m.CalibratedOn) != 0 || m.Exponent != 1 {
		t.Errorf("Calibrate(nil) = %+v, want the uncalibrated linear model", m)
	}
}

// TestCalibrateRecoversCurve fits profiles generated from a known curve.
func TestCalibrateRecoversCurve(t *testing.T) {
	t.Parallel()
	var ps []Profile
	for i, cpu := range []string{"Intel Xeon E3-1240 v2", "AMD EPYC 8024P"} {
		p := Profile{Name: fmt.Sprint(i), CPU: cpu, Sockets: 1}
		tdp := p.TDP().Watts
		for k := range 11 {
			u := float64(k) / 10
			p.Steps = append(p.Steps, Step{Threads: 8, Load: u, Seconds: 30, RAPLJoules: 30 * tdp * (0.12 + 0.6*math.Pow(u, 0.7))})
		}
		ps = append(ps, p)
	}
	m := Calibrate(ps, "")
	if math.Abs(m.Idle-0.12) > 0.005 || math.Abs(m.Dynamic-0.6) > 0.01 || math.Abs(m.Exponent-0.7) > 0.01 {
		t.Errorf("Calibrate() = idle %v dynamic %v exponent %v; want 0.12, 0.6, 0.7", m.Idle, m.Dynamic, m.Exponent)
	}
}

// validationTable runs the leave-one-CPU-out validation and formats it.
func validationTable() (string, Summary) {
	rs := ValidateAll(DefaultProfiles())
	var b strings.Builder
	b.WriteString(TableHeader + "\n")
	for _, r := range rs {
		b.WriteString(r.String() + "\n")
	}
	s := Summarize(rs)
	fmt.Fprintf(&b, "\njoule better in %d of %d profile folders; mean |total error| joule %.1f%%, CodeCarbon %.1f%%; mean step error joule %.1f%%, CodeCarbon %.1f%%.\n",
		s.JouleBetter, s.Profiles, 100*s.MeanJouleError, 100*s.MeanCodeCarbonErr, 100*s.MeanJouleStepError, 100*s.MeanCodeCarbonStepError)
	return b.String(), s
}

const (
	tableBegin = "<!-- table: begin (go test ./internal/energy/ -run TestValidation -update) -->\n"
	tableEnd   = "<!-- table: end -->"
)

// TestValidation replays every embedded profile with its CPU left out of
// the calibration, logs the table, and checks that VALIDATION.md holds the
// same table (-update rewrites it). The acceptance target, lower error than
// CodeCarbon in at least 4 of 5 folders and lower on average, is reported,
// not asserted: on these profiles the model does not meet it (see
// VALIDATION.md).
func TestValidation(t *testing.T) {
	t.Parallel()
	table, s := validationTable()
	t.Log("\n" + table)
	met := s.JouleBetter >= 4 && s.MeanJouleError < s.MeanCodeCarbonErr
	t.Logf("acceptance (≥4 of 5 and lower on average) met: %v", met)

	doc, err := os.ReadFile("VALIDATION.md")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(doc), tableBegin)
	j := strings.Index(string(doc), tableEnd)
	if i < 0 || j < i {
		t.Fatalf("VALIDATION.md lacks the table markers")
	}
	cur := string(doc[i+len(tableBegin) : j])
	if cur == table {
		return
	}
	if *update {
		out := string(doc[:i+len(tableBegin)]) + table + string(doc[j:])
		if err := os.WriteFile("VALIDATION.md", []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("VALIDATION.md is out of date; run go test ./internal/energy/ -run TestValidation -update\nwant:\n%s", table)
}
