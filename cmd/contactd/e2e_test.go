package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"contactd/contact"
	"contactd/daygen"
	"contactd/internal/testenv"
	"contactd/segmenter"
	"contactd/storage"
)

var dayLength = flag.Duration("day", 2*time.Hour, "length of the generated reception day the end-to-end tests analyse (-short: 10m)")

// contactd runs the command in-process, as a user would from a shell.
func contactd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// testDay generates (or reuses from the user cache) a reception day with
// video.
func testDay(t *testing.T) *daygen.Files {
	t.Helper()
	length := *dayLength
	if testing.Short() {
		length = 10 * time.Minute
	}
	return cachedDay(t, fmt.Sprintf("day-%s", length), "--length", length.String(), "--video", "--seed", "7")
}

// cachedDay runs testdata day with args once and keeps the day in the user
// cache under name. The cache key includes the generator's source, so a
// changed generator never serves a stale day.
func cachedDay(t *testing.T, name string, args ...string) *daygen.Files {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	src, _ := filepath.Glob(filepath.Join(filepath.Dir(self), "..", "..", "daygen", "*.go"))
	h := sha256.New()
	for _, p := range src {
		b, _ := os.ReadFile(p)
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "contactd-test", name+"-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "day.json")); err != nil {
		t.Logf("generating the day %s in %s", name, dir)
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		if code, _, errs := contactd(t, append([]string{"testdata", "day", "--out", tmp}, args...)...); code != 0 {
			t.Fatalf("testdata day: exit %d: %s", code, errs)
		}
		// day.json names files in tmp; rewrite it for the final place.
		b, _ := os.ReadFile(filepath.Join(tmp, "day.json"))
		os.WriteFile(filepath.Join(tmp, "day.json"), bytes.ReplaceAll(b, []byte(tmp), []byte(dir)), 0o644)
		os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "day.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f daygen.Files
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

func readExpected(t *testing.T, f *daygen.Files) *daygen.Expected {
	b, err := os.ReadFile(f.Expected)
	if err != nil {
		t.Fatal(err)
	}
	var e daygen.Expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// report mirrors the analyze --json contract.
type report struct {
	Contacts      []contact.Contact `json:"contacts"`
	PassBys       int               `json:"pass_bys"`
	OrphanRatings []contact.Press   `json:"orphan_ratings"`
	Rejected      []string          `json:"rejected_input"`
	Indices       struct {
		Support         *float64 `json:"support"`
		Dissatisfaction *float64 `json:"dissatisfaction"`
	} `json:"indices"`
}

func analyzeDay(t *testing.T, f *daygen.Files, store string, extra ...string) (int, *report, string) {
	t.Helper()
	args := append([]string{"analyze", "--media", f.Recording, "--station", f.Station, "--events", f.Events,
		"--ratings", f.Ratings, "--start", f.Start.Format(time.RFC3339Nano), "--store", store, "--json"}, extra...)
	code, out, errs := contactd(t, args...)
	var r report
	if code == 0 || code == exitRejected {
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("analyze --json output: %v\n%s", err, out)
		}
	}
	return code, &r, errs
}

// checkAgainstExpected compares the report with the scenario's truth.
func checkAgainstExpected(t *testing.T, got *report, want *daygen.Expected) {
	t.Helper()
	if len(got.Contacts) != len(want.Contacts) {
		t.Fatalf("%d contacts, want %d", len(got.Contacts), len(want.Contacts))
	}
	rules := contact.DefaultSetRules()
	var top, bottom int
	for i, c := range got.Contacts {
		w := want.Contacts[i]
		if !c.Arrive.Equal(w.Arrive) || !c.Leave.Equal(w.Leave) {
			t.Errorf("contact %d: %s–%s, want %s–%s", i, c.Arrive, c.Leave, w.Arrive, w.Leave)
		}
		gf, wf := slices.Clone(c.Flags), slices.Clone(w.Flags)
		slices.Sort(gf)
		slices.Sort(wf)
		if !slices.Equal(gf, wf) {
			t.Errorf("contact %d: flags %v, want %v", i, c.Flags, w.Flags)
		}
		switch {
		case (c.Rating == nil) != (w.Rating == nil):
			t.Errorf("contact %d: rating %v, want %v", i, c.Rating, w.Rating)
		case c.Rating != nil && (c.Rating.Value != w.Rating.Value || !c.Rating.At.Equal(w.Rating.At)):
			t.Errorf("contact %d: rating %+v, want %+v", i, *c.Rating, *w.Rating)
		}
		if c.Set != w.Set {
			t.Errorf("contact %d: set %s, want %s", i, c.Set, w.Set)
		}
		if rules.TopBox(w.Rating) {
			top++
		}
		if rules.BottomBox(w.Rating) {
			bottom++
		}
	}
	if got.PassBys != want.PassBys {
		t.Errorf("pass-bys %d, want %d", got.PassBys, want.PassBys)
	}
	if len(got.OrphanRatings) != len(want.Orphans) {
		t.Errorf("orphans %v, want %v", got.OrphanRatings, want.Orphans)
	}
	if got.Indices.Support == nil || math.Abs(*got.Indices.Support-float64(top)/float64(len(want.Contacts))) > 1e-9 ||
		math.Abs(*got.Indices.Dissatisfaction-float64(bottom)/float64(len(want.Contacts))) > 1e-9 {
		t.Errorf("indices %v/%v, want %d/%d of %d", got.Indices.Support, got.Indices.Dissatisfaction, top, bottom, len(want.Contacts))
	}
}

// checkClips verifies every clip with ffprobe: both streams, duration equal to
// the reported clip range within one audio packet, start at the keyframe at
// or before arrive - pre_roll, end at leave + post_roll (within a packet).
func checkClips(t *testing.T, f *daygen.Files, got *report, fetch func(key string) string) {
	t.Helper()
	cfg := segmenter.DefaultConfig()
	keys := testenv.Keyframes(t, f.Recording)
	recEnd := f.Start.Add(time.Duration(readExpected(t, f).Length * float64(time.Second)))
	for i, c := range got.Contacts {
		if c.Clip == "" {
			t.Errorf("contact %d has no clip", i)
			continue
		}
		path := fetch(c.Clip)
		b, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", path).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", c.Clip, err)
		}
		var p struct {
			Format  struct{ Duration string }
			Streams []struct {
				CodecName string `json:"codec_name"`
			}
		}
		json.Unmarshal(b, &p)
		dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
		if len(p.Streams) != 2 {
			t.Errorf("clip %s: streams %+v", c.Clip, p.Streams)
		}
		span := c.ClipEnd.Sub(c.ClipStart).Seconds()
		if math.Abs(dur-span) > 0.021 {
			t.Errorf("clip %d: ffprobe duration %.3f s, reported range %.3f s", i, dur, span)
		}
		wantFrom := c.Arrive.Add(-cfg.PreRoll)
		if wantFrom.Before(f.Start) {
			wantFrom = f.Start
		}
		kf := 0.0
		for _, k := range keys {
			if k <= wantFrom.Sub(f.Start).Seconds()+1e-6 {
				kf = k
			}
		}
		if d := c.ClipStart.Sub(f.Start).Seconds() - kf; math.Abs(d) > 0.001 {
			t.Errorf("clip %d starts at %.3f s, want the keyframe at %.3f s", i, c.ClipStart.Sub(f.Start).Seconds(), kf)
		}
		wantTo := c.Leave.Add(cfg.PostRoll)
		if wantTo.After(recEnd) {
			wantTo = recEnd
		}
		if d := c.ClipEnd.Sub(wantTo).Seconds(); d < -0.021 || d > 0.021 {
			t.Errorf("clip %d ends at %s, want %s within one audio packet", i, c.ClipEnd, wantTo)
		}
	}
}

func TestAnalyzeDayLocalStore(t *testing.T) {
	f := testDay(t)
	want := readExpected(t, f)
	if len(want.Contacts) < 3 {
		t.Fatalf("the day has only %d contacts", len(want.Contacts))
	}
	store := t.TempDir()
	metricsFile := filepath.Join(t.TempDir(), "contactd.prom")
	code, got, errs := analyzeDay(t, f, store, "--metrics", metricsFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	checkAgainstExpected(t, got, want)
	checkClips(t, f, got, func(key string) string { return filepath.Join(store, key) })

	// Sidecars carry the contact; set membership is queryable from the index.
	arc := &storage.Archive{Store: mustLocal(t, store)}
	sc, err := arc.ReadSidecar(context.Background(), storage.SidecarKey(got.Contacts[0].Clip))
	if err != nil || sc.ID != got.Contacts[0].ID || sc.Schema != storage.SidecarSchema {
		t.Fatalf("sidecar %+v %v", sc, err)
	}
	checkIndex(t, store, got, nil)

	// Metrics are exposition-format clean and count what the report says.
	m, _ := os.ReadFile(metricsFile)
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = bytes.NewReader(m)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	neg := 0
	for _, c := range got.Contacts {
		if c.Set == contact.Negative {
			neg++
		}
	}
	if want := fmt.Sprintf(`contactd_contacts_total{employee="",set="negative",site="default",station="%s"} %d`, f.Station, neg); !strings.Contains(string(m), want) {
		t.Errorf("metrics lack %q:\n%s", want, m)
	}
	if want := fmt.Sprintf(`contactd_pass_bys_total{employee="",site="default",station="%s"} %d`, f.Station, got.PassBys); !strings.Contains(string(m), want) {
		t.Errorf("metrics lack %q", want)
	}

	// Analysing again is idempotent: same ids, no duplicate clips.
	code, again, _ := analyzeDay(t, f, store)
	if code != 0 || len(again.Contacts) != len(got.Contacts) || again.Contacts[0].ID != got.Contacts[0].ID {
		t.Fatalf("second run: exit %d, %d contacts", code, len(again.Contacts))
	}
	n := 0
	filepath.WalkDir(filepath.Join(store, "clips"), func(p string, d os.DirEntry, _ error) error {
		if strings.HasSuffix(p, ".webm") {
			n++
		}
		return nil
	})
	if n != len(got.Contacts) {
		t.Errorf("%d clips in the store after two runs, want %d", n, len(got.Contacts))
	}
}

func mustLocal(t *testing.T, dir string) *storage.Local {
	s, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkIndex deletes the index, rebuilds it from the store alone with the
// command, and lists the negative set.
func checkIndex(t *testing.T, store string, got *report, env []string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	if strings.HasPrefix(store, "/") {
		os.Remove(filepath.Join(store, storage.IndexKey))
	}
	code, out, errs := contactd(t, "index", "rebuild", "--store", store)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("indexed %d contacts", len(got.Contacts))) {
		t.Fatalf("index rebuild: exit %d: %s %s", code, out, errs)
	}
	code, out, errs = contactd(t, "index", "list", "--store", store, "--set", "negative", "--json")
	if code != 0 {
		t.Fatalf("index list: exit %d: %s", code, errs)
	}
	var es []storage.Entry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatal(err)
	}
	var wantIDs, gotIDs []string
	for _, c := range got.Contacts {
		if c.Set == contact.Negative {
			wantIDs = append(wantIDs, c.ID)
		}
	}
	for _, e := range es {
		gotIDs = append(gotIDs, e.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("negative set from the rebuilt index %v, want %v", gotIDs, wantIDs)
	}
}

func TestAnalyzeDayOnMinIO(t *testing.T) {
	f := testDay(t)
	want := readExpected(t, f)
	m := testenv.StartMinIO(t)
	env := []string{"CONTACTD_S3_ENDPOINT=" + m.Endpoint, "CONTACTD_S3_ACCESS_KEY=" + m.Config.AccessKey,
		"CONTACTD_S3_SECRET_KEY=" + m.Config.SecretKey}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	store := "s3://contacts/clinic-a"
	code, got, errs := analyzeDay(t, f, store, "--site", "north")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	checkAgainstExpected(t, got, want)
	s3, err := storage.OpenS3(context.Background(), m.Config, "contacts", "clinic-a")
	if err != nil {
		t.Fatal(err)
	}
	dl := t.TempDir()
	checkClips(t, f, got, func(key string) string {
		if !strings.HasPrefix(key, "clips/north/") {
			t.Errorf("key %s not under the site", key)
		}
		rc, err := s3.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		p := filepath.Join(dl, filepath.Base(key))
		fh, _ := os.Create(p)
		fh.ReadFrom(rc)
		fh.Close()
		return p
	})
	for _, c := range got.Contacts[:min(3, len(got.Contacts))] {
		tags, err := s3.Tags(context.Background(), c.Clip)
		if err != nil || tags["set"] != string(c.Set) {
			t.Errorf("clip %s tags %v (%v), want set=%s", c.Clip, tags, err, c.Set)
		}
	}
	if err := s3.Delete(context.Background(), storage.IndexKey); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, store, got, nil)
}

func TestAnalyzeRejectsBadLinesKeepsTheRest(t *testing.T) {
	f := testDay(t)
	want := readExpected(t, f)
	ev, _ := os.ReadFile(f.Events)
	lines := strings.SplitAfter(string(ev), "\n")
	bad := `{"station":"desk-1","type":"arive","at":"2026-03-02T08:00:01Z"}` + "\n"
	lines = slices.Insert(lines, 2, bad, "not json\n")
	badEvents := filepath.Join(t.TempDir(), "events.jsonl")
	os.WriteFile(badEvents, []byte(strings.Join(lines, "")), 0o644)
	g := *f
	g.Events = badEvents
	code, got, errs := analyzeDay(t, &g, t.TempDir())
	if code != exitRejected {
		t.Fatalf("exit %d, want %d: %s", code, exitRejected, errs)
	}
	for _, w := range []string{badEvents + `:3: field "type"`, badEvents + ":4: not a JSON object"} {
		if !strings.Contains(strings.Join(got.Rejected, "\n"), w) {
			t.Errorf("rejection %q not reported; stderr:\n%s", w, errs)
		}
	}
	checkAgainstExpected(t, got, want)
}

func TestAnalyzeUsageErrors(t *testing.T) {
	cases := [][]string{
		{"analyze", "--station", "desk-1"},
		{"analyze", "--media", "x.webm", "--station", "desk-1", "--start", "yesterday"},
		{"analyze", "--media", "x.webm", "--station", "desk-1", "--store", "ftp://x"},
	}
	for _, args := range cases {
		code, _, errs := contactd(t, args...)
		if code == 0 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	code, _, errs := contactd(t, "analyze", "--media", "/nonexistent.webm", "--station", "desk-1", "--store", t.TempDir())
	if code != exitFailure || !strings.Contains(errs, "/nonexistent.webm") {
		t.Errorf("missing media: exit %d, %q", code, errs)
	}
}

// TestTestdataDayNeedsItsCorpus: a day asked for with a corpus or with
// RAVDESS actors is not quietly made with synthetic patients instead (their
// moods would be in the words only, and every figure measured on it would
// mean something else).
func TestTestdataDayNeedsItsCorpus(t *testing.T) {
	empty := t.TempDir()
	code, _, errs := contactd(t, "testdata", "day", "--out", t.TempDir(), "--length", "2m", "--datasets", empty)
	if code != exitFailure || !strings.Contains(errs, empty) || !strings.Contains(errs, "RAVDESS") {
		t.Errorf("--datasets without ravdess/: exit %d, %q", code, errs)
	}
	code, _, errs = contactd(t, "testdata", "day", "--out", t.TempDir(), "--length", "2m", "--datasets", "", "--actors", "11,12")
	if code == 0 || !strings.Contains(errs, "--actors") {
		t.Errorf("--actors without the corpus: exit %d, %q", code, errs)
	}
	// With the corpus the day says whose voices its patients have.
	f := cachedDay(t, "corpus-2m", "--length", "2m", "--seed", "3")
	if f.Patients != "ravdess" {
		t.Errorf("day.json patients %q, want ravdess", f.Patients)
	}
}
