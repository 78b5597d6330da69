package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/contact"
	"contactd/storage"
)

// TestVerifyCommand: keygen, sign a day, verify it intact; one byte of one
// clip changed makes `contactd verify` exit 4 naming that clip, for the day
// and for the contact.
func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	st, err := storage.OpenLocal(store)
	if err != nil {
		t.Fatal(err)
	}
	a := &storage.Archive{Store: st}
	var scs []*storage.Sidecar
	for i := range 3 {
		at := time.Date(2026, 11, 30, 10, i*15, 0, 0, time.UTC)
		c := &contact.Contact{ID: fmt.Sprintf("01VERIFY%d", i), Site: "north", Station: "desk-2", Arrive: at, Leave: at.Add(90 * time.Second), Set: contact.Negative}
		c.Clip = a.ClipKey(c, "webm")
		f := filepath.Join(dir, "clip.webm")
		os.WriteFile(f, []byte(strings.Repeat(c.ID, 300)), 0o644)
		sc, err := a.SaveContact(context.Background(), c, f, storage.MediaInfo{Container: "webm"})
		if err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	if err := a.Upsert(context.Background(), scs); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "evidence.key")
	code, pub, errs := contactd(t, "evidence", "keygen", "--out", key)
	if code != 0 || !strings.Contains(pub, "BEGIN PUBLIC KEY") {
		t.Fatalf("keygen: %d %s %s", code, pub, errs)
	}
	pubFile := filepath.Join(dir, "evidence.pub")
	os.WriteFile(pubFile, []byte(pub), 0o644)
	t.Setenv("CONTACTD_EVIDENCE_SIGNING_KEY", key)
	t.Setenv("CONTACTD_SITE", "north")
	if code, out, errs := contactd(t, "evidence", "sign", "--day", "2026-11-30", "--store", store); code != 0 || !strings.Contains(out, "3 contacts") {
		t.Fatalf("sign: %d %s %s", code, out, errs)
	}
	t.Setenv("CONTACTD_EVIDENCE_SIGNING_KEY", "") // verify with the public key alone
	if code, out, errs := contactd(t, "verify", "--day", "2026-11-30", "--store", store, "--public-key", pubFile); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify an intact day: %d %s %s", code, out, errs)
	}

	p := filepath.Join(store, scs[1].Clip)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0x20
	os.WriteFile(p, b, 0o644)
	code, out, _ := contactd(t, "verify", "--day", "2026-11-30", "--store", store, "--public-key", pubFile)
	if code != exitAltered || !strings.Contains(out, "ALTERED "+scs[1].Clip) || strings.Count(out, "ALTERED") != 1 {
		t.Errorf("verify a day with one byte changed: exit %d\n%s", code, out)
	}
	code, out, _ = contactd(t, "verify", "--contact", scs[1].ID, "--store", store, "--public-key", pubFile, "--json")
	if code != exitAltered || !strings.Contains(out, `"file": "`+scs[1].Clip+`"`) || !strings.Contains(out, `"ok": false`) {
		t.Errorf("verify the contact: exit %d\n%s", code, out)
	}
	if code, out, _ := contactd(t, "verify", "--contact", scs[0].ID, "--store", store, "--public-key", pubFile); code != 0 {
		t.Errorf("verify an untouched contact of that day: exit %d\n%s", code, out)
	}
}

// TestEncryptedDirectoryStore: with store_key_file the commands read an
// encrypted directory store; without the key its index cannot be read.
func TestEncryptedDirectoryStore(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "store.key")
	os.WriteFile(keyFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600)
	key, _ := storage.ReadKeyFile(keyFile)
	local, _ := storage.OpenLocal(filepath.Join(dir, "store"))
	sealed, err := storage.Seal(local, key)
	if err != nil {
		t.Fatal(err)
	}
	a := &storage.Archive{Store: sealed}
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	c := &contact.Contact{ID: "01SEALED", Station: "desk-1", Arrive: at, Leave: at.Add(time.Minute), Set: contact.Negative}
	sc, err := a.SaveContact(context.Background(), c, "", storage.MediaInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Upsert(context.Background(), []*storage.Sidecar{sc}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTACTD_STORE_KEY_FILE", keyFile)
	if code, out, errs := contactd(t, "index", "list", "--store", filepath.Join(dir, "store")); code != 0 || !strings.Contains(out, "2026-11-30T10:00:00Z") {
		t.Errorf("index list with the key: %d %s %s", code, out, errs)
	}
	t.Setenv("CONTACTD_STORE_KEY_FILE", "")
	if code, out, _ := contactd(t, "index", "list", "--store", filepath.Join(dir, "store")); code == 0 || strings.Contains(out, "2026-11-30T10:00:00Z") {
		t.Errorf("index list without the key: exit %d\n%s", code, out)
	}
}
