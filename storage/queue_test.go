package storage_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"contactd/internal/testenv"
	"contactd/storage"
)

// TestQueueConformance: the queue in front of MinIO behaves as a store.
func TestQueueConformance(t *testing.T) {
	m := testenv.StartMinIO(t)
	remote, err := storage.NewS3(m.Config, "queued", "p")
	if err != nil {
		t.Fatal(err)
	}
	q, err := storage.OpenQueue(t.TempDir(), remote, storage.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	conformance(t, q)
}

// TestQueueRidesOutMinIOOutage: MinIO goes down; writes and deletes are
// accepted, readable and listed from the queue, survive the process
// stopping, and all land in MinIO, in order, when it is back.
func TestQueueRidesOutMinIOOutage(t *testing.T) {
	m := testenv.StartMinIO(t)
	ctx := context.Background()
	remote, err := storage.NewS3(m.Config, "contacts", "north")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	open := func() *storage.Queue {
		q, err := storage.OpenQueue(dir, remote, storage.QueueOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
			Keep: []string{storage.IndexKey}})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := open()
	if err := q.Put(ctx, "clips/gone.json", strings.NewReader("old"), 3, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, storage.IndexKey, strings.NewReader("index before"), 12, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := q.Drain(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}

	m.Stop()
	// The index as last uploaded stays readable: contacts can be added to it.
	if rc, err := q.Get(ctx, storage.IndexKey); err != nil {
		t.Errorf("index while MinIO is down: %v, want the kept copy", err)
	} else {
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "index before" {
			t.Errorf("kept index %q", b)
		}
	}
	want := map[string]string{}
	for i := range 5 {
		clip := fmt.Sprintf("clips/c%d.webm", i)
		body := strings.Repeat(fmt.Sprint(i), 1000+i)
		want[clip], want[storage.SidecarKey(clip)] = body, fmt.Sprintf(`{"id":"c%d"}`, i)
		for _, k := range []string{clip, storage.SidecarKey(clip)} {
			if err := q.Put(ctx, k, strings.NewReader(want[k]), int64(len(want[k])), storage.PutOptions{Tags: map[string]string{"set": "negative"}}); err != nil {
				t.Fatalf("put %s while MinIO is down: %v", k, err)
			}
		}
		// The index is rewritten after every contact: only the last one waits.
		idx := fmt.Sprintf("index %d", i)
		want["index/contacts.json"] = idx
		if err := q.Put(ctx, "index/contacts.json", strings.NewReader(idx), int64(len(idx)), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Delete(ctx, "clips/gone.json"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a few failed attempts
	st := q.Stats()
	if st.Objects != 12 || st.Failures == 0 || st.LastErr == "" || st.Oldest.IsZero() {
		t.Errorf("backlog %+v, want 12 objects (5 clips, 5 sidecars, the index, a delete) and failures counted", st)
	}
	if !q.Pending("clips/c3.webm") || q.Pending("clips/gone.json") {
		t.Error("Pending: want c3 pending and the deleted key not")
	}
	readBack := func(s storage.Store, key string) string {
		t.Helper()
		rc, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	if got := readBack(q, "clips/c2.webm"); got != want["clips/c2.webm"] {
		t.Errorf("clip read from the queue while MinIO is down: %d bytes, want %d", len(got), len(want["clips/c2.webm"]))
	}

	// A restart (the queue closed with everything pending) loses nothing.
	q.Close()
	q = open()
	defer q.Close()
	if st := q.Stats(); st.Objects != 12 {
		t.Fatalf("after reopening: %d objects waiting, want 12", st.Objects)
	}

	time.Sleep(500 * time.Millisecond)
	m.Start(t)
	t0 := time.Now()
	if err := q.Drain(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("queue drained %s after MinIO came back", time.Since(t0).Round(time.Millisecond))
	direct, err := storage.OpenS3(ctx, m.Config, "contacts", "north")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k, err := range direct.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	wantKeys := make([]string, 0, len(want))
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	slices.Sort(wantKeys)
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("in MinIO: %v\nwant %v (the deleted key gone)", keys, wantKeys)
	}
	for k, body := range want {
		if got := readBack(direct, k); got != body {
			t.Errorf("%s in MinIO: %q…, want %q…", k, got[:min(len(got), 10)], body[:min(len(body), 10)])
		}
	}
	tags, err := direct.Tags(ctx, "clips/c0.webm")
	if err != nil || tags["set"] != "negative" {
		t.Errorf("tags %v (%v), want set=negative carried through the queue", tags, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 || ents[0].Name() != "kept" {
		t.Errorf("queue directory after draining: %v, want only the kept index", ents)
	}
}

// TestQueueTornWrites: what a crash leaves half-written is cleaned up or set
// aside, and the good entries still go.
func TestQueueTornWrites(t *testing.T) {
	dir := t.TempDir()
	remote, err := storage.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	q, err := storage.OpenQueue(dir, blocked{remote}, storage.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q.Put(ctx, "a/one.json", strings.NewReader("1"), 1, storage.PutOptions{})
	q.Put(ctx, "a/two.json", strings.NewReader("22"), 2, storage.PutOptions{})
	q.Close()
	ents, _ := os.ReadDir(dir)
	var metas []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			metas = append(metas, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(metas)
	if len(metas) != 2 {
		t.Fatalf("%d entries on disk, want 2", len(metas))
	}
	os.WriteFile(metas[1], []byte(`{"seq":2,"key":"a/two.json","size":`), 0o644) // torn meta
	os.WriteFile(filepath.Join(dir, ".tmp-123"), []byte("partial"), 0o644)
	os.WriteFile(filepath.Join(dir, "00000000000000000099.data"), []byte("no meta"), 0o644)

	q, err = storage.OpenQueue(dir, remote, storage.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Drain(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if rc, err := remote.Get(ctx, "a/one.json"); err != nil {
		t.Errorf("the good entry did not land: %v", err)
	} else {
		rc.Close()
	}
	for _, name := range []string{".tmp-123", "00000000000000000099.data"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s left in the queue directory", name)
		}
	}
	if _, err := os.Stat(metas[1] + ".bad"); err != nil {
		t.Errorf("torn entry not set aside as .bad: %v", err)
	}
}

// blocked is a remote that refuses every write, like an unreachable MinIO.
type blocked struct{ storage.Store }

func (blocked) Put(context.Context, string, io.Reader, int64, storage.PutOptions) error {
	return fmt.Errorf("connection refused")
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
