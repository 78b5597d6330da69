package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"contactd/auth"
	"contactd/config"
)

// TestAppointmentsAPI: a clinic information system (here the admin's
// session) pushes a day's schedule as CSV and as iCalendar; bad rows are
// named by line and field, good ones listed by room; a later push moves an
// appointment; the schedule survives a restart.
func TestAppointmentsAPI(t *testing.T) {
	withScheduler := func(c *config.Config) {
		c.Schedulers = []config.Scheduler{{Name: "mis", Token: "mis-token-0123456789"}}
	}
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t), withScheduler)
	root, _ := login(t, ts.url, "root", "correct horse battery")
	push := func(c *client, ctype, body string) (int, string) {
		req, _ := http.NewRequest("POST", ts.url+"/api/v1/appointments", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set(auth.CSRFHeader, c.csrf)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := push(root, "text/csv", "id,room,doctor,start,end\n"+
		"a1,desk-1,anna,2026-11-25T09:00:00Z,2026-11-25T09:20:00Z\n"+
		"a2,desk-1,anna,2026-11-25T09:20:00Z,2026-11-25T09:40:00Z\n"+
		"a3,desk-2,nobody,2026-11-25T09:00:00Z,2026-11-25T09:20:00Z\n")
	if code != 202 || !strings.Contains(body, `"accepted":2`) || !strings.Contains(body, `"line":4,"field":"doctor"`) {
		t.Errorf("csv: %d %s", code, body)
	}
	code, body = push(root, "text/calendar", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:b1\r\nDTSTART:20261125T090000Z\r\n"+
		"DTEND:20261125T093000Z\r\nLOCATION:desk-2\r\nX-CONTACTD-DOCTOR:ben\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	if code != 202 || !strings.Contains(body, `"accepted":1`) {
		t.Errorf("ics: %d %s", code, body)
	}
	if code, body := push(root, "application/json", "{}"); code != http.StatusUnsupportedMediaType || !strings.Contains(body, "text/csv") {
		t.Errorf("json: %d %s", code, body)
	}
	if code, _ := push(root, "text/csv", "id,room\n"); code != 400 {
		t.Errorf("a header without the columns: %d", code)
	}
	// The clinic information system pushes with its token, no session:
	// a2 moves to 10:00. A wrong token, or a station's, is refused.
	bearer := func(tok string) int {
		req, _ := http.NewRequest("POST", ts.url+"/api/v1/appointments",
			strings.NewReader("id,room,doctor,start,end\na2,desk-1,anna,2026-11-25T10:00:00Z,2026-11-25T10:20:00Z\n"))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for tok, want := range map[string]int{"not-the-token-of-anyone": 401, ts.srv.Config.Stations[0].Token: 401, "mis-token-0123456789": 202} {
		if code := bearer(tok); code != want {
			t.Errorf("push with token %q: %d, want %d", tok, code, want)
		}
	}
	state := ts.srv.Config.StateDir
	ts.stop()
	ts2 := startServer(t, state, ts.store, withUsers(t), withScheduler)
	olga, _ := login(t, ts2.url, "olga", "correct horse battery")
	var got struct {
		Appointments []struct{ ID, Room, Doctor string }
	}
	if code := olga.do(t, "GET", ts2.url+"/api/v1/appointments?room=desk-1&from=2026-11-25T09:30:00Z&to=2026-11-25T12:00:00Z", "", &got); code != 200 ||
		len(got.Appointments) != 1 || got.Appointments[0].ID != "a2" {
		t.Errorf("desk-1 after 9:30: %d %+v", code, got)
	}
	olga.do(t, "GET", ts2.url+"/api/v1/appointments?from=2026-11-25&to=2026-11-25", "", &got)
	if len(got.Appointments) != 3 || got.Appointments[0].ID != "a1" || got.Appointments[1].ID != "b1" {
		t.Errorf("the day: %+v", got)
	}
}
