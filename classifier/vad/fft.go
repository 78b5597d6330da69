package vad

import "math"

// fftScratch holds a radix-2 FFT of size nfft with its tables.
type fftScratch struct {
	re, im [nfft]float64
}

var (
	hann    [nfft]float64
	twCos   [nfft / 2]float64
	twSin   [nfft / 2]float64
	bitRev  [nfft]int
	logNfft = 8
)

func init() {
	for n := range hann {
		hann[n] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/nfft)
	}
	for k := range twCos {
		twCos[k] = math.Cos(2 * math.Pi * float64(k) / nfft)
		twSin[k] = math.Sin(2 * math.Pi * float64(k) / nfft)
	}
	for i := range bitRev {
		r := 0
		for b := 0; b < logNfft; b++ {
			if i&(1<<b) != 0 {
				r |= 1 << (logNfft - 1 - b)
			}
		}
		bitRev[i] = r
	}
}

// stftFFT computes the same magnitudes as stftMatrix when the basis is a
// Hann-windowed DFT, in O(n log n).
func (d *Detector) stftFFT(x []float32) {
	s := &d.fftBuf
	for f := 0; f < frames; f++ {
		seg := x[f*hop : f*hop+nfft]
		for n := 0; n < nfft; n++ {
			s.re[bitRev[n]] = float64(seg[n]) * hann[n]
			s.im[bitRev[n]] = 0
		}
		for size := 2; size <= nfft; size <<= 1 {
			half, step := size/2, nfft/size
			for start := 0; start < nfft; start += size {
				for j := 0; j < half; j++ {
					c, sn := twCos[j*step], -twSin[j*step]
					a, b := start+j, start+j+half
					tr := s.re[b]*c - s.im[b]*sn
					ti := s.re[b]*sn + s.im[b]*c
					s.re[b], s.im[b] = s.re[a]-tr, s.im[a]-ti
					s.re[a] += tr
					s.im[a] += ti
				}
			}
		}
		for k := 0; k < bins; k++ {
			d.mag[k*frames+f] = float32(math.Sqrt(s.re[k]*s.re[k] + s.im[k]*s.im[k]))
		}
	}
}
