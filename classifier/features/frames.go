// Package features computes acoustic descriptors of speech after the
// extended Geneva Minimalistic Acoustic Parameter Set (eGeMAPS; Eyben et
// al., IEEE Trans. Affective Computing 7(2), 2016), reimplemented from the
// paper's definitions: frame-level descriptors every 10 ms (pitch, HNR,
// loudness, MFCC, formants, spectral balance), pitch-synchronous jitter
// and shimmer, and functionals over a stretch of speech.
package features

import (
	"math"
	"slices"

	"contactd/classifier/dsp"
	"contactd/classifier/internal/f32"
)

const (
	// Rate is the sample rate the extractor takes.
	Rate = 16000
	// Hop is the frame step: 10 ms.
	Hop = 160

	specWin  = 400 // 25 ms spectral window
	specFFT  = 512 // its transform
	pitchWin = 384 // 48 ms at 8 kHz for pitch
	pitchFFT = 512 // window + longest lag (123 at 65 Hz) fits: no wrap-around
	pitchSR  = 8000
	minF0    = 65.0
	maxF0    = 500.0
	nMel     = 26
	nMFCC    = 13
	lpcOrder = 18
)

// Frame holds the low-level descriptors of one 10 ms frame.
type Frame struct {
	Energy   float64 // dB re full scale
	Loudness float64 // auditory-weighted intensity (mel band powers to the 0.3)
	F0       float64 // Hz; 0 when unvoiced
	Voicing  float64 // peak of the normalised autocorrelation, 0..1
	HNR      float64 // harmonics-to-noise ratio in dB (voiced frames)
	MFCC     [nMFCC]float64
	// Spectral balance (eGeMAPS): alpha ratio 50–1000 Hz over 1–5 kHz,
	// Hammarberg index (peak 0–2 kHz over peak 2–5 kHz), and the slopes of
	// the dB spectrum 0–500 Hz and 500–1500 Hz (dB per kHz).
	Alpha, Hammarberg, Slope0_500, Slope500_1500 float64
	Flux, Centroid, ZCR                          float64
	F1, F2, F3, B1                               float64       // formants in Hz (voiced frames), F1 bandwidth
	LogMel                                       [nMel]float64 // log mel band powers (pre-emphasised)

	rawF0, rawHNR float64 // before smoothing
}

// Period is one glottal cycle found by the pitch-synchronous pass.
type Period struct {
	At  float64 // seconds from the start
	T   float64 // length in seconds
	Amp float64 // peak amplitude of the cycle
	Run int     // voiced run it belongs to
}

// Analysis is everything computed on a stretch of audio.
type Analysis struct {
	Frames  []Frame
	Periods []Period
}

// Extractor holds tables and scratch space; one per goroutine.
type Extractor struct {
	specFFT, pitchFFT, envFFT *dsp.FFT
	hamming, hann             []float64
	winAC                     []float64 // autocorrelation of the pitch window
	mel                       *dsp.Filterbank
	dct                       *dsp.DCT
	preEmph                   []float64 // |1 - 0.97 e^-jw|^2 per bin
	buf, power, prevPower     []float64
	pbuf, pspec, ac           []float64
	bands, logBands           []float64
	re, im                    []float64
}

// NewExtractor prepares the tables.
func NewExtractor() *Extractor {
	e := &Extractor{
		specFFT: dsp.NewRealFFT(specFFT), pitchFFT: dsp.NewRealFFT(pitchFFT), envFFT: dsp.NewRealFFT(specFFT),
		hamming: dsp.Hamming(specWin), hann: dsp.Hann(pitchWin),
		mel: dsp.NewMelFilterbank(nMel, specFFT, Rate, 20, 8000), dct: dsp.NewDCT(nMel, nMFCC+1),
		buf: make([]float64, specFFT), power: make([]float64, specFFT/2+1), prevPower: make([]float64, specFFT/2+1),
		pbuf: make([]float64, pitchFFT), pspec: make([]float64, pitchFFT/2+1), ac: make([]float64, pitchFFT),
		bands: make([]float64, nMel), logBands: make([]float64, nMel),
		re: make([]float64, pitchFFT/2+1), im: make([]float64, pitchFFT/2+1),
	}
	e.preEmph = make([]float64, specFFT/2+1)
	for k := range e.preEmph {
		w := 2 * math.Pi * float64(k) / specFFT
		e.preEmph[k] = 1 + 0.97*0.97 - 2*0.97*math.Cos(w)
	}
	// The window's own autocorrelation, to undo its taper (Boersma 1993).
	e.winAC = make([]float64, pitchWin)
	for lag := range e.winAC {
		var s float64
		for i := lag; i < pitchWin; i++ {
			s += e.hann[i] * e.hann[i-lag]
		}
		e.winAC[lag] = s
	}
	return e
}

// Analyze computes the frames of x (16 kHz mono) and its glottal periods.
func (e *Extractor) Analyze(x []float32) *Analysis { return e.AnalyzeFrom(x, nil, 0) }

// AnalyzeFrom is Analyze reusing frames: prev holds the frames of an
// earlier analysis of the same samples (aligned with x), of which the
// first keep are taken as they are; the rest are computed. A live stream
// re-analyses only its newest audio this way. Frames near the end of an
// earlier analysis saw a window cut short by the end of the audio: keep
// should stop 4 frames (40 ms) before it.
func (e *Extractor) AnalyzeFrom(x []float32, prev []Frame, keep int) *Analysis {
	n := len(x) / Hop
	keep = max(0, min(keep, len(prev), n))
	a := &Analysis{Frames: make([]Frame, n)}
	if n == 0 {
		return a
	}
	copy(a.Frames, prev[:keep])
	// Decimate only what the new frames' pitch windows cover.
	s0 := max(0, keep*Hop+Hop/2-pitchWin) &^ 1
	low := decimate2(x, s0)
	if keep > 0 {
		var scratch Frame
		e.spectral(x, (keep-1)*Hop+Hop/2, &scratch, false) // the spectral flux's previous frame
	}
	for i := keep; i < n; i++ {
		f := &a.Frames[i]
		centre := i*Hop + Hop/2
		e.spectral(x, centre, f, i > 0)
		e.pitch(low, (centre-s0)/2, f)
		f.rawF0, f.rawHNR = f.F0, f.HNR
	}
	lo := max(keep-2, 0) // smoothing reaches two frames back
	smoothPitch(a.Frames, lo)
	for i := lo; i < n; i++ {
		f := &a.Frames[i]
		if f.F0 > 0 {
			if i >= keep || f.F1 == 0 {
				e.formants(x, i*Hop+Hop/2, f)
			}
		} else {
			f.HNR, f.F1, f.F2, f.F3, f.B1 = 0, 0, 0, 0, 0
		}
	}
	a.Periods = periods(x, a.Frames)
	return a
}

// spectral fills the spectrum-based descriptors of the frame centred at c.
func (e *Extractor) spectral(x []float32, c int, f *Frame, havePrev bool) {
	start := c - specWin/2
	var sum, zc float64
	prev := 0.0
	for i := 0; i < specWin; i++ {
		v := 0.0
		if j := start + i; j >= 0 && j < len(x) {
			v = float64(x[j])
		}
		sum += v * v
		if i > 0 && (v >= 0) != (prev >= 0) {
			zc++
		}
		prev = v
		e.buf[i] = v * e.hamming[i]
	}
	f.Energy = 10 * math.Log10(sum/specWin+1e-10)
	f.ZCR = zc / specWin * Rate
	e.specFFT.Power(e.buf[:specWin], e.power)
	p := e.power
	binHz := float64(Rate) / specFFT
	band := func(lo, hi float64) (s, peak float64) {
		for k := int(math.Ceil(lo / binHz)); float64(k)*binHz < hi && k < len(p); k++ {
			s += p[k]
			peak = math.Max(peak, p[k])
		}
		return
	}
	const tiny = 1e-12
	lowE, _ := band(50, 1000)
	highE, _ := band(1000, 5000)
	f.Alpha = 10 * math.Log10((lowE+tiny)/(highE+tiny))
	_, pk1 := band(0, 2000)
	_, pk2 := band(2000, 5000)
	f.Hammarberg = 10 * math.Log10((pk1+tiny)/(pk2+tiny))
	f.Slope0_500 = dbSlope(p, binHz, 0, 500)
	f.Slope500_1500 = dbSlope(p, binHz, 500, 1500)
	var tot, cen, flux float64
	for k, v := range p {
		tot += v
		cen += v * float64(k) * binHz
	}
	if tot > tiny {
		f.Centroid = cen / tot
	}
	if havePrev {
		var ptot float64
		for _, v := range e.prevPower {
			ptot += v
		}
		if tot > tiny && ptot > tiny {
			for k, v := range p {
				d := v/tot - e.prevPower[k]/ptot
				flux += d * d
			}
		}
	}
	f.Flux = flux
	copy(e.prevPower, p)
	// Loudness and MFCC from the mel bands (pre-emphasised for MFCC).
	e.mel.Apply(p, e.bands)
	var loud float64
	for _, b := range e.bands {
		loud += math.Pow(b*1e4, 0.3) // scaled so speech lands near 1..100
	}
	f.Loudness = loud / nMel
	for k := range p {
		e.buf[k] = p[k] * e.preEmph[k]
	}
	e.mel.Apply(e.buf[:len(p)], e.bands)
	for b, v := range e.bands {
		e.logBands[b] = math.Log(v + 1e-10)
		f.LogMel[b] = e.logBands[b]
	}
	var cep [nMFCC + 1]float64
	e.dct.Apply(e.logBands, cep[:])
	copy(f.MFCC[:], cep[1:])
}

// dbSlope is the least-squares slope of the dB spectrum over [lo, hi) Hz,
// in dB per kHz.
func dbSlope(p []float64, binHz, lo, hi float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for k := int(math.Ceil(lo / binHz)); float64(k)*binHz < hi && k < len(p); k++ {
		x := float64(k) * binHz / 1000
		y := 10 * math.Log10(p[k]+1e-12)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	d := n*sxx - sx*sx
	if n < 2 || d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// halfband is the low-pass for decimate2: 31 taps, Hamming-windowed
// sinc at 0.45 of the input Nyquist, normalised to unit gain.
var halfband = func() []float32 {
	const taps = 31
	h := make([]float64, taps)
	var s float64
	for i := range h {
		d := float64(i - taps/2)
		v := 0.45
		if d != 0 {
			v = math.Sin(math.Pi*0.45*d) / (math.Pi * d)
		}
		h[i] = v * (0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/(taps-1)))
		s += h[i]
	}
	out := make([]float32, taps)
	for i := range h {
		out[i] = float32(h[i] / s)
	}
	return out
}()

// decimate2 low-passes x below 3.6 kHz and keeps every second sample,
// from sample s0 (even) on.
func decimate2(x []float32, s0 int) []float64 {
	taps := len(halfband)
	out := make([]float64, (len(x)-s0)/2)
	for i := range out {
		c := s0 + 2*i
		lo := c - taps/2
		if lo >= 0 && lo+taps <= len(x) {
			out[i] = float64(f32.Dot(halfband, x[lo:lo+taps]))
			continue
		}
		var acc float64
		for j, hv := range halfband {
			if k := lo + j; k >= 0 && k < len(x) {
				acc += float64(hv) * float64(x[k])
			}
		}
		out[i] = acc
	}
	return out
}

// pitch estimates F0 by the normalised autocorrelation (Boersma 1993) of a
// 48 ms Hann window of the 8 kHz signal centred at c.
func (e *Extractor) pitch(low []float64, c int, f *Frame) {
	if f.Energy < -55 { // silence: no pitch, and no transforms spent on it
		return
	}
	start := c - pitchWin/2
	var mean float64
	for i := 0; i < pitchWin; i++ {
		if j := start + i; j >= 0 && j < len(low) {
			mean += low[j]
		}
	}
	mean /= pitchWin
	for i := range e.pbuf {
		e.pbuf[i] = 0
	}
	for i := 0; i < pitchWin; i++ {
		if j := start + i; j >= 0 && j < len(low) {
			e.pbuf[i] = (low[j] - mean) * e.hann[i]
		}
	}
	e.pitchFFT.Power(e.pbuf, e.pspec)
	// Autocorrelation = transform of the (even) power spectrum.
	n := pitchFFT
	for k := 0; k <= n/2; k++ {
		e.ac[k] = e.pspec[k]
		if k > 0 && k < n/2 {
			e.ac[n-k] = e.pspec[k]
		}
	}
	e.pitchFFT.Spectrum(e.ac, e.re, e.im)
	r0 := e.re[0]
	if r0 <= 1e-9 {
		return
	}
	minLag, maxLag := int(pitchSR/maxF0), int(math.Ceil(pitchSR/minF0))
	norm := func(l int) float64 { return e.re[l] / r0 / (e.winAC[l] / e.winAC[0]) }
	bestR, bestLag, bestScore := 0.0, 0.0, math.Inf(-1)
	prev, cur := norm(minLag-1), norm(minLag)
	for l := minLag; l < maxLag; l++ {
		next := norm(l + 1)
		if cur > prev && cur >= next && cur > 0.3 {
			// Parabolic interpolation of the peak.
			den := prev - 2*cur + next
			off := 0.0
			if den != 0 {
				off = 0.5 * (prev - next) / den
			}
			lag := float64(l) + off
			r := cur - 0.25*(prev-next)*off
			// Boersma's octave cost: prefer the higher of near-equal candidates.
			score := r - 0.02*math.Log2(minF0*lag/pitchSR)
			if score > bestScore {
				bestScore, bestR, bestLag = score, r, lag
			}
		}
		prev, cur = cur, next
	}
	f.Voicing = math.Min(bestR, 1)
	if bestR >= 0.5 && bestLag > 0 {
		f.F0 = pitchSR / bestLag
		r := math.Min(bestR, 0.999)
		f.HNR = 10 * math.Log10(r/(1-r))
	}
}

// smoothPitch removes isolated voiced frames and median-filters F0 over
// five frames inside voiced runs, folding octave jumps onto the run; it
// recomputes frames [lo, len) from their unsmoothed values.
func smoothPitch(fr []Frame, lo int) {
	// iso is the raw F0 with isolated voiced frames removed.
	iso := func(i int) float64 {
		v := fr[i].rawF0
		if v > 0 && (i == 0 || fr[i-1].rawF0 == 0) && (i+1 >= len(fr) || fr[i+1].rawF0 == 0) {
			return 0
		}
		return v
	}
	win := make([]float64, 0, 5)
	for i := lo; i < len(fr); i++ {
		f0 := iso(i)
		fr[i].F0, fr[i].HNR = f0, fr[i].rawHNR
		if f0 == 0 {
			fr[i].HNR = 0
			continue
		}
		win = win[:0]
		for j := max(i-2, 0); j <= min(i+2, len(fr)-1); j++ {
			if v := iso(j); v > 0 {
				win = append(win, v)
			}
		}
		slices.Sort(win)
		med := win[len(win)/2]
		v := f0
		if r := v / med; r > 1.8 && r < 2.2 {
			v /= 2
		} else if r > 0.45 && r < 0.55 {
			v *= 2
		}
		fr[i].F0 = (v + med) / 2
		if math.Abs(v-med)/med < 0.05 {
			fr[i].F0 = v
		}
	}
}

// formants finds F1–F3 as the peaks of the LPC envelope of the frame
// centred at c (pre-emphasised, Hamming), and F1's −3 dB bandwidth.
func (e *Extractor) formants(x []float32, c int, f *Frame) {
	start := c - specWin/2
	seg := make([]float64, specWin)
	prev := 0.0
	for i := range seg {
		v := 0.0
		if j := start + i; j >= 0 && j < len(x) {
			v = float64(x[j])
		}
		seg[i] = (v - 0.97*prev) * e.hamming[i]
		prev = v
	}
	a, _, ok := dsp.LPC(seg, lpcOrder)
	if !ok {
		return
	}
	poly := e.buf[:specFFT]
	clear(poly)
	poly[0] = 1
	copy(poly[1:], a)
	env := e.prevPowerScratch()
	e.envFFT.Power(poly[:lpcOrder+1], env)
	binHz := float64(Rate) / specFFT
	var found []float64
	var bw float64
	for k := 1; k+1 < len(env) && len(found) < 3; k++ {
		hz := float64(k) * binHz
		if hz < 200 || hz > 4500 {
			continue
		}
		// Peaks of 1/|A|² are minima of |A|².
		if env[k] < env[k-1] && env[k] <= env[k+1] {
			den := env[k-1] - 2*env[k] + env[k+1]
			off := 0.0
			if den != 0 {
				off = 0.5 * (env[k-1] - env[k+1]) / den
			}
			found = append(found, (float64(k)+off)*binHz)
			if len(found) == 1 {
				// −3 dB: where |A|² doubles on each side.
				lo, hi := k, k
				for lo > 0 && env[lo] < 2*env[k] {
					lo--
				}
				for hi < len(env)-1 && env[hi] < 2*env[k] {
					hi++
				}
				bw = float64(hi-lo) * binHz
			}
		}
	}
	if len(found) > 0 {
		f.F1, f.B1 = found[0], bw
	}
	if len(found) > 1 {
		f.F2 = found[1]
	}
	if len(found) > 2 {
		f.F3 = found[2]
	}
}

// prevPowerScratch lends a spectrum-sized buffer not in use during formants.
func (e *Extractor) prevPowerScratch() []float64 { return e.pspec[:specFFT/2+1] }
