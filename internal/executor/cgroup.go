package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cgroup layouts that [Detect] reports.
const (
	LayoutV2     = "v2"     // only the unified (cgroup2) hierarchy is mounted
	LayoutHybrid = "hybrid" // cgroup v1 hierarchies plus a unified mount beside them
	LayoutV1     = "v1"     // only cgroup v1 hierarchies
	LayoutNone   = "none"   // no cgroup filesystem is mounted
)

// Layout is what [Detect] found about the cgroup hierarchies of a machine.
type Layout struct {
	// Version is LayoutV2, LayoutHybrid, LayoutV1 or LayoutNone.
	Version string
	// Unified is the mount point of the cgroup2 hierarchy as the machine sees
	// it (e.g. "/sys/fs/cgroup" or "/sys/fs/cgroup/unified"); "" when none.
	Unified string
	// Controllers lists the controllers the unified hierarchy's root offers
	// (its cgroup.controllers). In a hybrid layout cpu and memory are usually
	// bound to v1 and so missing here.
	Controllers []string
	// V1Controllers lists the controllers bound to cgroup v1 hierarchies.
	V1Controllers []string
	// Self is this process's cgroup v2 path (the "0::" line of
	// /proc/self/cgroup), e.g. "/system.slice/joule.service"; "" if unknown.
	Self string
}

// Has reports whether the unified hierarchy offers every named controller.
func (l Layout) Has(controllers ...string) bool {
	for _, c := range controllers {
		if !slices.Contains(l.Controllers, c) {
			return false
		}
	}
	return true
}

// Detect reads the cgroup layout of the machine whose filesystem is at root
// ("/" for this one; tests pass fixture trees): the mounts in
// root/proc/self/mountinfo, the controllers in the unified mount's
// cgroup.controllers and this process's cgroup in root/proc/self/cgroup. It
// only reads; whether cgroups can be created is found out by [New]. A missing
// mountinfo is an error; a missing cgroup.controllers or /proc/self/cgroup
// leaves the field empty.
func Detect(root string) (Layout, error) {
	mi, err := os.ReadFile(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return Layout{}, fmt.Errorf("executor: reading mountinfo: %w", err)
	}
	l := parseMountinfo(mi)
	if l.Unified != "" {
		if b, err := os.ReadFile(filepath.Join(root, l.Unified, "cgroup.controllers")); err == nil {
			l.Controllers = strings.Fields(string(b))
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup")); err == nil {
		for line := range strings.Lines(string(b)) {
			if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
				l.Self = p
			}
		}
	}
	return l, nil
}

// parseMountinfo finds the cgroup mounts in a /proc/self/mountinfo.
func parseMountinfo(b []byte) Layout {
	var l Layout
	v1 := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		mnt := unescapeMount(f[4])
		switch g[0] {
		case "cgroup2":
			// Prefer the conventional places when several are mounted.
			if l.Unified == "" || mnt == "/sys/fs/cgroup" || (mnt == "/sys/fs/cgroup/unified" && l.Unified != "/sys/fs/cgroup") {
				l.Unified = mnt
			}
		case "cgroup":
			v1 = true
			if len(g) >= 3 {
				for o := range strings.SplitSeq(g[2], ",") {
					switch {
					case o == "rw" || o == "ro" || strings.HasPrefix(o, "name=") || strings.Contains(o, "=") || o == "noprefix" || o == "clone_children" || o == "xattr" || o == "cpuset_v2_mode" || o == "favordynmods":
					default:
						if !slices.Contains(l.V1Controllers, o) {
							l.V1Controllers = append(l.V1Controllers, o)
						}
					}
				}
			}
		}
	}
	switch {
	case l.Unified != "" && v1:
		l.Version = LayoutHybrid
	case l.Unified != "":
		l.Version = LayoutV2
	case v1:
		l.Version = LayoutV1
	default:
		l.Version = LayoutNone
	}
	slices.Sort(l.V1Controllers)
	return l
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, …).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupMode is how an executor uses cgroup v2.
type cgroupMode int

const (
	cgroupOff     cgroupMode = iota // no cgroups: process-group accounting only
	cgroupContain                   // a cgroup per job for accounting and kill, no cpu/memory controllers
	cgroupLimit                     // a cgroup per job with cpu.max and memory.max
)

// cgroupSetup is what New found out about cgroups on this machine.
type cgroupSetup struct {
	mode   cgroupMode
	parent string // absolute path of the joule parent cgroup; "" when off
	// note explains, for RunResult.Limits, why jobs run without limits; ""
	// in cgroupLimit mode.
	note string
}

// setupCgroups decides how jobs use cgroups: it creates the joule parent
// cgroup and tries to enable the cpu and memory controllers for its children.
func setupCgroups(l Layout, root string) cgroupSetup {
	const noLimits = "the job ran without CPU or memory limits"
	if root == "" {
		return cgroupSetup{note: fmt.Sprintf("none: no cgroup v2 hierarchy is mounted here (cgroup %s layout); %s", l.Version, noLimits)}
	}
	self := l.Self
	if self == "" {
		self = "/"
	}
	// Create the parent beside our own cgroup (or under the root when we are
	// in the root): our own cgroup holds processes, so under the "no internal
	// processes" rule it cannot pass controllers on to children.
	base := path.Dir(self)
	if self == "/" {
		base = "/"
	}
	parent := filepath.Join(root, base, "joule.slice")
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return cgroupSetup{note: fmt.Sprintf("none: cannot create cgroup %s (%v); %s", parent, errors.Unwrap(err), noLimits)}
	}
	if _, err := os.Stat(filepath.Join(parent, "cgroup.procs")); err != nil {
		return cgroupSetup{note: fmt.Sprintf("none: %s is not a cgroup v2 directory; %s", parent, noLimits)}
	}
	// Ask the grandparent to pass cpu and memory down (fails harmlessly when
	// it already does or cannot), then enable them for our children.
	_ = os.WriteFile(filepath.Join(filepath.Dir(parent), "cgroup.subtree_control"), []byte("+cpu +memory"), 0)
	_ = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+cpu +memory"), 0)
	b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	enabled := strings.Fields(string(b))
	if slices.Contains(enabled, "cpu") && slices.Contains(enabled, "memory") {
		return cgroupSetup{mode: cgroupLimit, parent: parent}
	}
	why := "(cgroup " + l.Version + " layout)"
	if l.Version == LayoutHybrid {
		why = "(cgroup v1 layout with a unified mount; cpu and memory are bound to v1)"
	}
	return cgroupSetup{
		mode:   cgroupContain,
		parent: parent,
		note:   fmt.Sprintf("none: cgroup v2 cpu/memory controllers are not available here %s; %s", why, noLimits),
	}
}

// jobCgroup is one attempt's cgroup.
type jobCgroup struct {
	dir    string
	limits string // RunResult.Limits in cgroupLimit mode
}

// cgroupName returns a safe directory name for an attempt's cgroup.
func cgroupName(jobID string, attempt int) string {
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, jobID)
	if len(id) > 100 {
		id = id[:100]
	}
	return fmt.Sprintf("job-%s-%d", id, attempt)
}

// createJobCgroup makes the attempt's cgroup under s.parent and, in limit
// mode, writes cpu.max and memory.max.
func (s cgroupSetup) createJobCgroup(jobID string, attempt int, cpuMillis, memBytes int64) (*jobCgroup, error) {
	dir := filepath.Join(s.parent, cgroupName(jobID, attempt))
	if err := os.Mkdir(dir, 0o755); errors.Is(err, os.ErrExist) {
		// Left over from a crash: reuse it if it is empty, else pick a new name.
		if rmErr := os.Remove(dir); rmErr != nil {
			dir = fmt.Sprintf("%s-%d", dir, time.Now().UnixNano())
		}
		err = os.Mkdir(dir, 0o755)
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	cg := &jobCgroup{dir: dir}
	if s.mode != cgroupLimit {
		return cg, nil
	}
	cpu := "max 100000"
	if cpuMillis > 0 {
		cpu = fmt.Sprintf("%d 100000", max(cpuMillis*100, 1000))
	}
	mem := "max"
	if memBytes > 0 {
		mem = strconv.FormatInt(memBytes, 10)
	}
	if err := os.WriteFile(filepath.Join(dir, "cpu.max"), []byte(cpu), 0); err != nil {
		cg.remove(time.Second)
		return nil, fmt.Errorf("writing cpu.max: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(mem), 0); err != nil {
		cg.remove(time.Second)
		return nil, fmt.Errorf("writing memory.max: %w", err)
	}
	// An out-of-memory kill takes the whole job, not one of its processes at
	// random, as in Kubernetes; best effort (older kernels lack the file).
	_ = os.WriteFile(filepath.Join(dir, "memory.oom.group"), []byte("1"), 0)
	cg.limits = fmt.Sprintf("cgroup v2: cpu.max=%s, memory.max=%s", cpu, mem)
	return cg, nil
}

// kill writes cgroup.kill: SIGKILL to every process in the cgroup.
func (cg *jobCgroup) kill() error {
	return os.WriteFile(filepath.Join(cg.dir, "cgroup.kill"), []byte("1"), 0)
}

// procs returns the pids in the cgroup.
func (cg *jobCgroup) procs() []int {
	b, err := os.ReadFile(filepath.Join(cg.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for f := range strings.FieldsSeq(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// cpu returns the cgroup's cumulative user and system CPU seconds.
func (cg *jobCgroup) cpu() (user, sys float64, ok bool) {
	b, err := os.ReadFile(filepath.Join(cg.dir, "cpu.stat"))
	if err != nil {
		return 0, 0, false
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "user_usec":
			user, ok = float64(n)/1e6, true
		case "system_usec":
			sys, ok = float64(n)/1e6, true
		}
	}
	return user, sys, ok
}

// memory returns memory.current and memory.peak; ok is false where the
// memory controller is off.
func (cg *jobCgroup) memory() (cur, peak int64, ok bool) {
	cur, ok = readInt(filepath.Join(cg.dir, "memory.current"))
	peak, _ = readInt(filepath.Join(cg.dir, "memory.peak"))
	return cur, peak, ok
}

// oomKills returns the oom_kill count of memory.events.
func (cg *jobCgroup) oomKills() int64 {
	b, err := os.ReadFile(filepath.Join(cg.dir, "memory.events"))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "oom_kill "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// remove kills what is left in the cgroup, waits up to wait for it to empty
// and removes the directory.
func (cg *jobCgroup) remove(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	var err error
	for {
		if len(cg.procs()) > 0 {
			_ = cg.kill()
		}
		err = os.Remove(cg.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readInt reads a file holding one integer ("max" is not one).
func readInt(p string) (int64, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}
