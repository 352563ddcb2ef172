package energy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkSample100Jobs measures one 1 Hz sampling round: read the RAPL
// fixture (package-0 and dram-0) and read and parse the /proc/<pid>/stat of
// 100 running jobs (synthetic files in the real format). The "%core@1Hz"
// metric is the share of one core the sampler would use at 1 Hz: ns per
// round ÷ 1e9 × 100. The budget is 1%.
func BenchmarkSample100Jobs(b *testing.B) {
	root := fixtureRoot(b, "intel-server")
	r, err := NewRAPL(b.Context(), Config{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	procDir := b.TempDir()
	paths := make([]string, 100)
	for i := range paths {
		pid := 1000 + i
		stat := fmt.Sprintf("%d (python3 train.py) S 1 %d %d 0 -1 4194304 52101 0 12 0 %d %d 0 0 20 0 9 0 123456 2147483648 81920 18446744073709551615 1 1 0 0 0 0 0 16781312 16386 0 0 0 17 1 0 0 0 0 0\n",
			pid, pid, pid, 1234+i*7, 321+i)
		paths[i] = filepath.Join(procDir, strconv.Itoa(pid), "stat")
		if err := os.MkdirAll(filepath.Dir(paths[i]), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(paths[i], []byte(stat), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := b.Context()
	buf := make([]byte, 0, 512)
	var sink uint64
	for b.Loop() {
		if _, err := r.Read(ctx); err != nil {
			b.Fatal(err)
		}
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := f.Read(buf[:cap(buf)])
			f.Close()
			u, s, ok := procTicks(buf[:n])
			if !ok {
				b.Fatal("bad stat")
			}
			sink += u + s
		}
	}
	_ = sink
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/1e9*100, "%core@1Hz")
}

// procTicks returns utime and stime (fields 14 and 15) of a /proc/<pid>/stat
// line; the command may hold spaces and parentheses, so fields are counted
// after the last ')'.
func procTicks(b []byte) (utime, stime uint64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 13 {
		return 0, 0, false
	}
	u, err1 := strconv.ParseUint(string(fields[11]), 10, 64)
	s, err2 := strconv.ParseUint(string(fields[12]), 10, 64)
	return u, s, err1 == nil && err2 == nil
}
