package features

import (
	"math"
	"math/rand/v2"
	"testing"
)

func sine(f, amp float64, secs float64) []float32 {
	x := make([]float32, int(secs*Rate))
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*f*float64(i)/Rate))
	}
	return x
}

// pulses is a voice-like source: a decaying resonance (a crude vocal tract
// at 700 Hz) excited once per period, the periods and amplitudes given.
func pulses(periods, amps []float64) []float32 {
	var total float64
	for _, p := range periods {
		total += p
	}
	x := make([]float32, int((total+0.05)*Rate))
	t := 0.01
	for i, p := range periods {
		start := int(math.Round(t * Rate))
		for k := 0; start+k < len(x) && k < int(0.02*Rate); k++ {
			tt := float64(k) / Rate
			x[start+k] += float32(amps[i] * math.Exp(-tt*800) * math.Sin(2*math.Pi*700*tt))
		}
		t += p
	}
	return x
}

func median(fr []Frame, get func(Frame) float64, voicedOnly bool) float64 {
	var v []float64
	for _, f := range fr {
		if !voicedOnly || f.F0 > 0 {
			v = append(v, get(f))
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	return Percentile(v, 0.5)
}

// TestPitchOfTones: a pure tone's F0 is its frequency (within 1 %) across
// the range, and it is voiced; white noise is not.
func TestPitchOfTones(t *testing.T) {
	e := NewExtractor()
	for _, f0 := range []float64{80, 120, 200, 310, 450} {
		a := e.Analyze(sine(f0, 0.3, 1))
		got := median(a.Frames, func(f Frame) float64 { return f.F0 }, true)
		voiced := 0
		for _, f := range a.Frames {
			if f.F0 > 0 {
				voiced++
			}
		}
		if math.Abs(got-f0)/f0 > 0.01 || voiced < len(a.Frames)*9/10 {
			t.Errorf("%v Hz tone: F0 %.2f Hz, %d/%d frames voiced", f0, got, voiced, len(a.Frames))
		}
		if hnr := median(a.Frames, func(f Frame) float64 { return f.HNR }, true); hnr < 20 {
			t.Errorf("%v Hz tone: HNR %.1f dB, want a clean harmonic signal (> 20 dB)", f0, hnr)
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	noise := make([]float32, Rate)
	for i := range noise {
		noise[i] = float32(r.NormFloat64() * 0.1)
	}
	voiced := 0
	for _, f := range e.Analyze(noise).Frames {
		if f.F0 > 0 {
			voiced++
		}
	}
	if voiced > 5 {
		t.Errorf("white noise: %d voiced frames", voiced)
	}
}

// TestJitterShimmer: pulse trains with known period and amplitude
// alternation give the jitter and shimmer computed by hand.
func TestJitterShimmer(t *testing.T) {
	e := NewExtractor()
	n := 150
	// Periods of whole samples (126 and 130 at 16 kHz for dT = 0.25 ms), so
	// the source itself has exactly the jitter asked for.
	for _, tc := range []struct{ dT, dA float64 }{{0, 0}, {0.00025, 0}, {0, 0.1}, {0.00025, 0.2}} {
		per, amp := make([]float64, n), make([]float64, n)
		for i := range per {
			sgn := float64(1 - 2*(i%2))
			per[i] = 0.008 + sgn*tc.dT/2 // 125 Hz, alternating ± dT/2
			amp[i] = 0.5 * (1 + sgn*tc.dA/2)
		}
		a := e.Analyze(pulses(per, amp))
		j, s, np := JitterShimmer(a.Periods)
		wantJ := tc.dT / 0.008 // |ΔT| = dT every period
		wantS := 20 * math.Log10((1+tc.dA/2)/(1-tc.dA/2))
		if np < 100 {
			t.Fatalf("dT=%v dA=%v: only %d period pairs found", tc.dT, tc.dA, np)
		}
		if math.Abs(j-wantJ) > 0.003 || math.Abs(s-wantS) > 0.1 {
			t.Errorf("dT=%v dA=%v: jitter %.4f (want %.4f), shimmer %.3f dB (want %.3f)", tc.dT, tc.dA, j, wantJ, s, wantS)
		}
	}
}

// TestSpectralBalance: a low tone has a high alpha ratio and Hammarberg
// index, a high one the opposite; formant F1 of the pulse train's 700 Hz
// resonance is found.
func TestSpectralBalance(t *testing.T) {
	e := NewExtractor()
	low := e.Analyze(sine(300, 0.3, 0.5))
	high := e.Analyze(sine(3000, 0.3, 0.5))
	la := median(low.Frames, func(f Frame) float64 { return f.Alpha }, false)
	ha := median(high.Frames, func(f Frame) float64 { return f.Alpha }, false)
	if la < 20 || ha > -20 {
		t.Errorf("alpha ratio: 300 Hz %.1f dB, 3 kHz %.1f dB", la, ha)
	}
	per, amp := make([]float64, 100), make([]float64, 100)
	for i := range per {
		per[i], amp[i] = 0.008, 0.5
	}
	a := e.Analyze(pulses(per, amp))
	f1 := median(a.Frames, func(f Frame) float64 { return f.F1 }, true)
	if math.Abs(f1-700) > 60 {
		t.Errorf("F1 of a 700 Hz resonance: %.0f Hz", f1)
	}
	// Louder is louder.
	quiet := median(e.Analyze(sine(300, 0.03, 0.5)).Frames, func(f Frame) float64 { return f.Loudness }, false)
	loud := median(low.Frames, func(f Frame) float64 { return f.Loudness }, false)
	if !(loud > 1.5*quiet) {
		t.Errorf("loudness %.2f for a tone 20 dB louder than one at %.2f", loud, quiet)
	}
}

// TestBadAudio: empty, silent and clipped input never crash.
func TestBadAudio(t *testing.T) {
	e := NewExtractor()
	if a := e.Analyze(nil); len(a.Frames) != 0 {
		t.Error("frames from nothing")
	}
	a := e.Analyze(make([]float32, Rate))
	for _, f := range a.Frames {
		if f.F0 != 0 || math.IsNaN(f.Loudness) || math.IsNaN(f.MFCC[0]) {
			t.Fatalf("silence: %+v", f)
		}
	}
	clipped := sine(200, 5, 1)
	for i := range clipped {
		clipped[i] = max(-1, min(1, clipped[i]))
	}
	for _, f := range e.Analyze(clipped).Frames {
		for _, v := range []float64{f.F0, f.HNR, f.Loudness, f.Alpha, f.MFCC[3], f.F1} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("clipped: %+v", f)
			}
		}
	}
}

// TestSummarize: the functionals have their names, and describe a tone
// glide's pitch range and direction.
func TestSummarize(t *testing.T) {
	x := make([]float32, 2*Rate)
	phase := 0.0
	for i := range x {
		f := 150 + 100*float64(i)/float64(len(x)) // 150 → 250 Hz
		phase += 2 * math.Pi * f / Rate
		x[i] = float32(0.3 * math.Sin(phase))
	}
	a := NewExtractor().Analyze(x)
	v, ok := Summarize(a, 0, len(a.Frames), nil)
	if !ok || len(v) != len(Names) {
		t.Fatalf("ok=%v, %d values for %d names", ok, len(v), len(Names))
	}
	get := func(name string) float64 {
		for i, n := range Names {
			if n == name {
				return v[i]
			}
		}
		t.Fatalf("no functional %s", name)
		return 0
	}
	// 150→250 Hz is 8.8 semitones; the 20–80 range covers 60 % of it.
	if r := get("f0_st_range2080"); math.Abs(r-0.6*12*math.Log2(250.0/150)) > 0.5 {
		t.Errorf("f0 range %.2f st", r)
	}
	if rise, fall := get("f0_st_rise"), get("f0_st_fall"); rise < 3 || fall > rise/2 {
		t.Errorf("a rising glide: rise %.2f st/s, fall %.2f st/s", rise, fall)
	}
	if vs := get("voiced_fraction"); vs < 0.9 {
		t.Errorf("voiced fraction %.2f", vs)
	}
	// Silence: not enough to describe, and no NaN.
	v, ok = Summarize(NewExtractor().Analyze(make([]float32, Rate)), 0, 100, nil)
	if ok {
		t.Error("silence summarised as speech")
	}
	for i, x := range v {
		if math.IsNaN(x) {
			t.Fatalf("%s is NaN", Names[i])
		}
	}
}

// TestAnalyzeFromMatchesAnalyze: analysing a stream in pieces, reusing all
// but the last four frames of each earlier analysis, gives the frames a
// single analysis of the whole gives.
func TestAnalyzeFromMatchesAnalyze(t *testing.T) {
	per, amp := make([]float64, 300), make([]float64, 300)
	for i := range per {
		per[i] = 0.006 + 0.002*math.Sin(float64(i)/20) // a gliding voice
		amp[i] = 0.4
	}
	x := pulses(per, amp)
	r := rand.New(rand.NewPCG(9, 9))
	for i := len(x) / 2; i < len(x)*2/3; i++ { // a stretch of noise
		x[i] = float32(r.NormFloat64() * 0.05)
	}
	e := NewExtractor()
	whole := NewExtractor().Analyze(x)
	var prev []Frame
	for end := 7000; ; end += 5300 {
		end = min(end, len(x))
		a := e.AnalyzeFrom(x[:end], prev, len(prev)-4)
		prev = a.Frames
		if end == len(x) {
			break
		}
	}
	if len(prev) != len(whole.Frames) {
		t.Fatalf("%d frames in pieces, %d whole", len(prev), len(whole.Frames))
	}
	for i := range prev {
		if prev[i] != whole.Frames[i] {
			t.Fatalf("frame %d differs:\n pieces %+v\n whole  %+v", i, prev[i], whole.Frames[i])
		}
	}
}
