package shifts

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/config"
)

func rota(t *testing.T, path string) *Rota {
	cfg := config.Default()
	cfg.Timezone = "Europe/Berlin"
	cfg.Stations = []config.Station{{ID: "desk-1", Token: "0123456789abcdef", Employee: "anna"}, {ID: "desk-2", Token: "0123456789abcdefg"}}
	cfg.Shifts = []config.Shift{
		{Station: "desk-1", Employee: "ben", Days: []string{"mon", "tue"}, From: "14:00", To: "20:00"},
		{Station: "desk-2", Employee: "carl", From: "22:00", To: "06:00"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestEmployeeAt(t *testing.T) {
	r := rota(t, "")
	for _, tc := range []struct{ station, at, want string }{
		{"desk-1", "2026-03-02T09:00:00+01:00", "anna"}, // Monday morning: the station's own
		{"desk-1", "2026-03-02T14:00:00+01:00", "ben"},  // Monday afternoon shift
		{"desk-1", "2026-03-02T13:00:00Z", "ben"},       // the same in UTC
		{"desk-1", "2026-03-04T15:00:00+01:00", "anna"}, // Wednesday: ben is off
		{"desk-2", "2026-03-04T23:30:00+01:00", "carl"}, // the night shift
		{"desk-2", "2026-03-05T05:59:00+01:00", "carl"}, // its morning part
		{"desk-2", "2026-03-05T06:00:00+01:00", ""},
	} {
		if got := r.EmployeeAt(tc.station, at(tc.at)); got != tc.want {
			t.Errorf("%s at %s: %q, want %q", tc.station, tc.at, got, tc.want)
		}
	}
}

// TestPost: a posted shift wins over the weekly ones, survives a restart,
// and may only name configured stations and employees.
func TestPost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shifts.jsonl")
	r := rota(t, path)
	p := Posted{Station: "desk-1", Employee: "carl", Start: at("2026-03-02T15:00:00+01:00"), End: at("2026-03-02T16:00:00+01:00")}
	if err := r.Post(p); err != nil {
		t.Fatal(err)
	}
	again := rota(t, path)
	if got := again.EmployeeAt("desk-1", at("2026-03-02T15:30:00+01:00")); got != "carl" {
		t.Errorf("after a restart: %q, want carl", got)
	}
	if got := again.EmployeeAt("desk-1", at("2026-03-02T16:30:00+01:00")); got != "ben" {
		t.Errorf("after the posted shift: %q, want ben", got)
	}
	for _, bad := range []struct {
		p    Posted
		want string
	}{
		{Posted{Station: "desk-9", Employee: "carl", Start: p.Start, End: p.End}, "station"},
		{Posted{Station: "desk-1", Employee: "mallory", Start: p.Start, End: p.End}, "not in the configuration"},
		{Posted{Station: "desk-1", Employee: "carl", Start: p.End, End: p.Start}, "end must be after start"},
	} {
		if err := r.Post(bad.p); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v, want %q", bad.p, err, bad.want)
		}
	}
}
