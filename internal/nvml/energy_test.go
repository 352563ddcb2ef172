//go:build cgo

package nvml

import (
	"errors"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/google/go-cmp/cmp"
)

func TestTotalEnergy(t *testing.T) {
	t.Parallel()
	h100 := &mock.Device{GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) { return 123456789, nvml.SUCCESS }}
	k80 := &mock.Device{GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }}
	lib, err := open(fakeLib(nvml.SUCCESS, h100, k80))
	if err != nil {
		t.Fatalf("open() = %v", err)
	}
	got, err := lib.TotalEnergy()
	if err != nil {
		t.Fatalf("TotalEnergy() = %v", err)
	}
	if diff := cmp.Diff([]float64{123456.789, -1}, got); diff != "" {
		t.Errorf("TotalEnergy() mismatch (-want +got):\n%s", diff)
	}

	broken := &mock.Device{GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) { return 0, nvml.ERROR_GPU_IS_LOST }}
	lib2, err := open(fakeLib(nvml.SUCCESS, broken))
	if err != nil {
		t.Fatalf("open() = %v", err)
	}
	if _, err := lib2.TotalEnergy(); err == nil {
		t.Error("TotalEnergy() on a lost GPU = nil error, want one")
	}
	_ = lib.Close()
	if _, err := lib.TotalEnergy(); !errors.Is(err, ErrClosed) {
		t.Errorf("TotalEnergy() after Close = %v, want ErrClosed", err)
	}
}

func TestProcessUtilization(t *testing.T) {
	t.Parallel()
	var calls []uint64
	batches := [][]nvml.ProcessUtilizationSample{
		{
			{Pid: 100, TimeStamp: 10, SmUtil: 40},
			{Pid: 100, TimeStamp: 20, SmUtil: 60},
			{Pid: 200, TimeStamp: 15, SmUtil: 250}, // clamped to 100%
		},
		{
			{Pid: 100, TimeStamp: 20, SmUtil: 60}, // already seen
			{Pid: 300, TimeStamp: 30, SmUtil: 10},
		},
	}
	gpu0 := &mock.Device{GetProcessUtilizationFunc: func(last uint64) ([]nvml.ProcessUtilizationSample, nvml.Return) {
		calls = append(calls, last)
		if len(calls) > len(batches) {
			return nil, nvml.ERROR_NOT_FOUND
		}
		return batches[len(calls)-1], nvml.SUCCESS
	}}
	gpu1 := &mock.Device{GetProcessUtilizationFunc: func(uint64) ([]nvml.ProcessUtilizationSample, nvml.Return) {
		return nil, nvml.ERROR_NOT_SUPPORTED
	}}
	lib, err := open(fakeLib(nvml.SUCCESS, gpu0, gpu1))
	if err != nil {
		t.Fatalf("open() = %v", err)
	}
	want := [][]map[int]float64{
		{{100: 0.5, 200: 1}, nil},
		{{300: 0.1}, nil},
		{{}, nil},
	}
	for i, w := range want {
		got, err := lib.ProcessUtilization()
		if err != nil {
			t.Fatalf("ProcessUtilization() #%d = %v", i, err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("ProcessUtilization() #%d mismatch (-want +got):\n%s", i, diff)
		}
	}
	if diff := cmp.Diff([]uint64{0, 20, 30}, calls); diff != "" {
		t.Errorf("lastSeenTimestamp passed to NVML (-want +got):\n%s", diff)
	}
}
