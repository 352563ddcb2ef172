package dataset

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestProfileMatchesPandas runs scripts/profile_compare.py on every shipped
// file: each numeric column's mean and standard deviation must match pandas
// within 1e-9 relative. It skips where python3 with pandas is missing
// (Debian: apt-get install python3-pandas), unless CI is set.
func TestProfileMatchesPandas(t *testing.T) {
	t.Parallel()
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import pandas").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 with pandas is needed (apt-get install python3-pandas)")
		}
		t.Skip("python3 with pandas not found: skipping the pandas comparison")
	}
	for _, file := range []string{
		"finance/german.data", "finance/german.data-numeric", "finance/UCI_Credit_Card.csv", "healthcare/wdbc.data", "healthcare/processed.cleveland.data",
		"energy/ENB2012_data.csv", "energy/ETTh1.csv", "energy/tetuan_city_power_consumption.csv", "retail/rating_final.csv",
	} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(examples, file)
			res := mustIngest(t, src, IngestOptions{})
			b, err := json.Marshal(res.Profile)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "profile.json")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			sep := res.CSV.Delimiter
			if sep == Whitespace {
				sep = `\s+`
			}
			out, err := exec.CommandContext(t.Context(), python, "../../scripts/profile_compare.py", p, src,
				"--sep", sep, "--header", res.CSV.Header).CombinedOutput()
			if err != nil {
				t.Errorf("profile_compare.py %s: %v\n%s", file, err, out)
			}
			t.Logf("%s", out)
		})
	}
}
