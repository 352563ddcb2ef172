package dataset

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The scale tests run only when scripts/bench_ingest.sh asks for them: each
// in its own process, so that the peak resident memory it reports
// (VmHWM) is that step's alone.
//
//	JOULE_SCALE_GEN=FILE JOULE_SCALE_BYTES=N   write a CSV of about N bytes
//	JOULE_SCALE_CSV=FILE JOULE_SCALE_STEP=…    ingest | duckdb | hash | hash-v1 | profile

func peakRSS(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// cpuSeconds is the user and system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// TestScaleGenerate writes a synthetic CSV: an id, a timestamp, a category,
// six floats, a count and a short text, ~100 bytes a row.
func TestScaleGenerate(t *testing.T) {
	path := os.Getenv("JOULE_SCALE_GEN")
	if path == "" {
		t.Skip("JOULE_SCALE_GEN not set")
	}
	size, err := strconv.ParseInt(os.Getenv("JOULE_SCALE_BYTES"), 10, 64)
	if err != nil || size <= 0 {
		t.Fatalf("JOULE_SCALE_BYTES: %v", err)
	}
	rows, n, err := writeScaleCSV(path, size)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("generated %s: %d rows, %d bytes\n", path, rows, n)
}

// writeScaleCSV writes the scale CSV of about size bytes to path: an id
// (the row number from 0), a timestamp, a category, six floats, a count and
// a short text, ~100 bytes a row.
func writeScaleCSV(path string, size int64) (rows, n int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	k, _ := w.WriteString("id,ts,category,x1,x2,x3,x4,x5,x6,count,note\n")
	n += int64(k)
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cats := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	buf := make([]byte, 0, 256)
	for n < size {
		buf = buf[:0]
		buf = strconv.AppendInt(buf, rows, 10)
		buf = append(buf, ',')
		buf = base.Add(time.Duration(rows)*time.Second).AppendFormat(buf, "2006-01-02 15:04:05")
		buf = append(buf, ',')
		buf = append(buf, cats[r.IntN(len(cats))]...)
		for range 6 {
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, r.NormFloat64()*100, 'f', 4, 64)
		}
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(r.IntN(1000)), 10)
		buf = append(buf, ",note "...)
		buf = strconv.AppendInt(buf, int64(r.IntN(100000)), 36)
		buf = append(buf, '\n')
		k, _ := w.Write(buf)
		n += int64(k)
		rows++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, 0, err
	}
	return rows, n, f.Close()
}

// TestScaleStep runs one timed step on $JOULE_SCALE_CSV.
func TestScaleStep(t *testing.T) {
	src := os.Getenv("JOULE_SCALE_CSV")
	if src == "" {
		t.Skip("JOULE_SCALE_CSV not set")
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("JOULE_SCALE_OUT")
	if out == "" {
		out = t.TempDir()
	}
	cfg := EngineConfig{TempDir: filepath.Join(out, "tmp")}
	os.MkdirAll(cfg.TempDir, 0o700)
	mb := float64(fi.Size()) / 1e6
	step := os.Getenv("JOULE_SCALE_STEP")
	start, cpu0 := time.Now(), cpuSeconds()
	var rows int64
	switch step {
	case "ingest": // joule's ingest: sniff, infer, read with rejects, write Parquet, hash
		res, err := ingest(t.Context(), cfg, src, filepath.Join(out, "joule"), IngestOptions{}, false, false)
		if err != nil {
			t.Fatal(err)
		}
		rows = res.Rows
	case "duckdb": // DuckDB alone: read_csv (its own sniffer) → Parquet
		d, err := openDuck(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.close()
		os.MkdirAll(filepath.Join(out, "duck"), 0o700)
		if err := d.queryRow(t.Context(), "COPY (SELECT * FROM read_csv("+lit(src)+")) TO "+lit(filepath.Join(out, "duck", "data.parquet"))+" (FORMAT parquet, COMPRESSION zstd)").Scan(&rows); err != nil {
			t.Fatal(err)
		}
	case "hash", "hash-v1": // hash the Parquet file the ingest step wrote (v1: the old text-and-MD5 query)
		res, err := ingest(t.Context(), cfg, src, filepath.Join(out, "p"), IngestOptions{}, false, false)
		if err != nil {
			t.Fatal(err)
		}
		d, err := openDuck(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.close()
		start, cpu0 = time.Now(), cpuSeconds()
		rows = res.Rows
		path := filepath.Join(out, "p", DataFile)
		if step == "hash" {
			_, err = hashParquet(t.Context(), d, path, res.Columns)
		} else {
			vals := []string{"file_row_number::VARCHAR"}
			for _, c := range res.Columns {
				vals = append(vals, "coalesce(CAST("+ident(c.Name)+" AS VARCHAR), chr(30))")
			}
			var x string
			err = d.queryRow(t.Context(), "SELECT coalesce(bit_xor(md5_number(concat_ws(chr(31), "+strings.Join(vals, ", ")+"))), 0)::VARCHAR FROM read_parquet("+
				lit(path)+", file_row_number = true)").Scan(&x)
		}
		if err != nil {
			t.Fatal(err)
		}
	case "profile": // profile the Parquet file the ingest step wrote
		res, err := ingest(t.Context(), cfg, src, filepath.Join(out, "p"), IngestOptions{}, false, false)
		if err != nil {
			t.Fatal(err)
		}
		d, err := openDuck(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.close()
		start, cpu0 = time.Now(), cpuSeconds()
		p, err := profile(t.Context(), d, filepath.Join(out, "p", DataFile), res.Columns)
		if err != nil {
			t.Fatal(err)
		}
		rows = p.Rows
	default:
		t.Fatalf("JOULE_SCALE_STEP %q is not ingest, duckdb, hash, hash-v1 or profile", step)
	}
	el := time.Since(start).Seconds()
	fmt.Printf("step=%s rows=%d seconds=%.2f MB/s=%.1f rows/s=%.0f cpu_seconds=%.2f peak_rss=%s\n", step, rows, el, mb/el, float64(rows)/el, cpuSeconds()-cpu0, peakRSS(t))
}
