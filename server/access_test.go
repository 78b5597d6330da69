package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"contactd/auth"
	"contactd/config"
)

var (
	hashOnce sync.Once
	testHash string
)

// testUsers are one user of each role; anna and ben are employees of
// desk-1 and desk-2.
func testUsers(t *testing.T) []config.User {
	hashOnce.Do(func() {
		h, err := auth.Hash("correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		testHash = h
	})
	return []config.User{
		{Name: "olga", Role: auth.Quality, PasswordHash: testHash},
		{Name: "sergey", Role: auth.Supervisor, PasswordHash: testHash},
		{Name: "anna", Role: auth.Employee, Employee: "anna", PasswordHash: testHash, Lang: "en"},
		{Name: "root", Role: auth.Admin, PasswordHash: testHash},
	}
}

func withUsers(t *testing.T) func(*config.Config) {
	return func(c *config.Config) {
		c.Stations[0].Employee = "anna"
		c.Stations[1].Employee = "ben"
		c.Users = testUsers(t)
	}
}

// noRedirect shows a redirect as the answer it is.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// client is a logged-in browser: its cookie jar and CSRF token.
type client struct {
	*http.Client
	csrf string
}

func login(t *testing.T, base, name, password string) (*client, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{Client: &http.Client{Jar: jar, CheckRedirect: noRedirect}}
	resp, err := c.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"name":"`+name+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&r)
	c.csrf = r.CSRF
	return c, resp.StatusCode
}

// TestAccessMatrix tries every route of `contactd serve` as nobody and as
// each role, and checks the answer's status; a route added without a row
// here fails the test.
func TestAccessMatrix(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t))
	id := seedContacts(t, ts, []seed{{set: "negative", employee: "anna"}})[0]
	if _, code := login(t, ts.url, "olga", "wrong password"); code != 401 {
		t.Errorf("a wrong password: %d", code)
	}
	if _, code := login(t, ts.url, "nobody", "correct horse battery"); code != 401 {
		t.Errorf("an unknown user: %d", code)
	}
	roles := []string{"", "olga", "sergey", "anna", "root"} // nobody, quality, supervisor, employee, admin
	clients := map[string]*client{"": {Client: &http.Client{CheckRedirect: noRedirect}}}
	for _, u := range roles[1:] {
		c, code := login(t, ts.url, u, "correct horse battery")
		if code != 200 || c.csrf == "" {
			t.Fatalf("login %s: %d", u, code)
		}
		clients[u] = c
	}
	type row struct {
		pattern, method, path, body string
		want                        [5]int // nobody, quality, supervisor, employee, admin
	}
	same := func(code int) [5]int { return [5]int{code, code, code, code, code} }
	rows := []row{
		{"GET /api/v1/contacts", "GET", "/api/v1/contacts", "", [5]int{401, 200, 200, 403, 200}},
		{"GET /api/v1/contacts/{id}", "GET", "/api/v1/contacts/" + id, "", [5]int{401, 200, 200, 403, 200}},
		// Only quality officers and admins hear and see patients.
		{"GET /api/v1/contacts/{id}/clip", "GET", "/api/v1/contacts/" + id + "/clip", "", [5]int{401, 200, 403, 403, 200}},
		{"PUT /api/v1/contacts/{id}/review", "PUT", "/api/v1/contacts/" + id + "/review", `{"reviewed":true}`, [5]int{401, 200, 403, 403, 200}},
		{"POST /api/v1/export", "POST", "/api/v1/export", `{"ids":["` + id + `"]}`, [5]int{401, 200, 403, 403, 200}},
		{"PUT /api/v1/contacts/{id}/hold", "PUT", "/api/v1/contacts/" + id + "/hold", `{"reason":"complaint 114"}`, [5]int{401, 200, 403, 403, 200}},
		{"GET /api/v1/holds", "GET", "/api/v1/holds", "", [5]int{401, 200, 403, 403, 200}},
		{"DELETE /api/v1/contacts/{id}/hold", "DELETE", "/api/v1/contacts/" + id + "/hold", "", [5]int{401, 403, 403, 403, 204}},
		{"GET /api/v1/review/causes", "GET", "/api/v1/review/causes", "", [5]int{401, 200, 200, 403, 200}},
		{"GET /api/v1/review/pareto", "GET", "/api/v1/review/pareto", "", [5]int{401, 200, 200, 403, 200}},
		{"GET /api/v1/audit", "GET", "/api/v1/audit", "", [5]int{401, 403, 403, 403, 200}},
		{"POST /api/v1/appointments", "POST", "/api/v1/appointments", "id,room,doctor,start,end\nx1,desk-1,anna,2026-11-25 09:00,2026-11-25 09:20\n", [5]int{401, 403, 403, 403, 202}},
		{"GET /api/v1/appointments", "GET", "/api/v1/appointments?room=desk-1", "", [5]int{401, 200, 200, 403, 200}},
		{"POST /api/v1/me/lang", "POST", "/api/v1/me/lang", `{"lang":"en"}`, [5]int{401, 204, 204, 204, 204}},
		{"GET /api/v1/stations", "GET", "/api/v1/stations", "", [5]int{401, 200, 200, 200, 200}},
		{"GET /api/v1/shifts", "GET", "/api/v1/shifts?station=desk-1", "", [5]int{401, 200, 200, 200, 200}},
		{"GET /api/v1/me", "GET", "/api/v1/me", "", [5]int{401, 200, 200, 200, 200}},
		{"GET /api/v1/monitor", "GET", "/api/v1/monitor", "", [5]int{401, 403, 200, 403, 200}},
		{"GET /api/v1/mirror/{employee}/stream", "GET", "/api/v1/mirror/anna/stream", "", [5]int{401, 403, 403, 200, 200}},
		{"GET /api/v1/mirror/{employee}/stream", "GET", "/api/v1/mirror/ben/stream", "", [5]int{401, 403, 403, 403, 200}},
		{"GET /api/v1/mirror/{employee}/today", "GET", "/api/v1/mirror/anna/today", "", [5]int{401, 403, 403, 200, 200}},
		{"GET /api/v1/mirror/{employee}/today", "GET", "/api/v1/mirror/ben/today", "", [5]int{401, 403, 403, 403, 200}},
		{"POST /api/v1/logout", "POST", "/api/v1/logout?no-csrf", "", [5]int{401, 403, 403, 403, 403}},
		{"POST /api/v1/login", "POST", "/api/v1/login", `{"name":"olga","password":"nope"}`, same(401)},
		// Station-token routes: a user session is not a station token.
		{"POST /api/v1/events", "POST", "/api/v1/events", "", same(401)},
		{"POST /api/v1/ratings", "POST", "/api/v1/ratings", "", same(401)},
		{"POST /api/v1/shifts", "POST", "/api/v1/shifts", `{"station":"desk-1","employee":"anna","start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}`, same(401)},
		{"POST /api/v1/segments/{station}", "POST", "/api/v1/segments/desk-1", "", same(401)},
		{"GET /api/v1/stations/{station}/voice", "GET", "/api/v1/stations/desk-1/voice", "", same(401)},
		{"POST /whip/{station}", "POST", "/whip/desk-1", "v=0", same(401)},
		{"DELETE /whip/{station}/{session}", "DELETE", "/whip/desk-1/abc", "", same(401)},
		{"OPTIONS /whip/{station}", "OPTIONS", "/whip/desk-1", "", same(204)},
		// Open: scraping, health, the capture page (its token stays in the URL fragment), assets.
		{"GET /metrics", "GET", "/metrics", "", same(200)},
		{"profiles (only on debug_listen)", "GET", "/debug/pprof/", "", same(404)},
		{"GET /healthz", "GET", "/healthz", "", same(200)},
		{"GET /capture/{station}", "GET", "/capture/desk-1", "", same(200)},
		{"GET /static/", "GET", "/static/contactd.css", "", same(200)},
		// Pages: without a session, to the login page (303); a role that may not, 403.
		{"GET /login", "GET", "/login", "", same(200)},
		{"/{$}", "GET", "/", "", same(303)},
		{"GET /review", "GET", "/review", "", [5]int{303, 200, 200, 403, 200}},
		{"GET /monitor", "GET", "/monitor", "", [5]int{303, 403, 200, 403, 200}},
		{"GET /mirror", "GET", "/mirror", "", [5]int{303, 403, 403, 200, 200}},
		{"GET /audit", "GET", "/audit", "", [5]int{303, 403, 403, 403, 200}},
		// Last: it locks desk-2 out.
		{"POST /api/v1/stations/{station}/revoke", "POST", "/api/v1/stations/desk-2/revoke", "", [5]int{401, 403, 403, 403, 200}},
	}
	for _, rw := range rows {
		for i, u := range roles {
			c := clients[u]
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, rw.method, ts.url+rw.path, strings.NewReader(rw.body))
			if rw.method != "GET" && rw.path != "/api/v1/logout?no-csrf" {
				req.Header.Set(auth.CSRFHeader, c.csrf)
			}
			if strings.HasPrefix(rw.path, "/whip") {
				req.Header.Set("Content-Type", "application/sdp")
			}
			if rw.path == "/api/v1/appointments" {
				req.Header.Set("Content-Type", "text/csv")
			}
			resp, err := c.Do(req)
			if err != nil {
				cancel()
				t.Fatalf("%s %s as %q: %v", rw.method, rw.path, u, err)
			}
			if resp.StatusCode != rw.want[i] {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
				t.Errorf("%s %s as %q: %d, want %d (%s)", rw.method, rw.path, u, resp.StatusCode, rw.want[i], strings.TrimSpace(string(b)))
			}
			resp.Body.Close()
			cancel()
		}
	}
	// Every route the server registers has a row.
	covered := map[string]bool{}
	for _, rw := range rows {
		covered[rw.pattern] = true
	}
	re := regexp.MustCompile(`mux\.Handle(?:Func)?\("([^"]+)"`)
	for _, dir := range []string{".", "../ingest", "../web"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, _ := os.ReadFile(f)
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				if !covered[m[1]] {
					t.Errorf("route %q (%s) is not in the access matrix", m[1], f)
				}
			}
		}
	}
	// An agent sees its own station by its token, and only that one.
	req0, _ := http.NewRequest("GET", ts.url+"/api/v1/stations", nil)
	req0.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req0); err != nil || resp.StatusCode != 200 {
		t.Errorf("stations by station token: %v %v", err, resp)
	} else {
		var st struct{ Stations []struct{ ID string } }
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if len(st.Stations) != 1 || st.Stations[0].ID != "desk-1" {
			t.Errorf("stations by desk-1's token: %+v", st)
		}
	}
	req0.Header.Set("Authorization", "Bearer not-a-token-of-anyone")
	if resp, _ := http.DefaultClient.Do(req0); resp.StatusCode != 401 {
		t.Errorf("stations by a wrong token: %d", resp.StatusCode)
	}
	// Logging out (with the CSRF token) ends the session.
	c := clients["olga"]
	req, _ := http.NewRequest("POST", ts.url+"/api/v1/logout", nil)
	req.Header.Set(auth.CSRFHeader, c.csrf)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout: %v %v", err, resp)
	}
	if resp, _ := c.Get(ts.url + "/api/v1/me"); resp.StatusCode != 401 {
		t.Errorf("after logout /me is %d", resp.StatusCode)
	}
	// The cookie is HttpOnly and SameSite=Strict.
	resp, _ := http.Post(ts.url+"/api/v1/login", "application/json", strings.NewReader(`{"name":"root","password":"correct horse battery"}`))
	ck := resp.Header.Get("Set-Cookie")
	resp.Body.Close()
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
		t.Errorf("session cookie %q", ck)
	}
}
