package capture

import (
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/recorder"
	"contactd/rtc"
)

// TestOpusEncoderRoundTrip encodes a 440 Hz tone, muxes the packets with the
// recorder's segment writer and checks with ffmpeg that a 440 Hz tone of the
// right length and level comes back.
func TestOpusEncoderRoundTrip(t *testing.T) {
	enc, err := NewOpusEncoder(32000)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dir := t.TempDir()
	rec := &recorder.Recorder{Dir: dir, Station: "t", SegmentLength: time.Hour}
	if err := rec.Initialize(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pcm := make([]int16, FrameSamples)
	n := 0
	for f := 0; f < 150; f++ { // 3 s
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(f*FrameSamples+i)/48000))
		}
		pkts, err := enc.Encode(pcm)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if d := rtc.OpusDuration(p); d != 20*time.Millisecond {
				t.Fatalf("packet of %v", d)
			}
			rec.Push(recorder.Frame{Kind: recorder.Audio, Data: p, RTP: uint32(n * FrameSamples),
				Wall: start.Add(time.Duration(n) * 20 * time.Millisecond), Dur: 20 * time.Millisecond})
			n++
		}
	}
	rec.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.mkv"))
	if len(segs) != 1 || n < 145 {
		t.Fatalf("segments %v, packets %d", segs, n)
	}
	out, err := exec.Command("ffmpeg", "-nostdin", "-i", segs[0], "-af", "astats=metadata=0,volumedetect", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if !strings.Contains(string(out), "mean_volume: -1") && !strings.Contains(string(out), "mean_volume: -2") {
		t.Errorf("level of the decoded tone is off:\n%s", grep(string(out), "volume"))
	}
	// Dominant frequency by zero crossings of the decoded audio.
	raw, err := exec.Command("ffmpeg", "-v", "error", "-i", segs[0], "-ac", "1", "-ar", "48000", "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	cross := 0
	for i := 4; i+3 < len(raw); i += 2 {
		a, b := int16(uint16(raw[i-2])|uint16(raw[i-1])<<8), int16(uint16(raw[i])|uint16(raw[i+1])<<8)
		if a < 0 && b >= 0 {
			cross++
		}
	}
	secs := float64(len(raw)/2) / 48000
	if f := float64(cross) / secs; math.Abs(f-440) > 5 || math.Abs(secs-3) > 0.1 {
		t.Errorf("decoded %.2f s at %.1f Hz, want 3 s at 440 Hz", secs, f)
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestOpusEncoderTwoMicrophones: two microphones on one stereo input (a
// 440 Hz tone left, a 12 dB quieter 1 kHz tone right) come back from the
// recorder's segment as two channels, each its own tone at its own level:
// nothing of one is coded into the other.
func TestOpusEncoderTwoMicrophones(t *testing.T) {
	enc, err := NewOpusEncoderChannels(64000, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if _, err := enc.Encode(make([]int16, FrameSamples)); err == nil {
		t.Error("a mono frame was taken by the two-channel encoder")
	}
	if _, err := NewOpusEncoderChannels(64000, 3); err == nil {
		t.Error("three channels accepted")
	}
	dir := t.TempDir()
	rec := &recorder.Recorder{Dir: dir, Station: "t", SegmentLength: time.Hour}
	if err := rec.Initialize(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pcm := make([]int16, 2*FrameSamples)
	n := 0
	for f := 0; f < 150; f++ {
		for i := range FrameSamples {
			s := float64(f*FrameSamples + i)
			pcm[2*i] = int16(8000 * math.Sin(2*math.Pi*440*s/48000))
			pcm[2*i+1] = int16(2000 * math.Sin(2*math.Pi*1000*s/48000))
		}
		pkts, err := enc.Encode(pcm)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			rec.Push(recorder.Frame{Kind: recorder.Audio, Data: p, RTP: uint32(n * FrameSamples),
				Wall: start.Add(time.Duration(n) * 20 * time.Millisecond), Dur: 20 * time.Millisecond})
			n++
		}
	}
	rec.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.mkv"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	raw, err := exec.Command("ffmpeg", "-v", "error", "-i", segs[0], "-ac", "2", "-ar", "48000", "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	var power [2]float64
	var cross [2]int
	var prev [2]int16
	frames := len(raw) / 4
	for i := range frames {
		for c := range 2 {
			v := int16(uint16(raw[4*i+2*c]) | uint16(raw[4*i+2*c+1])<<8)
			power[c] += float64(v) * float64(v)
			if prev[c] < 0 && v >= 0 {
				cross[c]++
			}
			prev[c] = v
		}
	}
	secs := float64(frames) / 48000
	left, right := float64(cross[0])/secs, float64(cross[1])/secs
	diff := 10 * math.Log10(power[0]/power[1])
	t.Logf("left %.1f Hz, right %.1f Hz, left %.1f dB over right", left, right, diff)
	if math.Abs(left-440) > 5 || math.Abs(right-1000) > 10 || math.Abs(diff-12) > 1.5 {
		t.Errorf("decoded left %.1f Hz, right %.1f Hz, %.1f dB apart; want 440 Hz, 1000 Hz, 12 dB", left, right, diff)
	}
}
