package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

func TestParseJobFile(t *testing.T) {
	t.Parallel()
	yml := `name: train
command: [python3, train.py]
env: {EPOCHS: "10"}
resources: {cpu: 2, memory: 16Gi, gpu: 1}
priority: 7
timeout: 2h
retries: 2
depends_on: [prep]
`
	got, err := parseJobFile("job.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	want := joule.JobSpec{
		Name: "train", Kind: joule.JobKindCommand, Command: []string{"python3", "train.py"}, Env: map[string]string{"EPOCHS": "10"},
		Resources: joule.Resources{CPUMillis: 2000, MemoryBytes: 16 << 30, GPUs: 1}, Priority: 7,
		Timeout: joule.Duration(2 * time.Hour), Retries: 2, Backoff: joule.Duration(time.Second), DependsOn: []string{"prep"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseJobFile (-want +got):\n%s", diff)
	}
	// JSON is YAML.
	if _, err := parseJobFile("job.json", []byte(`{"name":"a","command":["true"],"resources":{"cpu":"500m"}}`)); err != nil {
		t.Errorf("JSON spec: %v", err)
	}
}

// TestBadJobSpecs checks that each bad spec names the field (and, for
// files, the file and line).
func TestBadJobSpecs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, want string
	}{
		{"unknown field", "name: a\ncommand: [x]\ncolour: red\n", `job.yaml:3: unknown key "colour"`},
		{"bad memory", "name: a\ncommand: [x]\nresources:\n  memory: 12XB\n", "job.yaml:4: resources.memory:"},
		{"negative cpu", "name: a\ncommand: [x]\nresources: {cpu: -1}\n", "job.yaml:3: resources.cpu:"},
		{"empty command", "name: a\ncommand: []\n", "job.yaml: command: must not be empty"},
		{"priority 12", "name: a\ncommand: [x]\npriority: 12\n", "job.yaml: priority: 12 is outside 1 to 9"},
		{"bad timeout", "name: a\ncommand: [x]\ntimeout: soon\n", "job.yaml:3:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseJobFile("job.yaml", []byte(tc.file))
			if err == nil || !strings.Contains(ErrorText(err), tc.want) {
				t.Errorf("parseJobFile = %v, want %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		flags jobFlags
		cmd   []string
		want  string
	}{
		{"cpu -1", jobFlags{cpu: "-1"}, []string{"sleep", "1"}, "--cpu:"},
		{"memory 12XB", jobFlags{memory: "12XB"}, []string{"sleep", "1"}, "--memory:"},
		{"empty command", jobFlags{name: "a"}, nil, "command: must not be empty"},
		{"priority 12", jobFlags{priority: 12}, []string{"true"}, "priority: 12"},
		{"bad env", jobFlags{env: []string{"NOEQUALS"}}, []string{"true"}, "--env:"},
		{"bad deadline", jobFlags{deadline: "tomorrow"}, []string{"true"}, "--deadline:"},
	} {
		t.Run("flags "+tc.name, func(t *testing.T) {
			_, err := tc.flags.spec(tc.cmd)
			if err == nil || !strings.Contains(ErrorText(err), tc.want) {
				t.Errorf("spec = %v, want %q", err, tc.want)
			}
		})
	}
	s, err := jobFlags{cpu: "1", memory: "512Mi", retries: 2, timeout: "30m"}.spec([]string{"/usr/bin/Python3.11", "x.py"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "python3-11" || s.Resources.CPUMillis != 1000 || s.Resources.MemoryBytes != 512<<20 || s.Retries != 2 {
		t.Errorf("spec from flags = %+v", s)
	}
}

func FuzzParseJobFile(f *testing.F) {
	f.Add("name: a\ncommand: [x]\nresources: {cpu: 1, memory: 1Gi}\n")
	f.Add("{\"name\":\"a\",\"command\":[\"x\"],\"timeout\":\"1s\"}")
	f.Add("resources: {cpu: [1]}\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseJobFile("f.yaml", []byte(s))
	})
}

// FuzzUpConfig feeds arbitrary YAML to the server's config decoder: it must
// never panic, and errors must name the file.
func FuzzUpConfig(f *testing.F) {
	f.Add("listen: 127.0.0.1:8080\nstore: sqlite\n")
	f.Add("listen_port: 9\n")
	f.Add("data_dir: [1, 2]\n")
	f.Add(":\n  - {")
	f.Fuzz(func(t *testing.T, s string) {
		var c UpConfig
		if err := decodeStrict("joule.yaml", []byte(s), &c); err != nil {
			if !strings.HasPrefix(ErrorText(err), "joule.yaml") {
				t.Errorf("decodeStrict(%q) = %q, want it to name the file", s, ErrorText(err))
			}
			return
		}
		_ = c.WithDefaults(func(string) string { return "" }).Validate()
	})
}
