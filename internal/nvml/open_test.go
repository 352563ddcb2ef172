package nvml

import (
	"errors"
	"testing"
)

// TestOpenUnavailable runs on machines without libnvidia-ml, such as CI: Open
// must fail with ErrUnavailable rather than panic. Where NVML is installed it
// checks that the library opens and closes instead.
func TestOpenUnavailable(t *testing.T) {
	t.Parallel()
	lib, err := Open()
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Open() = %v, want an error wrapping ErrUnavailable", err)
		}
		return
	}
	t.Log("NVML is available on this machine")
	if _, err := lib.GPUs(); err != nil {
		t.Errorf("GPUs() = %v", err)
	}
	if err := lib.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}
