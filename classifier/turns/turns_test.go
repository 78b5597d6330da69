package turns

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
	"contactd/internal/testenv"
)

func decodeActor(t *testing.T, actor string, n int) [][]float32 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.Datasets(t), "ravdess", "03-01-*-"+actor+".ogg"))
	sort.Strings(files)
	if len(files) < n {
		t.Fatalf("actor %s: %d recordings", actor, len(files))
	}
	var out [][]float32
	for _, f := range files[:n] {
		x, err := audio.DecodeFile(f, features.Rate)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

// TestFindTwoVoices: the doctor (RAVDESS actor 15, enrolled on 20 of their
// recordings) and a patient (actor 16) take turns, a recording each; most
// of the speech is given to the right one.
func TestFindTwoVoices(t *testing.T) {
	vm, err := vad.LoadInstalled("")
	if err != nil {
		t.Fatal(err)
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		t.Fatal(err)
	}
	doc, pat := decodeActor(t, "15", 32), decodeActor(t, "16", 12)
	ext, det := features.NewExtractor(), vm.NewDetector()
	var frames [][]float64
	for _, x := range doc[:20] {
		frames = append(frames, speaker.SpeechFrames(ext, det, x)...)
	}
	voice, err := bg.Enroll("doctor", frames)
	if err != nil {
		t.Fatal(err)
	}
	var x []float32
	var bounds []time.Duration // where each recording ends
	for i := 0; i < 12; i++ {
		x = append(x, doc[20+i]...)
		bounds = append(bounds, time.Duration(len(x))*time.Second/features.Rate)
		x = append(x, pat[i]...)
		bounds = append(bounds, time.Duration(len(x))*time.Second/features.Rate)
	}
	segs, err := Find(x, Models{VAD: vm, Background: bg}, voice, DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	var right, all time.Duration
	for _, s := range segs {
		mid := (s.Start + s.End) / 2
		k := sort.Search(len(bounds), func(i int) bool { return bounds[i] > mid })
		want := Patient
		if k%2 == 0 {
			want = Doctor
		}
		all += s.End - s.Start
		if s.Who == want {
			right += s.End - s.Start
		}
	}
	share := right.Seconds() / all.Seconds()
	t.Logf("%d segments, %.1f s of speech, %.3f given to the right speaker", len(segs), all.Seconds(), share)
	if len(segs) < 20 || share < 0.9 {
		t.Errorf("%d segments, right share %.3f; want ≥ 20 and ≥ 0.9", len(segs), share)
	}
}

// TestSyllables: the same sentence spoken slowly and fast — the nuclei
// counted come near the sentence's syllables, and the rate follows the speed.
func TestSyllables(t *testing.T) {
	espeak := testenv.Tool(t, "espeak-ng")
	const text = "Please tell me what brings you here today, and when did the pain begin" // 18 syllables
	rate := func(wpm string) (int, float64) {
		wav := filepath.Join(t.TempDir(), "s.wav")
		if out, err := exec.Command(espeak, "-s", wpm, "-w", wav, text).CombinedOutput(); err != nil {
			t.Fatalf("espeak-ng: %v %s", err, out)
		}
		x, err := audio.DecodeFile(wav, features.Rate)
		if err != nil {
			t.Fatal(err)
		}
		a := features.NewExtractor().Analyze(x)
		n := Syllables(a, 0, len(a.Frames))
		voiced := 0
		for _, f := range a.Frames {
			if f.Energy > -45 {
				voiced++
			}
		}
		return n, float64(n) / (float64(voiced) / 100)
	}
	nSlow, slow := rate("110")
	nFast, fast := rate("220")
	t.Logf("slow: %d nuclei, %.2f/s; fast: %d nuclei, %.2f/s", nSlow, slow, nFast, fast)
	if nSlow < 12 || nSlow > 24 {
		t.Errorf("%d nuclei counted in an 18-syllable sentence", nSlow)
	}
	if fast < 1.3*slow {
		t.Errorf("rate at 220 wpm %.2f/s is not clearly above 110 wpm's %.2f/s", fast, slow)
	}
}

// TestSeeds: stretches are ranked by their mean ratio; each side takes
// whole stretches until it holds the share asked for, and frames that
// carry no evidence count for nothing.
func TestSeeds(t *testing.T) {
	// Four stretches of 10 frames (gaps of 20 frames between them), mean
	// ratios 2, -1, 0.5, -3.
	var idx []int
	var ld, lu []float64
	var useful []bool
	for s, r := range []float64{2, -1, 0.5, -3} {
		for k := 0; k < 10; k++ {
			idx = append(idx, s*30+k)
			ld, lu = append(ld, r), append(lu, 0)
			useful = append(useful, k < 8)
		}
	}
	got := seeds(ld, lu, useful, idx, 15, 0.25, nil, false)
	want := []int8{1, 0, 0, -1} // a quarter each: the top and the bottom stretch
	for s, w := range want {
		for k := 0; k < 10; k++ {
			if got[s*10+k] != w {
				t.Fatalf("stretch %d frame %d: %d, want %d", s, k, got[s*10+k], w)
			}
		}
	}
	got = seeds(ld, lu, useful, idx, 15, 0.5, nil, false)
	want = []int8{1, -1, 1, -1}
	for s, w := range want {
		if got[s*10] != w {
			t.Errorf("share 0.5, stretch %d: %d, want %d", s, got[s*10], w)
		}
	}
	// A pause shorter than minPause joins the stretches.
	if got := seeds(ld, lu, useful, idx, 25, 0.5, nil, false); got[0] != got[39] {
		t.Errorf("one stretch got two sides: %d and %d", got[0], got[39])
	}
}

// TestFindOneVoice: the doctor alone, dictating in an even voice (their
// neutral and calm recordings; enrolled on others), is one voice: none of
// it is given to a patient. It does not hold yet (half of it is: the
// first split sees two clusters in one voice, see the README), so it runs
// on request: CONTACTD_CONSULT_EVAL=1.
func TestFindOneVoice(t *testing.T) {
	if os.Getenv("CONTACTD_CONSULT_EVAL") == "" {
		t.Skip("set CONTACTD_CONSULT_EVAL=1: one voice alone is not yet told from two")
	}
	vm, err := vad.LoadInstalled("")
	if err != nil {
		t.Fatal(err)
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeActor(t, "15", 60) // sorted by emotion: 12 neutral and calm first
	ext, det := features.NewExtractor(), vm.NewDetector()
	var frames [][]float64
	for _, x := range doc[12:32] {
		frames = append(frames, speaker.SpeechFrames(ext, det, x)...)
	}
	voice, err := bg.Enroll("doctor", frames)
	if err != nil {
		t.Fatal(err)
	}
	var x []float32
	for _, r := range doc[:12] {
		x = append(x, r...)
	}
	segs, err := Find(x, Models{VAD: vm, Background: bg}, voice, DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	var pat, all time.Duration
	for _, s := range segs {
		all += s.End - s.Start
		if s.Who == Patient {
			pat += s.End - s.Start
		}
	}
	t.Logf("%d segments, %.1f s of speech, %.1f s given to a patient", len(segs), all.Seconds(), pat.Seconds())
	if all < 15*time.Second || pat > all/20 {
		t.Errorf("%.1f s of the doctor's %.1f s given to a patient", pat.Seconds(), all.Seconds())
	}
}
