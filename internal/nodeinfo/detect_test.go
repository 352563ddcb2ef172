package nodeinfo

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

var testNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func testConfig(t *testing.T, root string) Config {
	return Config{
		Root:   root,
		Now:    func() time.Time { return testNow },
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	raplNode := func(root string) joule.Node {
		pc := func(zone string) string { return filepath.Join(root, "sys/class/powercap", zone) }
		hw := func(file string) string { return filepath.Join(root, "sys/class/hwmon", file) }
		return joule.Node{
			Name:        "rapl-host",
			Hostname:    "rapl-host",
			OS:          runtime.GOOS,
			Arch:        runtime.GOARCH,
			Kernel:      "6.8.0-45-generic",
			CPUModel:    "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
			CPUCores:    4,
			MemoryBytes: 16303412 * 1024,
			GPUs:        twoGPUs().gpus,
			Meters: []joule.Meter{
				{Kind: joule.MeterRAPL, Name: "package-0", Source: pc("intel-rapl:0")},
				{Kind: joule.MeterRAPL, Name: "package-0/core", Source: pc("intel-rapl:0:0")},
				{Kind: joule.MeterRAPL, Name: "package-0/uncore", Source: pc("intel-rapl:0:1")},
				// intel-rapl:0:2 (dram) has no energy_uj.
				{Kind: joule.MeterRAPL, Name: "package-1", Source: pc("intel-rapl:1")},
				// hwmon0 (coretemp) has no power sensor.
				{Kind: joule.MeterHwmon, Name: "amdgpu/PPT", Source: hw("hwmon1/power1_input")},
				{Kind: joule.MeterHwmon, Name: "power_meter/power1", Source: hw("hwmon2/power1_average")},
				{Kind: joule.MeterNVML, Name: "GPU 0", Source: "GPU-5f0c2b6e-8d1a-4c3e-9b2f-0a1b2c3d4e5f"},
				{Kind: joule.MeterNVML, Name: "GPU 1", Source: "GPU-9e8d7c6b-5a49-4382-a1b0-f9e8d7c6b5a4"},
			},
			Labels:        map[string]string{"rack": "r1"},
			State:         joule.NodeReady,
			Version:       joule.Version,
			CreatedAt:     testNow,
			LastHeartbeat: testNow,
		}
	}
	bareNode := joule.Node{
		Name:          "bare-host",
		Hostname:      "bare-host",
		OS:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		Kernel:        "6.1.0-21-arm64",
		CPUModel:      "unknown", // arm64 cpuinfo names no model
		CPUCores:      2,
		MemoryBytes:   3884092 * 1024,
		GPUs:          []joule.GPU{},
		Meters:        []joule.Meter{},
		State:         joule.NodeReady,
		Version:       joule.Version,
		CreatedAt:     testNow,
		LastHeartbeat: testNow,
	}

	tests := []struct {
		name    string
		fixture string
		config  func(*Config)
		want    func(root string) joule.Node
	}{
		{
			name:    "rapl host with GPUs",
			fixture: "rapl-host",
			config: func(c *Config) {
				c.GPUs = twoGPUs()
				c.Labels = map[string]string{"rack": "r1"}
			},
			want: raplNode,
		},
		{
			name:    "bare host",
			fixture: "bare-host",
			config:  func(*Config) {},
			want:    func(string) joule.Node { return bareNode },
		},
		{
			name:    "GPU source fails",
			fixture: "bare-host",
			config:  func(c *Config) { c.GPUs = &fakeGPUs{err: errNoGPU} },
			want:    func(string) joule.Node { return bareNode },
		},
		{
			name:    "name set",
			fixture: "bare-host",
			config:  func(c *Config) { c.Name = "edge-7" },
			want: func(string) joule.Node {
				n := bareNode
				n.Name = "edge-7"
				return n
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := fixtureRoot(t, tt.fixture)
			cfg := testConfig(t, root)
			tt.config(&cfg)
			got, err := Detect(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Detect() = %v", err)
			}
			if diff := cmp.Diff(tt.want(root), got); diff != "" {
				t.Errorf("Detect() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDetectSymlinks lays out sysfs as the kernel does: the entries of
// /sys/class/powercap and /sys/class/hwmon are symlinks into /sys/devices.
func TestDetectSymlinks(t *testing.T) {
	t.Parallel()
	root := fixtureRoot(t, "bare-host")
	for _, f := range []struct{ rel, data string }{
		{"sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/name", "package-0\n"},
		{"sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj", "123\n"},
		{"sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0/name", "core\n"},
		{"sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0/energy_uj", "45\n"},
		{"sys/devices/platform/ACPI000D:00/hwmon/hwmon3/name", "power_meter\n"},
		{"sys/devices/platform/ACPI000D:00/hwmon/hwmon3/power1_average", "245000000\n"},
	} {
		writeFile(t, root, f.rel, f.data)
	}
	for link, target := range map[string]string{
		"sys/class/powercap/intel-rapl:0":   "../../devices/virtual/powercap/intel-rapl/intel-rapl:0",
		"sys/class/powercap/intel-rapl:0:0": "../../devices/virtual/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0",
		"sys/class/hwmon/hwmon3":            "../../devices/platform/ACPI000D:00/hwmon/hwmon3",
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}

	got, err := Detect(t.Context(), testConfig(t, root))
	if err != nil {
		t.Fatalf("Detect() = %v", err)
	}
	want := []joule.Meter{
		{Kind: joule.MeterRAPL, Name: "package-0", Source: filepath.Join(root, "sys/class/powercap/intel-rapl:0")},
		{Kind: joule.MeterRAPL, Name: "package-0/core", Source: filepath.Join(root, "sys/class/powercap/intel-rapl:0:0")},
		{Kind: joule.MeterHwmon, Name: "power_meter/power1", Source: filepath.Join(root, "sys/class/hwmon/hwmon3/power1_average")},
	}
	if diff := cmp.Diff(want, got.Meters); diff != "" {
		t.Errorf("Detect() meters mismatch (-want +got):\n%s", diff)
	}
}

// TestDetectUnreadable checks that meters whose counters cannot be read are
// left out. Permission bits do not stop root, which runs CI, so the counters
// are made unreadable by being directories.
func TestDetectUnreadable(t *testing.T) {
	t.Parallel()
	root := fixtureRoot(t, "bare-host")
	writeFile(t, root, "sys/class/powercap/intel-rapl:0/name", "package-0\n")
	writeFile(t, root, "sys/class/powercap/intel-rapl:0/energy_uj/x", "")
	writeFile(t, root, "sys/class/powercap/intel-rapl:1/name", "package-1\n")
	writeFile(t, root, "sys/class/powercap/intel-rapl:1/energy_uj", "99\n")
	writeFile(t, root, "sys/class/hwmon/hwmon0/power1_input/x", "")

	got, err := Detect(t.Context(), testConfig(t, root))
	if err != nil {
		t.Fatalf("Detect() = %v", err)
	}
	want := []joule.Meter{
		{Kind: joule.MeterRAPL, Name: "package-1", Source: filepath.Join(root, "sys/class/powercap/intel-rapl:1")},
	}
	if diff := cmp.Diff(want, got.Meters); diff != "" {
		t.Errorf("Detect() meters mismatch (-want +got):\n%s", diff)
	}
}

func TestDetectErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		config  func(t *testing.T, c *Config, root string)
		wantErr string
	}{
		{
			name:    "bad meminfo",
			config:  func(t *testing.T, c *Config, root string) { writeFile(t, root, "proc/meminfo", "MemTotal: lots kB\n") },
			wantErr: "proc/meminfo line 1: MemTotal:",
		},
		{
			name:    "no hostname",
			config:  func(t *testing.T, c *Config, root string) { removeFile(t, root, "proc/sys/kernel/hostname") },
			wantErr: "set Config.Name",
		},
		{
			name:    "bad name",
			config:  func(t *testing.T, c *Config, root string) { c.Name = "two words" },
			wantErr: "Name",
		},
		{
			name:    "empty label key",
			config:  func(t *testing.T, c *Config, root string) { c.Labels = map[string]string{"": "x"} },
			wantErr: "Labels",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := fixtureRoot(t, "bare-host")
			cfg := testConfig(t, root)
			tt.config(t, &cfg, root)
			_, err := Detect(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Detect() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestDetectLocal detects the machine the test runs on.
func TestDetectLocal(t *testing.T) {
	t.Parallel()
	n, err := Detect(t.Context(), Config{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatalf("Detect() = %v", err)
	}
	if n.Name == "" || n.CPUCores <= 0 || n.CPUModel == "" {
		t.Errorf("Detect() = name %q, %d cores, model %q; want all set", n.Name, n.CPUCores, n.CPUModel)
	}
	if runtime.GOOS == "linux" && n.MemoryBytes <= 0 {
		t.Errorf("Detect().MemoryBytes = %d, want > 0", n.MemoryBytes)
	}
	t.Logf("detected %s: %s, %d cores, %d bytes, meters %v", n.Name, n.CPUModel, n.CPUCores, n.MemoryBytes, n.Meters)
}
