package nodeinfo

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixture returns the contents of testdata/rel for fuzz seeds.
func fixture(f *testing.F, rel string) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func TestParseCPUInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     cpuInfo
	}{
		{"x86", "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\n", cpuInfo{"AMD EPYC 7763 64-Core Processor", 2}},
		{"arm32 hardware", "processor\t: 0\nBogoMIPS\t: 38.40\n\nHardware\t: BCM2835\nRevision\t: a02082\n", cpuInfo{"BCM2835", 1}},
		{"mips cpu model", "system type\t\t: MT7621\nprocessor\t\t: 0\ncpu model\t\t: MIPS 1004Kc V2.15\n", cpuInfo{"MIPS 1004Kc V2.15", 1}},
		{"model name wins", "Hardware\t: BCM2835\nprocessor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\n", cpuInfo{"ARMv7 Processor rev 4 (v7l)", 1}},
		{"arm64 no model", "processor\t: 0\nCPU implementer\t: 0x41\n", cpuInfo{"", 1}},
		{"empty", "", cpuInfo{}},
		{"no newline at end", "processor : 0", cpuInfo{"", 1}},
		{"junk", "no colon here\n:::\n", cpuInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parseCPUInfo([]byte(tt.in)); got != tt.want {
				t.Errorf("parseCPUInfo(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseMeminfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     memInfo
		wantErr  string
	}{
		{name: "modern", in: "MemTotal:  1000 kB\nMemFree:  100 kB\nMemAvailable:  600 kB\nHugePages_Total:  0\n", want: memInfo{1000 << 10, 600 << 10}},
		{name: "no MemAvailable", in: "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n", want: memInfo{1000 << 10, 400 << 10}},
		{name: "no MemTotal", in: "MemFree: 100 kB\n", wantErr: "parse /proc/meminfo: no MemTotal line"},
		{name: "bad number", in: "MemTotal: 1000 kB\nMemAvailable: 6x0 kB\n", wantErr: "parse /proc/meminfo line 2: MemAvailable:"},
		{name: "no unit", in: "MemTotal: 1000\n", wantErr: "parse /proc/meminfo line 1: MemTotal:"},
		{name: "negative", in: "MemTotal: -1 kB\n", wantErr: "parse /proc/meminfo line 1: MemTotal:"},
		{name: "overflow", in: "MemTotal: 9223372036854775807 kB\n", wantErr: "parse /proc/meminfo line 1: MemTotal:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMeminfo("/proc/meminfo", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("parseMeminfo(%q) = %v, want error starting %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMeminfo(%q) = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseMeminfo(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     cpuTimes
		wantErr  string
	}{
		{name: "modern", in: "cpu  10 1 5 100 4 2 3 1 7 7\ncpu0 10 1 5 100 4 2 3 1 7 7\n", want: cpuTimes{Busy: 22, Total: 126}},
		{name: "old kernel", in: "cpu 10 1 5 100\n", want: cpuTimes{Busy: 16, Total: 116}},
		{name: "cpu line later", in: "intr 1 2\ncpu 1 0 0 1\n", want: cpuTimes{Busy: 1, Total: 2}},
		{name: "no cpu line", in: "cpu0 1 2 3 4\n", wantErr: "parse /proc/stat: no cpu line"},
		{name: "too few", in: "cpu 1 2 3\n", wantErr: "parse /proc/stat line 1: 3 counters"},
		{name: "bad counter", in: "ctxt 1\ncpu 1 2 x 4\n", wantErr: "parse /proc/stat line 2: counter 3:"},
		{name: "overflow", in: "cpu 18446744073709551615 1 0 0\n", wantErr: "parse /proc/stat line 1: counters overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStat("/proc/stat", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("parseStat(%q) = %v, want error starting %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStat(%q) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("parseStat(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseLoadavg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     float64
		wantErr  bool
	}{
		{name: "linux", in: "0.52 0.58 0.59 2/467 12345\n", want: 0.52},
		{name: "empty", in: "", wantErr: true},
		{name: "junk", in: "x 1 2\n", wantErr: true},
		{name: "nan", in: "NaN 1 2\n", wantErr: true},
		{name: "negative", in: "-1 1 2\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseLoadavg("/proc/loadavg", []byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseLoadavg(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestBusyFraction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		prev, cur cpuTimes
		want      float64
	}{
		{"since boot", cpuTimes{}, cpuTimes{Busy: 25, Total: 100}, 0.25},
		{"delta", cpuTimes{Busy: 25, Total: 100}, cpuTimes{Busy: 75, Total: 200}, 0.5},
		{"no progress", cpuTimes{Busy: 25, Total: 100}, cpuTimes{Busy: 25, Total: 100}, 0},
		{"counters reset", cpuTimes{Busy: 25, Total: 100}, cpuTimes{Busy: 1, Total: 10}, 0},
		{"busy beyond total", cpuTimes{Busy: 0, Total: 100}, cpuTimes{Busy: 300, Total: 200}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := busyFraction(tt.prev, tt.cur); got != tt.want {
				t.Errorf("busyFraction(%+v, %+v) = %v, want %v", tt.prev, tt.cur, got, tt.want)
			}
		})
	}
}

func FuzzParseCPUInfo(f *testing.F) {
	f.Add(fixture(f, "rapl-host/proc/cpuinfo"))
	f.Add(fixture(f, "bare-host/proc/cpuinfo"))
	f.Add([]byte("processor : 0\nHardware : BCM2835\n"))
	f.Add([]byte("::\n\x00processor"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info := parseCPUInfo(data)
		if info.CPUs < 0 || info.CPUs > strings.Count(string(data), "processor") {
			t.Errorf("parseCPUInfo(%q).CPUs = %d", data, info.CPUs)
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add(fixture(f, "rapl-host/proc/meminfo"))
	f.Add(fixture(f, "bare-host/proc/meminfo"))
	f.Add([]byte("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 2500 kB\n"))
	f.Add([]byte("MemTotal: 9007199254740991 kB\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMeminfo("/proc/meminfo", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parse /proc/meminfo") {
				t.Errorf("parseMeminfo(%q) error %q does not name the file", data, err)
			}
			return
		}
		if m.Total < 0 || m.Available < 0 {
			t.Errorf("parseMeminfo(%q) = %+v, want non-negative", data, m)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add(fixture(f, "rapl-host/proc/stat"), fixture(f, "bare-host/proc/stat"))
	f.Add([]byte("cpu 1 2 3 4\n"), []byte("cpu 18446744073709551615 0 0 0\n"))
	f.Add([]byte("cpu  1 2 3 4 5 6 7 8 9 10 11\n"), []byte("cpu 1 2 3\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		prev, errA := parseStat("/proc/stat", a)
		cur, errB := parseStat("/proc/stat", b)
		for _, err := range []error{errA, errB} {
			if err != nil && !strings.HasPrefix(err.Error(), "parse /proc/stat") {
				t.Errorf("parseStat error %q does not name the file", err)
			}
		}
		if errA == nil && prev.Busy > prev.Total {
			t.Errorf("parseStat(%q) = %+v, busy beyond total", a, prev)
		}
		if f := busyFraction(prev, cur); f < 0 || f > 1 || math.IsNaN(f) {
			t.Errorf("busyFraction(%+v, %+v) = %v, want 0..1", prev, cur, f)
		}
	})
}
