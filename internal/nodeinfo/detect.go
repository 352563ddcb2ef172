package nodeinfo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/joule-dev/joule"
)

// Detect returns the inventory of the node under cfg.Root. The node has no
// ID (the caller assigns one with joule.NewID), is in state NodeReady, and
// its CreatedAt and LastHeartbeat are cfg.Now(). Missing files give fallback
// values; a GPU source that fails is logged and gives no GPUs. Detect fails
// when a file exists but cannot be read or parsed, or when no node name can
// be found.
func Detect(ctx context.Context, cfg Config) (joule.Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return joule.Node{}, err
	}
	if err := ctx.Err(); err != nil {
		return joule.Node{}, err
	}
	log := cfg.Logger
	now := cfg.Now().UTC()
	n := joule.Node{
		OS:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GPUs:          []joule.GPU{},
		Meters:        []joule.Meter{},
		Labels:        maps.Clone(cfg.Labels),
		State:         joule.NodeReady,
		Version:       joule.Version,
		CreatedAt:     now,
		LastHeartbeat: now,
	}

	var err error
	if n.Hostname, err = hostname(cfg.Root); err != nil {
		return joule.Node{}, err
	}
	n.Name = cmp.Or(cfg.Name, n.Hostname)
	if n.Name == "" {
		return joule.Node{}, errors.New("nodeinfo: no hostname found; set Config.Name")
	}

	kernel, err := readOptional(ctx, log, cfg.Root, "proc/sys/kernel/osrelease")
	if err != nil {
		return joule.Node{}, err
	}
	n.Kernel = strings.TrimSpace(string(kernel))

	cpuinfo, err := readOptional(ctx, log, cfg.Root, "proc/cpuinfo")
	if err != nil {
		return joule.Node{}, err
	}
	ci := parseCPUInfo(cpuinfo)
	n.CPUModel = cmp.Or(ci.Model, "unknown")
	n.CPUCores = cmp.Or(ci.CPUs, runtime.NumCPU())

	meminfo, err := readOptional(ctx, log, cfg.Root, "proc/meminfo")
	if err != nil {
		return joule.Node{}, err
	}
	if meminfo != nil {
		m, err := parseMeminfo(filepath.Join(cfg.Root, "proc/meminfo"), meminfo)
		if err != nil {
			return joule.Node{}, err
		}
		n.MemoryBytes = m.Total
	}

	if cfg.GPUs != nil {
		gpus, err := cfg.GPUs.GPUs()
		if err != nil {
			log.InfoContext(ctx, "no GPUs: GPU source failed", "err", err)
		} else if gpus != nil {
			n.GPUs = slices.Clone(gpus)
		}
	}

	n.Meters = append(n.Meters, raplMeters(ctx, log, cfg.Root)...)
	n.Meters = append(n.Meters, hwmonMeters(ctx, log, cfg.Root)...)
	for _, g := range n.GPUs {
		n.Meters = append(n.Meters, joule.Meter{
			Kind:   joule.MeterNVML,
			Name:   fmt.Sprintf("GPU %d", g.Index),
			Source: cmp.Or(g.UUID, fmt.Sprintf("nvml:%d", g.Index)),
		})
	}
	return n, nil
}

// hostname returns os.Hostname for the real root, else the fixture's
// proc/sys/kernel/hostname.
func hostname(root string) (string, error) {
	if root == "/" {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("nodeinfo: hostname: %v", err)
		}
		return h, nil
	}
	b, err := os.ReadFile(filepath.Join(root, "proc/sys/kernel/hostname"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("nodeinfo: hostname: %v", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readOptional reads root/rel. A missing file is logged and gives nil.
func readOptional(ctx context.Context, log *slog.Logger, root, rel string) ([]byte, error) {
	path := filepath.Join(root, rel)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		log.DebugContext(ctx, "not detected: file missing", "path", path)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nodeinfo: %v", err)
	}
	return b, nil
}

// raplZone matches the powercap zones of RAPL: intel-rapl:0 (a package) and
// intel-rapl:0:1 (a subzone of it). intel-rapl-mmio zones are left out: they
// expose the same package counters again and would be counted twice.
var raplZone = regexp.MustCompile(`^(intel-rapl|amd-rapl):([0-9]+)(?::([0-9]+))?$`)

// raplMeters returns one meter per RAPL zone under sys/class/powercap whose
// energy_uj can be read. Since Linux 5.10 energy_uj is readable by root
// only; unreadable zones are logged. Entries may be directories or, as in
// real sysfs, symlinks to them.
func raplMeters(ctx context.Context, log *slog.Logger, root string) []joule.Meter {
	dir := filepath.Join(root, "sys/class/powercap")
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.DebugContext(ctx, "no RAPL meters", "err", err)
		return nil
	}
	type zone struct {
		name string // intel-rapl:0:1
		pkg  string // intel-rapl:0
		p, s int    // package index, subzone index+1 (0 for a package)
	}
	var zones []zone
	for _, e := range entries {
		m := raplZone.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pkg, err1 := strconv.Atoi(m[2])
		sub := -1
		var err2 error
		if m[3] != "" {
			sub, err2 = strconv.Atoi(m[3])
		}
		if err1 != nil || err2 != nil {
			continue // index does not fit in an int
		}
		zones = append(zones, zone{name: e.Name(), pkg: m[1] + ":" + m[2], p: pkg, s: sub + 1})
	}
	slices.SortFunc(zones, func(a, b zone) int {
		return cmp.Or(cmp.Compare(a.p, b.p), cmp.Compare(a.s, b.s), strings.Compare(a.name, b.name))
	})

	var meters []joule.Meter
	for _, z := range zones {
		path := filepath.Join(dir, z.name)
		energy := filepath.Join(path, "energy_uj")
		if _, err := os.Stat(energy); err != nil {
			log.DebugContext(ctx, "RAPL zone without energy counter", "path", path, "err", err)
			continue
		}
		if _, err := os.ReadFile(energy); err != nil {
			log.InfoContext(ctx, "RAPL zone not readable; run as root to meter it", "path", energy, "err", err)
			continue
		}
		name := zoneName(path, z.name)
		if z.s > 0 {
			name = zoneName(filepath.Join(dir, z.pkg), z.pkg) + "/" + name
		}
		meters = append(meters, joule.Meter{Kind: joule.MeterRAPL, Name: name, Source: path})
	}
	return meters
}

// zoneName returns the contents of dir/name, or fallback.
func zoneName(dir, fallback string) string {
	b, err := os.ReadFile(filepath.Join(dir, "name"))
	if err != nil {
		return fallback
	}
	return cmp.Or(strings.TrimSpace(string(b)), fallback)
}

var (
	hwmonDir   = regexp.MustCompile(`^hwmon([0-9]+)$`)
	hwmonPower = regexp.MustCompile(`^power([0-9]+)_(input|average)$`)
)

// hwmonMeters returns one meter per power channel of the hwmon devices
// under sys/class/hwmon: powerN_input, else powerN_average (microwatts).
// The meter is named after the device's name file and the channel's label
// file ("amdgpu/PPT"), or the channel ("power_meter/power1") without one.
// Its Source is the file to read.
func hwmonMeters(ctx context.Context, log *slog.Logger, root string) []joule.Meter {
	dir := filepath.Join(root, "sys/class/hwmon")
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.DebugContext(ctx, "no hwmon meters", "err", err)
		return nil
	}
	type device struct {
		name string
		n    int
	}
	var devs []device
	for _, e := range entries {
		if m := hwmonDir.FindStringSubmatch(e.Name()); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil {
				devs = append(devs, device{e.Name(), n})
			}
		}
	}
	slices.SortFunc(devs, func(a, b device) int { return cmp.Compare(a.n, b.n) })

	var meters []joule.Meter
	for _, d := range devs {
		path := filepath.Join(dir, d.name)
		files, err := os.ReadDir(path) // follows the symlink of real sysfs
		if err != nil {
			log.DebugContext(ctx, "hwmon device not readable", "path", path, "err", err)
			continue
		}
		chans := map[int]string{} // channel -> file, _input preferred
		for _, f := range files {
			m := hwmonPower.FindStringSubmatch(f.Name())
			if m == nil {
				continue
			}
			ch, err := strconv.Atoi(m[1])
			if err != nil {
				continue
			}
			if _, ok := chans[ch]; !ok || m[2] == "input" {
				chans[ch] = f.Name()
			}
		}
		devName := zoneName(path, d.name)
		for _, ch := range slices.Sorted(maps.Keys(chans)) {
			file := filepath.Join(path, chans[ch])
			if _, err := os.ReadFile(file); err != nil {
				log.InfoContext(ctx, "hwmon power sensor not readable", "path", file, "err", err)
				continue
			}
			label := fmt.Sprintf("power%d", ch)
			if b, err := os.ReadFile(filepath.Join(path, label+"_label")); err == nil {
				label = cmp.Or(strings.TrimSpace(string(b)), label)
			}
			meters = append(meters, joule.Meter{Kind: joule.MeterHwmon, Name: devName + "/" + label, Source: file})
		}
	}
	return meters
}
