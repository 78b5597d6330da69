package retention_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"contactd/contact"
	"contactd/evidence"
	"contactd/retention"
	"contactd/storage"
)

var keep = map[contact.Set]time.Duration{
	contact.Positive: 30 * 24 * time.Hour, contact.Neutral: 30 * 24 * time.Hour,
	contact.Negative: 180 * 24 * time.Hour, contact.Unrated: 30 * 24 * time.Hour,
}

func rules(s contact.Set) time.Duration { return keep[s] }

// TestRetentionBySetWithLegalHold: contacts of each set go when their time
// is up, with clip, sidecar and index entry together; a held one stays, and
// goes once released; the signed day still verifies, listing them removed.
func TestRetentionBySetWithLegalHold(t *testing.T) {
	ctx := context.Background()
	st, err := storage.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &storage.Archive{Store: st}
	day := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	sets := []contact.Set{contact.Positive, contact.Neutral, contact.Negative, contact.Unrated, contact.Negative, contact.Positive}
	var scs []*storage.Sidecar
	for i, set := range sets {
		c := &contact.Contact{ID: fmt.Sprintf("01RET%02d", i), Site: "north", Station: "desk-1", Arrive: day.Add(time.Duration(i) * time.Hour),
			Leave: day.Add(time.Duration(i)*time.Hour + 2*time.Minute), Set: set}
		c.Clip = a.ClipKey(c, "webm")
		f := filepath.Join(t.TempDir(), "c.webm")
		os.WriteFile(f, []byte("clip "+c.ID), 0o644)
		sc, err := a.SaveContact(ctx, c, f, storage.MediaInfo{Container: "webm"})
		if err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	if err := a.Upsert(ctx, scs); err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "k")
	pub, _ := evidence.GenerateKey(pubFile)
	priv, _ := evidence.LoadPrivateKey(pubFile)
	m, err := evidence.Build(ctx, st, "north", "2026-06-01", priv)
	if err != nil {
		t.Fatal(err)
	}
	evidence.Save(ctx, st, m)

	// Contact 5 (positive) is part of a complaint: held.
	if err := retention.SetHold(ctx, st, retention.Hold{Contact: scs[5].ID, By: "olga", Reason: "complaint 2026-114", At: day}); err != nil {
		t.Fatal(err)
	}
	if err := retention.SetHold(ctx, st, retention.Hold{Contact: scs[4].ID}); err == nil {
		t.Error("a hold without a reason was accepted")
	}

	exists := func(key string) bool { _, err := os.Stat(st.Path(key)); return err == nil }
	indexed := func() []string {
		ix, err := a.LoadIndex(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range ix.Contacts {
			ids = append(ids, e.ID)
		}
		return ids
	}
	run := func(now time.Time, dry bool) *retention.Result {
		t.Helper()
		r, err := retention.Run(ctx, a, rules, now, dry)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ids := func(r *retention.Result) []string {
		var out []string
		for _, e := range r.Deleted {
			out = append(out, e.ID)
		}
		return out
	}

	// 29 days on: nothing is due.
	if r := run(day.Add(29*24*time.Hour), false); len(r.Deleted) != 0 || r.Held != 0 {
		t.Errorf("after 29 days: %+v", r)
	}
	// 31 days on, dry run: positive, neutral and unrated are due; the held one is counted.
	at31 := day.Add(31 * 24 * time.Hour)
	if r := run(at31, true); !slices.Equal(ids(r), []string{"01RET00", "01RET01", "01RET03"}) || r.Held != 1 {
		t.Errorf("dry run after 31 days: %v held %d", ids(r), r.Held)
	}
	if len(indexed()) != 6 || !exists(scs[0].Clip) {
		t.Fatal("a dry run deleted something")
	}
	r := run(at31, false)
	if !slices.Equal(ids(r), []string{"01RET00", "01RET01", "01RET03"}) {
		t.Errorf("after 31 days deleted %v", ids(r))
	}
	for _, i := range []int{0, 1, 3} {
		if exists(scs[i].Clip) || exists(storage.SidecarKey(scs[i].Clip)) {
			t.Errorf("contact %d: clip or sidecar left after deletion", i)
		}
	}
	if got := indexed(); !slices.Equal(got, []string{"01RET02", "01RET04", "01RET05"}) {
		t.Errorf("index after deletion: %v", got)
	}
	if !exists(scs[5].Clip) {
		t.Error("the held contact's clip was deleted")
	}
	// The day still verifies: the deleted contacts are listed as removed.
	v, err := evidence.VerifyDay(ctx, st, "north", "2026-06-01", pub)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || len(v.Removed) != 3 {
		t.Errorf("verify after retention: problems %+v, removed %v", v.Problems, v.Removed)
	}

	// 181 days on: the negatives go; the held positive stays until released.
	at181 := day.Add(181 * 24 * time.Hour)
	if r := run(at181, false); !slices.Equal(ids(r), []string{"01RET02", "01RET04"}) || r.Held != 1 {
		t.Errorf("after 181 days: deleted %v, held %d", ids(r), r.Held)
	}
	if err := retention.ReleaseHold(ctx, st, scs[5].ID); err != nil {
		t.Fatal(err)
	}
	if r := run(at181, false); !slices.Equal(ids(r), []string{"01RET05"}) {
		t.Errorf("after the release: deleted %v", ids(r))
	}
	if got := indexed(); len(got) != 0 {
		t.Errorf("index at the end: %v", got)
	}
}
