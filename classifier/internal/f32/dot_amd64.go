package f32

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b []float32) float32

func dot(a, b []float32) float32 {
	if useAVX2 {
		return dotAVX2(a, b)
	}
	return dotGeneric(a, b)
}

//go:noescape
func pw2AVX2(out0, out1, x0, x1, w *float32, in, outC int)

//go:noescape
func mulAddAVX2(y, a, b []float32)

//go:noescape
func axpyAVX2(y []float32, a float32, x []float32)

func axpy(y []float32, a float32, x []float32) {
	if useAVX2 {
		axpyAVX2(y, a, x)
		return
	}
	axpyGeneric(y, a, x)
}

func mulAdd(y, a, b []float32) {
	if useAVX2 {
		mulAddAVX2(y, a, b)
		return
	}
	mulAddGeneric(y, a, b)
}

func pointwisePair(out0, out1, x0, x1, w []float32, in, outC int) {
	if useAVX2 && outC%32 == 0 {
		pw2AVX2(&out0[0], &out1[0], &x0[0], &x1[0], &w[0], in, outC)
		return
	}
	pointwisePairGeneric(out0, out1, x0, x1, w, in, outC)
}

//go:noescape
func dwRowAVX2(y, x, w *float32, n, c, xstride int)

func dwRow(y, x, w []float32, n, c, xstride int) {
	if useAVX2 && c%8 == 0 {
		dwRowAVX2(&y[0], &x[0], &w[0], n, c, xstride)
		return
	}
	dwRowGeneric(y, x, w, n, c, xstride)
}
