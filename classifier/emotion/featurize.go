package emotion

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/vad"
)

// Featurizer turns audio into functionals over the speech in it, using the
// VAD to find the speech.
type Featurizer struct {
	VAD *vad.Model
	// Speeds, if set, are the speed-perturbation factors (Ko et al. 2015:
	// the recording resampled so that it plays α times as fast, pitch and
	// formants moved with it) whose live windows Featurize returns as well:
	// more voices for the strangers' ensemble to learn from than a corpus's
	// few dozen speakers.
	Speeds []float64
	// Levels, if set, are speech levels (dBFS) whose copies of each
	// recording (scaled so that its speech has that mean power) Featurize
	// returns the live windows of as well: a patient's level at the
	// microphone depends on where they stand and on the microphone's gain,
	// not on how they feel, and a corpus's takes span 25 dB between
	// whispered and shouted.
	Levels []float64
}

// SpeechMask marks the 10 ms feature frames of x that hold speech (see
// vad.Mask).
func SpeechMask(det *vad.Detector, x []float32, threshold float32) (mask []bool, gated int) {
	return vad.Mask(det, x, threshold, features.Hop)
}

// Utterance computes the functionals of a whole recording (16 kHz). ok is
// false when it holds too little voiced speech.
func (fz *Featurizer) Utterance(ext *features.Extractor, det *vad.Detector, x []float32) ([]float64, bool) {
	a, mask := fz.analyze(ext, det, x)
	return features.Summarize(a, 0, len(a.Frames), mask)
}

// analyze computes the frames of a recording and which hold speech (nil:
// the VAD heard almost nothing, and the functionals fall back to energy).
func (fz *Featurizer) analyze(ext *features.Extractor, det *vad.Detector, x []float32) (*features.Analysis, []bool) {
	a := ext.Analyze(x)
	var mask []bool
	if det != nil {
		det.Reset()
		mask, _ = SpeechMask(det, x, 0.5)
		n := 0
		for _, m := range mask {
			if m {
				n++
			}
		}
		if n < 20 { // the VAD heard (almost) nothing: fall back to energy
			mask = nil
		}
	}
	return a, mask
}

// Windows computes the functionals of a recording as the live path reads
// a voice: over the last 2 s at the end of every second that holds at
// least 0.3 s of speech.
func (fz *Featurizer) Windows(ext *features.Extractor, det *vad.Detector, x []float32) [][]float64 {
	a, mask := fz.analyze(ext, det, x)
	return windowsOf(a, mask)
}

func windowsOf(a *features.Analysis, mask []bool) [][]float64 {
	speech := func(f int) bool {
		if mask == nil { // no VAD: frames with energy, as Summarize falls back to
			return a.Frames[f].Energy > -55
		}
		return f < len(mask) && mask[f]
	}
	var out [][]float64
	// Seconds end every 100 frames; a recording shorter than a second is
	// read once, at its end.
	for to := min(100, len(a.Frames)); to <= len(a.Frames) && to > 0; to += 100 {
		n := 0
		for f := max(0, to-100); f < to; f++ {
			if speech(f) {
				n++
			}
		}
		if n < 30 {
			continue
		}
		if v, ok := features.Summarize(a, to-200, to, mask); ok {
			out = append(out, v)
		}
	}
	return out
}

// Vectors featurizes items in parallel; skipped lists the items that could
// not be decoded or had no voiced speech (with why). progress, if set, is
// called after each item.
func (fz *Featurizer) Vectors(ctx context.Context, items []Item, progress func()) (vecs [][]float64, skipped map[int]error, err error) {
	vecs, _, _, skipped, err = fz.Featurize(ctx, items, false, progress)
	return vecs, skipped, err
}

// Featurize is Vectors and, with windows, also each recording's live
// windows (see Windows) and, for fz.Speeds, the live windows of its
// speed-perturbed copies (perturbed[i], all speeds together; nil without
// Speeds).
func (fz *Featurizer) Featurize(ctx context.Context, items []Item, windows bool, progress func()) (vecs [][]float64, wins, perturbed [][][]float64, skipped map[int]error, err error) {
	for _, a := range fz.Speeds {
		if !(a >= 0.5 && a <= 2) {
			return nil, nil, nil, nil, fmt.Errorf("speed perturbation %g: want a factor from 0.5 to 2", a)
		}
	}
	for _, l := range fz.Levels {
		if !(l >= -50 && l <= -3) {
			return nil, nil, nil, nil, fmt.Errorf("speech level %g dBFS: want -50 to -3", l)
		}
	}
	vecs = make([][]float64, len(items))
	wins = make([][][]float64, len(items))
	if windows && len(fz.Speeds)+len(fz.Levels) > 0 {
		perturbed = make([][][]float64, len(items))
	}
	skipped = map[int]error{}
	var mu sync.Mutex
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ext := features.NewExtractor()
			var det *vad.Detector
			if fz.VAD != nil {
				det = fz.VAD.NewDetector()
			}
			for i := range jobs {
				x, err := audio.DecodeFile(items[i].Path, features.Rate)
				var v []float64
				var w, pw [][]float64
				if err == nil {
					a, mask := fz.analyze(ext, det, x)
					var ok bool
					if v, ok = features.Summarize(a, 0, len(a.Frames), mask); !ok {
						err = fmt.Errorf("%s: too little voiced speech", items[i].Path)
					} else if windows {
						w = windowsOf(a, mask)
						for _, s := range fz.Speeds {
							pw = append(pw, windowsOf(fz.analyze(ext, det, Speed(x, s)))...)
						}
						for _, l := range fz.Levels {
							pw = append(pw, windowsOf(fz.analyze(ext, det, AtLevel(x, a, mask, l)))...)
						}
					}
				}
				mu.Lock()
				if err != nil {
					skipped[i] = err
				} else {
					vecs[i], wins[i] = v, w
					if perturbed != nil {
						perturbed[i] = pw
					}
				}
				mu.Unlock()
				if progress != nil {
					progress()
				}
			}
		}()
	}
	for i := range items {
		select {
		case jobs <- i:
		case <-ctx.Done():
			close(jobs)
			wg.Wait()
			return nil, nil, nil, nil, ctx.Err()
		}
	}
	close(jobs)
	wg.Wait()
	return vecs, wins, perturbed, skipped, nil
}

// AtLevel returns a copy of x scaled so that the mean power of its speech
// frames (mask; all frames if nil) is db dBFS, clipped at full scale.
func AtLevel(x []float32, a *features.Analysis, mask []bool, db float64) []float32 {
	var p float64
	n := 0
	for f, fr := range a.Frames {
		if mask == nil || (f < len(mask) && mask[f]) {
			p += math.Pow(10, fr.Energy/10)
			n++
		}
	}
	out := make([]float32, len(x))
	if n == 0 || p == 0 {
		copy(out, x)
		return out
	}
	g := math.Pow(10, (db-10*math.Log10(p/float64(n)))/20)
	for i, v := range x {
		out[i] = float32(max(-1, min(1, float64(v)*g)))
	}
	return out
}

// Speed returns x (16 kHz) played a times as fast: read as if sampled at
// a·16 kHz and resampled to 16 kHz (the factor rounded to 1/1000).
func Speed(x []float32, a float64) []float32 {
	from := int(math.Round(a * 1000))
	return audio.Resample(x, from*features.Rate/1000, features.Rate)
}
