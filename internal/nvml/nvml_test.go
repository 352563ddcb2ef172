//go:build cgo

package nvml

import (
	"errors"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

// fakeDevice returns an NVML device with the given readings.
func fakeDevice(uuid, name string, memTotal uint64, limitMW uint32, limitRet nvml.Return, utilPct, powerMW uint32) *mock.Device {
	return &mock.Device{
		GetUUIDFunc:       func() (string, nvml.Return) { return uuid, nvml.SUCCESS },
		GetNameFunc:       func() (string, nvml.Return) { return name, nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) { return nvml.Memory{Total: memTotal}, nvml.SUCCESS },
		GetEnforcedPowerLimitFunc: func() (uint32, nvml.Return) {
			return limitMW, limitRet
		},
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: utilPct}, nvml.SUCCESS
		},
		GetPowerUsageFunc: func() (uint32, nvml.Return) { return powerMW, nvml.SUCCESS },
	}
}

// fakeLib returns an NVML library holding devs whose Init returns initRet.
func fakeLib(initRet nvml.Return, devs ...nvml.Device) *mock.Interface {
	return &mock.Interface{
		InitFunc:           func() nvml.Return { return initRet },
		ShutdownFunc:       func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			return devs[i], nvml.SUCCESS
		},
	}
}

func TestOpenInitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		ret             nvml.Return
		wantUnavailable bool
	}{
		{"library not found", nvml.ERROR_LIBRARY_NOT_FOUND, true},
		{"driver not loaded", nvml.ERROR_DRIVER_NOT_LOADED, true},
		{"no permission", nvml.ERROR_NO_PERMISSION, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := open(fakeLib(tt.ret))
			if err == nil {
				t.Fatalf("open() = nil error, want one")
			}
			if got := errors.Is(err, ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
			}
		})
	}
}

func TestLibReadings(t *testing.T) {
	t.Parallel()
	fake := fakeLib(nvml.SUCCESS,
		fakeDevice("GPU-a", "NVIDIA H100 80GB HBM3", 85899345920, 700000, nvml.SUCCESS, 75, 312500),
		fakeDevice("GPU-b", "NVIDIA T4", 16106127360, 0, nvml.ERROR_NOT_SUPPORTED, 0, 27000),
	)
	lib, err := open(fake)
	if err != nil {
		t.Fatalf("open() = %v", err)
	}

	gpus, err := lib.GPUs()
	if err != nil {
		t.Fatalf("GPUs() = %v", err)
	}
	wantGPUs := []joule.GPU{
		{Index: 0, UUID: "GPU-a", Name: "NVIDIA H100 80GB HBM3", MemoryBytes: 85899345920, PowerLimitW: 700},
		{Index: 1, UUID: "GPU-b", Name: "NVIDIA T4", MemoryBytes: 16106127360},
	}
	if diff := cmp.Diff(wantGPUs, gpus); diff != "" {
		t.Errorf("GPUs() mismatch (-want +got):\n%s", diff)
	}

	util, err := lib.Utilization()
	if err != nil {
		t.Fatalf("Utilization() = %v", err)
	}
	if diff := cmp.Diff([]float64{0.75, 0}, util); diff != "" {
		t.Errorf("Utilization() mismatch (-want +got):\n%s", diff)
	}

	power, err := lib.Power()
	if err != nil {
		t.Fatalf("Power() = %v", err)
	}
	if diff := cmp.Diff([]float64{312.5, 27}, power); diff != "" {
		t.Errorf("Power() mismatch (-want +got):\n%s", diff)
	}

	if err := lib.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := lib.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if n := len(fake.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times, want 1", n)
	}
	if _, err := lib.Power(); !errors.Is(err, ErrClosed) {
		t.Errorf("Power() after Close = %v, want ErrClosed", err)
	}
}
