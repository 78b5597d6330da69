package audio

import (
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(len(x), 1)))
}

// tone returns the amplitude of frequency f in x (rate sr) by correlation.
func tone(x []float32, sr int, f float64) float64 {
	var re, im float64
	for i, v := range x {
		a := 2 * math.Pi * f * float64(i) / float64(sr)
		re += float64(v) * math.Cos(a)
		im += float64(v) * math.Sin(a)
	}
	return 2 * math.Hypot(re, im) / float64(len(x))
}

// TestResample: a 440 Hz tone keeps its amplitude through 48k→16k and
// 44.1k→16k; a 10 kHz tone (above the new Nyquist) is removed.
func TestResample(t *testing.T) {
	for _, from := range []int{48000, 44100, 22050, 8000} {
		x := make([]float32, from)
		y := make([]float32, from)
		for i := range x {
			x[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/float64(from)))
			if from > 20000 {
				y[i] = float32(0.5 * math.Sin(2*math.Pi*10000*float64(i)/float64(from)))
			}
		}
		out := Resample(x, from, 16000)
		if len(out) != 16000 {
			t.Fatalf("%d Hz: %d samples out, want 16000", from, len(out))
		}
		mid := out[1000:15000]
		if a := tone(mid, 16000, 440); math.Abs(a-0.5) > 0.01 {
			t.Errorf("%d Hz: 440 Hz amplitude %.4f after resampling, want 0.5", from, a)
		}
		if from > 20000 {
			if r := rms(Resample(y, from, 16000)[1000:15000]); r > 0.01 {
				t.Errorf("%d Hz: 10 kHz tone leaks through at rms %.4f", from, r)
			}
		}
	}
}

// TestDecodeFile decodes what FFmpeg writes (Opus, WAV stereo, FLAC) to
// mono 16 kHz, and fails clearly on files that are not audio.
func TestDecodeFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.ogg", "b.wav", "c.flac"} {
		p := filepath.Join(dir, name)
		// Stereo with the tone in both channels, amplitude 0.25.
		if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i",
			"aevalsrc=0.25*sin(2*PI*300*t)|0.25*sin(2*PI*300*t):s=48000:d=2", p).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		x, err := DecodeFile(p, 16000)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(x) < 31000 || len(x) > 33000 {
			t.Errorf("%s: %d samples, want about 32000", name, len(x))
		}
		if a := tone(x[4000:28000], 16000, 300); math.Abs(a-0.25) > 0.01 {
			t.Errorf("%s: 300 Hz amplitude %.4f, want 0.25", name, a)
		}
	}
	junk := filepath.Join(dir, "junk.wav")
	os.WriteFile(junk, []byte("RIFF this is not audio"), 0o644)
	if _, err := DecodeFile(junk, 16000); err == nil {
		t.Error("junk decoded without error")
	}
	empty := filepath.Join(dir, "empty.ogg")
	os.WriteFile(empty, nil, 0o644)
	if _, err := DecodeFile(empty, 16000); err == nil {
		t.Error("empty file decoded without error")
	}
	if _, err := DecodeFile(filepath.Join(dir, "missing.ogg"), 16000); !errors.Is(err, os.ErrNotExist) && err == nil {
		t.Error("missing file decoded")
	}
	video := filepath.Join(dir, "video.webm")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x64:d=1", "-c:v", "libvpx", video).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if _, err := DecodeFile(video, 16000); !errors.Is(err, ErrNoAudio) {
		t.Errorf("video without audio: %v, want ErrNoAudio", err)
	}
}

// TestDecimatorStreams: feeding a tone in uneven pieces gives the same
// output as one piece, at a third of the rate, with the tone intact.
func TestDecimatorStreams(t *testing.T) {
	x := make([]float32, 48000)
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*440*float64(i)/48000))
	}
	whole := NewDecimator(3).Process(x, nil)
	d := NewDecimator(3)
	var parts []float32
	for i, n := 0, 1; i < len(x); i, n = i+n, n%997+7 {
		parts = d.Process(x[i:min(i+n, len(x))], parts)
	}
	if len(parts) != len(whole) {
		t.Fatalf("%d samples in pieces, %d whole", len(parts), len(whole))
	}
	for i := range whole {
		if parts[i] != whole[i] {
			t.Fatalf("sample %d: %v in pieces, %v whole", i, parts[i], whole[i])
		}
	}
	if n := len(whole); n < 15900 || n > 16000 {
		t.Errorf("%d output samples for 1 s", n)
	}
	if a := tone(whole[1000:15000], 16000, 440); math.Abs(a-0.5) > 0.01 {
		t.Errorf("440 Hz amplitude %.4f", a)
	}
}

// TestDecodeChannel: each channel of a stereo Opus recording (a 300 Hz
// tone left, 700 Hz right, as a two-microphone room's agent sends) comes
// out alone; a third channel is an error naming it.
func TestDecodeChannel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "room.webm")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i",
		"aevalsrc=0.25*sin(2*PI*300*t)|0.25*sin(2*PI*700*t):s=48000:d=2", "-c:a", "libopus", p).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for ch, f := range map[int][2]float64{0: {300, 700}, 1: {700, 300}} {
		x, err := DecodeChannel(p, 16000, ch)
		if err != nil {
			t.Fatalf("channel %d: %v", ch, err)
		}
		if a := tone(x[4000:28000], 16000, f[0]); math.Abs(a-0.25) > 0.02 {
			t.Errorf("channel %d: %.0f Hz amplitude %.4f, want 0.25", ch, f[0], a)
		}
		if a := tone(x[4000:28000], 16000, f[1]); a > 0.02 {
			t.Errorf("channel %d: %.0f Hz (the other channel's) amplitude %.4f, want none", ch, f[1], a)
		}
	}
	if _, err := DecodeChannel(p, 16000, 2); err == nil || !strings.Contains(err.Error(), "channel 3") {
		t.Errorf("a third channel of stereo audio: %v", err)
	}
}
