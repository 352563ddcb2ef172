package main

import (
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joule-dev/joule/internal/httpapi"
)

// raplFixture copies the Intel powercap fixture of internal/energy (package-0
// with core and dram subzones, and an mmio zone) into a temporary root,
// restoring the colons of sysfs names, and returns the root.
func raplFixture(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "internal", "energy", "testdata", "intel-server")
	root := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(root, strings.ReplaceAll(rel, "%3A", ":"))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// raplPlayer advances the fixture's counters as a machine drawing constant
// power would: package-0 at pkgW and dram at dramW, the package counter
// wrapping at its max_energy_range_uj.
type raplPlayer struct {
	root        string
	pkgW, dramW float64
	maxRange    float64

	mu    sync.Mutex
	wraps int
}

func (p *raplPlayer) write(t *testing.T, pkgUJ, dramUJ float64) {
	pkg := filepath.Join(p.root, "sys/class/powercap/intel-rapl:0/energy_uj")
	dram := filepath.Join(p.root, "sys/class/powercap/intel-rapl:0:1/energy_uj")
	for path, v := range map[string]float64{pkg: pkgUJ, dram: dramUJ} {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.FormatUint(uint64(v), 10)+"\n"), 0o644); err != nil {
			t.Error(err)
			return
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Error(err)
		}
	}
}

// play writes the counters every 20 ms until stop is closed, starting the
// package counter lead seconds of power before its wrap.
func (p *raplPlayer) play(t *testing.T, lead time.Duration, stop <-chan struct{}) {
	start := time.Now()
	pkg0 := p.maxRange - p.pkgW*1e6*lead.Seconds()
	for {
		el := time.Since(start).Seconds()
		v := pkg0 + p.pkgW*1e6*el
		if v >= p.maxRange {
			v -= p.maxRange
			p.mu.Lock()
			p.wraps = 1
			p.mu.Unlock()
		}
		p.write(t, v, 5e9+p.dramW*1e6*el)
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestRAPLFixtureJob runs a job on a server whose --powercap-root is the
// Intel fixture, with the package counter wrapping while the job runs: the
// job's energy is measured, all of it, and its method names RAPL; the node
// lists the RAPL zones it meters.
func TestRAPLFixtureJob(t *testing.T) {
	t.Parallel()
	root := raplFixture(t)
	max, err := os.ReadFile(filepath.Join(root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj"))
	if err != nil {
		t.Fatal(err)
	}
	maxRange, err := strconv.ParseFloat(strings.TrimSpace(string(max)), 64)
	if err != nil {
		t.Fatal(err)
	}
	p := &raplPlayer{root: root, pkgW: 40, dramW: 10, maxRange: maxRange}
	// The counters stand still (0 W) until the job runs, 1.5 s of power
	// before the package counter's wrap.
	lead := 1500 * time.Millisecond
	p.write(t, maxRange-p.pkgW*1e6*lead.Seconds(), 5e9)
	s := startServer(t, t.TempDir(), "--powercap-root", root)

	burn := `end=$(($(date +%s)+4)); while [ $(date +%s) -lt $end ]; do :; done`
	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", "rapl", "--", "sh", "-c", burn); err != nil {
		t.Fatalf("job run: %v\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := s.cli(t, s.token, nil, "job", "get", "rapl", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var d httpapi.JobDetail
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		if d.State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job did not start: %s", d.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); p.play(t, lead, stop) }()
	defer func() { close(stop); <-done }()

	if out, err := s.cli(t, s.token, nil, "job", "run", "--name", "after", "--wait", "--depends-on", "rapl", "--", "true"); err != nil {
		t.Fatalf("waiting for the job: %v\n%s", err, out)
	}
	out, err := s.cli(t, s.token, nil, "job", "get", "rapl", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d httpapi.JobDetail
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	wrapped := p.wraps > 0
	p.mu.Unlock()
	if !wrapped {
		t.Fatal("the package counter did not wrap during the job")
	}
	e := d.Energy
	if e == nil || e.MeasuredJoules <= 0 || e.EstimatedJoules != 0 || e.Joules != e.MeasuredJoules {
		t.Fatalf("energy = %+v, want measured joules only", e)
	}
	if !strings.Contains(e.Method, "measured:rapl") || strings.Contains(e.Method, "estimated") {
		t.Errorf("method = %q, want measured:rapl", e.Method)
	}
	// The node draws 50 W in all; a job that ran about 4 s cannot have
	// been given more than the node used over its attempt.
	if e.Joules > 50*6 {
		t.Errorf("job energy %.1f J is more than the node's 50 W over the job", e.Joules)
	}
	t.Logf("job energy %.2f J (%s)", e.Joules, e.Method)

	// The report sums the attempt's stored rollups: the same energy as the
	// job record, and the same method.
	out, err = s.cli(t, s.token, nil, "energy", "report", "--since", "1h", "--by", "job", "-o", "json")
	if err != nil {
		t.Fatalf("energy report: %v\n%s", err, out)
	}
	var rep httpapi.EnergyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var line *httpapi.EnergyReportLine
	for i := range rep.Lines {
		if rep.Lines[i].Name == "rapl" {
			line = &rep.Lines[i]
		}
	}
	if line == nil || math.Abs(line.Joules-e.Joules) > 1e-6*e.Joules || line.MeasuredJoules != line.Joules || line.Method != "measured:rapl" {
		t.Errorf("report line for the job = %+v, want %v J measured:rapl", line, e.Joules)
	}
	out, err = s.cli(t, s.token, nil, "energy", "report", "--since", "1h", "--by", "job", "-o", "csv")
	if err != nil || !strings.HasPrefix(out, "job,name,joules,measured_joules,estimated_joules,method,emissions_g") || !strings.Contains(out, ",rapl,") {
		t.Errorf("energy report -o csv = %v\n%s", err, out)
	}
	// The node's own rows come every 10 s: its whole draw, measured.
	deadline = time.Now().Add(30 * time.Second)
	for {
		out, err = s.cli(t, s.token, nil, "energy", "report", "--since", "1h", "--by", "node", "-o", "json")
		if err != nil {
			t.Fatalf("energy report --by node: %v\n%s", err, out)
		}
		rep = httpapi.EnergyReport{}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Lines) == 1 && rep.Lines[0].Joules > e.Joules {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node report = %+v, want the node's whole draw (more than the job's %v J)", rep, e.Joules)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if l := rep.Lines[0]; l.Name != "test-node" || l.Method != "measured:rapl" || l.EstimatedJoules != 0 {
		t.Errorf("node line = %+v, want test-node, measured:rapl only", l)
	}
	out, err = s.cli(t, s.token, nil, "energy")
	if err != nil || !strings.Contains(out, "package-0") || !strings.Contains(out, "dram-0") || !strings.Contains(out, "LAST HOUR") || !strings.Contains(out, "measured:rapl") {
		t.Errorf("joule energy = %v\n%s", err, out)
	}
	t.Logf("joule energy:\n%s", out)

	out, err = s.cli(t, s.token, nil, "node", "get", "test-node", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"package-0"`, `"dram-0"`, `"rapl"`} {
		if !strings.Contains(out, want) {
			t.Errorf("node get lacks %s:\n%s", want, out)
		}
	}
}
