package energy

import (
	"math"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const profileHeader = "task_name,load_type,cpu_name,timestamp,cores_used,cpu_load,temperature,cpu_freq,rapl_power,rapl_energy,estimated_power,estimated_energy,tapo_power,tapo_energy,tapo_time_delta,duration\n"

func TestParseProfile(t *testing.T) {
	t.Parallel()
	in := profileHeader +
		"Load for 0 threads,all_cores,AMD EPYC 8024P 8-Core Processor,1736870539.36,16,0.6,0,1588.8,0.589,0.0001549484709031223,0.5283870967741936,4.48e-06,0,0,0,30.545820467999988\n" +
		"Load for 10 threads,all_cores,AMD EPYC 8024P 8-Core Processor,1736870570.41,16,10.0,0,1499.2,18.61,0.0002482180077409144,9.351290322580647,7.9e-05,0,0,0,30.604371506000007\n"
	got, err := ParseProfile(strings.NewReader(in))
	if err != nil {
		t.Fatalf("ParseProfile() = %v", err)
	}
	want := Profile{CPU: "AMD EPYC 8024P 8-Core Processor", Sockets: 1, Steps: []Step{
		{LoadType: "all_cores", Threads: 16, Load: 0.006, Seconds: 30.545820467999988, RAPLJoules: 0.0001549484709031223 * 3.6e6, CodeCarbonJoules: 0.5283870967741936 * 30.545820467999988},
		{LoadType: "all_cores", Threads: 16, Load: 0.1, Seconds: 30.604371506000007, RAPLJoules: 0.0002482180077409144 * 3.6e6, CodeCarbonJoules: 9.351290322580647 * 30.604371506000007},
	}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(a)) })); diff != "" {
		t.Errorf("ParseProfile() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseProfileErrors(t *testing.T) {
	t.Parallel()
	row := func(load, energy, dur string) string {
		return "x,all_cores,CPU A,1,4," + load + ",0,0,0," + energy + ",1,0,0,0,0," + dur + "\n"
	}
	tests := []struct{ name, in, want string }{
		{"empty", "", "header"},
		{"missing column", "cpu_name,cpu_load\nA,1\n", "no load_type column"},
		{"no rows", profileHeader, "no rows"},
		{"bad load", profileHeader + row("abc", "0.1", "30"), "line 2: cpu_load"},
		{"load over 100", profileHeader + row("101", "0.1", "30"), "line 2: cpu_load"},
		{"negative energy", profileHeader + row("50", "0.1", "30") + row("50", "-0.1", "30"), "line 3: rapl_energy"},
		{"zero duration", profileHeader + row("50", "0.1", "0"), "line 2: duration"},
		{"NaN", profileHeader + row("NaN", "0.1", "30"), "line 2: cpu_load"},
		{"two CPUs", profileHeader + row("50", "0.1", "30") + strings.Replace(row("50", "0.1", "30"), "CPU A", "CPU B", 1), "line 3: cpu_name"},
		{"ragged", profileHeader + "a,b\n", "wrong number of fields"},
	}
	for _, tt := range tests {
		_, err := ParseProfile(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParseProfile() = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestLoadProfiles(t *testing.T) {
	t.Parallel()
	row := "x,some_cores,CPU A,1,4,50,0,0,0,0.001,1,0,0,0,0,30\n"
	fsys := fstest.MapFS{
		"m1/all_cores.csv":  {Data: []byte(profileHeader + row)},
		"m1/some_cores.csv": {Data: []byte(profileHeader + row + row)},
		"m2/run.csv":        {Data: []byte(profileHeader + strings.Replace(row, "CPU A", "CPU B", 1))},
		"README.md":         {Data: []byte("not a profile")},
	}
	ps, err := LoadProfiles(fsys)
	if err != nil {
		t.Fatalf("LoadProfiles() = %v", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Name+":"+p.CPU+":"+strings.Repeat("s", len(p.Steps)))
	}
	if diff := cmp.Diff([]string{"m1:CPU A:sss", "m2:CPU B:s"}, got); diff != "" {
		t.Errorf("LoadProfiles() mismatch (-want +got):\n%s", diff)
	}
	fsys["m1/other.csv"] = &fstest.MapFile{Data: []byte(profileHeader + strings.Replace(row, "CPU A", "CPU C", 1))}
	if _, err := LoadProfiles(fsys); err == nil {
		t.Error("LoadProfiles() with two CPUs in a folder = nil error, want one")
	}
}

func TestDefaultProfiles(t *testing.T) {
	t.Parallel()
	ps := DefaultProfiles()
	var got []string
	for _, p := range ps {
		got = append(got, p.Name+"|"+NormalizeCPUModel(p.CPU)+"|"+p.TDP().Match)
	}
	want := []string{
		"AMD_EPYC_8024P_8C|amd epyc 8024p|exact",
		"AMD_Threadripper|amd ryzen threadripper 1950x|exact",
		"E3-1240|intel xeon e3-1240 v2|exact",
		"E5-1240|intel xeon e3-1240 v2|exact", // the mislabelled folder: same CPU
		"E5-2620|intel xeon e5-2620 v3|exact",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DefaultProfiles() mismatch (-want +got):\n%s", diff)
	}
	for _, p := range ps {
		if len(p.Steps) < 18 {
			t.Errorf("%s: %d steps, want both CSVs (≥18)", p.Name, len(p.Steps))
		}
	}
}

func FuzzParseProfile(f *testing.F) {
	b, err := profileFS.ReadFile("data/profiles/E3-1240/some_cores.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(profileHeader + "x,all_cores,A,1,4,1e2,0,0,0,1e-300,1e300,0,0,0,0,1e-300\n"))
	f.Add([]byte("cpu_name\n\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProfile(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, s := range p.Steps {
			if s.Load < 0 || s.Load > 1 || !(s.Seconds > 0) || s.RAPLJoules < 0 || s.CodeCarbonJoules < 0 {
				t.Fatalf("ParseProfile accepted %+v", s)
			}
		}
		m := Calibrate([]Profile{p}, "")
		r := Validate(p, m)
		if math.IsNaN(r.JouleJoules) || r.JouleJoules < 0 {
			t.Fatalf("Validate() = %+v", r)
		}
	})
}
