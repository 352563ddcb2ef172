package energy

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	pkgZone  = "sys/class/powercap/intel-rapl:0/energy_uj"
	dramZone = "sys/class/powercap/intel-rapl:0:1/energy_uj"
	coreZone = "sys/class/powercap/intel-rapl:0:0/energy_uj"
)

// TestRAPLJobEnergy is the acceptance test: on the Intel fixture (package-0
// with a dram subzone), a job that spans a wraparound of the package counter
// gets the hand-computed energy within 0.5%.
func TestRAPLJobEnergy(t *testing.T) {
	t.Parallel()
	root := fixtureRoot(t, "intel-server")
	clk := newClock()
	r, err := NewRAPL(t.Context(), Config{Root: root, Now: clk.Now})
	if err != nil {
		t.Fatalf("NewRAPL() = %v", err)
	}
	if diff := cmp.Diff([]string{"package-0", "dram-0"}, r.Components()); diff != "" {
		t.Fatalf("Components() mismatch (-want +got):\n%s", diff)
	}

	// Successive counter states, one second apart. max_energy_range_uj of
	// package-0 is 262143328850; it wraps between t2 and t3. The core
	// subzone counts too but must not be added: it is inside the package.
	states := []struct{ pkg, dram, core uint64 }{
		{262100000000, 5000000000, 1000000},  // t0: meter starts
		{262130000000, 5010000000, 21000000}, // t1: job starts (+30 J, +10 J)
		{20000000, 5020500000, 41000000},     // t2: wrapped: +13.32885 + 20 J, +10.5 J
		{55000000, 5031000000, 61000000},     // t3: job ends (+35 J, +10.5 J)
		{90000000, 5041000000, 81000000},     // t4: after the job
	}
	var readings []map[string]Reading
	for i, s := range states {
		if i > 0 {
			clk.Advance("1s")
		}
		writeFile(t, root, pkgZone, strconv.FormatUint(s.pkg, 10)+"\n")
		writeFile(t, root, dramZone, strconv.FormatUint(s.dram, 10)+"\n")
		writeFile(t, root, coreZone, strconv.FormatUint(s.core, 10)+"\n")
		rs, err := r.Read(t.Context())
		if err != nil {
			t.Fatalf("Read() at t%d = %v", i, err)
		}
		readings = append(readings, byComponent(rs))
	}

	// By hand: package (262143328850 − 262130000000) + 20000000 µJ =
	// 33.32885 J, then 35 J; dram 10.5 J + 10.5 J.
	const want = 33.32885 + 35 + 10.5 + 10.5 // 89.32885 J
	var got float64
	for _, c := range []string{"package-0", "dram-0"} {
		got += readings[3][c].Joules - readings[1][c].Joules
	}
	if rel := math.Abs(got-want) / want; rel > 0.005 {
		t.Errorf("job energy = %.6f J, want %.6f J (±0.5%%; off by %.3f%%)", got, want, 100*rel)
	}
	if w := readings[2]["package-0"].Watts; math.Abs(w-33.32885) > 1e-6 {
		t.Errorf("package-0 watts across the wrap = %v, want 33.32885", w)
	}
	for i, m := range readings {
		for c, rd := range m {
			if rd.Method != MethodRAPL {
				t.Errorf("t%d %s method = %q, want %q", i, c, rd.Method, MethodRAPL)
			}
			if rd.Joules < 0 || rd.Watts < 0 {
				t.Errorf("t%d %s = %+v, want no negative energy or power", i, c, rd)
			}
		}
	}
}

// TestRAPLBackwardsWithoutRange: a counter that goes backwards with no
// known range drops that sample with a warning; energy never decreases.
func TestRAPLBackwardsWithoutRange(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, root, "sys/class/powercap/intel-rapl:0/name", "package-0\n")
	writeFile(t, root, "sys/class/powercap/intel-rapl:0/energy_uj", "1000000\n")
	var logs logBuffer
	clk := newClock()
	r, err := NewRAPL(t.Context(), Config{Root: root, Now: clk.Now, Logger: logs.Logger()})
	if err != nil {
		t.Fatalf("NewRAPL() = %v", err)
	}
	steps := []struct {
		raw       string
		wantJ     float64
		wantCount int
	}{
		{"1000000", 0, 1},
		{"3000000", 2, 1},
		{"500000", 2, 0}, // backwards: dropped
		{"1500000", 3, 1},
	}
	last := 0.0
	for i, s := range steps {
		if i > 0 {
			clk.Advance("1s")
		}
		writeFile(t, root, "sys/class/powercap/intel-rapl:0/energy_uj", s.raw)
		rs, err := r.Read(t.Context())
		if err != nil {
			t.Fatalf("Read() #%d = %v", i, err)
		}
		if len(rs) != s.wantCount {
			t.Fatalf("Read() #%d = %d readings, want %d", i, len(rs), s.wantCount)
		}
		for _, rd := range rs {
			if rd.Joules != s.wantJ {
				t.Errorf("Read() #%d joules = %v, want %v", i, rd.Joules, s.wantJ)
			}
			if rd.Joules < last || rd.Watts < 0 {
				t.Errorf("Read() #%d = %+v: energy went down or power negative", i, rd)
			}
			last = rd.Joules
		}
	}
	if !strings.Contains(logs.String(), "went backwards") {
		t.Errorf("log = %q, want a warning about the counter going backwards", logs.String())
	}
}

func TestRAPLZoneRules(t *testing.T) {
	t.Parallel()
	type zone struct{ dir, name string }
	tests := []struct {
		name  string
		zones []zone
		want  []string
	}{
		{"package and dram, not core", []zone{{"intel-rapl:0", "package-0"}, {"intel-rapl:0:0", "core"}, {"intel-rapl:0:1", "uncore"}, {"intel-rapl:0:2", "dram"}}, []string{"package-0", "dram-0"}},
		{"two sockets", []zone{{"intel-rapl:0", "package-0"}, {"intel-rapl:1", "package-1"}, {"intel-rapl:1:0", "dram"}, {"intel-rapl:0:0", "dram"}}, []string{"package-0", "dram-0", "package-1", "dram-1"}},
		{"psys with a package is not counted", []zone{{"intel-rapl:0", "package-0"}, {"intel-rapl:1", "psys"}}, []string{"package-0"}},
		{"psys alone", []zone{{"intel-rapl:1", "psys"}}, []string{"psys"}},
		{"amd-rapl", []zone{{"amd-rapl:0", "package-0"}, {"amd-rapl:0:0", "core"}}, []string{"package-0"}},
		{"top-level dram", []zone{{"intel-rapl:0", "package-0"}, {"intel-rapl:1", "dram"}}, []string{"package-0", "dram-1"}},
		{"mmio ignored", []zone{{"intel-rapl-mmio:0", "package-0"}, {"intel-rapl:0", "package-0"}}, []string{"package-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for _, z := range tt.zones {
				writeFile(t, root, "sys/class/powercap/"+z.dir+"/name", z.name+"\n")
				writeFile(t, root, "sys/class/powercap/"+z.dir+"/energy_uj", "0\n")
			}
			r, err := NewRAPL(t.Context(), Config{Root: root})
			if err != nil {
				t.Fatalf("NewRAPL() = %v", err)
			}
			if diff := cmp.Diff(tt.want, r.Components()); diff != "" {
				t.Errorf("Components() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRAPLNoMeter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"no powercap", nil},
		{"only core", map[string]string{"sys/class/powercap/intel-rapl:0:0/name": "core", "sys/class/powercap/intel-rapl:0:0/energy_uj": "1"}},
		{"unparsable counter", map[string]string{"sys/class/powercap/intel-rapl:0/name": "package-0", "sys/class/powercap/intel-rapl:0/energy_uj": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for p, d := range tt.files {
				writeFile(t, root, p, d)
			}
			if _, err := NewRAPL(t.Context(), Config{Root: root}); !errors.Is(err, ErrNoMeter) {
				t.Errorf("NewRAPL() = %v, want ErrNoMeter", err)
			}
		})
	}
}

func TestParseCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"262143328850\n", 262143328850, false},
		{"  0 ", 0, false},
		{"18446744073709551615", math.MaxUint64, false},
		{"18446744073709551616", 0, true},
		{"-1", 0, true},
		{"", 0, true},
		{"12 34", 0, true},
		{"0x10", 0, true},
	}
	for _, tt := range tests {
		got, err := parseCounter([]byte(tt.in))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseCounter(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseCounter(f *testing.F) {
	for _, s := range []string{"262143328850\n", "0", "", "-1", "99999999999999999999", " 7 \n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseCounter(b)
		if err != nil {
			return
		}
		digits := strings.TrimSpace(string(b))
		if strings.Trim(digits, "0123456789") != "" {
			t.Errorf("parseCounter(%q) = %d, nil; want an error for non-digits", b, v)
		}
	})
}

// FuzzCounter feeds arbitrary counter samples: energy never goes down and
// power is never negative.
func FuzzCounter(f *testing.F) {
	f.Add(uint64(100), uint64(50), uint64(200), uint64(1000))
	f.Add(uint64(900), uint64(10), uint64(5), uint64(0))
	f.Add(uint64(math.MaxUint64), uint64(0), uint64(1), uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, a, b, c, maxRange uint64) {
		clk := newClock()
		var ctr counter
		last := 0.0
		for _, raw := range []uint64{a, b, c, a} {
			clk.Advance("1s")
			w, _ := ctr.add(raw, maxRange, 1e-6, clk.Now())
			if ctr.joules < last || w < 0 || math.IsNaN(ctr.joules) {
				t.Fatalf("after %d: joules %v (was %v), watts %v", raw, ctr.joules, last, w)
			}
			last = ctr.joules
		}
	})
}
