package cli

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/joule-dev/joule"
)

// jobFile is the YAML (or JSON, which is YAML) form of a job spec: the same
// keys as the API's JSON, with human quantities for resources and durations.
//
//	name: train
//	command: [python3, train.py, --epochs, "10"]
//	resources: {cpu: 4, memory: 16Gi, gpu: 1}
//	timeout: 2h
//	retries: 2
type jobFile struct {
	Name      string            `yaml:"name"`
	Kind      string            `yaml:"kind"`
	Command   []string          `yaml:"command"`
	Env       map[string]string `yaml:"env"`
	WorkDir   string            `yaml:"work_dir"`
	Labels    map[string]string `yaml:"labels"`
	Selector  map[string]string `yaml:"selector"`
	Resources struct {
		CPU    cpuQuantity `yaml:"cpu"`
		Memory memQuantity `yaml:"memory"`
		GPU    int         `yaml:"gpu"`
	} `yaml:"resources"`
	Priority  int          `yaml:"priority"`
	Timeout   yamlDuration `yaml:"timeout"`
	Retries   int          `yaml:"retries"`
	Backoff   yamlDuration `yaml:"backoff"`
	NotBefore *time.Time   `yaml:"not_before"`
	Deadline  *time.Time   `yaml:"deadline"`
	DependsOn []string     `yaml:"depends_on"`

	Flexibility      yamlDuration `yaml:"flexibility"`
	ExpectedDuration yamlDuration `yaml:"expected_duration"`
	Interruptible    bool         `yaml:"interruptible"`
}

// cpuQuantity reads "2", 2, 0.5 or "500m".
type cpuQuantity struct {
	millis int64
	set    bool
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (q *cpuQuantity) UnmarshalYAML(n *yaml.Node) error {
	v, err := joule.ParseCPU(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: resources.%s", n.Line, joule.ErrorMessage(err))
	}
	q.millis, q.set = v, true
	return nil
}

// memQuantity reads 536870912 or "512Mi".
type memQuantity struct{ bytes int64 }

// UnmarshalYAML implements yaml.Unmarshaler.
func (q *memQuantity) UnmarshalYAML(n *yaml.Node) error {
	v, err := joule.ParseMemory(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: resources.%s", n.Line, joule.ErrorMessage(err))
	}
	q.bytes = v
	return nil
}

// yamlDuration reads "30m" or a number of seconds.
type yamlDuration struct{ d time.Duration }

// UnmarshalYAML implements yaml.Unmarshaler.
func (y *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	if d, err := time.ParseDuration(n.Value); err == nil {
		y.d = d
		return nil
	}
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f >= 0 && f < 1e9 {
		y.d = time.Duration(f * float64(time.Second))
		return nil
	}
	return fmt.Errorf("line %d: %q is not a duration such as 30s, 15m or 2h", n.Line, n.Value)
}

// parseJobFile reads a job spec from YAML or JSON, naming the file and line
// of the first problem.
func parseJobFile(path string, data []byte) (joule.JobSpec, error) {
	var f jobFile
	if err := decodeStrict(path, data, &f); err != nil {
		return joule.JobSpec{}, err
	}
	spec := joule.JobSpec{
		Name: f.Name, Kind: f.Kind, Command: f.Command, Env: f.Env, WorkDir: f.WorkDir,
		Labels: f.Labels, Selector: f.Selector,
		Resources: joule.Resources{CPUMillis: f.Resources.CPU.millis, MemoryBytes: f.Resources.Memory.bytes, GPUs: f.Resources.GPU},
		Priority:  f.Priority, Timeout: joule.Duration(f.Timeout.d), Retries: f.Retries, Backoff: joule.Duration(f.Backoff.d),
		NotBefore: f.NotBefore, Deadline: f.Deadline, DependsOn: f.DependsOn,
		Flexibility: joule.Duration(f.Flexibility.d), ExpectedDuration: joule.Duration(f.ExpectedDuration.d), Interruptible: f.Interruptible,
	}
	if f.Resources.CPU.set && f.Resources.CPU.millis == 0 {
		spec.Resources.CPUMillis = 0
	}
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return joule.JobSpec{}, joule.Errorf(joule.EINVALID, "%s: %s", filepath.Clean(path), joule.ErrorMessage(err))
	}
	return spec, nil
}

// jobFlags are the flags of `joule job run` that build a spec without a file.
type jobFlags struct {
	name, cpu, memory, timeout, backoff string
	notBefore, deadline                 string
	flexibility, expectedDuration       string
	interruptible                       bool
	gpu, priority, retries              int
	env, labels, selector               []string
	dependsOn                           []string
	workDir                             string
}

// spec builds and validates a JobSpec from flags and the command after --.
func (f jobFlags) spec(command []string) (joule.JobSpec, error) {
	s := joule.JobSpec{Name: f.name, Command: command, WorkDir: f.workDir, Priority: f.priority, Retries: f.retries, DependsOn: f.dependsOn,
		Interruptible: f.interruptible}
	var err error
	if f.cpu != "" {
		if s.Resources.CPUMillis, err = joule.ParseCPU(f.cpu); err != nil {
			return s, flagError("--cpu", err)
		}
	}
	if f.memory != "" {
		if s.Resources.MemoryBytes, err = joule.ParseMemory(f.memory); err != nil {
			return s, flagError("--memory", err)
		}
	}
	if f.gpu < 0 {
		return s, joule.Errorf(joule.EINVALID, "--gpu: must not be negative")
	}
	s.Resources.GPUs = f.gpu
	for _, d := range []struct {
		flag, v string
		dst     *joule.Duration
	}{{"--timeout", f.timeout, &s.Timeout}, {"--backoff", f.backoff, &s.Backoff},
		{"--flexibility", f.flexibility, &s.Flexibility}, {"--expected-duration", f.expectedDuration, &s.ExpectedDuration}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v < 0 {
			return s, joule.Errorf(joule.EINVALID, "%s: %q is not a duration such as 30s, 15m or 2h", d.flag, d.v)
		}
		*d.dst = joule.Duration(v)
	}
	for _, t := range []struct {
		flag, v string
		dst     **time.Time
	}{{"--not-before", f.notBefore, &s.NotBefore}, {"--deadline", f.deadline, &s.Deadline}} {
		if t.v == "" {
			continue
		}
		v, err := parseFuture(t.v)
		if err != nil {
			return s, joule.Errorf(joule.EINVALID, "%s: %q is not an RFC 3339 time or a duration from now such as 8h", t.flag, t.v)
		}
		*t.dst = &v
	}
	for _, kv := range []struct {
		flag string
		in   []string
		dst  *map[string]string
	}{{"--env", f.env, &s.Env}, {"--label", f.labels, &s.Labels}, {"--selector", f.selector, &s.Selector}} {
		for _, p := range kv.in {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				return s, joule.Errorf(joule.EINVALID, "%s: %q is not KEY=VALUE", kv.flag, p)
			}
			if *kv.dst == nil {
				*kv.dst = map[string]string{}
			}
			(*kv.dst)[k] = v
		}
	}
	if s.Name == "" && len(command) > 0 {
		s.Name = defaultJobName(command[0])
	}
	s = s.WithDefaults()
	if f.cpu != "" && s.Resources.CPUMillis == 0 {
		s.Resources.CPUMillis = 0
	}
	return s, s.Validate()
}

func flagError(flag string, err error) error {
	msg := joule.ErrorMessage(err)
	if _, rest, ok := strings.Cut(msg, ": "); ok {
		msg = rest
	}
	return joule.Errorf(joule.EINVALID, "%s: %s", flag, msg)
}

// parseFuture reads an RFC 3339 time or a duration from now.
func parseFuture(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("bad time %q", v)
	}
	return time.Now().UTC().Add(d), nil
}

// defaultJobName derives a valid job name from a command: "python3" → "python3".
func defaultJobName(cmd string) string {
	base := strings.ToLower(filepath.Base(cmd))
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 50 {
		name = name[:50]
	}
	if name == "" {
		name = "job"
	}
	return name
}
