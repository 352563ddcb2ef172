package energy

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeCPUModel(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz", "intel xeon e3-1240 v2"},
		{"AMD EPYC 8024P 8-Core Processor", "amd epyc 8024p"},
		{"AMD Ryzen 7 5800H with Radeon Graphics", "amd ryzen 7 5800h"},
		{"Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "intel core i7-8700"},
		{"  AMD   EPYC  ", "amd epyc"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeCPUModel(tt.in); got != tt.want {
			t.Errorf("NormalizeCPUModel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	table := DefaultTDPTable()
	tests := []struct {
		model     string
		wantWatts float64
		wantRow   string
		wantMatch string
		wantOK    bool
	}{
		{"Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz", 69, "Intel Xeon E3-1240 v2", MatchExact, true},
		{"Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz", 85, "Intel Xeon E5-2620 v3", MatchExact, true},
		{"AMD EPYC 8024P 8-Core Processor", 90, "AMD EPYC 8024P", MatchExact, true},
		{"AMD Ryzen Threadripper 1950X 16-Core Processor", 180, "AMD Ryzen Threadripper 1950X", MatchExact, true},
		{"Intel Xeon E3-1240 v2 Engineering Sample", 69, "Intel Xeon E3-1240 v2", MatchToken, true},
		{"AMD EPYC", 200, "amd epyc", MatchFamily, true},
		{"Unobtainium X9000", 0, "", "", false},
		{"", 0, "", "", false},
	}
	for _, tt := range tests {
		w, row, match, ok := table.Lookup(tt.model)
		if w != tt.wantWatts || row != tt.wantRow || match != tt.wantMatch || ok != tt.wantOK {
			t.Errorf("Lookup(%q) = %v, %q, %q, %v; want %v, %q, %q, %v", tt.model, w, row, match, ok, tt.wantWatts, tt.wantRow, tt.wantMatch, tt.wantOK)
		}
	}
	if table.Skipped == 0 || table.Len() < 4800 {
		t.Errorf("table: %d rows, %d skipped; want about 4,900 rows and the few bad ones skipped", table.Len(), table.Skipped)
	}
}

func TestForCPU(t *testing.T) {
	t.Parallel()
	table := DefaultTDPTable()
	tests := []struct {
		name string
		cpu  CPUInfo
		want TDP
	}{
		{"two sockets", CPUInfo{Model: "Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz", Threads: 24, Sockets: 2}, TDP{Watts: 170, Match: MatchExact, Row: "Intel Xeon E5-2620 v3"}},
		{"VM", CPUInfo{Model: "AMD EPYC", Threads: 2, Sockets: 1, VM: true}, TDP{Watts: 2 * DefaultWattsPerThread, Match: MatchVM, Row: "amd epyc"}},
		{"unknown", CPUInfo{Model: "Mystery", Threads: 4, Sockets: 1}, TDP{Watts: 4 * DefaultWattsPerThread, Match: MatchDefault}},
		{"nothing known", CPUInfo{}, TDP{Watts: DefaultWattsPerThread, Match: MatchDefault}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, table.ForCPU(tt.cpu)); diff != "" {
			t.Errorf("%s: ForCPU(%+v) mismatch (-want +got):\n%s", tt.name, tt.cpu, diff)
		}
	}
}

func TestParseCPUInfo(t *testing.T) {
	t.Parallel()
	in := `processor	: 0
vendor_id	: AuthenticAMD
model name	: AMD EPYC
physical id	: 0
flags		: fpu vme hypervisor lahf_lm

processor	: 1
model name	: AMD EPYC
physical id	: 0
flags		: fpu vme hypervisor lahf_lm
`
	want := CPUInfo{Model: "AMD EPYC", Threads: 2, Sockets: 1, VM: true}
	if diff := cmp.Diff(want, ParseCPUInfo([]byte(in))); diff != "" {
		t.Errorf("ParseCPUInfo() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(CPUInfo{}, ParseCPUInfo([]byte("no colon\n:::\n"))); diff != "" {
		t.Errorf("ParseCPUInfo(junk) mismatch (-want +got):\n%s", diff)
	}
}

func TestParseTDPTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in    string
		wantErr     string
		wantRows    int
		wantSkipped int
	}{
		{"ok", "Name,TDP\nIntel Xeon E3-1240 v2,69.0\n\"Intel EP80579 Integrated, 600 MHz\",11.0\nIntel Celeron 1000A,27.29.5\nQuark,0.0\n", "", 2, 2},
		{"bom", "\ufeffName,TDP\nA 1,1\n", "", 1, 0},
		{"bad header", "Model,Watts\nA,1\n", "header", 0, 0},
		{"empty", "", "header", 0, 0},
		{"no rows", "Name,TDP\n", "no usable rows", 0, 0},
		{"ragged", "Name,TDP\nA,1,2\n", "line 2", 0, 0},
	}
	for _, tt := range tests {
		got, err := ParseTDPTable(strings.NewReader(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: ParseTDPTable() = %v, want an error containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: ParseTDPTable() = %v", tt.name, err)
		}
		if got.Len() != tt.wantRows || got.Skipped != tt.wantSkipped {
			t.Errorf("%s: %d rows, %d skipped; want %d, %d", tt.name, got.Len(), got.Skipped, tt.wantRows, tt.wantSkipped)
		}
	}
}

func FuzzParseTDPTable(f *testing.F) {
	f.Add([]byte(cpuPowerCSV[:2000]))
	f.Add([]byte("Name,TDP\n\"a,b\",1e308\nx,NaN\ny,-Inf\n"))
	f.Add([]byte("Name,TDP\n\"unterminated,1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		table, err := ParseTDPTable(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, r := range table.rows {
			if !(r.tdp > 0) {
				t.Fatalf("row %q has TDP %v", r.name, r.tdp)
			}
		}
		table.Lookup(string(b))
	})
}

func FuzzCPUInfo(f *testing.F) {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && len(b) < 1<<16 {
		f.Add(b)
	}
	f.Add([]byte("model name : Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz\nprocessor : 0\n"))
	f.Add([]byte("model name\t: AMD Ryzen 7 5800H with Radeon Graphics\nflags : hypervisor\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := ParseCPUInfo(b)
		if c.Threads < 0 || c.Sockets < 0 {
			t.Fatalf("ParseCPUInfo(%q) = %+v", b, c)
		}
		tdp := DefaultTDPTable().ForCPU(c)
		if !(tdp.Watts > 0) {
			t.Fatalf("ForCPU(%+v) = %+v, want positive watts", c, tdp)
		}
	})
}
