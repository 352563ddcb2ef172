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

	// CarbonProvider is electricitymaps, watttime, uk or file; "" uses the
	// static table. CarbonFile is the time-series CSV of provider "file".
	CarbonProvider string `yaml:"carbon_provider"`
	CarbonFile     string `yaml:"carbon_file"`
	// Provider credentials: environment or config file only, never flags.
	ElectricityMapsToken string `yaml:"electricitymaps_token"`
	WattTimeUsername     string `yaml:"watttime_username"`
	WattTimePassword     string `yaml:"watttime_password"`
	// CarbonAPIURL replaces the provider's public API URL (a proxy, or a
	// test server).
	CarbonAPIURL string `yaml:"carbon_api_url"`
	// MarketIntensity is an optional market-based factor in gCO2e/kWh,
	// reported apart from the location-based figure.
	MarketIntensity string `yaml:"market_intensity"`
	PUE             string `yaml:"pue"`

	// Price is a flat price per kWh ("0.25") or a time-of-use schedule
	// ("00:00-07:00=0.18,07:00-24:00=0.30", UTC); Prices is the same
	// schedule as a list, in the config file only.
	Price                   string      `yaml:"price"`
	Prices                  []PriceBand `yaml:"prices"`
	Currency                string      `yaml:"currency"`
	AmortisationPerNodeHour string      `yaml:"amortisation_per_node_hour"`
	// EmbodiedKgCO2e and LifetimeYears describe the node for SCI embodied
	// emissions (defaults: 1000 kg, 4 years).
	EmbodiedKgCO2e string `yaml:"embodied_kgco2e"`
	LifetimeYears  string `yaml:"lifetime_years"`
	// Idle is the idle-power policy: separate (default) or proportional.
	Idle string `yaml:"idle"`
}

// PriceBand is one time-of-use band of the config file's prices list:
// PerKWh applies from From to To (HH:MM, UTC; "24:00" ends the day).
type PriceBand struct {
	From   string  `yaml:"from"`
	To     string  `yaml:"to"`
	PerKWh float64 `yaml:"per_kwh"`
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
	{"carbon-provider", "JOULE_CARBON_PROVIDER", "carbon_provider", "live or recorded grid intensity: electricitymaps, watttime, uk or file (default: the static table)",
		func(c *EnergyConfig) *string { return &c.CarbonProvider }},
	{"carbon-file", "JOULE_CARBON_FILE", "carbon_file", "intensity time-series CSV for --carbon-provider file (timestamp, gCO2e/kWh)",
		func(c *EnergyConfig) *string { return &c.CarbonFile }},
	{"", "JOULE_ELECTRICITYMAPS_TOKEN", "electricitymaps_token", "", func(c *EnergyConfig) *string { return &c.ElectricityMapsToken }},
	{"", "JOULE_WATTTIME_USERNAME", "watttime_username", "", func(c *EnergyConfig) *string { return &c.WattTimeUsername }},
	{"", "JOULE_CARBON_API_URL", "carbon_api_url", "", func(c *EnergyConfig) *string { return &c.CarbonAPIURL }},
	{"", "JOULE_WATTTIME_PASSWORD", "watttime_password", "", func(c *EnergyConfig) *string { return &c.WattTimePassword }},
	{"market-intensity", "JOULE_MARKET_INTENSITY", "market_intensity", "market-based emission factor in gCO2e/kWh, reported apart (default none)",
		func(c *EnergyConfig) *string { return &c.MarketIntensity }},
	{"pue", "JOULE_PUE", "pue", "data centre power usage effectiveness, ≥ 1 (default 1.56)",
		func(c *EnergyConfig) *string { return &c.PUE }},
	{"price", "JOULE_PRICE", "price", "electricity price per kWh: 0.25, or time of use 00:00-07:00=0.18,07:00-24:00=0.30 (UTC)",
		func(c *EnergyConfig) *string { return &c.Price }},
	{"currency", "JOULE_CURRENCY", "currency", "currency of prices and costs, e.g. EUR",
		func(c *EnergyConfig) *string { return &c.Currency }},
	{"amortisation-per-node-hour", "JOULE_AMORTISATION_PER_NODE_HOUR", "amortisation_per_node_hour", "hardware cost of one node-hour, charged by reserved share",
		func(c *EnergyConfig) *string { return &c.AmortisationPerNodeHour }},
	{"embodied-kgco2e", "JOULE_EMBODIED_KGCO2E", "embodied_kgco2e", "the node's embodied emissions in kgCO2e (default 1000)",
		func(c *EnergyConfig) *string { return &c.EmbodiedKgCO2e }},
	{"lifetime-years", "JOULE_LIFETIME_YEARS", "lifetime_years", "the node's expected lifetime in years (default 4)",
		func(c *EnergyConfig) *string { return &c.LifetimeYears }},
	{"idle", "JOULE_IDLE", "idle", "idle power: separate (reported apart, default) or proportional (shared by CPU time)",
		func(c *EnergyConfig) *string { return &c.Idle }},
}

// addEnergyFlags registers the energy flags on fs.
func addEnergyFlags(fs *pflag.FlagSet) {
	for _, f := range energyFlags {
		if f.flag != "" {
			fs.String(f.flag, "", f.usage)
		}
	}
}

// energyConfig merges the energy flags of cmd, then the JOULE_* variables,
// then file. A flag given as "" on purpose clears the setting.
func (m *Main) energyConfig(cmd *cobra.Command, file EnergyConfig) EnergyConfig {
	out := file
	for _, f := range energyFlags {
		v := f.field(&out)
		if f.flag != "" && cmd.Flags().Changed(f.flag) {
			*v = cmd.Flags().Lookup(f.flag).Value.String()
			continue
		}
		*v = firstNonEmpty(m.getenv(f.env), *v)
	}
	return out
}
