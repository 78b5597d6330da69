package audio

import (
	"math"

	"contactd/classifier/internal/f32"
)

// Decimator lowers the rate of a stream by an integer factor (48 kHz Opus
// to 16 kHz for the classifiers) with the same windowed-sinc low-pass as
// Resample, keeping the filter's history between calls.
type Decimator struct {
	factor int
	kernel []float32
	hist   []float32 // the last len(kernel)-1 input samples, then new input
	phase  int       // input samples to skip before the next output
}

// NewDecimator makes a decimator by factor (≥ 1).
func NewDecimator(factor int) *Decimator {
	cutoff := 0.95 / float64(factor)
	const zeros = 16
	half := int(math.Ceil(zeros / cutoff))
	k := make([]float32, 2*half+1)
	var sum float64
	w := make([]float64, len(k))
	for j := range k {
		d := float64(j - half)
		w[j] = sinc(d*cutoff) * blackman(d/float64(half+1))
		sum += w[j]
	}
	for j := range k {
		k[j] = float32(w[j] / sum)
	}
	return &Decimator{factor: factor, kernel: k, hist: make([]float32, len(k)-1)}
}

// Delay is the filter's delay in output samples.
func (d *Decimator) Delay() float64 { return float64(len(d.kernel)/2) / float64(d.factor) }

// Process takes the next input samples and appends the outputs they
// complete to dst.
func (d *Decimator) Process(in []float32, dst []float32) []float32 {
	if d.factor == 1 {
		return append(dst, in...)
	}
	d.hist = append(d.hist, in...)
	taps := len(d.kernel)
	i := d.phase
	for ; i+taps <= len(d.hist); i += d.factor {
		dst = append(dst, f32.Dot(d.kernel, d.hist[i:i+taps]))
	}
	// Keep what the next outputs still need.
	keep := d.hist[i:]
	d.phase = 0
	if len(keep) < taps-1 {
		// i went past the end: the next output starts i-len(hist) samples in.
		start := len(d.hist) - (taps - 1)
		d.phase = i - start
		keep = d.hist[start:]
	}
	d.hist = append(d.hist[:0], keep...)
	return dst
}
