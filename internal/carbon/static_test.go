package carbon

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule"
)

func TestStaticLookup(t *testing.T) {
	t.Parallel()
	st := DefaultStatic()
	tests := []struct {
		zone string
		want Intensity
	}{
		{"DE", Intensity{GramsPerKWh: 380.95, Source: "static:owid-2023 (DE)", Estimated: true, Note: "annual average from the static table DE 2023"}},
		{"deu", Intensity{GramsPerKWh: 380.95, Source: "static:owid-2023 (DE)", Estimated: true, Note: "annual average from the static table DE 2023"}},
		{"FR", Intensity{GramsPerKWh: 56.04, Source: "static:owid-2023 (FR)", Estimated: true, Note: "annual average from the static table FR 2023"}},
		{"gcp:europe-west1", Intensity{GramsPerKWh: 103.37, Source: "static:google-2024 (gcp:europe-west1)", Estimated: true, Note: "annual average from the static table gcp:europe-west1 2024"}},
		{"aws:eu-central-1", Intensity{GramsPerKWh: 338, Source: "static:ccf (aws:eu-central-1)", Estimated: true, Note: "annual average from the static table aws:eu-central-1"}},
		{"azure:westeurope", Intensity{GramsPerKWh: 390, Source: "static:ccf (azure:westeurope)", Estimated: true, Note: "annual average from the static table azure:westeurope"}},
		{"azure:finlandcentral", Intensity{GramsPerKWh: 77, Source: "static:ccf (azure:finlandcentral)", Estimated: true, Note: "annual average from the static table azure:finlandcentral"}},
		{"US-CAL-CISO", Intensity{GramsPerKWh: 369.47, Source: "static:owid-2023 (US)", Estimated: true, Note: "no static entry for zone US-CAL-CISO: using the country average US 2023"}},
	}
	for _, tt := range tests {
		got, err := st.Lookup(tt.zone)
		if err != nil {
			t.Errorf("Lookup(%q) = %v", tt.zone, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 0.01 })); diff != "" {
			t.Errorf("Lookup(%q) (-want +got):\n%s", tt.zone, diff)
		}
	}
	_, err := st.Lookup("XX-NOWHERE")
	if joule.ErrorCode(err) != joule.ENOTFOUND || joule.ErrorMessage(err) != `carbon zone "XX-NOWHERE" is not in the static table` {
		t.Errorf("Lookup(XX-NOWHERE) = %v, want not_found naming the zone", err)
	}
	w := st.World()
	if w.GramsPerKWh != 475 || w.Source != "static:world-average iea-2019" || !w.Estimated {
		t.Errorf("World() = %+v", w)
	}
}

// TestStaticEntries checks that every embedded table loaded.
func TestStaticEntries(t *testing.T) {
	t.Parallel()
	raw := DefaultStatic()
	var n int
	for _, e := range raw.Entries() {
		if e.GramsPerKWh < 0 || e.Dataset == "" {
			t.Errorf("entry %+v", e)
		}
		n++
	}
	if n < 200+40+20 {
		t.Errorf("%d entries, want countries, GCP, AWS and Azure regions", n)
	}
}

var cmpApprox = cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 0.01 })
