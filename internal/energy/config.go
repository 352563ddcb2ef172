package energy

import (
	"cmp"
	"errors"
	"log/slog"
	"time"
)

// ErrNoMeter reports that a meter found nothing to measure on this node: no
// readable RAPL zone, hwmon sensor or GPU.
var ErrNoMeter = errors.New("energy: nothing to meter")

// Config is what the sysfs meters need. The zero value meters the real
// machine.
type Config struct {
	// Root is the filesystem root under which sys/class/powercap and
	// sys/class/hwmon are read (--powercap-root); "" means "/". Tests point
	// it at fixture trees.
	Root string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings such as dropped samples; nil discards them.
	Logger *slog.Logger
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Root = cmp.Or(c.Root, "/")
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
