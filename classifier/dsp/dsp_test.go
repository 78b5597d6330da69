package dsp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRealFFT against a direct DFT for random input.
func TestRealFFT(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{4, 8, 64, 512} {
		f := NewRealFFT(n)
		x := make([]float64, n-1) // one short: zero padding
		for i := range x {
			x[i] = r.Float64()*2 - 1
		}
		re, im := make([]float64, n/2+1), make([]float64, n/2+1)
		pw := make([]float64, n/2+1)
		f.Spectrum(x, re, im)
		f.Power(x, pw)
		for k := 0; k <= n/2; k++ {
			var wr, wi float64
			for j, v := range x {
				a := -2 * math.Pi * float64(j*k) / float64(n)
				wr += v * math.Cos(a)
				wi += v * math.Sin(a)
			}
			if math.Abs(re[k]-wr) > 1e-9 || math.Abs(im[k]-wi) > 1e-9 || math.Abs(pw[k]-(wr*wr+wi*wi)) > 1e-8 {
				t.Fatalf("n=%d k=%d: got %v%+vi (%v), want %v%+vi", n, k, re[k], im[k], pw[k], wr, wi)
			}
		}
	}
}

// TestLPC recovers the coefficients of a known second-order resonator.
func TestLPC(t *testing.T) {
	// x[n] = 1.6 x[n-1] - 0.8 x[n-2] + noise
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, 20000)
	for n := 2; n < len(x); n++ {
		x[n] = 1.6*x[n-1] - 0.8*x[n-2] + r.NormFloat64()
	}
	a, _, ok := LPC(x, 2)
	if !ok || math.Abs(a[0]+1.6) > 0.02 || math.Abs(a[1]-0.8) > 0.02 {
		t.Fatalf("a = %v, want [-1.6 0.8]", a)
	}
	if _, _, ok := LPC(make([]float64, 100), 4); ok {
		t.Error("silence gave a predictor")
	}
}

// TestMelFilterbank: filters cover the range, peak at 1, and a tone lands
// in the filter whose centre is nearest.
func TestMelFilterbank(t *testing.T) {
	fb := NewMelFilterbank(26, 512, 16000, 20, 8000)
	power := make([]float64, 257)
	power[32] = 1 // 1000 Hz
	out := make([]float64, 26)
	fb.Apply(power, out)
	best := 0
	for b := range out {
		if out[b] > out[best] {
			best = b
		}
	}
	centre := MelInv(Mel(20) + (Mel(8000)-Mel(20))*float64(best+1)/27)
	if math.Abs(centre-1000) > 80 {
		t.Errorf("1 kHz lands in filter %d centred at %.0f Hz", best, centre)
	}
}
