package scheduler

import "testing"

func TestFormatQuantities(t *testing.T) {
	t.Parallel()
	mem := []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{512, "512B"},
		{1 << 10, "1Ki"},
		{1536 << 20, "1.5Gi"},
		{2<<30 - 1, "1.99Gi"}, // truncated, never rounded up to 2Gi
		{64 << 30, "64Gi"},
		{3 << 40, "3Ti"},
		{-1 << 30, "-1Gi"},
	}
	for _, tt := range mem {
		if got := formatMemory(tt.in); got != tt.want {
			t.Errorf("formatMemory(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	cpu := []struct {
		in   int64
		want string
	}{{0, "0"}, {250, "0.25"}, {1000, "1"}, {1500, "1.5"}, {-500, "-0.5"}}
	for _, tt := range cpu {
		if got := formatCPU(tt.in); got != tt.want {
			t.Errorf("formatCPU(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := formatSelector(map[string]string{"zone": "b", "gpu": "a100"}), "gpu=a100,zone=b"; got != want {
		t.Errorf("formatSelector = %q, want %q", got, want)
	}
}
