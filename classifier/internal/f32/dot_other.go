//go:build !amd64

package f32

func dot(a, b []float32) float32 { return dotGeneric(a, b) }

func axpy(y []float32, a float32, x []float32) { axpyGeneric(y, a, x) }
func mulAdd(y, a, b []float32)                 { mulAddGeneric(y, a, b) }

func pointwisePair(out0, out1, x0, x1, w []float32, in, outC int) {
	pointwisePairGeneric(out0, out1, x0, x1, w, in, outC)
}

func dwRow(y, x, w []float32, n, c, xstride int) { dwRowGeneric(y, x, w, n, c, xstride) }
