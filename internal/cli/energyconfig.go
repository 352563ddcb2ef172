package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// EnergyConfig is a node's energy, carbon and cost settings, shared by
// `joule up` (flags, JOULE_* variables, then the config file) and
// `joule worker` (flags, then JOULE_* variables). Every field is a string as
// written; cmd/joule parses and checks them, naming the key of a bad one.
type EnergyConfig struct {
	// PowercapRoot and HwmonRoot are the filesystem roots under which
	// sys/class/powercap and sys/class/hwmon are read; "" means "/". A root
	// that is set but holds no readable meter is an error.
	PowercapRoot string `yaml:"powercap_root"`
	HwmonRoot    string `yaml:"hwmon_root"`
	// Retention is how long raw power samples and per-minute rollups are
	// kept ("7d", "36h"); hourly rollups are kept for good.
	Retention string `yaml:"energy_retention"`
}

// energyFlag is one EnergyConfig setting: its flag, variable and key.
type energyFlag struct {
	flag, env, key, usage string
	field                 func(*EnergyConfig) *string
}

var energyFlags = []energyFlag{
	{"powercap-root", "JOULE_POWERCAP_ROOT", "powercap_root", "filesystem root under which sys/class/powercap is read for RAPL (default /)",
		func(c *EnergyConfig) *string { return &c.PowercapRoot }},
	{"hwmon-root", "JOULE_HWMON_ROOT", "hwmon_root", "filesystem root under which sys/class/hwmon is read (default /)",
		func(c *EnergyConfig) *string { return &c.HwmonRoot }},
	{"energy-retention", "JOULE_ENERGY_RETENTION", "energy_retention", "how long raw power samples and per-minute rollups are kept, e.g. 7d or 36h (default 7d; hourly rollups stay)",
		func(c *EnergyConfig) *string { return &c.Retention }},
}

// addEnergyFlags registers the energy flags on fs.
func addEnergyFlags(fs *pflag.FlagSet) {
	for _, f := range energyFlags {
		fs.String(f.flag, "", f.usage)
	}
}

// energyConfig merges the energy flags of cmd, then the JOULE_* variables,
// then file. A flag given as "" on purpose clears the setting.
func (m *Main) energyConfig(cmd *cobra.Command, file EnergyConfig) EnergyConfig {
	out := file
	for _, f := range energyFlags {
		v := f.field(&out)
		if cmd.Flags().Changed(f.flag) {
			*v = cmd.Flags().Lookup(f.flag).Value.String()
			continue
		}
		*v = firstNonEmpty(m.getenv(f.env), *v)
	}
	return out
}
