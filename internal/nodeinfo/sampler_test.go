package nodeinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

func TestSamplerDeltas(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, root, "proc/meminfo", "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\n")
	writeFile(t, root, "proc/loadavg", "1.50 0.80 0.40 3/200 999\n")
	cfg := testConfig(t, root)
	cfg.GPUs = twoGPUs()
	s := NewSampler(cfg)

	// user nice system idle iowait irq softirq steal guest guest_nice
	steps := []struct {
		name, stat string
		wantCPU    float64
	}{
		{"first call averages since boot", "cpu  100 0 100 700 100 0 0 0 50 0\n", 0.2},
		{"delta from previous", "cpu  400 0 200 1000 400 0 0 0 50 0\n", 0.4},
		{"no progress", "cpu  400 0 200 1000 400 0 0 0 50 0\n", 0},
		{"all busy", "cpu  500 0 300 1000 400 0 0 0 50 0\n", 1},
	}
	for _, step := range steps {
		writeFile(t, root, "proc/stat", step.stat)
		got, err := s.Sample(t.Context())
		if err != nil {
			t.Fatalf("%s: Sample() = %v", step.name, err)
		}
		want := joule.NodeUsage{
			Time:         testNow,
			CPUFraction:  step.wantCPU,
			MemoryUsed:   400 << 10,
			Load1:        1.5,
			GPUFractions: []float64{0.25, 1},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Sample() mismatch (-want +got):\n%s", step.name, diff)
		}
	}
}

func TestSamplerFixture(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, fixtureRoot(t, "rapl-host"))
	cfg.GPUs = &fakeGPUs{err: errNoGPU}
	got, err := NewSampler(cfg).Sample(t.Context())
	if err != nil {
		t.Fatalf("Sample() = %v", err)
	}
	want := joule.NodeUsage{
		Time: testNow,
		// cpu  1182016 4127 312866 18837640 52213 0 9117 0 0 0
		CPUFraction:  float64(1182016+4127+312866+9117) / float64(1182016+4127+312866+18837640+52213+9117),
		MemoryUsed:   (16303412 - 12503876) << 10,
		Load1:        0.52,
		GPUFractions: nil, // the GPU source failed; the rest still counts
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sample() mismatch (-want +got):\n%s", diff)
	}
}

func TestSamplerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string // under proc/
		data    string // "" removes the file
		wantErr string // the part after the root
	}{
		{"bad stat", "stat", "cpu  1 2 three 4\n", "/proc/stat line 1: counter 3:"},
		{"bad meminfo", "meminfo", "MemTotal: 10 kB\nMemAvailable: ten kB\n", "/proc/meminfo line 2: MemAvailable:"},
		{"bad loadavg", "loadavg", "high 1 1 1/1 1\n", "/proc/loadavg line 1: load1:"},
		{"no stat", "stat", "", "/proc/stat: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeFile(t, root, "proc/stat", "cpu 1 2 3 4\n")
			writeFile(t, root, "proc/meminfo", "MemTotal: 10 kB\n")
			writeFile(t, root, "proc/loadavg", "0.1 0.1 0.1 1/1 1\n")
			if tt.data != "" {
				writeFile(t, root, "proc/"+tt.file, tt.data)
			} else {
				removeFile(t, root, "proc/"+tt.file)
			}
			_, err := NewSampler(testConfig(t, root)).Sample(t.Context())
			if err == nil || !strings.Contains(err.Error(), root+tt.wantErr) {
				t.Errorf("Sample() = %v, want an error containing %q", err, root+tt.wantErr)
			}
		})
	}
}

// TestSamplerLocal samples the machine the test runs on.
func TestSamplerLocal(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("Sampler reads Linux procfs")
	}
	s := NewSampler(Config{})
	for range 2 {
		u, err := s.Sample(t.Context())
		if err != nil {
			t.Fatalf("Sample() = %v", err)
		}
		if u.CPUFraction < 0 || u.CPUFraction > 1 || u.MemoryUsed <= 0 || u.Load1 < 0 {
			t.Errorf("Sample() = %+v, want CPU in 0..1, memory > 0, load >= 0", u)
		}
	}
}
