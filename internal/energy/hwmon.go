package energy

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hwmon meters Linux hwmon sensors (sys/class/hwmon/hwmonN):
//
//   - energyN_input, a cumulative counter in microjoules, read like a RAPL
//     counter but with no known range, so a counter that goes backwards
//     drops that sample;
//   - powerN_input, else powerN_average, in microwatts, integrated over
//     time by the trapezoidal rule between successive reads.
//
// The amd_energy driver reports each socket (Esocket*) and each core
// (Ecore*); cores lie inside their socket, so only sockets are counted.
// Components are named "device/label", e.g. "amd_energy/Esocket0" or
// "power_meter/power1". Hwmon sensors may cover what RAPL already measures
// (amd_energy is the same counter); the caller chooses one CPU meter.
type Hwmon struct {
	cfg     Config
	sensors []*hwmonSensor
}

// hwmonSensor is one counted channel.
type hwmonSensor struct {
	component string
	path      string
	energy    bool       // energyN_input; else a power channel
	c         counter    // energy channels
	p         integrator // power channels
}

var (
	hwmonDevice  = regexp.MustCompile(`^hwmon([0-9]+)$`)
	hwmonChannel = regexp.MustCompile(`^(power|energy)([0-9]+)_(input|average)$`)
)

// NewHwmon finds the power and energy sensors under cfg.Root. It fails with
// [ErrNoMeter] when none can be read.
func NewHwmon(ctx context.Context, cfg Config) (*Hwmon, error) {
	cfg = cfg.WithDefaults()
	dir := filepath.Join(cfg.Root, "sys/class/hwmon")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("hwmon: %w: %v", ErrNoMeter, err)
	}
	type device struct {
		name string
		n    int
	}
	var devs []device
	for _, e := range entries {
		if m := hwmonDevice.FindStringSubmatch(e.Name()); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil {
				devs = append(devs, device{e.Name(), n})
			}
		}
	}
	slices.SortFunc(devs, func(a, b device) int { return cmp.Compare(a.n, b.n) })

	h := &Hwmon{cfg: cfg}
	for _, d := range devs {
		path := filepath.Join(dir, d.name)
		files, err := os.ReadDir(path)
		if err != nil {
			cfg.Logger.DebugContext(ctx, "hwmon device not readable", "path", path, "err", err)
			continue
		}
		devName := cmp.Or(strings.TrimSpace(string(readSmall(path, "name"))), d.name)
		type channel struct {
			kind string
			n    int
		}
		chans := map[channel]string{} // -> file; _input preferred over _average
		for _, f := range files {
			m := hwmonChannel.FindStringSubmatch(f.Name())
			if m == nil || (m[1] == "energy" && m[3] != "input") {
				continue
			}
			n, err := strconv.Atoi(m[2])
			if err != nil {
				continue
			}
			ch := channel{m[1], n}
			if _, ok := chans[ch]; !ok || m[3] == "input" {
				chans[ch] = f.Name()
			}
		}
		keys := slices.SortedFunc(maps.Keys(chans), func(a, b channel) int {
			return cmp.Or(strings.Compare(a.kind, b.kind), cmp.Compare(a.n, b.n))
		})
		for _, ch := range keys {
			file := filepath.Join(path, chans[ch])
			label := fmt.Sprintf("%s%d", ch.kind, ch.n)
			label = cmp.Or(strings.TrimSpace(string(readSmall(path, label+"_label"))), label)
			if devName == "amd_energy" && !strings.HasPrefix(label, "Esocket") {
				continue // a core, inside its socket
			}
			if _, err := readCounter(file); err != nil {
				cfg.Logger.InfoContext(ctx, "hwmon sensor not readable", "path", file, "err", err)
				continue
			}
			h.sensors = append(h.sensors, &hwmonSensor{
				component: devName + "/" + label,
				path:      file,
				energy:    ch.kind == "energy",
			})
		}
	}
	if len(h.sensors) == 0 {
		return nil, fmt.Errorf("hwmon: %w: no readable power or energy sensor under %s", ErrNoMeter, dir)
	}
	return h, nil
}

// Name returns "hwmon".
func (h *Hwmon) Name() string { return "hwmon" }

// Method returns [MethodHwmon].
func (h *Hwmon) Method() string { return MethodHwmon }

// Components returns the counted sensors in order.
func (h *Hwmon) Components() []string {
	out := make([]string, len(h.sensors))
	for i, s := range h.sensors {
		out[i] = s.component
	}
	return out
}

// Read samples every sensor. A sensor that cannot be read or parsed, or an
// energy counter that went backwards, is logged and left out; Read fails
// only when no sensor gave a reading.
func (h *Hwmon) Read(ctx context.Context) ([]Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := h.cfg.Now().UTC()
	out := make([]Reading, 0, len(h.sensors))
	var firstErr error
	for _, s := range h.sensors {
		raw, err := readCounter(s.path)
		if err != nil {
			h.cfg.Logger.WarnContext(ctx, "hwmon sample dropped", "path", s.path, "err", err)
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		var w, j float64
		if s.energy {
			var step counterStep
			w, step = s.c.add(raw, 0, 1e-6, now)
			if step == stepBackward {
				h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "hwmon energy counter went backwards; sample dropped",
					slog.String("path", s.path), slog.Uint64("raw_uj", raw))
				continue
			}
			j = s.c.joules
		} else {
			w, j = s.p.add(float64(raw)*1e-6, now)
		}
		out = append(out, Reading{Time: now, Component: s.component, Joules: j, Watts: w, Method: MethodHwmon})
	}
	if len(out) == 0 && firstErr != nil {
		return nil, fmt.Errorf("hwmon: %v", firstErr)
	}
	return out, nil
}

// integrator integrates power samples over time by the trapezoidal rule.
type integrator struct {
	started bool
	lastW   float64
	lastT   time.Time
	joules  float64
}

// add records watts at t and returns the average power since the previous
// sample and the cumulative joules. A clock that does not advance adds
// nothing; negative or non-finite watts count as 0.
func (g *integrator) add(watts float64, t time.Time) (avg, joules float64) {
	if !(watts > 0) || math.IsInf(watts, 1) {
		watts = 0
	}
	if !g.started {
		g.started, g.lastW, g.lastT = true, watts, t
		return 0, 0
	}
	if dt := t.Sub(g.lastT).Seconds(); dt > 0 {
		avg = (g.lastW + watts) / 2
		g.joules += avg * dt
		g.lastT = t
	}
	g.lastW = watts
	return avg, g.joules
}
