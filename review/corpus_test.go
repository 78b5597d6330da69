package review

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"contactd/classifier/audio"
	"contactd/classifier/emotion"
	"contactd/contact"
	"contactd/internal/testenv"
	"contactd/storage"
)

// TestWriteCorpus: a reviewer's labels become a corpus `emotion train`
// reads: one WAV per labelled side holding the seconds that side spoke.
func TestWriteCorpus(t *testing.T) {
	ff := testenv.Tool(t, "ffmpeg")
	dir := t.TempDir()
	// A 12-second clip: a 440 Hz tone (the "employee") in seconds 2–5, 880 Hz (the "patient") in 7–10.
	clip := filepath.Join(dir, "clip.webm")
	if out, err := exec.Command(ff, "-v", "error", "-f", "lavfi", "-i",
		"aevalsrc=if(between(t\\,2\\,5)\\,0.5*sin(2*PI*440*t)\\,if(between(t\\,7\\,10)\\,0.5*sin(2*PI*880*t)\\,0)):s=48000:d=12",
		"-c:a", "libopus", clip).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	st, _ := storage.OpenLocal(filepath.Join(dir, "store"))
	arc := &storage.Archive{Store: st}
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	secs := func(from, to int) []contact.VoiceSecond {
		var out []contact.VoiceSecond
		for s := 0; s < 12; s++ {
			sp := 0.0
			if s >= from && s < to {
				sp = 1
			}
			out = append(out, contact.VoiceSecond{At: start.Add(time.Duration(s) * time.Second), Speech: sp, Emotion: "neutral"})
		}
		return out
	}
	c := &contact.Contact{ID: "c1", Site: "s", Station: "desk-1", Employee: "anna", Arrive: start.Add(time.Second), Leave: start.Add(11 * time.Second),
		ClipStart: start, ClipEnd: start.Add(12 * time.Second), Set: contact.Negative, Flags: []contact.Flag{},
		Voice: &contact.Voice{Employee: &contact.VoiceSide{Timeline: secs(2, 5)}, Patient: &contact.VoiceSide{Timeline: secs(7, 10)}}}
	c.Clip = arc.ClipKey(c, "webm")
	sc, err := arc.SaveContact(context.Background(), c, clip, storage.MediaInfo{})
	if err != nil {
		t.Fatal(err)
	}
	c2 := *c
	c2.ID, c2.Voice = "c2", nil // labelled, but recorded without the voice path
	c2.Clip = arc.ClipKey(&c2, "webm")
	sc2, _ := arc.SaveContact(context.Background(), &c2, clip, storage.MediaInfo{})
	arc.Upsert(context.Background(), []*storage.Sidecar{sc, sc2})
	reviews := map[string]Review{
		"c1": {Contact: "c1", Labels: map[string]string{"employee": "neutral", "patient": "angry"}, By: "olga"},
		"c2": {Contact: "c2", Labels: map[string]string{"patient": "sad"}, By: "olga"},
		"c3": {Contact: "c3", Reviewed: true}, // no labels: not in the corpus
	}
	out := filepath.Join(dir, "corpus")
	stats, err := WriteCorpus(context.Background(), arc, reviews, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Recordings != 2 || len(stats.Skipped) != 1 || stats.Seconds != 6 {
		t.Errorf("stats %+v", stats)
	}
	items, err := emotion.LoadCorpus(out)
	if err != nil || len(items) != 2 {
		t.Fatalf("%v %+v", err, items)
	}
	for _, it := range items {
		x, err := audio.DecodeFile(it.Path, CorpusRate)
		if err != nil || len(x) != 3*CorpusRate {
			t.Fatalf("%s: %v, %d samples", it.Path, err, len(x))
		}
		// The employee's file holds the 440 Hz seconds, the patient's the 880 Hz ones: count zero crossings.
		zc := 0
		for i := 1; i < len(x); i++ {
			if (x[i-1] < 0) != (x[i] < 0) {
				zc++
			}
		}
		hz := float64(zc) / 2 / 3
		want := 440.0
		if it.Speaker == "corpus/patient-c1" {
			want = 880
		} else if it.Speaker != "corpus/anna" {
			t.Errorf("speaker %q", it.Speaker)
		}
		if hz < want*0.9 || hz > want*1.1 {
			t.Errorf("%s (%s): %.0f Hz, want %.0f", it.Path, it.Speaker, hz, want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "c2-patient.wav")); err == nil {
		t.Error("a contact without a voice timeline gave a recording")
	}
}
