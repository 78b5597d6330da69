package server

import (
	"math"
	"slices"
	"testing"
	"time"

	"contactd/contact"
	"contactd/history"
)

// TestMonitorWithoutPrometheus: with no Prometheus configured the monitor
// takes baselines and warnings from contactd's own history, and computes
// the rating indices from the index.
func TestMonitorWithoutPrometheus(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t))
	loc := ts.srv.Config.Location()
	today := time.Now().In(loc)
	for i := 0; i < 21; i++ {
		d := today.AddDate(0, 0, i-20).Format(time.DateOnly)
		ts.srv.history.Set(history.Day{Employee: "anna", Day: d, Speech: 1500, Negative: 150, Positive: 450})
		neg, pos := 0.10, 0.30
		if i >= 14 { // ben's last week drifts
			neg, pos = 0.10+0.05*float64(i-13), 0.30-0.04*float64(i-13)
		}
		ts.srv.history.Set(history.Day{Employee: "ben", Day: d, Speech: 1500, Negative: 1500 * neg, Positive: 1500 * pos})
	}
	seedContacts(t, ts, []seed{
		{set: contact.Negative, employee: "anna"}, {set: contact.Positive, employee: "anna"},
		{set: contact.Positive, employee: "anna"}, {set: contact.Unrated, employee: "anna"},
		{set: contact.Negative, employee: "ben", station: "desk-2", ago: 72 * time.Hour},
	})
	sup, _ := login(t, ts.url, "sergey", "correct horse battery")
	var m struct {
		Employees []struct {
			Employee  string
			Warnings  []string
			Last14    []struct{ Day string }   `json:"last_14d"`
			Baseline  *struct{ Source string } `json:"baseline_14d"`
			Ratings   indicesJSON              `json:"ratings_today"`
			Ratings30 indicesJSON              `json:"ratings_30d"`
		}
		Stations []struct {
			ID      string
			Ratings indicesJSON `json:"ratings_today"`
		}
		Prometheus string
	}
	if code := sup.do(t, "GET", ts.url+"/api/v1/monitor", "", &m); code != 200 {
		t.Fatal(code)
	}
	got := map[string][]string{}
	for _, e := range m.Employees {
		got[e.Employee] = e.Warnings
		if len(e.Last14) != 14 || e.Last14[13].Day != today.Format(time.DateOnly) || e.Baseline == nil || e.Baseline.Source != "contactd" {
			t.Errorf("%s: last 14 days %v, baseline %+v", e.Employee, e.Last14, e.Baseline)
		}
		switch e.Employee {
		case "anna":
			// Today: 4 contacts served, 3 rated: two top-box (4 of 0–4), one bottom-box (0).
			if e.Ratings.Contacts != 4 || e.Ratings.Rated != 3 || math.Abs(*e.Ratings.CSI-50) > 1e-9 || math.Abs(*e.Ratings.DSI-25) > 1e-9 {
				t.Errorf("anna's indices %+v", e.Ratings)
			}
		case "ben":
			if e.Ratings.Rated != 0 || e.Ratings.CSI != nil || e.Ratings30.Rated != 1 || *e.Ratings30.DSI != 100 {
				t.Errorf("ben's indices today %+v, 30 d %+v", e.Ratings, e.Ratings30)
			}
		}
	}
	if len(got["anna"]) != 0 || !slices.Contains(got["ben"], history.Exhaustion) || m.Prometheus != "not configured" {
		t.Errorf("warnings %v (prometheus %s)", got, m.Prometheus)
	}
	if len(m.Stations) != 2 || m.Stations[0].ID != "desk-1" || m.Stations[0].Ratings.Contacts != 4 {
		t.Errorf("stations %+v", m.Stations)
	}
}

type indicesJSON struct {
	Contacts, Rated int
	CSI, DSI        *float64
}
