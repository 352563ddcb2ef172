package energy

import (
	"math"
	"testing"
	"time"
)

func TestEmbodied(t *testing.T) {
	t.Parallel()
	yearH := 365.25 * 24
	tests := []struct {
		name               string
		te, el             float64
		tir                time.Duration
		rr, tor, wantGrams float64
	}{
		{"whole server for its whole life", 1000, 4, time.Duration(4 * yearH * float64(time.Hour)), 8, 8, 1e6},
		{"one hour, 2 of 8 vCPUs", 1000, 4, time.Hour, 2, 8, 1e6 / (4 * yearH) * 0.25},
		{"CCF defaults, one GPU of 4 for a day", DefaultEmbodiedKgCO2e, DefaultLifetimeYears, 24 * time.Hour, 1, 4, 1e6 * 24 / (4 * yearH) / 4},
		{"reserved above total is capped", 1000, 4, time.Hour, 16, 8, 1e6 / (4 * yearH)},
		{"zero time", 1000, 4, 0, 1, 1, 0},
		{"zero lifetime", 1000, 0, time.Hour, 1, 1, 0},
		{"zero resources", 1000, 4, time.Hour, 1, 0, 0},
		{"NaN", math.NaN(), 4, time.Hour, 1, 1, 0},
		{"negative", -1000, 4, time.Hour, 1, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Embodied(tt.te, tt.el, tt.tir, tt.rr, tt.tor)
			if !relClose(got, tt.wantGrams, 1e-12) {
				t.Errorf("Embodied(%v, %v, %v, %v, %v) = %v g, want %v g", tt.te, tt.el, tt.tir, tt.rr, tt.tor, got, tt.wantGrams)
			}
		})
	}
}
