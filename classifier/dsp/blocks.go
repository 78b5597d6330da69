package dsp

import (
	"math"

	"contactd/classifier/internal/f32"
)

// Hamming returns the symmetric Hamming window of n points.
func Hamming(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.54 - 0.46*math.Cos(2*math.Pi*float64(i)/float64(n-1))
	}
	return w
}

// Hann returns the symmetric Hann window of n points.
func Hann(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
	}
	return w
}

// Mel converts Hz to mel (O'Shaughnessy's formula).
func Mel(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }

// MelInv converts mel to Hz.
func MelInv(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }

// Filterbank is a set of triangular filters over power-spectrum bins.
type Filterbank struct {
	// Filter b covers bins Start[b] .. Start[b]+len(W[b])-1 with weights W[b].
	Start []int
	W     [][]float64
}

// NewMelFilterbank makes n triangular filters equally spaced in mel from lo
// to hi Hz, for a power spectrum of nfft/2+1 bins at rate sr.
func NewMelFilterbank(n, nfft, sr int, lo, hi float64) *Filterbank {
	fb := &Filterbank{Start: make([]int, n), W: make([][]float64, n)}
	ml, mh := Mel(lo), Mel(hi)
	edge := func(i int) float64 { return MelInv(ml + (mh-ml)*float64(i)/float64(n+1)) }
	binHz := float64(sr) / float64(nfft)
	for b := 0; b < n; b++ {
		l, c, r := edge(b), edge(b+1), edge(b+2)
		first := int(math.Ceil(l / binHz))
		var w []float64
		for k := first; float64(k)*binHz < r && k <= nfft/2; k++ {
			f := float64(k) * binHz
			var v float64
			if f <= c {
				v = (f - l) / (c - l)
			} else {
				v = (r - f) / (r - c)
			}
			w = append(w, math.Max(v, 0))
		}
		fb.Start[b], fb.W[b] = first, w
	}
	return fb
}

// Apply writes each filter's weighted sum of the power spectrum into out.
func (fb *Filterbank) Apply(power []float64, out []float64) {
	for b, w := range fb.W {
		var s float64
		p := power[fb.Start[b]:]
		for i, v := range w {
			s += v * p[i]
		}
		out[b] = s
	}
}

// DCT is a DCT-II of fixed sizes (orthonormal), for cepstra.
type DCT struct {
	n, m int
	t    []float64 // [m][n]
}

// NewDCT makes a DCT taking n inputs to the first m coefficients.
func NewDCT(n, m int) *DCT {
	d := &DCT{n: n, m: m, t: make([]float64, n*m)}
	for k := 0; k < m; k++ {
		s := math.Sqrt(2 / float64(n))
		if k == 0 {
			s = math.Sqrt(1 / float64(n))
		}
		for i := 0; i < n; i++ {
			d.t[k*n+i] = s * math.Cos(math.Pi*float64(k)*(float64(i)+0.5)/float64(n))
		}
	}
	return d
}

// Apply writes the m coefficients of x (len n) into out.
func (d *DCT) Apply(x, out []float64) {
	for k := 0; k < d.m; k++ {
		var s float64
		row := d.t[k*d.n : (k+1)*d.n]
		for i, v := range x {
			s += row[i] * v
		}
		out[k] = s
	}
}

// LPC returns the coefficients a[1..p] of the order-p linear predictor of
// x (x[n] ≈ -Σ a[k] x[n-k]) by the autocorrelation method and the
// Levinson-Durbin recursion, with the prediction error power; ok is false
// for a silent or degenerate frame.
func LPC(x []float64, p int) (a []float64, errPow float64, ok bool) {
	r := make([]float64, p+1)
	for k := 0; k <= p && k < len(x); k++ {
		r[k] = f32.Dot64(x[k:], x[:len(x)-k])
	}
	if r[0] <= 1e-12 {
		return nil, 0, false
	}
	r[0] *= 1 + 1e-9 // a whisper of white noise keeps the recursion stable
	a = make([]float64, p+1)
	a[0] = 1
	e := r[0]
	tmp := make([]float64, p+1)
	for i := 1; i <= p; i++ {
		acc := r[i]
		for j := 1; j < i; j++ {
			acc += a[j] * r[i-j]
		}
		k := -acc / e
		copy(tmp, a)
		for j := 1; j < i; j++ {
			a[j] = tmp[j] + k*tmp[i-j]
		}
		a[i] = k
		e *= 1 - k*k
		if e <= 0 {
			return nil, 0, false
		}
	}
	return a[1:], e, true
}
