package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"contactd/internal/testenv"
)

// smallCorpus links the RAVDESS recordings of two actors into a corpus
// directory with its own labels.csv (file, actor, emotion).
func smallCorpus(t *testing.T, actors ...string) string {
	t.Helper()
	src := filepath.Join(testenv.Datasets(t), "ravdess")
	f, err := os.Open(filepath.Join(src, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mini")
	os.Mkdir(dir, 0o755)
	var b strings.Builder
	b.WriteString("file,actor,emotion\n")
	want := map[string]bool{}
	for _, a := range actors {
		want[a] = true
	}
	for _, r := range recs[1:] {
		if want[r[1]] {
			if err := os.Symlink(filepath.Join(src, r[0]), filepath.Join(dir, r[0])); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s,%s,%s\n", r[0], r[1], r[3])
		}
	}
	os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(b.String()), 0o644)
	return dir
}

// TestEmotionEval: the eval command on a small corpus prints the figures
// the contract names, consistent with its own confusion matrix.
func TestEmotionEval(t *testing.T) {
	dir := smallCorpus(t, "3", "4")
	code, out, errs := contactd(t, "emotion", "eval", "--corpus", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var s struct {
		N          int                `json:"n"`
		UA4        *float64           `json:"ua4"`
		WA4        *float64           `json:"wa4"`
		ArousalAcc *float64           `json:"arousal_acc"`
		ValenceAcc *float64           `json:"valence_acc"`
		PerClass   map[string]float64 `json:"per_class"`
		Confusion  [4][4]int          `json:"confusion"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if s.N != 120 || s.UA4 == nil || s.WA4 == nil || s.ArousalAcc == nil || s.ValenceAcc == nil || len(s.PerClass) != 4 {
		t.Fatalf("%s", out)
	}
	// Two actors: 2×(4 neutral + 8 calm) and 2×8 of happy, sad, angry.
	classes := []string{"neutral", "happy", "sad", "angry"}
	wantRows := []int{24, 16, 16, 16}
	var ua float64
	for i, c := range classes {
		row := 0
		for _, v := range s.Confusion[i] {
			row += v
		}
		if row != wantRows[i] {
			t.Errorf("%s: %d recordings in the confusion row, want %d", c, row, wantRows[i])
		}
		if r := float64(s.Confusion[i][i]) / float64(row); r != s.PerClass[c] {
			t.Errorf("%s recall %.3f, confusion says %.3f", c, s.PerClass[c], r)
		}
		ua += s.PerClass[c] / 4
	}
	if d := ua - *s.UA4; d > 1e-9 || d < -1e-9 {
		t.Errorf("ua4 %.4f is not the mean recall %.4f", *s.UA4, ua)
	}
	code, out, _ = contactd(t, "emotion", "eval", "--corpus", dir)
	for _, w := range []string{"unweighted accuracy", "arousal", "valence", "confusion"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("text output lacks %q: %s", w, out)
		}
	}
}

// TestEmotionBadInput: a corpus without labels, a bad label line, a model
// that is not one, an unreadable recording: each a clear error.
func TestEmotionBadInput(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := contactd(t, "emotion", "eval", "--corpus", dir); code != 2 || !strings.Contains(errs, "labels.csv") {
		t.Errorf("no labels.csv: exit %d, %s", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "labels.csv"), []byte("file,emotion\na.wav,happy\nb.wav,elated\n"), 0o644)
	if code, _, errs := contactd(t, "emotion", "eval", "--corpus", dir); code != 2 || !strings.Contains(errs, "labels.csv:3: field emotion") {
		t.Errorf("bad label: exit %d, %s", code, errs)
	}
	bad := filepath.Join(dir, "model.json")
	os.WriteFile(bad, []byte(`{"version":1}`), 0o644)
	if code, _, errs := contactd(t, "emotion", "eval", "--corpus", dir, "--model", bad); code == 0 || !strings.Contains(errs, "model.json") {
		t.Errorf("bad model: exit %d, %s", code, errs)
	}
	if code, _, errs := contactd(t, "emotion", "analyze", filepath.Join(dir, "labels.csv")); code != 2 || !strings.Contains(errs, "labels.csv") {
		t.Errorf("text as audio: exit %d, %s", code, errs)
	}
	if code, _, errs := contactd(t, "emotion", "train", "--corpus", dir); code != 2 || !strings.Contains(errs, "--out") {
		t.Errorf("train without --out: exit %d, %s", code, errs)
	}
	if code, _, errs := contactd(t, "emotion", "train", "--corpus", dir, "--out", bad, "--stranger-speeds", "0.9,3"); code != 2 || !strings.Contains(errs, "--stranger-speeds 3") {
		t.Errorf("speed 3: exit %d, %s", code, errs)
	}
}

// TestEmotionAnalyze: speech gives a per-second timeline and segments;
// silence, clipping and a low sample rate give results, not crashes.
func TestEmotionAnalyze(t *testing.T) {
	dir := t.TempDir()
	speech := filepath.Join(dir, "speech.wav")
	sh := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	sh("espeak-ng", "-w", filepath.Join(dir, "a.wav"), "Good morning. I would like to make an appointment with the doctor, please. Is there anything free on Thursday?")
	sh("sox", filepath.Join(dir, "a.wav"), "-r", "16000", speech, "pad", "1", "2")
	code, out, errs := contactd(t, "emotion", "analyze", "--json", speech)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var tl struct {
		Seconds []struct {
			Start   float64
			Speech  float64
			Emotion string
			Arousal *float64
		}
		Segments []struct{ Start, End float64 }
	}
	if err := json.Unmarshal([]byte(out), &tl); err != nil {
		t.Fatal(err)
	}
	classified := 0
	for _, s := range tl.Seconds {
		if s.Emotion != "" {
			classified++
			if s.Speech < 0.3 {
				t.Errorf("second %v classified with %.2f s of speech", s.Start, s.Speech)
			}
		}
	}
	if len(tl.Seconds) < 8 || classified < 4 || len(tl.Segments) < 1 || tl.Segments[0].Start < 0.8 {
		t.Errorf("%d seconds, %d classified, segments %+v", len(tl.Seconds), classified, tl.Segments)
	}
	if tl.Seconds[0].Emotion != "" {
		t.Errorf("the leading second of silence was classified")
	}
	code, out, _ = contactd(t, "emotion", "analyze", speech)
	if code != 0 || !strings.Contains(out, "speech segments") {
		t.Errorf("table: %s", out)
	}
	silent := filepath.Join(dir, "silent.wav")
	sh("sox", "-n", "-r", "16000", silent, "trim", "0", "3")
	if code, out, errs := contactd(t, "emotion", "analyze", silent); code != 0 || !strings.Contains(out, "no speech") {
		t.Errorf("silence: exit %d %s %s", code, out, errs)
	}
	clipped := filepath.Join(dir, "clipped.wav")
	sh("sox", speech, clipped, "gain", "30") // hard clipping
	if code, _, errs := contactd(t, "emotion", "analyze", clipped); code != 0 {
		t.Errorf("clipped: exit %d %s", code, errs)
	}
	low := filepath.Join(dir, "8k.wav")
	sh("sox", speech, "-r", "8000", low)
	if code, _, errs := contactd(t, "emotion", "analyze", low); code != 0 {
		t.Errorf("8 kHz: exit %d %s", code, errs)
	}
	empty := filepath.Join(dir, "empty.wav")
	os.WriteFile(empty, nil, 0o644)
	if code, _, errs := contactd(t, "emotion", "analyze", empty); code != 2 || !strings.Contains(errs, "empty.wav") {
		t.Errorf("empty file: exit %d %s", code, errs)
	}
}

// TestEmotionTrainSmall: train on a small corpus twice with one seed gives
// the same file, which eval then uses.
func TestEmotionTrainSmall(t *testing.T) {
	dir := smallCorpus(t, "5", "6")
	out1, out2 := filepath.Join(t.TempDir(), "a.json"), filepath.Join(t.TempDir(), "b.json")
	for _, o := range []string{out1, out2} {
		if code, _, errs := contactd(t, "emotion", "train", "--corpus", dir, "--out", o, "--seed", "7"); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
	}
	a, _ := os.ReadFile(out1)
	b, _ := os.ReadFile(out2)
	if string(a) != string(b) || len(a) == 0 {
		t.Error("two seeded runs wrote different models")
	}
	if code, out, errs := contactd(t, "emotion", "eval", "--corpus", dir, "--model", out1); code != 0 || !strings.Contains(out, "recordings: 120") {
		t.Errorf("eval with the trained model: exit %d %s %s", code, out, errs)
	}
	// With speed-perturbed copies for the strangers: recorded in the file,
	// and the strangers' networks learn something else.
	out3 := filepath.Join(t.TempDir(), "c.json")
	if code, _, errs := contactd(t, "emotion", "train", "--corpus", dir, "--out", out3, "--seed", "7", "--stranger-speeds", "0.9,1.1"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var plain, pert struct {
		Config struct {
			StrangerSpeeds []float64 `json:"stranger_speeds"`
		}
		Strangers struct{ Nets []struct{ W1 []float64 } }
	}
	c, _ := os.ReadFile(out3)
	if err := json.Unmarshal(a, &plain); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(c, &pert); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pert.Config.StrangerSpeeds) != "[0.9 1.1]" || len(plain.Config.StrangerSpeeds) != 0 {
		t.Errorf("stranger_speeds recorded: %v, without the flag %v", pert.Config.StrangerSpeeds, plain.Config.StrangerSpeeds)
	}
	if len(pert.Strangers.Nets) == 0 || fmt.Sprint(pert.Strangers.Nets[0].W1) == fmt.Sprint(plain.Strangers.Nets[0].W1) {
		t.Error("the speed-perturbed copies did not change the strangers' networks")
	}
}
