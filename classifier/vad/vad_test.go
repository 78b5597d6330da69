package vad

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"contactd/classifier/audio"
	"contactd/classifier/models"
)

func loadModel(tb testing.TB) *Model {
	tb.Helper()
	p, err := models.Find(models.SileroVAD, "")
	if err != nil {
		tb.Fatal(err)
	}
	m, err := Load(p)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// fixtureAudio is testdata/speech.wav: espeak-ng speech with pauses and
// light noise, 16 kHz 16-bit mono.
func fixtureAudio(tb testing.TB) []float32 {
	x, err := audio.DecodeFile("testdata/speech.wav", Rate)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// TestMatchesOnnxruntime: the speech probabilities equal those onnxruntime
// 1.30 computed for the same model and audio (testdata/reference.json, made
// with tools/ortref/vad.js) within 1e-3, through both STFT paths.
func TestMatchesOnnxruntime(t *testing.T) {
	var ref struct{ Probs []float64 }
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t)
	if !m.dftOnly {
		t.Error("the STFT basis of Silero v5 is a Hann-windowed DFT, but it was not recognised")
	}
	x := fixtureAudio(t)
	for _, fft := range []bool{true, false} {
		d := m.NewDetector()
		d.DisableFFT = !fft
		worst, at, got := 0.0, 0, 0.0
		n := 0
		for i := 0; i+ChunkSize <= len(x); i += ChunkSize {
			p := float64(d.Step(x[i : i+ChunkSize]))
			if diff := math.Abs(p - ref.Probs[n]); diff > worst {
				worst, at, got = diff, n, p
			}
			n++
		}
		if n != len(ref.Probs) {
			t.Fatalf("%d steps, reference has %d", n, len(ref.Probs))
		}
		t.Logf("fft=%v: max |Δp| %.2g at step %d", fft, worst, at)
		if worst > 1e-3 {
			t.Errorf("fft=%v: max |Δp| %.4f at step %d (%.4f vs %.4f)", fft, worst, at, got, ref.Probs[at])
		}
	}
	// The fixture is not trivial: it has clear speech and clear silence.
	hi, lo := 0, 0
	for _, p := range ref.Probs {
		if p > 0.9 {
			hi++
		} else if p < 0.1 {
			lo++
		}
	}
	if hi < 50 || lo < 50 {
		t.Errorf("fixture has %d speech and %d silence steps", hi, lo)
	}
}

// TestRejectsOtherModels: a file that is not Silero v5 gives a clear error.
func TestRejectsOtherModels(t *testing.T) {
	if _, err := Load("testdata/reference.json"); err == nil {
		t.Error("a JSON file loaded as a model")
	}
	if _, err := Load("testdata/missing.onnx"); err == nil {
		t.Error("a missing file loaded")
	}
}

// BenchmarkStep: one 32 ms step; see also `contactd bench vad`, which
// compares with onnxruntime on the same audio.
func BenchmarkStep(b *testing.B) {
	m := loadModel(b)
	x := fixtureAudio(b)
	d := m.NewDetector()
	n := len(x) / ChunkSize
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % n
		d.Step(x[j*ChunkSize : (j+1)*ChunkSize])
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/(float64(b.N)*ChunkSize/Rate), "cpu_s/audio_s")
}

func TestSegments(t *testing.T) {
	m := func(s string) []bool {
		b := make([]bool, len(s))
		for i, c := range s {
			b[i] = c == '#'
		}
		return b
	}
	got := Segments(m("..###.##....####..#"), 2, 2)
	want := [][2]int{{2, 8}, {12, 16}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("%v, want %v", got, want)
	}
}

// TestMaskGate: the fixture's speech is found; digital silence is gated
// without running the network.
func TestMaskGate(t *testing.T) {
	m := loadModel(t)
	x := fixtureAudio(t)
	mask, gated := Mask(m.NewDetector(), x, 0.5, 160)
	speech := 0
	for _, v := range mask {
		if v {
			speech++
		}
	}
	if frac := float64(speech) / float64(len(mask)); frac < 0.4 || frac > 0.8 {
		t.Errorf("%.0f%% of the fixture marked as speech", 100*frac)
	}
	silence := make([]float32, 2*Rate)
	mask, gated = Mask(m.NewDetector(), silence, 0.5, 160)
	if gated != (len(silence)+ChunkSize-1)/ChunkSize {
		t.Errorf("%d of %d silent chunks gated", gated, len(silence)/ChunkSize)
	}
	for _, v := range mask {
		if v {
			t.Fatal("speech found in silence")
		}
	}
}
