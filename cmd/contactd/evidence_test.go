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
