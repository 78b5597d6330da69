package storage_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"contactd/contact"
	"contactd/internal/testenv"
	"contactd/storage"
)

// conformance runs the same checks on every backend.
func conformance(t *testing.T, s storage.Store) {
	ctx := context.Background()
	put := func(key, body string) {
		t.Helper()
		if err := s.Put(ctx, key, strings.NewReader(body), int64(len(body)), storage.PutOptions{Tags: map[string]string{"set": "negative"}}); err != nil {
			t.Fatal(err)
		}
	}
	put("a/b/one.json", "1")
	put("a/b/two.json", "22")
	put("a/c/three.webm", "333")
	put("z.txt", "z")
	put("a/b/one.json", "1bis") // overwrite

	rc, err := s.Get(ctx, "a/b/one.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "1bis" {
		t.Fatalf("got %q", b)
	}
	if _, err := s.Get(ctx, "a/none"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	var keys []string
	for k, err := range s.List(ctx, "a/") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"a/b/one.json", "a/b/two.json", "a/c/three.webm"}; !slices.Equal(keys, want) {
		t.Fatalf("list = %v, want %v", keys, want)
	}
	if err := s.Delete(ctx, "a/b/two.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a/b/two.json"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("deleted key still there: %v", err)
	}
	for _, bad := range []string{"", "/abs", "a/../b", "a//b", "dir/", `a\b`, "a/.tmp-x"} {
		if err := s.Put(ctx, bad, strings.NewReader("x"), 1, storage.PutOptions{}); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
	archiveChecks(t, s)
}

func archiveChecks(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a := &storage.Archive{Store: s}
	clip := filepath.Join(t.TempDir(), "clip.webm")
	if err := os.WriteFile(clip, []byte("not really a webm"), 0o644); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var saved []*storage.Sidecar
	for i, set := range []contact.Set{contact.Negative, contact.Positive, contact.Negative} {
		c := &contact.Contact{ID: "C" + string(rune('A'+i)), Site: "north", Station: "desk-1", Set: set, Flags: []contact.Flag{},
			Arrive: day.Add(time.Duration(i) * time.Hour), Leave: day.Add(time.Duration(i)*time.Hour + time.Minute)}
		c.Clip = a.ClipKey(c, "webm")
		sc, err := a.SaveContact(ctx, c, clip, storage.MediaInfo{Container: "webm", Codecs: []string{"opus"}})
		if err != nil {
			t.Fatal(err)
		}
		saved = append(saved, sc)
	}
	if want := "clips/north/desk-1/2026/03/02/CA.webm"; saved[0].Clip != want {
		t.Fatalf("clip key %s, want %s", saved[0].Clip, want)
	}
	if err := a.Upsert(ctx, saved[:2]); err != nil {
		t.Fatal(err)
	}
	ix, err := a.LoadIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Contacts) != 3 { // first Upsert builds from the store, which already has all three
		t.Fatalf("index has %d", len(ix.Contacts))
	}
	// A corrupt sidecar is reported, the rest rebuilt.
	junk := "{\"schema\": 99}"
	if err := s.Put(ctx, "clips/north/desk-1/2026/03/02/BAD.json", strings.NewReader(junk), int64(len(junk)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, storage.IndexKey); err != nil {
		t.Fatal(err)
	}
	ix, bad, err := a.Rebuild(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !strings.Contains(bad[0].Error(), "BAD.json") || !strings.Contains(bad[0].Error(), "schema") {
		t.Fatalf("bad sidecars: %v", bad)
	}
	neg := ix.Query(storage.Filter{Set: contact.Negative})
	if len(neg) != 2 || neg[0].ID != "CA" || neg[1].ID != "CC" {
		t.Fatalf("negatives: %+v", neg)
	}
	if got := ix.Query(storage.Filter{From: day.Add(90 * time.Minute)}); len(got) != 1 || got[0].ID != "CC" {
		t.Fatalf("date filter: %+v", got)
	}
	loaded, err := a.LoadIndex(ctx)
	if err != nil || len(loaded.Contacts) != 3 {
		t.Fatalf("stored index: %v %v", loaded, err)
	}
}

func TestLocalStore(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, s)
}

func TestLocalPutIsAtomic(t *testing.T) {
	dir := t.TempDir()
	s, _ := storage.OpenLocal(dir)
	ctx := context.Background()
	// A writer that fails half way must leave neither the object nor a temp file.
	r := io.MultiReader(strings.NewReader("half"), errReader{})
	if err := s.Put(ctx, "x/clip.webm", r, -1, storage.PutOptions{}); err == nil {
		t.Fatal("failed write reported success")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "x"))
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	// Temp files of an interrupted write are never listed.
	os.WriteFile(filepath.Join(dir, "x", ".tmp-clip.webm-123"), []byte("x"), 0o644)
	for k := range s.List(ctx, "") {
		t.Fatalf("listed %s", k)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestS3StoreOnMinIO(t *testing.T) {
	m := testenv.StartMinIO(t)
	ctx := context.Background()
	s, err := storage.Open(ctx, "s3://contactd-test/site-a", m.Config)
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, s)
	// Set membership is also an object tag.
	tags, err := s.(*storage.S3).Tags(ctx, "clips/north/desk-1/2026/03/02/CA.webm")
	if err != nil {
		t.Fatal(err)
	}
	if tags["set"] != "negative" || tags["station"] != "desk-1" {
		t.Fatalf("tags %v", tags)
	}
	// The prefix keeps stores apart in one bucket.
	other, err := storage.Open(ctx, "s3://contactd-test/site-b", m.Config)
	if err != nil {
		t.Fatal(err)
	}
	for k := range other.List(ctx, "") {
		t.Fatalf("site-b sees %s", k)
	}
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	if _, err := storage.Open(context.Background(), "ftp://x/y", storage.S3Config{}); err == nil {
		t.Fatal("accepted ftp://")
	}
	if _, err := storage.Open(context.Background(), "s3://bucket", storage.S3Config{}); err == nil || !strings.Contains(err.Error(), "endpoint") {
		t.Fatalf("s3 without endpoint: %v", err)
	}
}

func FuzzParseSidecar(f *testing.F) {
	f.Add([]byte(`{"schema":1,"id":"X","station":"desk-1","arrive":"2026-03-02T09:00:00Z","leave":"2026-03-02T09:01:00Z","set":"negative","flags":[],"rating":null,"clip":"c"}`))
	f.Add([]byte(`{"schema":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := storage.ParseSidecar(b, "k.json")
		if err != nil {
			if !strings.Contains(err.Error(), "k.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if sc.ID == "" || !contact.ValidStation(sc.Station) || sc.Leave.Before(sc.Arrive) {
			t.Fatalf("accepted %+v", sc)
		}
	})
}
