package server

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/config"
	"contactd/internal/testenv"
)

// TestPrometheusScrapesIndices starts a real Prometheus (Debian's 2.42)
// with the shipped configuration and rules, pointed at a live contactd;
// contacts and ratings come in through the API; the indices come out of
// Prometheus' HTTP API with the values the ratings imply, every rule
// evaluates without error, and the alerts are known (inactive).
func TestPrometheusScrapesIndices(t *testing.T) {
	prom := testenv.Tool(t, "prometheus")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	ts := startServer(t, t.TempDir(), t.TempDir(), func(c *config.Config) {
		withUsers(t)(c)
		c.Monitor.PrometheusURL = "http://" + addr
	})
	// The shipped configuration, scraping this server every second.
	dir := t.TempDir()
	src := filepath.Join("..", "deploy", "prometheus")
	cfg, err := os.ReadFile(filepath.Join(src, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := os.ReadFile(filepath.Join(src, "rules.yml"))
	c := strings.Replace(string(cfg), "127.0.0.1:8080", strings.TrimPrefix(ts.url, "http://"), 1)
	c = strings.Replace(c, "scrape_interval: 15s", "scrape_interval: 1s", 1)
	c = strings.Replace(c, "evaluation_interval: 1m", "evaluation_interval: 1s", 1)
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(c), 0o644)
	// Rule groups carry their own 1m interval; evaluate them every second here.
	os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(strings.ReplaceAll(string(rules), "interval: 1m", "interval: 1s")), 0o644)
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	}()
	query := func(q string) (map[string]float64, error) {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return nil, err
		}
		if r.Status != "success" {
			return nil, fmt.Errorf("query %s: status %q", q, r.Status)
		}
		out := map[string]float64{}
		for _, s := range r.Data.Result {
			var v float64
			fmt.Sscan(s.Value[1].(string), &v)
			out[s.Metric["station"]+"/"+s.Metric["employee"]] = v
		}
		return out, nil
	}
	// Prometheus has scraped the zeroed series before anything happens.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := query(`contactd_contacts_total{station="desk-1",set="positive"}`)
		if err == nil && len(r) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus never scraped contactd: %v %v", r, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	// desk-1 (anna): 10 contacts, 4 rated top box (4pt: 3), 2 bottom box (0),
	// 2 in the middle; desk-2 (ben): 5 contacts, 1 top box. All ended minutes ago.
	t0 := time.Now().Add(-30 * time.Minute).UTC().Truncate(time.Second)
	var events, ratings strings.Builder
	add := func(station, tok string, n int, values []int) {
		for i := 0; i < n; i++ {
			a := t0.Add(time.Duration(i) * 2 * time.Minute)
			fmt.Fprintf(&events, `{"station":%q,"type":"arrive","at":%q}`+"\n", station, a.Format(time.RFC3339))
			fmt.Fprintf(&events, `{"station":%q,"type":"leave","at":%q}`+"\n", station, a.Add(40*time.Second).Format(time.RFC3339))
			if i < len(values) {
				fmt.Fprintf(&ratings, `{"station":%q,"value":%d,"scale":"4pt","at":%q}`+"\n", station, values[i], a.Add(45*time.Second).Format(time.RFC3339))
			}
		}
	}
	add("desk-1", token, 10, []int{3, 3, 3, 3, 0, 0, 1, 2})
	// Ratings first: a batch of contacts that ended long ago is final at once.
	for _, kind := range []string{"ratings", "events"} {
		body := events.String()
		if kind == "ratings" {
			body = ratings.String()
		}
		if code, resp := post(t, ts.url+"/api/v1/"+kind, token, "application/x-ndjson", body); code != 202 {
			t.Fatalf("%s: %d %s", kind, code, resp)
		}
	}
	events.Reset()
	ratings.Reset()
	add("desk-2", "desk-2-secret-token-0123", 5, []int{3})
	// Ratings first: a batch of contacts that ended long ago is final at once.
	for _, kind := range []string{"ratings", "events"} {
		body := events.String()
		if kind == "ratings" {
			body = ratings.String()
		}
		if code, resp := post(t, ts.url+"/api/v1/"+kind, "desk-2-secret-token-0123", "application/x-ndjson", body); code != 202 {
			t.Fatalf("%s: %d %s", kind, code, resp)
		}
	}
	want := map[string]map[string]float64{
		"station_employee:contactd_customer_support_index:ratio_1h": {"desk-1/anna": 0.4, "desk-2/ben": 0.2},
		"station_employee:contactd_dissatisfaction_index:ratio_1h":  {"desk-1/anna": 0.2, "desk-2/ben": 0},
		"employee:contactd_customer_support_index:ratio_1d":         {"/anna": 0.4, "/ben": 0.2},
		"site:contactd_customer_support_index:ratio_7d":             {"/": 5.0 / 15},
		"station_employee:contactd_contacts_served:increase1h":      nil, // present (the value is extrapolated by increase())
	}
	deadline = time.Now().Add(40 * time.Second)
	for q, exp := range want {
		for {
			got, err := query(q)
			ok := err == nil && len(got) > 0 && (exp == nil || len(got) == len(exp))
			for k, v := range exp {
				if g, found := got[k]; !found || math.Abs(g-v) > 1e-3 {
					ok = false
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				raw, _ := query(`contactd_contacts_total`)
				rat, _ := query(`contactd_ratings_total{box="top"} > 0`)
				t.Fatalf("%s = %v (%v), want %v; contacts %v; top-box ratings %v", q, got, err, exp, raw, rat)
			}
			time.Sleep(time.Second)
		}
	}
	// Every rule evaluates cleanly against real data; the alerts are there.
	resp, err := http.Get("http://" + addr + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rr struct {
		Data struct {
			Groups []struct {
				Name  string
				Rules []struct {
					Name, Health, State, LastError string
					Type                           string
				}
			}
		}
	}
	if err := json.Unmarshal(b, &rr); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]string{}
	n := 0
	for _, g := range rr.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("rule %s in %s: health %q %s", r.Name, g.Name, r.Health, r.LastError)
			}
			if r.Type == "alerting" {
				alerts[r.Name] = r.State
			}
		}
	}
	if n != 47 || alerts["ContactdEmotionalExhaustionRisk"] != "inactive" || alerts["ContactdAcuteStrain"] != "inactive" || alerts["ContactdUploadBacklog"] != "inactive" || alerts["ContactdDiskLow"] != "inactive" {
		t.Errorf("%d rules loaded, alerts %v", n, alerts)
	}
	// Every query of the shipped Grafana dashboard runs.
	db, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "dashboards", "contactd.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(db, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			q := strings.NewReplacer("$site", ".*", "$employee", ".*").Replace(tg.Expr)
			if _, err := query(q); err != nil {
				t.Errorf("dashboard panel %q: %v", p.Title, err)
			}
		}
	}
	if exprs < 10 {
		t.Errorf("the dashboard has only %d queries", exprs)
	}
	// The supervisor's monitor reads its baselines and warnings from this
	// Prometheus: reachable, and no warning for anyone (no history yet).
	sup, _ := login(t, ts.url, "sergey", "correct horse battery")
	mresp, err := sup.Get(ts.url + "/api/v1/monitor")
	if err != nil {
		t.Fatal(err)
	}
	var mon struct {
		Prometheus string
		Employees  []struct {
			Employee string
			Warnings []string
		}
	}
	json.NewDecoder(mresp.Body).Decode(&mon)
	mresp.Body.Close()
	if mon.Prometheus != "ok" || len(mon.Employees) != 2 {
		t.Errorf("monitor: %+v", mon)
	}
	for _, e := range mon.Employees {
		if e.Warnings == nil || len(e.Warnings) != 0 {
			t.Errorf("monitor warnings for %s: %v", e.Employee, e.Warnings)
		}
	}
	// And the live scrape passes promtool's lint.
	resp, err = http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	lint := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	lint.Stdin = strings.NewReader(string(m))
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on a live scrape: %v\n%s", err, out)
	}
}
