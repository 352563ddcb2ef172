package energy

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// RAPL meters CPU packages and DRAM through the Linux powercap interface
// (sys/class/powercap/intel-rapl:N[:M]/energy_uj). AMD processors appear
// there too, as intel-rapl zones since Linux 5.8 or as amd-rapl zones.
//
// Which zones count. RAPL domains nest: a package zone (intel-rapl:N,
// "package-N") already includes its core ("core", PP0) and uncore ("uncore",
// PP1) subzones, while DRAM is a separate domain even though powercap lists
// it as a subzone of its package (intel-rapl:N:M named "dram"). RAPL
// therefore counts:
//
//   - every top-level zone named package-N, as component "package-N";
//   - every zone named dram, top-level or a subzone, as "dram-N" after its
//     package's index;
//   - the platform zone "psys" only when there is no package zone, since
//     psys covers the packages;
//
// and never core, uncore or other subzones, nor intel-rapl-mmio zones (the
// same package counters again). So no energy is counted twice.
type RAPL struct {
	cfg   Config
	zones []*raplZone
}

// raplZone is one counted powercap zone.
type raplZone struct {
	component string
	path      string // energy_uj
	maxRange  uint64 // max_energy_range_uj; 0 if unknown
	c         counter
}

// raplZoneName matches intel-rapl:0 (a package) and intel-rapl:0:2 (a
// subzone of it), and the amd-rapl equivalents.
var raplZoneName = regexp.MustCompile(`^(?:intel-rapl|amd-rapl):([0-9]+)(?::([0-9]+))?$`)

// NewRAPL finds the countable RAPL zones under cfg.Root. It fails with
// [ErrNoMeter] when there is none whose energy_uj can be read (since Linux
// 5.10 only root may read it).
func NewRAPL(ctx context.Context, cfg Config) (*RAPL, error) {
	cfg = cfg.WithDefaults()
	dir := filepath.Join(cfg.Root, "sys/class/powercap")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rapl: %w: %v", ErrNoMeter, err)
	}
	type found struct {
		dir, name string
		pkg, sub  int // sub is -1 for a top-level zone
	}
	var all []found
	for _, e := range entries {
		m := raplZoneName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pkg, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		sub := -1
		if m[2] != "" {
			if sub, err = strconv.Atoi(m[2]); err != nil {
				continue
			}
		}
		zdir := filepath.Join(dir, e.Name())
		name := strings.TrimSpace(string(readSmall(zdir, "name")))
		all = append(all, found{zdir, name, pkg, sub})
	}
	slices.SortFunc(all, func(a, b found) int {
		return cmp.Or(cmp.Compare(a.pkg, b.pkg), cmp.Compare(a.sub, b.sub), strings.Compare(a.dir, b.dir))
	})
	hasPackage := slices.ContainsFunc(all, func(f found) bool {
		return f.sub < 0 && strings.HasPrefix(f.name, "package-")
	})

	r := &RAPL{cfg: cfg}
	seen := map[string]bool{}
	for _, f := range all {
		var component string
		switch {
		case f.sub < 0 && strings.HasPrefix(f.name, "package-"):
			component = f.name
		case f.name == "dram":
			component = fmt.Sprintf("dram-%d", f.pkg)
		case f.sub < 0 && f.name == "psys" && !hasPackage:
			component = "psys"
		default:
			cfg.Logger.DebugContext(ctx, "RAPL zone not counted: inside another zone", "path", f.dir, "name", f.name)
			continue
		}
		if seen[component] {
			continue
		}
		energy := filepath.Join(f.dir, "energy_uj")
		if _, err := readCounter(energy); err != nil {
			cfg.Logger.InfoContext(ctx, "RAPL zone not readable; run as root to meter it", "path", energy, "err", err)
			continue
		}
		maxRange, err := readCounter(filepath.Join(f.dir, "max_energy_range_uj"))
		if err != nil {
			cfg.Logger.WarnContext(ctx, "RAPL zone without a counter range: wraparound cannot be undone", "path", f.dir, "err", err)
			maxRange = 0
		}
		seen[component] = true
		r.zones = append(r.zones, &raplZone{component: component, path: energy, maxRange: maxRange})
	}
	if len(r.zones) == 0 {
		return nil, fmt.Errorf("rapl: %w: no readable package or dram zone under %s", ErrNoMeter, dir)
	}
	return r, nil
}

// Name returns "rapl".
func (r *RAPL) Name() string { return "rapl" }

// Method returns [MethodRAPL].
func (r *RAPL) Method() string { return MethodRAPL }

// Components returns the counted components in order, e.g. package-0, dram-0.
func (r *RAPL) Components() []string {
	out := make([]string, len(r.zones))
	for i, z := range r.zones {
		out[i] = z.component
	}
	return out
}

// Read samples every counted zone. A zone that cannot be read or parsed, or
// whose counter went backwards without a known range, is logged and left
// out; Read fails only when no zone gave a reading.
func (r *RAPL) Read(ctx context.Context) ([]Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := r.cfg.Now().UTC()
	out := make([]Reading, 0, len(r.zones))
	var firstErr error
	for _, z := range r.zones {
		raw, err := readCounter(z.path)
		if err != nil {
			r.cfg.Logger.WarnContext(ctx, "RAPL sample dropped", "path", z.path, "err", err)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		w, step := z.c.add(raw, z.maxRange, 1e-6, now)
		switch step {
		case stepBackward:
			r.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "RAPL counter went backwards without a known range; sample dropped",
				slog.String("path", z.path), slog.Uint64("raw_uj", raw))
			continue
		case stepWrapped:
			r.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "RAPL counter wrapped", slog.String("path", z.path))
		}
		out = append(out, Reading{Time: now, Component: z.component, Joules: z.c.joules, Watts: w, Method: MethodRAPL})
	}
	if len(out) == 0 && firstErr != nil {
		return nil, fmt.Errorf("rapl: %v", firstErr)
	}
	return out, nil
}

// readSmall returns the contents of dir/name, or nil.
func readSmall(dir, name string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	return b
}

// readCounter reads and parses a sysfs counter file.
func readCounter(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseCounter(b)
}

// parseCounter parses a sysfs unsigned decimal value such as energy_uj or
// max_energy_range_uj: digits and surrounding whitespace.
func parseCounter(b []byte) (uint64, error) {
	s := string(bytes.TrimSpace(b))
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse counter %q: %v", truncate(s, 32), err)
	}
	return v, nil
}

// truncate shortens s to at most n bytes for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
