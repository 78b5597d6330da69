package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"contactd/auth"
	"contactd/internal/testenv"
	"contactd/storage"
)

// outage is how long MinIO stays down in TestServeRidesOutMinIOOutage:
// CONTACTD_FAULT_OUTAGE=5m runs the full five minutes.
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("CONTACTD_FAULT_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CONTACTD_FAULT_OUTAGE: %v", err)
		}
		return d
	}
	return 20 * time.Second
}

// TestServeRidesOutMinIOOutage: MinIO goes down while contacts close. The
// clips wait in the upload queue on the server's disk (the review list and
// the metrics show the backlog), the server is killed and restarted during
// the outage, and every clip, sidecar and the index land in MinIO once it
// is back, with no duplicate.
func TestServeRidesOutMinIOOutage(t *testing.T) {
	down := outage(t)
	bin := buildBinary(t)
	ogg := speechOgg(t)
	m := testenv.StartMinIO(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	hash, err := auth.Hash("quality officer pass")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "contactd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: s3://contacts/north
s3: {endpoint: %q, access_key: %q, secret_key: %q, region: us-east-1}
state_dir: %s
listen: %s
recorder: {segment_length: 2s}
segmenter: {rating_window: 2s, min_contact: 1s}
webrtc: {interfaces: [lo], include_loopback: true}
stations:
  - {id: desk-1, token: %s}
users:
  - {name: olga, role: quality, password_hash: %q}
`, m.Endpoint, m.Config.AccessKey, m.Config.SecretKey, filepath.Join(dir, "state"), addr, liveToken, hash)), 0o644)
	logPath := filepath.Join(dir, "serve.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})

	srv := startServe(t, bin, cfg, addr, logPath)
	pub, stop := publish(t, srv.url, ogg)
	time.Sleep(3 * time.Second)
	visit := func() {
		pub.Send(map[string]any{"type": "arrive", "at": time.Now().UTC()})
		time.Sleep(2 * time.Second)
		pub.Send(map[string]any{"type": "leave", "at": time.Now().UTC()})
		time.Sleep(4 * time.Second)
	}
	// A contact before the outage: the clinic's store is in use.
	visit()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if metric(t, srv.url, "contactd_uploaded_total") >= 3 && metric(t, srv.url, "contactd_upload_queue_objects") == 0 {
			break
		}
	}
	m.Stop()
	stopped := time.Now()
	const queued = 3
	const contacts = queued + 1
	for range queued {
		visit()
	}
	// The contacts close (post-roll 3 s, merge gap) and wait in the queue.
	var objects float64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if objects = metric(t, srv.url, "contactd_upload_queue_objects"); objects >= 2*queued+1 {
			break
		}
	}
	if objects < 2*queued+1 {
		t.Fatalf("upload queue holds %v objects, want at least %d (clips, sidecars, index)", objects, 2*queued+1)
	}
	if f := metric(t, srv.url, "contactd_upload_failures"); f < 1 {
		t.Errorf("contactd_upload_failures %v while MinIO is down, want ≥ 1", f)
	}
	list := reviewList(t, srv.url, "olga", "quality officer pass")
	uploading := 0
	for _, c := range list {
		if c.Uploading {
			uploading++
		}
	}
	if len(list) != contacts || uploading != queued {
		t.Errorf("review list: %d contacts, %d marked uploading; want %d and %d", len(list), uploading, contacts, queued)
	}

	// Killed during the outage and started again while MinIO is still down.
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	stop()
	srv = startServe(t, bin, cfg, addr, logPath)
	if o := metric(t, srv.url, "contactd_upload_queue_objects"); o < 2*queued+1 {
		t.Errorf("after a restart the queue holds %v objects, want at least %d", o, 2*queued+1)
	}
	time.Sleep(time.Until(stopped.Add(down))) // the rest of the outage
	m.Start(t)
	back := time.Now()
	for deadline := back.Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if metric(t, srv.url, "contactd_upload_queue_objects") == 0 {
			break
		}
	}
	drained := time.Since(back)
	if o := metric(t, srv.url, "contactd_upload_queue_objects"); o != 0 {
		t.Fatalf("%v objects still queued 90 s after MinIO came back", o)
	}
	t.Logf("MinIO down %s; %d contacts queued; queue drained %.1f s after it came back", down, queued, drained.Seconds())

	s3, err := storage.OpenS3(context.Background(), m.Config, "contacts", "north")
	if err != nil {
		t.Fatal(err)
	}
	a := &storage.Archive{Store: s3}
	clips, sidecars := 0, 0
	for k, err := range s3.List(context.Background(), "clips/") {
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(k, ".json"):
			sc, err := a.ReadSidecar(context.Background(), k)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s3.Get(context.Background(), sc.Clip); err != nil {
				t.Errorf("sidecar %s names clip %s, not in MinIO: %v", k, sc.Clip, err)
			}
			sidecars++
		default:
			clips++
		}
	}
	ix, err := a.LoadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if clips != contacts || sidecars != contacts || len(ix.Contacts) != contacts {
		t.Errorf("in MinIO: %d clips, %d sidecars, %d index entries; want %d each", clips, sidecars, len(ix.Contacts), contacts)
	}
	if l := reviewList(t, srv.url, "olga", "quality officer pass"); len(l) != contacts || l[0].Uploading {
		t.Errorf("review list after draining: %d contacts (uploading %v), want %d, none uploading", len(l), len(l) > 0 && l[0].Uploading, contacts)
	}
}

// metric reads one unlabelled-by-station gauge from /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `\{[^}]*\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s not in /metrics", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

type listedContact struct {
	ID        string `json:"id"`
	Uploading bool   `json:"uploading"`
}

func reviewList(t *testing.T, url, name, password string) []listedContact {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(url+"/api/v1/login", "application/json", strings.NewReader(`{"name":"`+name+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(url + "/api/v1/contacts?set=positive,negative,neutral,unrated")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Contacts []listedContact `json:"contacts"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("contacts list: %v: %s", err, b)
	}
	return out.Contacts
}
