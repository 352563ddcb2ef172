package executor

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// The kernel fixes it at 100 on every architecture Linux exposes to user
// space through procfs (sysconf(_SC_CLK_TCK) returns the same constant), and
// Go has no cgo-free sysconf, so it is a constant here.
const clockTicks = 100

// procStat is the part of /proc/<pid>/stat the executor needs.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
	// utime and stime are the process's own CPU ticks; cutime and cstime
	// those of the children it has waited for.
	utime, stime, cutime, cstime uint64
	starttime                    uint64 // ticks after boot
	rssPages                     int64
}

// parseProcStat parses the contents of /proc/<pid>/stat. The command name
// may hold spaces and parentheses, so fields are counted from the last ')'.
func parseProcStat(b []byte) (procStat, bool) {
	var s procStat
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return s, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return s, false
	}
	f := strings.Fields(string(b[end+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 || len(f[0]) != 1 {
		return s, false
	}
	s.pid, s.state = pid, f[0][0]
	var bad bool
	num := func(i int) uint64 {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			// Some fields may be negative (cutime is a long); clamp to 0.
			if _, err := strconv.ParseInt(f[i], 10, 64); err != nil {
				bad = true
			}
			return 0
		}
		return n
	}
	s.ppid = int(num(1))
	s.pgrp = int(num(2))
	s.utime, s.stime, s.cutime, s.cstime = num(11), num(12), num(13), num(14)
	s.starttime = num(19)
	s.rssPages = int64(num(21))
	return s, !bad
}

// readProcStat reads /proc/<pid>/stat under procRoot.
func readProcStat(procRoot string, pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	s, ok := parseProcStat(b)
	if !ok {
		return procStat{}, errors.New("executor: malformed " + filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	}
	return s, nil
}

// groupMembers returns the stat of every process under procRoot whose
// process group is pgid, zombies included.
func groupMembers(procRoot string, pgid int) []procStat {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		s, err := readProcStat(procRoot, pid)
		if err == nil && s.pgrp == pgid {
			out = append(out, s)
		}
	}
	return out
}

// liveMembers returns the pids in pgid's group other than except (the
// unreaped leader) and zombies: the processes that still need killing.
func liveMembers(procRoot string, pgid, except int) []int {
	var pids []int
	for _, s := range groupMembers(procRoot, pgid) {
		if s.pid != except && s.state != 'Z' {
			pids = append(pids, s.pid)
		}
	}
	return pids
}

// cmdline returns /proc/<pid>/cmdline split at NULs.
func cmdline(procRoot string, pid int) []string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// bootTime reads btime from /proc/stat.
func bootTime(procRoot string) (time.Time, bool) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return time.Unix(n, 0), true
			}
		}
	}
	return time.Time{}, false
}

// vmRSS reads VmRSS from /proc/<pid>/status, in bytes.
func vmRSS(procRoot string, pid int) int64 {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// cgroupOf returns the cgroup v2 path of pid (the "0::" line).
func cgroupOf(procRoot string, pid int) string {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			return p
		}
	}
	return ""
}
