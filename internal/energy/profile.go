package energy

import (
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// profileFS holds CodeCarbon's RAPL-versus-load measurements (MIT), copied
// from mlco2/codecarbon codecarbon/data/hardware/cpu_load_profiling at
// commit b05965e43b69, one folder per machine, files renamed to
// all_cores.csv and some_cores.csv; see NOTICE.
//
//go:embed data/profiles
var profileFS embed.FS

// profileSockets records the sockets of the profiled machines, which the
// CSVs do not: the E5-2620 v3 has 6 cores and 12 threads (Intel ARK), and
// its profile shows 24 logical CPUs, so that machine has two. The others
// have one.
var profileSockets = map[string]int{"E5-2620": 2}

// profileSuspect marks embedded profiles whose RAPL energy is implausible.
// The E5-1240 folder holds the same CPU as the E3-1240 folder, measured the
// same day, yet its energy at full load is 96.6 W (8 steps ≥ 70% load
// average 93 W), above the CPU's 69 W TDP, and about twice the E3-1240
// folder's 49.4 W; at idle the two differ by only 2 W (7.5 W against 5.5 W).
// That is what counting the package zone and its core subzone together
// gives, the double count RAPL avoids (see [RAPL]).
var profileSuspect = map[string]string{
	"E5-1240": "RAPL energy about twice that of the same CPU in E3-1240 and above its TDP at full load: package and core zones most likely counted together",
}

// Step is one load level of a profile: about 30 s at a steady load.
type Step struct {
	LoadType string  `json:"load_type"` // "all_cores" or "some_cores"
	Threads  int     `json:"threads"`   // cores_used: loaded threads, or all
	Load     float64 `json:"load"`      // measured CPU utilisation, 0..1
	Seconds  float64 `json:"seconds"`
	// RAPLJoules is the CPU energy RAPL measured over the step: the
	// rapl_energy column (kWh) × 3.6e6. The rapl_power column is not
	// used: it is CodeCarbon's last instantaneous reading and disagrees
	// with the energy (0.59 W against 18 W at idle on the EPYC 8024P).
	RAPLJoules float64 `json:"rapl_joules"`
	// CodeCarbonJoules is CodeCarbon's own estimate for the step: its
	// estimated_power column × duration (which equals estimated_energy).
	CodeCarbonJoules float64 `json:"codecarbon_joules"`
}

// Profile is a CodeCarbon-format measurement of one machine: its CPU, and
// its RAPL energy and CodeCarbon's estimate at a series of loads.
type Profile struct {
	Name    string `json:"name"`    // e.g. the folder, "E3-1240"
	CPU     string `json:"cpu"`     // cpu_name, as /proc/cpuinfo has it
	Sockets int    `json:"sockets"` // not in the CSV; 1 unless known
	// Suspect, when set, says why the measurements are not to be trusted;
	// Calibrate leaves such profiles out (they are still validated).
	Suspect string `json:"suspect,omitempty"`
	Steps   []Step `json:"steps"`
}

// Threads returns the machine's logical CPUs: the largest cores_used.
func (p Profile) Threads() int {
	n := 0
	for _, s := range p.Steps {
		n = max(n, s.Threads)
	}
	return n
}

// TDP returns the TDP the model scales by for the profiled machine, from
// the embedded table as [TDPTable.ForCPU] finds it on bare metal.
func (p Profile) TDP() TDP {
	return DefaultTDPTable().ForCPU(CPUInfo{Model: p.CPU, Threads: p.Threads(), Sockets: max(p.Sockets, 1)})
}

// profileColumns are the columns ParseProfile needs.
var profileColumns = []string{"load_type", "cpu_name", "cores_used", "cpu_load", "rapl_energy", "estimated_power", "duration"}

// ParseProfile reads one CSV in the format CodeCarbon's
// examples/compare_cpu_load_and_RAPL.py writes (columns task_name,
// load_type, cpu_name, timestamp, cores_used, cpu_load, …, rapl_energy,
// estimated_power, estimated_energy, …, duration; extra columns and any
// order are accepted). The result has Sockets 1 and no Name. It fails on a
// missing column, a row with another CPU, or a value out of range (a
// negative energy, a load outside 0..100, a duration that is not positive),
// naming the line.
func ParseProfile(r io.Reader) (Profile, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return Profile{}, fmt.Errorf("profile: header: %v", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, c := range profileColumns {
		if _, ok := col[c]; !ok {
			return Profile{}, fmt.Errorf("profile: no %s column", c)
		}
	}
	p := Profile{Sockets: 1}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Profile{}, fmt.Errorf("profile: %v", err)
		}
		line, _ := cr.FieldPos(0)
		num := func(name string, lo, hi float64) (float64, error) {
			s := strings.TrimSpace(rec[col[name]])
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || v < lo || v > hi {
				return 0, fmt.Errorf("profile line %d: %s %q: want a number in [%g, %g]", line, name, truncate(s, 32), lo, hi)
			}
			return v, nil
		}
		cpu := strings.TrimSpace(rec[col["cpu_name"]])
		if p.CPU == "" {
			p.CPU = cpu
		} else if cpu != p.CPU {
			return Profile{}, fmt.Errorf("profile line %d: cpu_name %q differs from %q", line, truncate(cpu, 64), p.CPU)
		}
		var s Step
		s.LoadType = strings.TrimSpace(rec[col["load_type"]])
		threads, err := num("cores_used", 0, 1<<20)
		if err != nil {
			return Profile{}, err
		}
		s.Threads = int(threads)
		load, err := num("cpu_load", 0, 100)
		if err != nil {
			return Profile{}, err
		}
		s.Load = load / 100
		if s.Seconds, err = num("duration", math.SmallestNonzeroFloat64, 1e9); err != nil {
			return Profile{}, err
		}
		kwh, err := num("rapl_energy", 0, 1e9)
		if err != nil {
			return Profile{}, err
		}
		s.RAPLJoules = kwh * 3.6e6
		est, err := num("estimated_power", 0, 1e9)
		if err != nil {
			return Profile{}, err
		}
		s.CodeCarbonJoules = est * s.Seconds
		p.Steps = append(p.Steps, s)
	}
	if len(p.Steps) == 0 {
		return Profile{}, errors.New("profile: no rows")
	}
	return p, nil
}

// LoadProfiles reads every directory of fsys that holds CSV files as one
// profile named after the directory, its files merged in name order.
// Sockets are 1.
func LoadProfiles(fsys fs.FS) ([]Profile, error) {
	byDir := map[string][]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".csv") {
			byDir[path.Dir(p)] = append(byDir[path.Dir(p)], p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load profiles: %v", err)
	}
	var out []Profile
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		files := byDir[dir]
		slices.Sort(files)
		merged := Profile{Name: path.Base(dir), Sockets: 1}
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, fmt.Errorf("load profiles: %v", err)
			}
			p, err := ParseProfile(strings.NewReader(string(b)))
			if err != nil {
				return nil, fmt.Errorf("%s: %v", f, err)
			}
			if merged.CPU != "" && p.CPU != merged.CPU {
				return nil, fmt.Errorf("%s: cpu_name %q differs from %q in the same folder", f, p.CPU, merged.CPU)
			}
			merged.CPU = p.CPU
			merged.Steps = append(merged.Steps, p.Steps...)
		}
		out = append(out, merged)
	}
	return out, nil
}

// DefaultProfiles returns the five embedded CodeCarbon profiles, one per
// folder: AMD_EPYC_8024P_8C, AMD_Threadripper, E3-1240, E5-1240 and
// E5-2620. Two hold the same CPU: the cpu_name column of the E5-1240 folder
// reads "Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz", like the E3-1240
// folder; the folder name is the upstream mislabel.
var DefaultProfiles = sync.OnceValue(func() []Profile {
	sub, err := fs.Sub(profileFS, "data/profiles")
	if err != nil {
		panic("energy: embedded profiles: " + err.Error())
	}
	ps, err := LoadProfiles(sub)
	if err != nil {
		panic("energy: embedded profiles: " + err.Error()) // programmer error
	}
	for i := range ps {
		if n, ok := profileSockets[ps[i].Name]; ok {
			ps[i].Sockets = n
		}
		ps[i].Suspect = profileSuspect[ps[i].Name]
	}
	return ps
})
