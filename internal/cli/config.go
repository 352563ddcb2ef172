package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/joule-dev/joule"
)

// clientConfig is the file `joule login` writes.
type clientConfig struct {
	Server    string `yaml:"server"`
	Token     string `yaml:"token"`
	Workspace string `yaml:"workspace,omitempty"`
}

func (m *Main) clientConfigPath() string {
	if p := m.getenv("JOULE_CONFIG"); p != "" {
		return p
	}
	if d := m.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "joule", "config")
	}
	home := m.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".config", "joule", "config")
}

func readClientConfig(path string) (clientConfig, error) {
	var c clientConfig
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	} else if err != nil {
		return c, joule.Errorf(joule.EINVALID, "read %s: %v", path, err)
	}
	if err := decodeStrict(path, data, &c); err != nil {
		return c, err
	}
	return c, nil
}

func writeClientConfig(path string, c clientConfig) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

// decodeStrict decodes YAML into v, rejecting unknown keys, and names the
// file and line of the first problem.
func decodeStrict(path string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
		msg = strings.TrimPrefix(msg, "yaml: ")
		msg = strings.TrimSpace(strings.SplitN(msg, "\n", 2)[0])
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			detail := m[2]
			if f, ok := strings.CutPrefix(detail, "field "); ok {
				if name, _, ok := strings.Cut(f, " not found"); ok {
					detail = fmt.Sprintf("unknown key %q", name)
				}
			}
			return joule.Errorf(joule.EINVALID, "%s:%s: %s", path, m[1], detail)
		}
		return joule.Errorf(joule.EINVALID, "%s: %s", path, msg)
	}
	return nil
}
