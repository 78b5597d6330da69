package evidence_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/contact"
	"contactd/evidence"
	"contactd/storage"
)

// day stores n contacts of 2026-11-30 at site north, each with a clip.
func day(t *testing.T, n int) (*storage.Local, *storage.Archive, []*storage.Sidecar) {
	t.Helper()
	st, err := storage.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &storage.Archive{Store: st}
	var scs []*storage.Sidecar
	for i := range n {
		at := time.Date(2026, 11, 30, 9, 10*i, 0, 0, time.UTC)
		c := &contact.Contact{ID: fmt.Sprintf("01TEST%02d", i), Site: "north", Station: "desk-1", Arrive: at, Leave: at.Add(time.Minute), Set: contact.Unrated}
		c.Clip = a.ClipKey(c, "webm")
		f := filepath.Join(t.TempDir(), "clip.webm")
		os.WriteFile(f, []byte(strings.Repeat(fmt.Sprintf("media %d ", i), 500)), 0o644)
		sc, err := a.SaveContact(context.Background(), c, f, storage.MediaInfo{Container: "webm"})
		if err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	return st, a, scs
}

func key(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "evidence.key")
	pub, err := evidence.GenerateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := evidence.LoadPrivateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.GenerateKey(p); err == nil {
		t.Error("GenerateKey overwrote an existing key")
	}
	pubFile := filepath.Join(t.TempDir(), "evidence.pub")
	os.WriteFile(pubFile, evidence.PublicPEM(pub), 0o644)
	if got, err := evidence.LoadPublicKey(pubFile); err != nil || !got.Equal(pub) {
		t.Errorf("public key round trip: %v", err)
	}
	return pub, priv
}

func sign(t *testing.T, st storage.Store, d string, priv ed25519.PrivateKey) *evidence.Manifest {
	t.Helper()
	m, err := evidence.Build(context.Background(), st, "north", d, priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.Save(context.Background(), st, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func verify(t *testing.T, st storage.Store, d string, pub ed25519.PublicKey) *evidence.Report {
	t.Helper()
	r, err := evidence.VerifyDay(context.Background(), st, "north", d, pub)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// flip changes one byte of a stored file.
func flip(t *testing.T, st *storage.Local, key string, at int) {
	t.Helper()
	p := st.Path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0x01
	os.WriteFile(p, b, 0o644)
}

func onlyProblem(t *testing.T, r *evidence.Report, file, what string) {
	t.Helper()
	if len(r.Problems) != 1 || r.Problems[0].File != file || !strings.Contains(r.Problems[0].What, what) {
		t.Errorf("problems %+v, want one: %s %q", r.Problems, file, what)
	}
}

func TestVerifyNamesTheAlteredFile(t *testing.T) {
	pub, priv := key(t)
	st, _, scs := day(t, 3)
	m := sign(t, st, "2026-11-30", priv)
	if len(m.Entries) != 3 || m.Entries[1].ClipSHA256 != scs[1].Media.SHA256 || scs[1].Media.SHA256 == "" {
		t.Fatalf("manifest %+v: want 3 entries with the clips' hashes from their sidecars", m.Entries)
	}
	if r := verify(t, st, "2026-11-30", pub); !r.OK() || r.Checked != 3 {
		t.Fatalf("untouched day: %+v", r)
	}

	t.Run("clip", func(t *testing.T) {
		flip(t, st, scs[1].Clip, 1000)
		defer flip(t, st, scs[1].Clip, 1000)
		onlyProblem(t, verify(t, st, "2026-11-30", pub), scs[1].Clip, "altered")
		r, err := evidence.VerifyClip(context.Background(), st, storage.SidecarKey(scs[1].Clip))
		if err != nil {
			t.Fatal(err)
		}
		onlyProblem(t, r, scs[1].Clip, "altered")
	})
	t.Run("sidecar", func(t *testing.T) {
		k := storage.SidecarKey(scs[2].Clip)
		b, _ := os.ReadFile(st.Path(k))
		i := strings.Index(string(b), `"unrated"`)
		flip(t, st, k, i+1) // "unrated" → "tnrated": still a valid-looking file
		defer flip(t, st, k, i+1)
		onlyProblem(t, verify(t, st, "2026-11-30", pub), k, "altered")
	})
	t.Run("manifest", func(t *testing.T) {
		k := evidence.Key("north", "2026-11-30")
		b, _ := os.ReadFile(st.Path(k))
		defer os.WriteFile(st.Path(k), b, 0o644)
		var mm evidence.Manifest
		json.Unmarshal(b, &mm)
		mm.Entries = mm.Entries[:2] // a contact taken out of the record
		nb, _ := json.Marshal(mm)
		os.WriteFile(st.Path(k), nb, 0o644)
		r := verify(t, st, "2026-11-30", pub)
		if r.OK() || r.Problems[0].File != k || !strings.Contains(r.Problems[0].What, "signature") {
			t.Errorf("edited manifest: %+v", r.Problems)
		}
	})
	t.Run("other key", func(t *testing.T) {
		other, _ := key(t)
		onlyProblem(t, verify(t, st, "2026-11-30", other), evidence.Key("north", "2026-11-30"), "not the configured key")
	})
	t.Run("added", func(t *testing.T) {
		k := storage.SidecarKey(scs[0].Clip)
		extra := strings.Replace(k, "01TEST00", "01TEST99", 1)
		b, _ := os.ReadFile(st.Path(k))
		os.WriteFile(st.Path(extra), []byte(strings.ReplaceAll(string(b), "01TEST00", "01TEST99")), 0o644)
		defer os.Remove(st.Path(extra))
		onlyProblem(t, verify(t, st, "2026-11-30", pub), extra, "not in the signed manifest")
	})
	t.Run("missing", func(t *testing.T) {
		b, _ := os.ReadFile(st.Path(scs[0].Clip))
		os.Remove(st.Path(scs[0].Clip))
		defer os.WriteFile(st.Path(scs[0].Clip), b, 0o644)
		onlyProblem(t, verify(t, st, "2026-11-30", pub), scs[0].Clip, "missing")
	})
	if r := verify(t, st, "2026-11-30", pub); !r.OK() {
		t.Fatalf("restored day: %+v", r.Problems)
	}
}

// TestManifestChainAcrossDays: replacing an earlier day's manifest (even a
// validly signed one) shows in the next day's.
func TestManifestChainAcrossDays(t *testing.T) {
	pub, priv := key(t)
	st, a, _ := day(t, 2)
	sign(t, st, "2026-11-30", priv)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := &contact.Contact{ID: "01NEXTDAY", Site: "north", Station: "desk-2", Arrive: at, Leave: at.Add(time.Minute), Set: contact.Negative}
	if _, err := a.SaveContact(context.Background(), c, "", storage.MediaInfo{}); err != nil {
		t.Fatal(err)
	}
	m2 := sign(t, st, "2026-12-01", priv)
	if m2.Previous != evidence.Key("north", "2026-11-30") || m2.PreviousSHA256 == "" {
		t.Fatalf("second day's manifest does not link the first: %q %q", m2.Previous, m2.PreviousSHA256)
	}
	if r := verify(t, st, "2026-12-01", pub); !r.OK() || r.Checked != 1 {
		t.Fatalf("second day: %+v", r)
	}
	// Someone with the key re-signs the first day without one contact.
	os.Remove(st.Path("clips/north/desk-1/2026/11/30/01TEST01.json"))
	os.Remove(st.Path("clips/north/desk-1/2026/11/30/01TEST01.webm"))
	sign(t, st, "2026-11-30", priv)
	onlyProblem(t, verify(t, st, "2026-12-01", pub), evidence.Key("north", "2026-11-30"), "previous day's manifest was altered")
}

func TestVerifyRemovedByRetention(t *testing.T) {
	pub, priv := key(t)
	st, _, scs := day(t, 2)
	sign(t, st, "2026-11-30", priv)
	ts := evidence.Tombstone{Contact: scs[0].ID, Station: "desk-1", Clip: scs[0].Clip, Sidecar: storage.SidecarKey(scs[0].Clip), Deleted: time.Now(), Reason: "retention"}
	b, _ := json.Marshal(ts)
	st.Put(context.Background(), evidence.TombstoneKey("north", "2026-11-30", ts.Contact), strings.NewReader(string(b)), int64(len(b)), storage.PutOptions{})
	st.Delete(context.Background(), ts.Clip)
	st.Delete(context.Background(), ts.Sidecar)
	r := verify(t, st, "2026-11-30", pub)
	if !r.OK() || len(r.Removed) != 1 || r.Removed[0] != ts.Contact || r.Checked != 1 {
		t.Errorf("a day with a contact removed by retention: %+v", r)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schema":1,"site":"north","day":"2026-11-30","entries":[],"head":"","key_id":"","signature":""}`))
	f.Add([]byte(`{"schema":2}`))
	f.Add([]byte(`{"schema":1,"day":"30.11.2026"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := evidence.ParseManifest(b, "manifests/x.json")
		if err == nil && (m.Schema != evidence.Schema || m.Day == "") {
			t.Fatalf("accepted %+v", m)
		}
	})
}
