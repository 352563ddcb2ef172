package joule_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/joule-dev/joule"
)

// TestDeploymentMonitorValidate: nil and zero settings are valid and take
// the defaults; each bad field is EINVALID naming monitor.FIELD.
func TestDeploymentMonitorValidate(t *testing.T) {
	t.Parallel()
	var none *joule.DeploymentMonitor
	if err := none.Validate(); err != nil {
		t.Errorf("nil.Validate() = %v", err)
	}
	want := joule.DeploymentMonitor{WindowRows: 1000, PSIThreshold: 0.2, KSThreshold: 0.1, MinLabels: 100}
	if got := none.WithDefaults(); got != want {
		t.Errorf("nil.WithDefaults() = %+v, want %+v", got, want)
	}
	if got := (&joule.DeploymentMonitor{WindowRows: 500, MinAccuracy: 0.8}).WithDefaults(); got.WindowRows != 500 || got.MinAccuracy != 0.8 || got.PSIThreshold != 0.2 {
		t.Errorf("WithDefaults kept %+v", got)
	}
	for _, c := range []struct {
		m    joule.DeploymentMonitor
		want string
	}{
		{joule.DeploymentMonitor{WindowRows: -1}, "monitor.window_rows: -1 is not between 200 and 100000"},
		{joule.DeploymentMonitor{WindowRows: 199}, "monitor.window_rows: 199 is below 200"},
		{joule.DeploymentMonitor{WindowRows: 100_001}, "monitor.window_rows"},
		{joule.DeploymentMonitor{Window: joule.Duration(-time.Second)}, "monitor.window: negative"},
		{joule.DeploymentMonitor{Window: joule.Duration(30 * time.Second)}, "monitor.window: 30s is under a minute"},
		{joule.DeploymentMonitor{PSIThreshold: math.Inf(1)}, "monitor.psi_threshold"},
		{joule.DeploymentMonitor{KSThreshold: 1.01}, "monitor.ks_threshold"},
		{joule.DeploymentMonitor{MinAccuracy: -0.1}, "monitor.min_accuracy"},
		{joule.DeploymentMonitor{MaxRMSE: -1}, "monitor.max_rmse"},
		{joule.DeploymentMonitor{MinLabels: -1}, "monitor.min_labels: negative"},
	} {
		err := c.m.Validate()
		if joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), c.want) {
			t.Errorf("Validate(%+v) = %v, want invalid naming %q", c.m, err, c.want)
		}
		d := joule.Deployment{Name: "credit", Monitor: &c.m}
		if err := d.Normalize(); joule.ErrorCode(err) != joule.EINVALID || !strings.Contains(joule.ErrorMessage(err), c.want) {
			t.Errorf("Normalize with monitor %+v = %v, want invalid naming %q", c.m, err, c.want)
		}
	}
	ok := joule.DeploymentMonitor{WindowRows: 200, Window: joule.Duration(time.Hour), PSIThreshold: 0.25, KSThreshold: 1, MinAccuracy: 1, MaxRMSE: 3}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
}
