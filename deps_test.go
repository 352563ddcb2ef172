package joule_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/joule-dev/joule"

// allowedInternal lists, for each package, the module's internal packages it
// may import outside tests. Siblings talk in root types; only cmd/joule wires
// everything together.
var allowedInternal = map[string][]string{
	// The CLI reaches the server only through the client; `joule sim` and
	// `joule energy validate` are offline tools that run the simulator and
	// the estimation model locally.
	// `joule dataset recipe-run`, the command of a recipe job, runs the data
	// engine in the job's own process so that the job's energy is the
	// recipe's.
	// `joule model train-run` and `predict-run` train and predict in the
	// job's own process likewise.
	"internal/cli": {"internal/httpapi", "internal/sim", "internal/scheduler", "internal/energy", "internal/dataset", "internal/model"},
	"web":          {"internal/chart", "internal/sustain"}, // the console draws with the chart package and shows sustain's figures
	// The compute layer calls the pure placement and cron libraries.
	"internal/compute": {"internal/scheduler", "internal/cron"},
	// Sustainability recommendations replay history through the simulator,
	// and the report draws with the chart package.
	"internal/sustain": {"internal/sim", "internal/chart"},
	// The API computes indicators, targets and reports with package
	// sustain and replays the simulator's deadline rules.
	"internal/httpapi": {"internal/sustain", "internal/sim"},
	// Dataset splits use the model layer's SplitMix64 permutation, so that
	// indices match the scikit-learn reference.
	"internal/dataset": {"internal/ml"},
	// Training and batch prediction read rows through the data layer and
	// fit with the algorithm library.
	"internal/model": {"internal/dataset", "internal/ml", "internal/ml/modelfile"},
	// Serving loads model files with the algorithm library and replays
	// their fitted recipes on single rows through the data layer.
	"internal/serving": {"internal/dataset", "internal/ml"},
	// The simulator replays carbon series through the pure policies.
	"internal/sim": {"internal/carbon", "internal/scheduler"},
	// A random forest is an ensemble of the tree package's CART trees.
	"internal/ml/forest": {"internal/ml/tree"},
	// Boosted trees are stored as the tree package's flat trees.
	"internal/ml/boost": {"internal/ml/tree"},
}

type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command("go", "list", "-e", "-deps", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestDependencyRules enforces the layout rules of ARCHITECTURE.md and
// STYLE.md with `go list -deps`.
func TestDependencyRules(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)
	std := map[string]bool{}
	for _, p := range pkgs {
		if p.Standard {
			std[p.ImportPath] = true
		}
	}
	ours := 0
	for _, p := range pkgs {
		if !strings.HasPrefix(p.ImportPath, module) {
			continue
		}
		ours++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		switch {
		case rel == "":
			for _, d := range p.Deps {
				if !std[d] {
					t.Errorf("the root package imports %s: it may import only the standard library", d)
				}
			}
		case rel == "internal/scheduler" || strings.HasPrefix(rel, "internal/scheduler/"):
			// Transitively: no store, database or network. Directly: no
			// files, processes or randomness (the root and fmt reach os and
			// math/rand themselves, so only direct imports can be checked).
			for _, d := range p.Deps {
				if strings.HasPrefix(d, module+"/internal/") || d == "database/sql" || d == "net/http" {
					t.Errorf("%s imports %s: the scheduler is pure (no store, I/O, clock or randomness)", rel, d)
				}
			}
			for _, d := range p.Imports {
				if d == "os" || d == "io" || d == "math/rand" || d == "math/rand/v2" || d == "crypto/rand" {
					t.Errorf("%s imports %s: the scheduler is pure (no store, I/O, clock or randomness)", rel, d)
				}
			}
		}
		if rel != "internal/k8s" && !strings.HasPrefix(rel, "cmd/") {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "k8s.io/") {
					t.Errorf("%s reaches %s: only internal/k8s and cmd may", rel, d)
					break
				}
			}
		}
		if strings.HasPrefix(rel, "cmd/") {
			continue
		}
		for _, imp := range p.Imports {
			irel, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if irel == "internal/storetest" || irel == "internal/browsertest" {
				t.Errorf("%s imports %s: test support is for _test.go files only", rel, irel)
				continue
			}
			if strings.HasPrefix(irel, rel+"/") { // own subpackages
				continue
			}
			if !slices.Contains(allowedInternal[rel], irel) {
				t.Errorf("%s imports %s: siblings talk in root types; only cmd/joule wires packages together", rel, irel)
			}
		}
	}
	if ours < 5 {
		t.Fatalf("go list found only %d of the module's packages", ours)
	}
}

// TestNoBannedDirectories keeps names like util/ and pkg/ out of the tree.
func TestNoBannedDirectories(t *testing.T) {
	t.Parallel()
	for _, p := range listPackages(t) {
		for _, part := range strings.Split(strings.TrimPrefix(p.ImportPath, module), "/") {
			switch part {
			case "pkg", "src", "util", "utils", "common", "helpers", "models", "types":
				if strings.HasPrefix(p.ImportPath, module) {
					t.Errorf("package %s uses the banned directory name %q", p.ImportPath, part)
				}
			}
		}
	}
}
