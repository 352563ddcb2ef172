package energy

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func at(hh, mm int) time.Time { return time.Date(2026, 5, 6, hh, mm, 0, 0, time.UTC) }

func TestPrice(t *testing.T) {
	t.Parallel()
	tou := Price{FlatPerKWh: 0.2, Schedule: []Tariff{
		{From: 22 * time.Hour, To: 6 * time.Hour, PricePerKWh: 0.1}, // wraps midnight
		{From: 17 * time.Hour, To: 20 * time.Hour, PricePerKWh: 0.5},
	}}
	tests := []struct {
		name       string
		p          Price
		start, end time.Time
		wantAt     float64
		wantMean   float64
	}{
		{"flat", Price{FlatPerKWh: 0.25}, at(3, 0), at(4, 0), 0.25, 0.25},
		{"night band after midnight", tou, at(5, 0), at(5, 30), 0.1, 0.1},
		{"night band before midnight", tou, at(23, 0), at(23, 30), 0.1, 0.1},
		{"gap falls back to flat", tou, at(12, 0), at(13, 0), 0.2, 0.2},
		{"peak", tou, at(17, 0), at(17, 1), 0.5, 0.5},
		{"crossing into peak", tou, at(16, 30), at(17, 30), 0.2, 0.35},
		{"crossing three bands", tou, at(16, 0), at(22, 0), 0.2, (1*0.2 + 3*0.5 + 2*0.2) / 6},
		{"crossing midnight", tou, at(21, 0), at(21, 0).Add(4 * time.Hour), 0.2, (1*0.2 + 3*0.1) / 4},
		{"a whole day", tou, at(0, 0), at(0, 0).Add(24 * time.Hour), 0.1, (8*0.1 + 3*0.5 + 13*0.2) / 24},
		{"empty interval", tou, at(18, 0), at(18, 0), 0.5, 0.5},
		{"non-UTC zone is the same instant", tou, at(17, 0).In(time.FixedZone("X", 5*3600)), at(17, 30), 0.5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.At(tt.start); got != tt.wantAt {
				t.Errorf("At(%v) = %v, want %v", tt.start, got, tt.wantAt)
			}
			if got := tt.p.Mean(tt.start, tt.end); !relClose(got, tt.wantMean, 1e-12) {
				t.Errorf("Mean(%v, %v) = %v, want %v", tt.start, tt.end, got, tt.wantMean)
			}
		})
	}
}

func TestEnergyCostAndAmortisation(t *testing.T) {
	t.Parallel()
	p := Price{FlatPerKWh: 0.3}
	if got := EnergyCost(7.2e6, p, at(1, 0), at(2, 0)); !relClose(got, 0.6, 1e-12) {
		t.Errorf("EnergyCost(2 kWh at 0.3) = %v, want 0.6", got)
	}
	for _, tt := range []struct {
		rate  float64
		d     time.Duration
		share float64
		want  float64
	}{
		{1.2, time.Hour, 1, 1.2},
		{1.2, 30 * time.Minute, 0.25, 0.15},
		{1.2, time.Hour, 2, 1.2}, // share capped at 1
		{1.2, -time.Hour, 1, 0},
		{1.2, time.Hour, math.NaN(), 0},
	} {
		if got := Amortisation(tt.rate, tt.d, tt.share); !relClose(got, tt.want, 1e-12) {
			t.Errorf("Amortisation(%v, %v, %v) = %v, want %v", tt.rate, tt.d, tt.share, got, tt.want)
		}
	}
}

func TestParseTariffs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []Tariff
		wantErr string
	}{
		{in: "", want: nil},
		{in: "00:00-24:00=0.2", want: []Tariff{{0, 24 * time.Hour, 0.2}}},
		{in: " 00:00-07:00=0.12, 07:00-23:00 = 0.30 ,23:00-24:00=0.12", want: []Tariff{
			{0, 7 * time.Hour, 0.12}, {7 * time.Hour, 23 * time.Hour, 0.30}, {23 * time.Hour, 24 * time.Hour, 0.12},
		}},
		{in: "22:00-06:30=0.1", want: []Tariff{{22 * time.Hour, 6*time.Hour + 30*time.Minute, 0.1}}},
		{in: "06:00-00:00=0.1", want: []Tariff{{6 * time.Hour, 24 * time.Hour, 0.1}}},
		{in: "07:00=0.1", wantErr: "want HH:MM-HH:MM=PRICE"},
		{in: "07:00-08:00", wantErr: "want HH:MM-HH:MM=PRICE"},
		{in: "7:00-08:00=1", wantErr: `time "7:00"`},
		{in: "07:60-08:00=1", wantErr: `time "07:60"`},
		{in: "24:30-08:00=1", wantErr: `time "24:30"`},
		{in: "07:00-08:00=-1", wantErr: "price"},
		{in: "07:00-08:00=NaN", wantErr: "price"},
		{in: "07:00-08:00=Inf", wantErr: "price"},
		{in: "07:00-07:00=1", wantErr: "empty band"},
		{in: "00:00-08:00=1,07:00-09:00=2", wantErr: "overlap at 07:00"},
		{in: "22:00-02:00=1,01:00-03:00=2", wantErr: "overlap at 01:00"},
		{in: "07:00-08:00=1,", wantErr: "tariff 2"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTariffs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTariffs(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTariffs(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseTariffs(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParseTariffs(f *testing.F) {
	for _, s := range []string{
		"", "00:00-24:00=0.2", "00:00-07:00=0.12,07:00-23:00=0.30,23:00-24:00=0.12",
		"22:00-06:30=0.1", "00:00-08:00=1,07:00-09:00=2", "24:00-01:00=1e3", "07:00-08:00=0x1p-2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTariffs(s)
		if err != nil {
			return
		}
		// Valid schedules round-trip, cover at most a day, and price every
		// instant with a listed or the flat price.
		again, err := ParseTariffs(FormatTariffs(ts))
		if err != nil {
			t.Fatalf("ParseTariffs(FormatTariffs(%v)) = %v", ts, err)
		}
		if diff := cmp.Diff(ts, again); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", s, diff)
		}
		var covered time.Duration
		for _, b := range ts {
			if b.PricePerKWh < 0 || b.From < 0 || b.To > day {
				t.Fatalf("bad band %+v from %q", b, s)
			}
			if b.From < b.To {
				covered += b.To - b.From
			} else {
				covered += day - b.From + b.To
			}
		}
		if covered > day {
			t.Fatalf("%q covers %v of a day", s, covered)
		}
		p := Price{FlatPerKWh: -1, Schedule: ts}
		if m := p.Mean(at(0, 0), at(0, 0).Add(day)); covered == day && !(m >= 0) {
			t.Fatalf("%q covers the day but the mean price is %v", s, m)
		}
	})
}
