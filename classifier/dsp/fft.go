// Package dsp has the signal-processing blocks the voice features use: a
// real FFT, windows, a mel filterbank and a DCT.
package dsp

import (
	"fmt"
	"math"
	"math/bits"
)

// FFT is a radix-2 transform of a fixed size with its tables.
type FFT struct {
	n        int
	cos, sin []float64
	rev      []int
	// for the real transform of size 2n
	rcos, rsin []float64
	re, im     []float64
}

// NewRealFFT prepares the transform of n real samples (n a power of two),
// computed as one complex transform of n/2 points.
func NewRealFFT(n int) *FFT {
	if n < 4 || n&(n-1) != 0 {
		panic(fmt.Sprintf("dsp: FFT size %d is not a power of two ≥ 4", n))
	}
	h := n / 2
	f := &FFT{n: h, cos: make([]float64, h/2), sin: make([]float64, h/2), rev: make([]int, h),
		rcos: make([]float64, h), rsin: make([]float64, h), re: make([]float64, h), im: make([]float64, h)}
	for k := range f.cos {
		f.cos[k] = math.Cos(2 * math.Pi * float64(k) / float64(h))
		f.sin[k] = math.Sin(2 * math.Pi * float64(k) / float64(h))
	}
	shift := 64 - bits.Len(uint(h-1))
	for i := range f.rev {
		f.rev[i] = int(bits.Reverse64(uint64(i)) >> shift)
	}
	if h == 1 {
		f.rev[0] = 0
	}
	for k := range f.rcos {
		f.rcos[k] = math.Cos(math.Pi * float64(k) / float64(h))
		f.rsin[k] = math.Sin(math.Pi * float64(k) / float64(h))
	}
	return f
}

// Size is the number of real input samples.
func (f *FFT) Size() int { return 2 * f.n }

// complex transforms re, im in place (forward, no scaling); they are
// already in bit-reversed order.
func (f *FFT) complex(re, im []float64) {
	n := f.n
	for size := 2; size <= n; size <<= 1 {
		half, step := size/2, n/size
		for start := 0; start < n; start += size {
			for j, t := 0, 0; j < half; j, t = j+1, t+step {
				c, s := f.cos[t], -f.sin[t]
				a, b := start+j, start+j+half
				tr := re[b]*c - im[b]*s
				ti := re[b]*s + im[b]*c
				re[b], im[b] = re[a]-tr, im[a]-ti
				re[a] += tr
				im[a] += ti
			}
		}
	}
}

// Power writes |X[k]|² for k = 0..n/2 of the real input x (len(x) ≤ n,
// zero-padded) into out (len n/2+1).
func (f *FFT) Power(x []float64, out []float64) {
	re, im := f.spectrum(x)
	out[0] = re[0] * re[0]
	out[f.n] = im[0] * im[0]
	for k := 1; k < f.n; k++ {
		out[k] = re[k]*re[k] + im[k]*im[k]
	}
}

// Spectrum writes the complex spectrum X[0..n/2] of x into re, im (each
// len n/2+1).
func (f *FFT) Spectrum(x []float64, re, im []float64) {
	r, i := f.spectrum(x)
	re[0], im[0] = r[0], 0
	re[f.n], im[f.n] = i[0], 0
	for k := 1; k < f.n; k++ {
		re[k], im[k] = r[k], i[k]
	}
}

// spectrum returns X[k] for k=1..n-1 in re[k], im[k], with X[0] in re[0]
// and X[n/2... the Nyquist term] in im[0] (both real).
func (f *FFT) spectrum(x []float64) ([]float64, []float64) {
	n := f.n
	re, im := f.re, f.im
	for j := 0; j < n; j++ {
		var a, b float64
		if 2*j < len(x) {
			a = x[2*j]
		}
		if 2*j+1 < len(x) {
			b = x[2*j+1]
		}
		re[f.rev[j]], im[f.rev[j]] = a, b
	}
	f.complex(re, im)
	// Untangle the two interleaved real transforms: X[k] = E[k] + W^k O[k].
	dc, ny := re[0]+im[0], re[0]-im[0]
	for k := 1; k <= n/2; k++ {
		j := n - k
		er, ei := (re[k]+re[j])/2, (im[k]-im[j])/2
		or, oi := (im[k]+im[j])/2, -(re[k]-re[j])/2
		c, s := f.rcos[k], -f.rsin[k]
		xr, xi := er+or*c-oi*s, ei+or*s+oi*c
		// and the mirrored bin j: E[j] = conj(E[k]), O[j] = conj(O[k])
		c2, s2 := f.rcos[j], -f.rsin[j]
		yr, yi := er+or*c2+oi*s2, -ei+or*s2-oi*c2
		re[k], im[k], re[j], im[j] = xr, xi, yr, yi
	}
	re[0], im[0] = dc, ny
	return re, im
}
