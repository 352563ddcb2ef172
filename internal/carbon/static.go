package carbon

import (
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/joule-dev/joule"
)

// The embedded tables are byte-for-byte copies of upstream files, except
// iso3166-alpha2-alpha3.csv, which maps ISO 3166-1 alpha-3 codes to alpha-2.
// Sources and licences are in NOTICE at the repository root.
//
//go:embed data/*.json data/*.csv
var dataFS embed.FS

// Intensity is a carbon intensity and where it came from.
type Intensity struct {
	// GramsPerKWh is the intensity in gCO2e/kWh.
	GramsPerKWh float64
	// Source names the data: "static:owid-2023 (DE)",
	// "electricitymaps:DE", "watttime:CAISO_NORTH" and so on.
	Source string
	// Estimated is true when the figure stands in for the one asked for: an
	// annual average, a parent zone, the world average, or a provider's own
	// estimate.
	Estimated bool
	// Note says, for people, why the figure was estimated or which fallback
	// gave it. It is empty for a plain measured value.
	Note string
}

// Entry is one row of a static table.
type Entry struct {
	Zone        string  // "DE", "gcp:europe-west1", "aws:eu-central-1", "azure:westeurope", "WORLD"
	Name        string  // country or region name
	GramsPerKWh float64 // annual average, gCO2e/kWh
	Year        int     // year of the figure; 0 when upstream does not say
	Dataset     string  // short dataset tag, e.g. "owid", "google", "ccf", "iea"
	Detail      string  // upstream source column or caveat, may be empty
}

// Source returns the Intensity.Source text of e: "static:owid-2023 (DE)".
func (e Entry) Source() string {
	if e.Year == 0 {
		return fmt.Sprintf("static:%s (%s)", e.Dataset, e.Zone)
	}
	return fmt.Sprintf("static:%s-%d (%s)", e.Dataset, e.Year, e.Zone)
}

// label is how notes name e: "DE 2023".
func (e Entry) label() string {
	if e.Year == 0 {
		return e.Zone
	}
	return fmt.Sprintf("%s %d", e.Zone, e.Year)
}

// world is the world average: 475 gCO2e/kWh, IEA Global Energy & CO2 Status
// Report 2019, as tabulated by Green Algorithms (CC BY 4.0) and CodeCarbon.
var world = Entry{
	Zone: "WORLD", Name: "World", GramsPerKWh: 475, Year: 2019, Dataset: "iea",
	Detail: "IEA Global Energy & CO2 Status Report 2019, via Green Algorithms data/latest/CI_aggregated.csv",
}

// Static is the embedded table of annual average intensities: per country
// (ISO 3166-1 alpha-2 or alpha-3 code) from Our World in Data's energy data
// (Ember and the Energy Institute) as shipped by CodeCarbon; per Google Cloud
// region from Google's region-carbon-info 2024; per AWS and Azure region
// from the Cloud Carbon Footprint coefficients; and a world average. It is
// safe for concurrent use.
type Static struct {
	entries map[string]Entry // by normalised zone
	alias   map[string]string
}

// DefaultStatic returns the embedded tables, parsed once.
func DefaultStatic() *Static { return loadStatic() }

var loadStatic = sync.OnceValue(func() *Static {
	s, err := parseStatic()
	if err != nil {
		panic("carbon: embedded tables: " + err.Error()) // programmer error: the files ship with the binary
	}
	return s
})

func parseStatic() (*Static, error) {
	s := &Static{entries: map[string]Entry{}, alias: map[string]string{"UK": "GB"}}
	alpha2 := map[string]string{}
	rows, err := readCSV("data/iso3166-alpha2-alpha3.csv", 2)
	if err != nil {
		return nil, err
	}
	for _, r := range rows[1:] {
		alpha2[r[1]] = r[0]
	}

	raw, err := dataFS.ReadFile("data/global_energy_mix.json")
	if err != nil {
		return nil, err
	}
	var mix map[string]struct {
		CarbonIntensity *float64 `json:"carbon_intensity"`
		CountryName     string   `json:"country_name"`
		ISOCode         string   `json:"iso_code"`
		Year            int      `json:"year"`
	}
	if err := json.Unmarshal(raw, &mix); err != nil {
		return nil, fmt.Errorf("global_energy_mix.json: %v", err)
	}
	for iso3, c := range mix {
		a2, ok := alpha2[iso3]
		if !ok || c.CarbonIntensity == nil {
			continue
		}
		s.entries[a2] = Entry{Zone: a2, Name: c.CountryName, GramsPerKWh: *c.CarbonIntensity, Year: c.Year, Dataset: "owid"}
		s.alias[iso3] = a2
	}

	// Google Cloud: region, location, CFE, intensity (gCO2eq/kWh).
	rows, err = readCSV("data/gcp-region-carbon-info-2024.csv", 4)
	if err != nil {
		return nil, err
	}
	for _, r := range rows[1:] {
		v, err := strconv.ParseFloat(strings.TrimSpace(r[3]), 64)
		if err != nil {
			return nil, fmt.Errorf("gcp %s: %v", r[0], err)
		}
		z := "gcp:" + r[0]
		s.entries[normZone(z)] = Entry{Zone: z, Name: r[1], GramsPerKWh: v, Year: 2024, Dataset: "google",
			Detail: "Google Cloud region-carbon-info, location-based grid intensity"}
	}

	// AWS and Azure: region, location, NERC region, t CO2e/kWh, source.
	for _, p := range []struct{ prefix, file string }{
		{"aws", "data/grid-emissions-factors-aws.csv"},
		{"azure", "data/grid-emissions-factors-azure.csv"},
	} {
		rows, err := readCSV(p.file, 5)
		if err != nil {
			return nil, err
		}
		for _, r := range rows[1:] {
			region := r[0]
			if p.prefix == "azure" {
				region = strings.ToLower(strings.ReplaceAll(region, " ", ""))
			}
			vs := strings.TrimSpace(r[3])
			detail := "Cloud Carbon Footprint grid factor, from " + strings.TrimSpace(r[4])
			// Two Azure rows upstream lost their "0." ("000077" for
			// 0.000077 t/kWh); read them as the other rows are written.
			if strings.HasPrefix(vs, "000") {
				vs = "0." + vs
				detail += "; upstream value " + strings.TrimSpace(r[3]) + " read as " + vs
			}
			t, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %v", p.prefix, region, err)
			}
			z := p.prefix + ":" + region
			s.entries[normZone(z)] = Entry{Zone: z, Name: r[1], GramsPerKWh: t * 1e6, Dataset: "ccf", Detail: detail}
		}
	}
	s.entries[world.Zone] = world
	return s, nil
}

func readCSV(name string, fields int) ([][]string, error) {
	raw, err := dataFS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	for i, row := range rows {
		if len(row) < fields {
			return nil, fmt.Errorf("%s: row %d has %d fields", name, i+1, len(row))
		}
	}
	return rows, nil
}

// normZone folds case and spaces: "Azure:West Europe" → "AZURE:WESTEUROPE".
func normZone(z string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(z), " ", ""))
}

// Entries returns every entry, sorted by zone.
func (s *Static) Entries() []Entry {
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zone < out[j].Zone })
	return out
}

// Entry returns the entry for zone (case-insensitive; countries by alpha-2 or
// alpha-3 code, cloud regions as "gcp:europe-west1", "aws:eu-central-1",
// "azure:westeurope"), without any fallback.
func (s *Static) Entry(zone string) (Entry, bool) {
	z := normZone(zone)
	if a, ok := s.alias[z]; ok {
		z = a
	}
	e, ok := s.entries[z]
	return e, ok
}

// Lookup returns the annual average intensity of zone. A sub-national zone
// with no entry of its own ("US-CAL-CISO", "SE-SE3") gets its country's
// average, and the Note says so. Every static figure is Estimated, since it
// is an annual average rather than the intensity at a time. An unknown zone
// gives an error with code joule.ENOTFOUND naming the zone.
func (s *Static) Lookup(zone string) (Intensity, error) {
	e, ok, parent := s.lookupEntry(zone)
	switch {
	case !ok:
		return Intensity{}, joule.Errorf(joule.ENOTFOUND, "carbon zone %q is not in the static table", zone)
	case parent:
		return Intensity{GramsPerKWh: e.GramsPerKWh, Source: e.Source(), Estimated: true,
			Note: fmt.Sprintf("no static entry for zone %s: using the country average %s", zone, e.label())}, nil
	}
	return Intensity{GramsPerKWh: e.GramsPerKWh, Source: e.Source(), Estimated: true,
		Note: "annual average from the static table " + e.label()}, nil
}

// lookupEntry finds zone's entry or, for "CC-…" zones, the entry of country
// CC (parent is then true).
func (s *Static) lookupEntry(zone string) (e Entry, ok, parent bool) {
	if e, ok := s.Entry(zone); ok {
		return e, true, false
	}
	if country, _, found := strings.Cut(zone, "-"); found && !strings.Contains(country, ":") {
		if e, ok := s.Entry(country); ok {
			return e, true, true
		}
	}
	return Entry{}, false, false
}

// World returns the world average. Its Source and Note say that it is the
// world average.
func (s *Static) World() Intensity {
	return Intensity{GramsPerKWh: world.GramsPerKWh, Source: "static:world-average " + world.Dataset + "-" + strconv.Itoa(world.Year),
		Estimated: true, Note: "world average (IEA 2019)"}
}
