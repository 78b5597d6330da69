// Package f32 has the float32 vector kernels the classifiers spend their
// time in, with AVX2/FMA assembly on amd64 and a portable Go version
// everywhere else (and for checking the assembly).
package f32

// Dot returns the sum of a[i]*b[i]; b must be at least as long as a.
func Dot(a, b []float32) float32 {
	if len(b) < len(a) {
		panic("f32.Dot: b shorter than a")
	}
	if len(a) == 0 {
		return 0
	}
	return dot(a, b)
}

// MatVec sets out[r] = bias[r] + w[r,:]·x for a row-major rows×len(x)
// matrix w; bias may be nil.
func MatVec(out, w, x, bias []float32) {
	cols := len(x)
	if len(w) < len(out)*cols {
		panic("f32.MatVec: matrix too small")
	}
	for r := range out {
		var s float32
		if bias != nil {
			s = bias[r]
		}
		out[r] = s + dot(w[r*cols:(r+1)*cols], x)
	}
}

// Dot64 is Dot for float64, in portable Go.
func Dot64(a, b []float64) float64 { return dotGeneric(a, b) }

// dotGeneric keeps four partial sums so the additions can overlap.
func dotGeneric[T float32 | float64](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy adds a*x[i] to y[i]; x must be at least as long as y.
func Axpy(y []float32, a float32, x []float32) {
	if len(x) < len(y) {
		panic("f32.Axpy: x shorter than y")
	}
	axpy(y, a, x)
}

// MulAdd adds a[i]*b[i] to y[i]; a and b must be at least as long as y.
func MulAdd(y, a, b []float32) {
	if len(a) < len(y) || len(b) < len(y) {
		panic("f32.MulAdd: a or b shorter than y")
	}
	mulAdd(y, a, b)
}

func axpyGeneric(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

func mulAddGeneric(y, a, b []float32) {
	a, b = a[:len(y)], b[:len(y)]
	for i := range y {
		y[i] += a[i] * b[i]
	}
}

// PointwisePair adds, for two pixels at once, out{0,1}[o] += Σi x{0,1}[i]·w[i·outC+o]
// (w is in × outC, row-major): the inner loop of 1×1 convolutions. out0 and
// out0 and out1 must not overlap.
func PointwisePair(out0, out1, x0, x1, w []float32, in, outC int) {
	if len(out0) < outC || len(out1) < outC || len(x0) < in || len(x1) < in || len(w) < in*outC || in <= 0 || outC <= 0 {
		panic("f32.PointwisePair: slices too short")
	}
	pointwisePair(out0, out1, x0, x1, w, in, outC)
}

func pointwisePairGeneric(out0, out1, x0, x1, w []float32, in, outC int) {
	for i := 0; i < in; i++ {
		row := w[i*outC : (i+1)*outC]
		a, b := x0[i], x1[i]
		for o, v := range row {
			out0[o] += a * v
			out1[o] += b * v
		}
	}
}

// DepthwiseRow adds one tap of a depthwise convolution along a row of n
// output pixels of c channels: y[p·c+j] += x[p·xstride+j]·w[j].
func DepthwiseRow(y, x, w []float32, n, c, xstride int) {
	if n <= 0 {
		return
	}
	if len(y) < n*c || len(x) < (n-1)*xstride+c || len(w) < c {
		panic("f32.DepthwiseRow: slices too short")
	}
	dwRow(y, x, w, n, c, xstride)
}

func dwRowGeneric(y, x, w []float32, n, c, xstride int) {
	for p := 0; p < n; p++ {
		yp, xp := y[p*c:(p+1)*c], x[p*xstride:p*xstride+c]
		for j := range yp {
			yp[j] += xp[j] * w[j]
		}
	}
}
