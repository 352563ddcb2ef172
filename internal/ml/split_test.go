package ml_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule/internal/ml"
)

func TestSplitMix64(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seed uint64
		want []uint64
	}{
		{"seed 0", 0, []uint64{0xe220a8397b1dcdaf}},
		{"seed 42", 42, []uint64{0xbdd732262feb6e95, 0x28efe333b266f103, 0x47526757130f9f52}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := ml.NewSplitMix64(tt.seed)
			for i, want := range tt.want {
				if got := g.Next(); got != want {
					t.Errorf("output %d = %#x, want %#x", i, got, want)
				}
			}
		})
	}
}

func TestTrainTestSplit(t *testing.T) {
	t.Parallel()
	train, test := ml.TrainTestSplit(10, 42)
	if diff := cmp.Diff([]int{0, 9, 5, 8, 6, 4, 7, 2}, train); diff != "" {
		t.Errorf("train (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 3}, test); diff != "" {
		t.Errorf("test (-want +got):\n%s", diff)
	}
	for _, n := range []int{0, 1, 2, 5} {
		train, test := ml.TrainTestSplit(n, 42)
		if len(train) != n*8/10 || len(train)+len(test) != n {
			t.Errorf("TrainTestSplit(%d) = %d train, %d test", n, len(train), len(test))
		}
	}
}
