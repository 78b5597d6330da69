package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/auth"
	"contactd/contact"
	"contactd/storage"
)

type seed struct {
	set      contact.Set
	employee string
	station  string
	ago      time.Duration
	likely   float64 // > 0: the contact's likely-negative score
}

// seedContacts stores contacts with small clips (bytes distinct per
// contact) in the server's store and index; it returns their ids.
func seedContacts(t *testing.T, ts *testServer, seeds []seed) []string {
	t.Helper()
	arc := ts.srv.Archive
	var ids []string
	var scs []*storage.Sidecar
	for i, sd := range seeds {
		st := sd.station
		if st == "" {
			st = "desk-1"
		}
		arrive := time.Now().Add(-sd.ago - time.Duration(i+1)*time.Minute).UTC().Truncate(time.Second)
		c := &contact.Contact{ID: fmt.Sprintf("c%02d-%s", i, sd.set), Site: ts.srv.Config.Site, Station: st, Employee: sd.employee,
			Arrive: arrive, Leave: arrive.Add(40 * time.Second), Set: sd.set, Flags: []contact.Flag{}}
		if sd.set != contact.Unrated {
			v := map[contact.Set]int{contact.Negative: 0, contact.Neutral: 2, contact.Positive: 4}[sd.set]
			c.Rating = &contact.Press{Value: v, Scale: contact.Scale5pt, At: c.Leave.Add(5 * time.Second)}
		}
		if sd.likely > 0 {
			c.Likely = &contact.Likely{Version: 1, Score: sd.likely, Reasons: []contact.Reason{{Code: "patient_negative", Value: sd.likely, Points: 1}}}
		}
		c.Clip = arc.ClipKey(c, "webm")
		f := filepath.Join(t.TempDir(), "clip.webm")
		os.WriteFile(f, bytes.Repeat([]byte(c.ID), 1000), 0o644)
		sc, err := arc.SaveContact(context.Background(), c, f, storage.MediaInfo{})
		if err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
		ids = append(ids, c.ID)
	}
	if err := arc.Upsert(context.Background(), scs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func (c *client) do(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if method != "GET" {
		req.Header.Set(auth.CSRFHeader, c.csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if p, ok := out.(*[]byte); ok {
			*p = b
		} else if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v (%.200s)", method, url, err, b)
		}
	} else if p, ok := out.(*[]byte); ok {
		*p = b
	}
	return resp.StatusCode
}

// TestReviewFlow: a quality officer lists negatives first, filters, tags
// causes and marks a contact reviewed, plays and exports clips; every
// access is in the audit log an admin reads.
func TestReviewFlow(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t))
	ids := seedContacts(t, ts, []seed{
		{set: contact.Positive, employee: "anna"},
		{set: contact.Negative, employee: "anna"},
		{set: contact.Unrated, employee: "ben", station: "desk-2"},
		{set: contact.Negative, employee: "ben", station: "desk-2", ago: 48 * time.Hour},
		{set: contact.Neutral, employee: "anna"},
	})
	olga, _ := login(t, ts.url, "olga", "correct horse battery")
	type list struct {
		Contacts []struct {
			ID     string
			Set    contact.Set
			Review *struct {
				Reviewed bool
				Causes   []string
			}
		}
		Total     int
		Employees []string
	}
	var l list
	if code := olga.do(t, "GET", ts.url+"/api/v1/contacts", "", &l); code != 200 || l.Total != 5 {
		t.Fatalf("list: %d %+v", code, l)
	}
	var order []string
	for _, c := range l.Contacts {
		order = append(order, string(c.Set))
	}
	// Negatives first (newest first among them), unrated and positive last.
	if got := strings.Join(order, ","); got != "negative,negative,neutral,unrated,positive" {
		t.Errorf("order %s", got)
	}
	if l.Contacts[0].ID != ids[1] || strings.Join(l.Employees, ",") != "anna,ben" {
		t.Errorf("newest negative first: %+v", l)
	}
	// Filters: ben's negatives; the last day's.
	olga.do(t, "GET", ts.url+"/api/v1/contacts?set=negative&employee=ben", "", &l)
	if l.Total != 1 || l.Contacts[0].ID != ids[3] {
		t.Errorf("ben's negatives: %+v", l)
	}
	olga.do(t, "GET", ts.url+"/api/v1/contacts?set=negative&from="+time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339), "", &l)
	if l.Total != 1 || l.Contacts[0].ID != ids[1] {
		t.Errorf("today's negatives: %+v", l)
	}
	var errBody []byte
	if code := olga.do(t, "GET", ts.url+"/api/v1/contacts?from=yesterday", "", &errBody); code != 400 || !strings.Contains(string(errBody), "from") {
		t.Errorf("a bad from: %d %s", code, errBody)
	}
	// Tag causes and mark reviewed; an unknown cause is refused by name.
	if code := olga.do(t, "PUT", ts.url+"/api/v1/contacts/"+ids[1]+"/review", `{"reviewed":true,"causes":["noise"]}`, &errBody); code != 400 ||
		!strings.Contains(string(errBody), `"noise"`) {
		t.Errorf("unknown cause: %d %s", code, errBody)
	}
	for _, x := range []struct{ id, body string }{
		{ids[1], `{"reviewed":true,"causes":["rudeness","waited"],"note":"raised voice at the end","labels":{"patient":"angry","employee":"neutral"}}`},
		{ids[3], `{"reviewed":true,"causes":["waited"]}`},
		{ids[4], `{"reviewed":false,"causes":["waited","price"]}`},
	} {
		if code := olga.do(t, "PUT", ts.url+"/api/v1/contacts/"+x.id+"/review", x.body, nil); code != 200 {
			t.Fatalf("review %s: %d", x.id, code)
		}
	}
	olga.do(t, "GET", ts.url+"/api/v1/contacts?set=negative&reviewed=no", "", &l)
	if l.Total != 0 {
		t.Errorf("unreviewed negatives after review: %+v", l)
	}
	olga.do(t, "GET", ts.url+"/api/v1/contacts?reviewed=no", "", &l)
	if l.Total != 3 {
		t.Errorf("unreviewed: %+v", l)
	}
	var p struct {
		Contacts int
		Causes   []struct {
			Cause      string
			Count      int
			Cumulative float64
		}
		Weeks []struct{ Week string }
	}
	olga.do(t, "GET", ts.url+"/api/v1/review/pareto", "", &p)
	if p.Contacts != 3 || len(p.Causes) != 3 || p.Causes[0].Cause != "waited" || p.Causes[0].Count != 3 ||
		p.Causes[0].Cumulative != 0.6 || p.Causes[2].Cumulative != 1 || len(p.Weeks) == 0 {
		t.Errorf("pareto %+v", p)
	}
	// Restarted, the reviews are still there.
	state := ts.srv.Config.StateDir
	ts.stop()
	ts2 := startServer(t, state, ts.store, withUsers(t))
	olga, _ = login(t, ts2.url, "olga", "correct horse battery")
	var d struct {
		Contact storage.Sidecar
		Review  struct {
			Reviewed bool
			Causes   []string
			Note     string
			Labels   map[string]string
			By       string
		}
	}
	if code := olga.do(t, "GET", ts2.url+"/api/v1/contacts/"+ids[1], "", &d); code != 200 || d.Contact.ID != ids[1] || !d.Review.Reviewed ||
		d.Review.By != "olga" || d.Review.Labels["patient"] != "angry" || d.Review.Note == "" {
		t.Errorf("detail %d %+v", code, d)
	}
	// Play: the clip's bytes, with range requests; one audit line per play.
	var clip []byte
	if code := olga.do(t, "GET", ts2.url+"/api/v1/contacts/"+ids[1]+"/clip", "", &clip); code != 200 || !bytes.HasPrefix(clip, []byte(ids[1])) {
		t.Fatalf("play: %d %d bytes", code, len(clip))
	}
	req, _ := http.NewRequest("GET", ts2.url+"/api/v1/contacts/"+ids[1]+"/clip", nil)
	req.Header.Set("Range", "bytes=100-199")
	resp, err := olga.Do(req)
	if err != nil || resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("range: %v %v", err, resp)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(part, clip[100:200]) {
		t.Errorf("range bytes differ")
	}
	// Export two contacts: their clips and a CSV of their facts.
	var zb []byte
	if code := olga.do(t, "POST", ts2.url+"/api/v1/export", `{"ids":["`+ids[1]+`","`+ids[2]+`"]}`, &zb); code != 200 {
		t.Fatalf("export %d %s", code, zb)
	}
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	recs, err := csv.NewReader(bytes.NewReader(files["contacts.csv"])).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][0] != ids[1] || recs[1][7] != "negative" || recs[1][12] != "rudeness waited" || recs[2][3] != "ben" {
		t.Errorf("contacts.csv %v %q", err, recs)
	}
	if !bytes.Equal(files["clips/"+ids[1]+".webm"], clip) || files["sidecars/"+ids[2]+".json"] == nil {
		t.Errorf("export files: %d", len(files))
	}
	if code := olga.do(t, "POST", ts2.url+"/api/v1/export", `{"ids":["no-such"]}`, &errBody); code != 404 || !strings.Contains(string(errBody), "no-such") {
		t.Errorf("export of an unknown id: %d %s", code, errBody)
	}
	// The admin reads the audit log: play, then two exports; the range request was not logged.
	root, _ := login(t, ts2.url, "root", "correct horse battery")
	var a struct {
		Entries []struct{ User, Action, Contact string }
		Chain   string
	}
	root.do(t, "GET", ts2.url+"/api/v1/audit", "", &a)
	var got []string
	for _, e := range a.Entries {
		got = append(got, e.User+" "+e.Action+" "+e.Contact)
	}
	want := []string{"olga export " + ids[2], "olga export " + ids[1], "olga play " + ids[1]}
	if strings.Join(got, "|") != strings.Join(want, "|") || a.Chain != "intact" {
		t.Errorf("audit %q (%s), want %q", got, a.Chain, want)
	}
	// An employee can neither play nor read the log.
	anna, _ := login(t, ts2.url, "anna", "correct horse battery")
	if code := anna.do(t, "GET", ts2.url+"/api/v1/contacts/"+ids[1]+"/clip", "", nil); code != 403 {
		t.Errorf("employee plays a clip: %d", code)
	}
}

// TestLikelyOrder: the unrated contacts, most likely negative first; those
// with nothing heard last; an unknown order is refused by name.
func TestLikelyOrder(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t))
	ids := seedContacts(t, ts, []seed{
		{set: contact.Unrated, likely: 0.2},
		{set: contact.Unrated},
		{set: contact.Unrated, likely: 0.9},
		{set: contact.Negative, likely: 0.95},
		{set: contact.Unrated, likely: 0.5},
	})
	olga, _ := login(t, ts.url, "olga", "correct horse battery")
	var l struct {
		Contacts []struct {
			ID     string
			Likely *contact.Likely `json:"likely_negative"`
		}
	}
	if code := olga.do(t, "GET", ts.url+"/api/v1/contacts?set=unrated&order=likely", "", &l); code != 200 {
		t.Fatalf("list: %d", code)
	}
	var got []string
	for _, c := range l.Contacts {
		got = append(got, c.ID)
	}
	if want := []string{ids[2], ids[4], ids[0], ids[1]}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("order %v, want %v", got, want)
	}
	if l.Contacts[0].Likely == nil || l.Contacts[0].Likely.Reasons[0].Code != "patient_negative" {
		t.Errorf("the list carries the score and its reasons: %+v", l.Contacts[0])
	}
	var body []byte
	if code := olga.do(t, "GET", ts.url+"/api/v1/contacts?order=worst", "", &body); code != 400 || !strings.Contains(string(body), "order") {
		t.Errorf("unknown order: %d %s", code, body)
	}
}
