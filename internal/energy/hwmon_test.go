package energy

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHwmon(t *testing.T) {
	t.Parallel()
	root := fixtureRoot(t, "hwmon-host")
	clk := newClock()
	var logs logBuffer
	h, err := NewHwmon(t.Context(), Config{Root: root, Now: clk.Now, Logger: logs.Logger()})
	if err != nil {
		t.Fatalf("NewHwmon() = %v", err)
	}
	if diff := cmp.Diff([]string{"amd_energy/Esocket0", "power_meter/power1"}, h.Components()); diff != "" {
		t.Fatalf("Components() mismatch (-want +got):\n%s", diff)
	}
	const (
		socket = "sys/class/hwmon/hwmon0/energy17_input"
		meter  = "sys/class/hwmon/hwmon1/power1_average"
	)
	states := []struct {
		socketUJ, meterUW string
		wantSocket        Reading
		wantMeter         Reading
		wantSocketMissing bool
	}{
		{"500000000", "180000000", Reading{Joules: 0, Watts: 0}, Reading{Joules: 0, Watts: 0}, false},
		// +60 J in 2 s; power 180 W -> 220 W: trapezoid 200 W × 2 s.
		{"560000000", "220000000", Reading{Joules: 60, Watts: 30}, Reading{Joules: 400, Watts: 200}, false},
		// The socket counter went backwards (no range): dropped.
		{"100000000", "220000000", Reading{}, Reading{Joules: 840, Watts: 220}, true},
		{"140000000", "200000000", Reading{Joules: 100, Watts: 20}, Reading{Joules: 1260, Watts: 210}, false},
	}
	for i, s := range states {
		if i > 0 {
			clk.Advance("2s")
		}
		writeFile(t, root, socket, s.socketUJ+"\n")
		writeFile(t, root, meter, s.meterUW+"\n")
		rs, err := h.Read(t.Context())
		if err != nil {
			t.Fatalf("Read() #%d = %v", i, err)
		}
		got := byComponent(rs)
		sock, ok := got["amd_energy/Esocket0"]
		if ok == s.wantSocketMissing {
			t.Fatalf("Read() #%d: socket reading present = %v, want %v", i, ok, !s.wantSocketMissing)
		}
		if ok && (math.Abs(sock.Joules-s.wantSocket.Joules) > 1e-9 || math.Abs(sock.Watts-s.wantSocket.Watts) > 1e-9) {
			t.Errorf("Read() #%d socket = %v J %v W, want %v J %v W", i, sock.Joules, sock.Watts, s.wantSocket.Joules, s.wantSocket.Watts)
		}
		m := got["power_meter/power1"]
		if math.Abs(m.Joules-s.wantMeter.Joules) > 1e-9 || math.Abs(m.Watts-s.wantMeter.Watts) > 1e-9 {
			t.Errorf("Read() #%d meter = %v J %v W, want %v J %v W", i, m.Joules, m.Watts, s.wantMeter.Joules, s.wantMeter.Watts)
		}
		for _, r := range rs {
			if r.Method != MethodHwmon {
				t.Errorf("method = %q, want %q", r.Method, MethodHwmon)
			}
		}
	}
}

func TestHwmonNoMeter(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, root, "sys/class/hwmon/hwmon0/name", "coretemp\n")
	writeFile(t, root, "sys/class/hwmon/hwmon0/temp1_input", "45000\n")
	writeFile(t, root, "sys/class/hwmon/hwmon1/name", "bad\n")
	writeFile(t, root, "sys/class/hwmon/hwmon1/power1_input", "lots\n")
	if _, err := NewHwmon(t.Context(), Config{Root: root}); !errors.Is(err, ErrNoMeter) {
		t.Errorf("NewHwmon() = %v, want ErrNoMeter", err)
	}
}

func TestHwmonSensorVanishes(t *testing.T) {
	t.Parallel()
	root := fixtureRoot(t, "hwmon-host")
	h, err := NewHwmon(t.Context(), Config{Root: root})
	if err != nil {
		t.Fatalf("NewHwmon() = %v", err)
	}
	writeFile(t, root, "sys/class/hwmon/hwmon1/power1_average", "garbage")
	rs, err := h.Read(t.Context())
	if err != nil {
		t.Fatalf("Read() = %v", err)
	}
	if diff := cmp.Diff([]string{"amd_energy/Esocket0"}, components(rs)); diff != "" {
		t.Errorf("components mismatch (-want +got):\n%s", diff)
	}
	writeFile(t, root, "sys/class/hwmon/hwmon0/energy17_input", "garbage")
	if _, err := h.Read(t.Context()); err == nil {
		t.Error("Read() with every sensor unreadable = nil error, want one")
	}
}

func components(rs []Reading) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Component)
	}
	return out
}
