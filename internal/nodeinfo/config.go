package nodeinfo

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/joule-dev/joule"
)

// GPUSource reports a node's GPUs. *nvml.Lib implements it; cmd/joule wires
// the two together so that this package does not depend on NVML.
type GPUSource interface {
	// GPUs returns the inventory of each GPU, in index order.
	GPUs() ([]joule.GPU, error)
	// Utilization returns each GPU's busy fraction, 0 to 1, in index order.
	Utilization() ([]float64, error)
}

// Config says where and how to detect a node. The zero value detects the
// local machine without GPUs.
type Config struct {
	// Root is the filesystem root under which proc/ and sys/ are read; ""
	// means "/". Tests point it at fixture trees.
	Root string
	// Name is the node's name; "" means the detected hostname.
	Name string
	// GPUs reports the GPUs; nil means the node has none.
	GPUs GPUSource
	// Labels are copied onto the node.
	Labels map[string]string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives debug messages about what could not be detected; nil
	// discards them.
	Logger *slog.Logger
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Root = cmp.Or(c.Root, "/")
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	if c.Root == "" {
		return errors.New("nodeinfo: Root is empty")
	}
	if len(c.Name) > 253 {
		return fmt.Errorf("nodeinfo: Name is %d bytes long, want at most 253", len(c.Name))
	}
	if strings.ContainsFunc(c.Name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		return fmt.Errorf("nodeinfo: Name %q contains spaces or control characters", c.Name)
	}
	for k := range c.Labels {
		if k == "" {
			return errors.New("nodeinfo: Labels has an empty key")
		}
	}
	if c.Now == nil {
		return errors.New("nodeinfo: Now is nil")
	}
	if c.Logger == nil {
		return errors.New("nodeinfo: Logger is nil")
	}
	return nil
}
