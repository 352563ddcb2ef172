package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		root string
		want Layout
	}{
		{"testdata/v2", Layout{
			Version:     LayoutV2,
			Unified:     "/sys/fs/cgroup",
			Controllers: []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"},
			Self:        "/system.slice/joule.service",
		}},
		{"testdata/hybrid", Layout{
			Version:       LayoutHybrid,
			Unified:       "/sys/fs/cgroup/unified",
			Controllers:   []string{"hugetlb"},
			V1Controllers: []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"},
			Self:          "/",
		}},
		{"testdata/v1", Layout{
			Version:       LayoutV1,
			V1Controllers: []string{"cpu", "cpuacct", "memory"},
		}},
		{"testdata/none", Layout{Version: LayoutNone}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.root), func(t *testing.T) {
			t.Parallel()
			got, err := Detect(tt.root)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Detect(%q) (-want +got):\n%s", tt.root, diff)
			}
		})
	}
	if _, err := Detect(t.TempDir()); err == nil {
		t.Error("Detect of a tree without mountinfo succeeded, want an error")
	}
}

func TestLayoutHas(t *testing.T) {
	t.Parallel()
	l := Layout{Controllers: []string{"cpu", "memory"}}
	if !l.Has("cpu", "memory") || l.Has("cpu", "io") {
		t.Errorf("Has on %v is wrong", l.Controllers)
	}
}

func TestUnescapeMount(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{`/a\040b`: "/a b", `/a\134b`: `/a\b`, `/x\04`: `/x\04`, `/plain`: "/plain"} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSetupCgroupsWithoutV2(t *testing.T) {
	t.Parallel()
	got := setupCgroups(Layout{Version: LayoutV1}, "")
	if got.mode != cgroupOff || !strings.HasPrefix(got.note, "none: no cgroup v2 hierarchy") {
		t.Errorf("setupCgroups(v1) = %+v, want off with a note", got)
	}
	// A directory that is not a cgroup filesystem.
	dir := t.TempDir()
	got = setupCgroups(Layout{Version: LayoutV2, Self: "/"}, dir)
	if got.mode != cgroupOff || !strings.Contains(got.note, "is not a cgroup v2 directory") {
		t.Errorf("setupCgroups(plain dir) = %+v, want off with a note", got)
	}
	// A read-only place.
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		got = setupCgroups(Layout{Version: LayoutV2, Self: "/"}, ro)
		if got.mode != cgroupOff || !strings.HasPrefix(got.note, "none: cannot create cgroup") {
			t.Errorf("setupCgroups(read-only) = %+v, want off with a note", got)
		}
	}
}

func TestCgroupName(t *testing.T) {
	t.Parallel()
	if got, want := cgroupName("job_01J/../x", 2), "job-job_01J____x-2"; got != want {
		t.Errorf("cgroupName = %q, want %q", got, want)
	}
}

// TestCreateJobCgroupFiles checks what a job's cgroup gets in limit mode, on
// a plain directory standing in for cgroupfs.
func TestCreateJobCgroupFiles(t *testing.T) {
	t.Parallel()
	s := cgroupSetup{mode: cgroupLimit, parent: t.TempDir()}
	tests := []struct {
		cpu, mem       int64
		cpuMax, memMax string
	}{
		{1000, 512 << 20, "100000 100000", "536870912"},
		{250, 0, "25000 100000", "max"},
		{1, 0, "1000 100000", "max"}, // the kernel's smallest quota
		{0, 0, "max 100000", "max"},
	}
	for i, tt := range tests {
		cg, err := s.createJobCgroup("job", i, tt.cpu, tt.mem)
		if err != nil {
			t.Fatal(err)
		}
		cpu, _ := os.ReadFile(filepath.Join(cg.dir, "cpu.max"))
		mem, _ := os.ReadFile(filepath.Join(cg.dir, "memory.max"))
		if string(cpu) != tt.cpuMax || string(mem) != tt.memMax {
			t.Errorf("cpu %d, memory %d: cpu.max %q, memory.max %q; want %q, %q", tt.cpu, tt.mem, cpu, mem, tt.cpuMax, tt.memMax)
		}
		if want := "cgroup v2: cpu.max=" + tt.cpuMax + ", memory.max=" + tt.memMax; cg.limits != want {
			t.Errorf("limits = %q, want %q", cg.limits, want)
		}
	}
}
