package nodeinfo

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joule-dev/joule"
)

// fakeGPUs is a GPUSource with fixed readings, standing in for NVML.
type fakeGPUs struct {
	gpus []joule.GPU
	util []float64
	err  error // returned by both methods when set
}

var _ GPUSource = (*fakeGPUs)(nil)

func (f *fakeGPUs) GPUs() ([]joule.GPU, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.gpus, nil
}

func (f *fakeGPUs) Utilization() ([]float64, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.util, nil
}

// twoGPUs returns a fake with two A100s.
func twoGPUs() *fakeGPUs {
	return &fakeGPUs{
		gpus: []joule.GPU{
			{Index: 0, UUID: "GPU-5f0c2b6e-8d1a-4c3e-9b2f-0a1b2c3d4e5f", Name: "NVIDIA A100-SXM4-40GB", MemoryBytes: 42949672960, PowerLimitW: 400},
			{Index: 1, UUID: "GPU-9e8d7c6b-5a49-4382-a1b0-f9e8d7c6b5a4", Name: "NVIDIA A100-SXM4-40GB", MemoryBytes: 42949672960, PowerLimitW: 400},
		},
		util: []float64{0.25, 1},
	}
}

var errNoGPU = errors.New("fake: NVML gone")

// fixtureRoot copies testdata/name into a temporary directory and returns
// it. Module zips forbid ':' in file names, so the fixtures spell the colon
// of sysfs names such as intel-rapl:0 as "%3A"; the copy restores it.
func fixtureRoot(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, strings.ReplaceAll(rel, "%3A", ":"))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy fixture %s: %v", name, err)
	}
	return dst
}

// writeFile writes root/rel, creating its directories.
func writeFile(t *testing.T, root, rel, data string) {
	t.Helper()
	path := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// removeFile removes root/rel.
func removeFile(t *testing.T, root, rel string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, rel)); err != nil {
		t.Fatal(err)
	}
}
