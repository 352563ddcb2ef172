package energy

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// cpuPowerCSV is CodeCarbon's CPU TDP table (MIT), copied unchanged from
// mlco2/codecarbon codecarbon/data/hardware/cpu_power.csv at commit
// b05965e43b69; see NOTICE.
//
//go:embed data/cpu_power.csv
var cpuPowerCSV []byte

// DefaultWattsPerThread is the TDP share assumed per logical CPU when the CPU
// model is unknown, and on virtual machines (see [TDPTable.ForCPU]). It is
// the median TDP per core of the 95 CPUs in Green Algorithms' TDP_cpu.csv
// (10.8 W; Lannelongue et al., Adv. Sci. 2021, CC BY 4.0) divided by two
// hardware threads per core, the norm for x86 servers and for cloud vCPUs.
// It agrees with the profiled CPUs: their TDP per thread is 5.6 W (EPYC
// 8024P, Threadripper 1950X), 7.1 W (2 × Xeon E5-2620 v3) and 8.6 W (Xeon
// E3-1240 v2).
const DefaultWattsPerThread = 5.4

// Ways a TDP was found, from most to least trustworthy (TDP.Match).
const (
	MatchExact   = "exact"   // normalised names are equal
	MatchToken   = "token"   // every token of the table name is in the model name
	MatchFamily  = "family"  // median of the rows of the same family, e.g. "intel xeon gold"
	MatchVM      = "vm"      // a VM: threads × DefaultWattsPerThread
	MatchDefault = "default" // unknown model: threads × DefaultWattsPerThread
)

// TDPTable maps CPU model names to thermal design power in watts.
type TDPTable struct {
	rows    []tdpRow
	exact   map[string]int // normalised name -> first row
	Skipped int            // rows left out: TDP not a positive number
}

type tdpRow struct {
	name   string // as in the table
	norm   string
	tokens []string
	family string
	tdp    float64
}

// ParseTDPTable reads a table in the format of CodeCarbon's cpu_power.csv: a
// header "Name,TDP", then one CPU per row. Rows whose TDP is not a positive
// number (the upstream table has a few, such as "27.29.5") are skipped and
// counted in Skipped. It fails on a missing header or a malformed CSV line,
// naming the line.
func ParseTDPTable(r io.Reader) (*TDPTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("cpu power table: header: %v", err)
	}
	if !strings.EqualFold(strings.TrimPrefix(head[0], "\ufeff"), "Name") || !strings.EqualFold(head[1], "TDP") {
		return nil, fmt.Errorf("cpu power table: header is %q, want Name,TDP", strings.Join(head, ","))
	}
	t := &TDPTable{exact: map[string]int{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cpu power table: %v", err)
		}
		tdp, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		norm := NormalizeCPUModel(rec[0])
		if err != nil || !(tdp > 0) || math.IsInf(tdp, 0) || norm == "" {
			t.Skipped++
			continue
		}
		row := tdpRow{name: rec[0], norm: norm, tokens: strings.Fields(norm), tdp: tdp}
		row.family = family(row.tokens)
		if _, ok := t.exact[norm]; !ok {
			t.exact[norm] = len(t.rows)
		}
		t.rows = append(t.rows, row)
	}
	if len(t.rows) == 0 {
		return nil, errors.New("cpu power table: no usable rows")
	}
	return t, nil
}

// DefaultTDPTable returns the embedded CodeCarbon table.
var DefaultTDPTable = sync.OnceValue(func() *TDPTable {
	t, err := ParseTDPTable(bytes.NewReader(cpuPowerCSV))
	if err != nil {
		panic("energy: embedded cpu_power.csv: " + err.Error()) // programmer error
	}
	return t
})

// Len returns the number of usable rows.
func (t *TDPTable) Len() int { return len(t.rows) }

var (
	cpuNoise  = regexp.MustCompile(`\(r\)|\(tm\)|®|™|@\s*[0-9.]+\s*[gm]hz|\bwith radeon(?: [a-z0-9]+)* graphics\b|\b[0-9]+-core\b|\b(?:cpu|processor)\b`)
	cpuSpaces = regexp.MustCompile(`[\s,]+`)
)

// NormalizeCPUModel reduces a CPU model name, from /proc/cpuinfo or the TDP
// table, to lower-case words: it drops "(R)", "(TM)", "CPU", "Processor",
// "N-Core", a clock such as "@ 2.20GHz" and "with Radeon … Graphics", and
// collapses spaces and commas. "Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz"
// becomes "intel xeon e3-1240 v2".
func NormalizeCPUModel(s string) string {
	s = strings.ToLower(s)
	s = cpuNoise.ReplaceAllString(s, " ")
	return strings.TrimSpace(cpuSpaces.ReplaceAllString(s, " "))
}

// family returns the leading tokens that hold no digit ("intel xeon gold"),
// or "" when there are fewer than two: a vendor alone is no family.
func family(tokens []string) string {
	i := slices.IndexFunc(tokens, func(s string) bool { return strings.ContainsFunc(s, unicode.IsDigit) })
	if i < 0 {
		i = len(tokens)
	}
	if i < 2 {
		return ""
	}
	return strings.Join(tokens[:i], " ")
}

// Lookup returns the TDP in watts of one package of the CPU model, the
// table row it came from and how it matched:
//
//  1. MatchExact: the normalised names are equal;
//  2. MatchToken: every token of a row is in the model name and the row has
//     a model number (a token with a digit); the row with the most tokens
//     wins, so "xeon e3-1240 v2" beats "xeon e3-1240". Failing that, every
//     token of a model name with a model number is in a row: the row with
//     the fewest tokens wins;
//  3. MatchFamily: the median TDP of the rows of the model's family, its
//     leading words without digits ("amd epyc").
//
// ok is false when none applies.
func (t *TDPTable) Lookup(model string) (watts float64, row, match string, ok bool) {
	norm := NormalizeCPUModel(model)
	if norm == "" {
		return 0, "", "", false
	}
	if i, ok := t.exact[norm]; ok {
		return t.rows[i].tdp, t.rows[i].name, MatchExact, true
	}
	tokens := strings.Fields(norm)
	have := map[string]bool{}
	for _, tok := range tokens {
		have[tok] = true
	}
	hasNumber := func(toks []string) bool {
		return slices.ContainsFunc(toks, func(s string) bool { return strings.ContainsFunc(s, unicode.IsDigit) })
	}
	best := -1
	for i, r := range t.rows {
		if !hasNumber(r.tokens) || len(r.tokens) > len(tokens) {
			continue
		}
		if !allIn(r.tokens, have) {
			continue
		}
		if best < 0 || len(r.tokens) > len(t.rows[best].tokens) {
			best = i
		}
	}
	if best < 0 && hasNumber(tokens) {
		for i, r := range t.rows {
			rowHave := map[string]bool{}
			for _, tok := range r.tokens {
				rowHave[tok] = true
			}
			if allIn(tokens, rowHave) && (best < 0 || len(r.tokens) < len(t.rows[best].tokens)) {
				best = i
			}
		}
	}
	if best >= 0 {
		return t.rows[best].tdp, t.rows[best].name, MatchToken, true
	}
	if fam := family(tokens); fam != "" {
		var tdps []float64
		for _, r := range t.rows {
			if r.family == fam {
				tdps = append(tdps, r.tdp)
			}
		}
		if len(tdps) > 0 {
			return median(tdps), fam, MatchFamily, true
		}
	}
	return 0, "", "", false
}

func allIn(tokens []string, set map[string]bool) bool {
	for _, tok := range tokens {
		if !set[tok] {
			return false
		}
	}
	return true
}

// median returns the median of xs, which it sorts; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// CPUInfo is what the estimate needs to know about a node's CPUs.
type CPUInfo struct {
	Model   string // "model name" of the first processor; "" if absent
	Threads int    // logical CPUs
	Sockets int    // distinct "physical id" values; at least 1 when Threads > 0
	VM      bool   // the "hypervisor" CPU flag is set
}

// ParseCPUInfo reads /proc/cpuinfo. Lines without a colon are ignored, so
// any input parses; missing fields stay zero.
func ParseCPUInfo(b []byte) CPUInfo {
	var c CPUInfo
	ids := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			c.Threads++
		case "model name":
			if c.Model == "" {
				c.Model = v
			}
		case "physical id":
			ids[v] = true
		case "flags":
			if slices.Contains(strings.Fields(v), "hypervisor") {
				c.VM = true
			}
		}
	}
	c.Sockets = len(ids)
	if c.Sockets == 0 && c.Threads > 0 {
		c.Sockets = 1
	}
	return c
}

// TDP is the thermal design power the estimate scales by, for all of a
// node's CPUs, and where it came from.
type TDP struct {
	Watts float64 `json:"watts"`
	Match string  `json:"match"`         // MatchExact … MatchDefault
	Row   string  `json:"row,omitempty"` // the table row or family matched
}

// ForCPU returns the TDP for a node's CPUs:
//
//   - on bare metal with a table match: the row's TDP × sockets;
//   - on a VM (the hypervisor flag): threads × [DefaultWattsPerThread],
//     because a VM holds a slice of a host chip whose thread count it cannot
//     see, and the whole chip's TDP would overstate a 2-vCPU guest many
//     times; the matched row is still reported;
//   - otherwise (unknown model): threads × [DefaultWattsPerThread].
//
// With no threads known it assumes one.
func (t *TDPTable) ForCPU(c CPUInfo) TDP {
	threads := max(c.Threads, 1)
	w, row, match, ok := t.Lookup(c.Model)
	switch {
	case c.VM:
		return TDP{Watts: float64(threads) * DefaultWattsPerThread, Match: MatchVM, Row: row}
	case ok:
		return TDP{Watts: w * float64(max(c.Sockets, 1)), Match: match, Row: row}
	default:
		return TDP{Watts: float64(threads) * DefaultWattsPerThread, Match: MatchDefault}
	}
}
