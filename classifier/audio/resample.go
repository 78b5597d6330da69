package audio

import (
	"math"

	"contactd/classifier/internal/f32"
)

// Resample converts x from rate `from` to rate `to` with a windowed-sinc
// (Blackman) low-pass just under the lower Nyquist frequency, 16 zero
// crossings each side: ample for feature extraction and voice activity.
// The kernel is tabulated per output phase (to/gcd phases), so the cost is
// one dot product per output sample.
func Resample(x []float32, from, to int) []float32 {
	if from == to || len(x) == 0 || from <= 0 || to <= 0 {
		return x
	}
	g := gcd(from, to)
	up, down := to/g, from/g // output i sits at input position i*down/up
	ratio := float64(to) / float64(from)
	cutoff := math.Min(1, ratio) * 0.95
	const zeros = 16
	half := int(math.Ceil(zeros / cutoff))
	taps := 2*half + 1
	n := int(int64(len(x)) * int64(up) / int64(down))
	out := make([]float32, n)
	if up > 4096 { // odd rates: no table, compute the kernel as we go
		for i := range out {
			t := float64(i) / ratio
			out[i] = direct(x, t, half, cutoff)
		}
		return out
	}
	// table[p] is the kernel for fractional position p/up, over input
	// samples base-half .. base+half.
	table := make([][]float32, up)
	for p := range table {
		k := make([]float32, taps)
		frac := float64(p) / float64(up)
		var sum float64
		for j := range k {
			d := float64(j-half) - frac
			w := sinc(d*cutoff) * blackman(d/float64(half+1))
			k[j] = float32(w)
			sum += w
		}
		for j := range k {
			k[j] = float32(float64(k[j]) / sum)
		}
		table[p] = k
	}
	pad := make([]float32, len(x)+2*taps)
	copy(pad[taps:], x)
	for i := range out {
		pos := int64(i) * int64(down)
		base, p := int(pos/int64(up)), int(pos%int64(up))
		lo := base - half + taps
		out[i] = f32.Dot(table[p], pad[lo:lo+taps])
	}
	return out
}

func direct(x []float32, t float64, half int, cutoff float64) float32 {
	var s, wsum float64
	for j := max(int(math.Ceil(t))-half, 0); j <= int(t)+half && j < len(x); j++ {
		d := float64(j) - t
		w := sinc(d*cutoff) * blackman(d/float64(half+1))
		s += w * float64(x[j])
		wsum += w
	}
	if wsum == 0 {
		return 0
	}
	return float32(s / wsum)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// blackman is the Blackman window on [-1, 1].
func blackman(u float64) float64 {
	if u <= -1 || u >= 1 {
		return 0
	}
	a := math.Pi * (u + 1)
	return 0.42 - 0.5*math.Cos(a) + 0.08*math.Cos(2*a)
}
