package server

import (
	"encoding/json"
	"fmt"
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

// runPrometheus starts Prometheus with a configuration (and the shipped
// rules beside it, every interval at one second) on a free port.
func runPrometheus(t *testing.T, cfg string, rules bool) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	cfg = strings.NewReplacer("scrape_interval: 15s", "scrape_interval: 1s", "scrape_interval: 30s", "scrape_interval: 1s",
		"evaluation_interval: 1m", "evaluation_interval: 1s").Replace(cfg)
	if !rules {
		cfg = strings.Replace(cfg, "  - rules.yml", "", 1)
	}
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644)
	r, _ := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "rules.yml"))
	os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(strings.ReplaceAll(string(r), "interval: 1m", "interval: 1s")), 0o644)
	cmd := exec.Command(testenv.Tool(t, "prometheus"), "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus %s log:\n%s", addr, b)
		}
	})
	return addr
}

func promQuery(addr, q string) (map[string]float64, error) {
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
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		var v float64
		fmt.Sscan(s.Value[1].(string), &v)
		out[s.Metric["site"]] = v
	}
	return out, nil
}

// TestFederatedSites: two sites, each a contactd and its own Prometheus
// (the shipped prometheus.yml); a central Prometheus (the shipped
// central.yml) federates both and runs the shipped rules: the indices come
// out per site, with the values each site's ratings imply.
func TestFederatedSites(t *testing.T) {
	site := func(name string) *testServer {
		return startServer(t, t.TempDir(), t.TempDir(), func(c *config.Config) { c.Site = name })
	}
	north, south := site("north"), site("south")
	shipped, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	promN := runPrometheus(t, strings.Replace(string(shipped), "127.0.0.1:8080", strings.TrimPrefix(north.url, "http://"), 1), false)
	promS := runPrometheus(t, strings.Replace(string(shipped), "127.0.0.1:8080", strings.TrimPrefix(south.url, "http://"), 1), false)
	central, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "central.yml"))
	if err != nil {
		t.Fatal(err)
	}
	promC := runPrometheus(t, strings.NewReplacer("contactd-north:9090", promN, "contactd-south:9090", promS).Replace(string(central)), true)

	// Both sites' zeroed series reach the centre before anything happens.
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got, err := promQuery(promC, `count by (site) (contactd_contacts_total)`)
		if err == nil && len(got) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the central Prometheus never saw both sites: %v %v", got, err)
		}
	}
	time.Sleep(2 * time.Second)
	// north: 4 contacts, 2 rated top box; south: 5 contacts, 1 top box, 1 bottom.
	t0 := time.Now().Add(-30 * time.Minute).UTC().Truncate(time.Second)
	feed := func(ts *testServer, n int, values []int) {
		var events, ratings strings.Builder
		for i := range n {
			a := t0.Add(time.Duration(i) * 2 * time.Minute)
			fmt.Fprintf(&events, `{"station":"desk-1","type":"arrive","at":%q}`+"\n", a.Format(time.RFC3339))
			fmt.Fprintf(&events, `{"station":"desk-1","type":"leave","at":%q}`+"\n", a.Add(40*time.Second).Format(time.RFC3339))
			if i < len(values) {
				fmt.Fprintf(&ratings, `{"station":"desk-1","value":%d,"scale":"4pt","at":%q}`+"\n", values[i], a.Add(45*time.Second).Format(time.RFC3339))
			}
		}
		for _, body := range []string{ratings.String(), events.String()} {
			kind := "ratings"
			if strings.Contains(body, "arrive") {
				kind = "events"
			}
			if code, resp := post(t, ts.url+"/api/v1/"+kind, token, "application/x-ndjson", body); code != 202 {
				t.Fatalf("%s: %d %s", kind, code, resp)
			}
		}
	}
	feed(north, 4, []int{3, 3, 1})
	feed(south, 5, []int{3, 0, 2})
	want := map[string]map[string]float64{
		"site:contactd_customer_support_index:ratio_7d": {"north": 0.5, "south": 0.2},
		"site:contactd_dissatisfaction_index:ratio_7d":  {"north": 0, "south": 0.2},
	}
	for q, exp := range want {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
			got, err := promQuery(promC, q)
			ok := err == nil && len(got) == len(exp)
			for k, v := range exp {
				if g, found := got[k]; !found || math.Abs(g-v) > 1e-3 {
					ok = false
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("central %s = %v (%v), want %v", q, got, err, exp)
			}
		}
	}
}
