package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"contactd/config"
	"contactd/contact"
	"contactd/evidence"
	"contactd/storage"
)

// TestCurateSignsDaysAndAppliesRetention: the server signs the days that
// have ended, deletes what retention says (clip, sidecar, index entry), keeps
// a contact a quality officer put on legal hold, and logs every deletion in
// the audit log.
func TestCurateSignsDaysAndAppliesRetention(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "evidence.key")
	pub, err := evidence.GenerateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t), func(c *config.Config) {
		c.Evidence.SigningKey = keyFile
	})
	const day = 24 * time.Hour
	ids := seedContacts(t, ts, []seed{
		{set: contact.Positive, employee: "anna", ago: 40 * day},
		{set: contact.Negative, employee: "anna", ago: 40 * day},
		{set: contact.Unrated, employee: "anna", ago: 40 * day},
		{set: contact.Positive, employee: "anna", ago: 2 * day},
	})
	olga, _ := login(t, ts.url, "olga", "correct horse battery")
	if code := olga.do(t, "PUT", ts.url+"/api/v1/contacts/"+ids[2]+"/hold", `{"reason":"complaint 2026-114"}`, nil); code != 200 {
		t.Fatalf("hold: %d", code)
	}
	if code := olga.do(t, "PUT", ts.url+"/api/v1/contacts/"+ids[1]+"/hold", `{"reason":"  "}`, nil); code != 400 {
		t.Errorf("a hold without a reason: %d, want 400", code)
	}

	arc := ts.srv.Archive
	before, _ := arc.LoadIndex(context.Background())
	var gone storage.Entry
	for _, e := range before.Contacts {
		if e.ID == ids[0] {
			gone = e
		}
	}
	ts.srv.curate(context.Background(), time.Now())

	ix, err := arc.LoadIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, e := range ix.Contacts {
		left[e.ID] = true
	}
	if left[ids[0]] || !left[ids[1]] || !left[ids[2]] || !left[ids[3]] {
		t.Errorf("after retention the index holds %v; want the 40-day positive gone, the negative (180 days), the held unrated and the recent one kept", left)
	}
	for _, k := range []string{gone.Clip, arc.SidecarKeyOf(&gone)} {
		if rc, err := arc.Store.Get(context.Background(), k); err == nil {
			rc.Close()
			t.Errorf("%s still in the store after its retention", k)
		}
	}
	// Both days with contacts have ended: both signed, and both verify.
	var days []string
	for k := range arc.Store.List(context.Background(), "manifests/") {
		days = append(days, k)
	}
	if len(days) != 2 {
		t.Fatalf("manifests %v, want the two days with contacts", days)
	}
	for _, d := range []time.Duration{40 * day, 2 * day} {
		e := storage.Entry{Arrive: time.Now().Add(-d - 2*time.Minute)}
		r, err := evidence.VerifyDay(context.Background(), arc.Store, ts.srv.Config.Site, arc.Day(&e), pub)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() {
			t.Errorf("day %s: %+v", arc.Day(&e), r.Problems)
		}
	}
	var audit struct {
		Entries []struct{ User, Action, Contact string }
	}
	root, _ := login(t, ts.url, "root", "correct horse battery")
	root.do(t, "GET", ts.url+"/api/v1/audit", "", &audit)
	found := map[string]string{}
	for _, e := range audit.Entries {
		found[e.Contact+" "+e.Action] = e.User
	}
	if found[ids[0]+" delete (retention positive)"] != "contactd" || found[ids[2]+" legal hold: complaint 2026-114"] != "olga" {
		t.Errorf("audit log %v: want the deletion and the hold", found)
	}
}
