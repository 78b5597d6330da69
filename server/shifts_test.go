package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"contactd/config"
)

// TestShifts: a posted shift names who works at desk-1 for an hour; a
// contact in that hour carries that employee in its sidecar and metrics;
// shifts naming strangers or other stations are refused.
func TestShifts(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir(), func(c *config.Config) {
		c.Stations[0].Employee = "anna"
		c.Shifts = []config.Shift{{Station: "desk-2", Employee: "carl", From: "00:00", To: "23:59"}}
		c.Users = testUsers(t)
	})
	sup, code := login(t, ts.url, "sergey", "correct horse battery")
	if code != 200 {
		t.Fatalf("login: %d", code)
	}
	start := time.Now().Add(-40 * time.Minute).UTC().Truncate(time.Second)
	shift := fmt.Sprintf(`{"station":"desk-1","employee":"carl","start":%q,"end":%q}`, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	if code, body := post(t, ts.url+"/api/v1/shifts", token, "application/json", shift); code != 201 {
		t.Fatalf("posting a shift: %d %s", code, body)
	}
	for _, bad := range []struct {
		tok, body string
		code      int
	}{
		{token, strings.Replace(shift, "carl", "mallory", 1), 400},
		{"desk-2-secret-token-0123", shift, 401},
		{token, `{"station":"desk-1","employee":"carl","start":"noon"}`, 400},
		{token, `{"station":"desk-1","employee":"carl","start":"2026-03-02T10:00:00Z","end":"2026-03-02T09:00:00Z"}`, 400},
	} {
		if code, body := post(t, ts.url+"/api/v1/shifts", bad.tok, "application/json", bad.body); code != bad.code {
			t.Errorf("%s: %d %s, want %d", bad.body, code, body, bad.code)
		}
	}
	get := func(at time.Time) string {
		resp, err := sup.Get(ts.url + "/api/v1/shifts?station=desk-1&at=" + at.Format(time.RFC3339))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct{ Employee string }
		json.NewDecoder(resp.Body).Decode(&r)
		return r.Employee
	}
	if in, out := get(start.Add(time.Minute)), get(start.Add(-time.Minute)); in != "carl" || out != "anna" {
		t.Errorf("on shift: %q during, %q before; want carl, anna", in, out)
	}
	a := start.Add(5 * time.Minute)
	ev := fmt.Sprintf("{\"station\":\"desk-1\",\"type\":\"arrive\",\"at\":%q}\n{\"station\":\"desk-1\",\"type\":\"leave\",\"at\":%q}\n",
		a.Format(time.RFC3339), a.Add(time.Minute).Format(time.RFC3339))
	if code, body := post(t, ts.url+"/api/v1/events", token, "application/x-ndjson", ev); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	scs := waitSidecars(t, ts.store, 1, 20*time.Second)
	if len(scs) != 1 || scs[0].Employee != "carl" {
		t.Fatalf("contacts %+v", scs)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(ts.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(m), `contactd_contacts_total{employee="carl",set="unrated",site="default",station="desk-1"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack carl's contact at desk-1:\n%s", grepLines(string(m), "contactd_contacts_total"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
