package emotion

import (
	"context"
	"fmt"
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
}

// SpeechMask marks the 10 ms feature frames of x that hold speech (see
// vad.Mask).
func SpeechMask(det *vad.Detector, x []float32, threshold float32) (mask []bool, gated int) {
	return vad.Mask(det, x, threshold, features.Hop)
}

// Utterance computes the functionals of a whole recording (16 kHz). ok is
// false when it holds too little voiced speech.
func (fz *Featurizer) Utterance(ext *features.Extractor, det *vad.Detector, x []float32) ([]float64, bool) {
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
	return features.Summarize(a, 0, len(a.Frames), mask)
}

// Vectors featurizes items in parallel; skipped lists the items that could
// not be decoded or had no voiced speech (with why). progress, if set, is
// called after each item.
func (fz *Featurizer) Vectors(ctx context.Context, items []Item, progress func()) (vecs [][]float64, skipped map[int]error, err error) {
	vecs = make([][]float64, len(items))
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
				if err == nil {
					var ok bool
					if v, ok = fz.Utterance(ext, det, x); !ok {
						err = fmt.Errorf("%s: too little voiced speech", items[i].Path)
					}
				}
				mu.Lock()
				if err != nil {
					skipped[i] = err
				} else {
					vecs[i] = v
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
			return nil, nil, ctx.Err()
		}
	}
	close(jobs)
	wg.Wait()
	return vecs, skipped, nil
}
