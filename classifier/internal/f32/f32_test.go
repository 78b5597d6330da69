package f32

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotMatchesGeneric: every length from 0 to 200 (all the loop paths),
// against the portable version and a float64 sum.
func TestDotMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 200; n++ {
		a, b := make([]float32, n), make([]float32, n+3)
		var want float64
		for i := range a {
			a[i], b[i] = r.Float32()*2-1, r.Float32()*2-1
			want += float64(a[i]) * float64(b[i])
		}
		got, gen := Dot(a, b), dotGeneric(a, b)
		if math.Abs(float64(got)-want) > 1e-4 || math.Abs(float64(gen)-want) > 1e-4 {
			t.Fatalf("n=%d: Dot %v, generic %v, float64 %v", n, got, gen, want)
		}
	}
}

func TestMatVec(t *testing.T) {
	w := []float32{1, 2, 3, 4, 5, 6}
	out := make([]float32, 2)
	MatVec(out, w, []float32{1, 0, -1}, []float32{10, 20})
	if out[0] != 8 || out[1] != 18 {
		t.Fatalf("%v", out)
	}
}

func BenchmarkDot256(b *testing.B) {
	x, y := make([]float32, 256), make([]float32, 256)
	for i := range x {
		x[i], y[i] = float32(i), float32(-i)
	}
	b.Run("asm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			Dot(x, y)
		}
	})
	b.Run("generic", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			dotGeneric(x, y)
		}
	})
}

func TestPointwisePairMatchesGeneric(t *testing.T) {
	for _, dims := range [][2]int{{27, 32}, {32, 64}, {256, 256}, {5, 25}} {
		in, outC := dims[0], dims[1]
		w := make([]float32, in*outC)
		x0, x1 := make([]float32, in), make([]float32, in)
		for i := range w {
			w[i] = float32(i%13) - 6
		}
		for i := range x0 {
			x0[i], x1[i] = float32(i%5)-2, float32(i%7)*0.5
		}
		a0, a1 := make([]float32, outC), make([]float32, outC)
		b0, b1 := make([]float32, outC), make([]float32, outC)
		for o := range a0 {
			a0[o], a1[o], b0[o], b1[o] = 1, 2, 1, 2
		}
		PointwisePair(a0, a1, x0, x1, w, in, outC)
		pointwisePairGeneric(b0, b1, x0, x1, w, in, outC)
		for o := range a0 {
			if math.Abs(float64(a0[o]-b0[o])) > 1e-3 || math.Abs(float64(a1[o]-b1[o])) > 1e-3 {
				t.Fatalf("%dx%d: output %d: %v %v, want %v %v", in, outC, o, a0[o], a1[o], b0[o], b1[o])
			}
		}
	}
}

func TestMulAddMatchesGeneric(t *testing.T) {
	for _, n := range []int{1, 7, 8, 33, 256} {
		a, b, y, z := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], y[i], z[i] = float32(i)*0.25, float32(n-i), 1, 1
		}
		MulAdd(y, a, b)
		mulAddGeneric(z, a, b)
		for i := range y {
			if y[i] != z[i] {
				t.Fatalf("n=%d [%d]: %v, want %v", n, i, y[i], z[i])
			}
		}
	}
}

func TestAxpyMatchesGeneric(t *testing.T) {
	for _, n := range []int{1, 7, 8, 9, 64, 2305} {
		x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i], z[i] = float32(i%11)-5, float32(i), float32(i)
		}
		Axpy(y, 0.75, x)
		axpyGeneric(z, 0.75, x)
		for i := range y {
			if math.Abs(float64(y[i]-z[i])) > 1e-5 {
				t.Fatalf("n=%d [%d]: %v, want %v", n, i, y[i], z[i])
			}
		}
	}
}

func TestDepthwiseRowMatchesGeneric(t *testing.T) {
	for _, tc := range [][3]int{{5, 32, 32}, {3, 64, 128}, {4, 16, 16}, {2, 12, 24}} {
		n, c, xs := tc[0], tc[1], tc[2]
		x := make([]float32, (n-1)*xs+c)
		w := make([]float32, c)
		y, z := make([]float32, n*c), make([]float32, n*c)
		for i := range x {
			x[i] = float32(i%9) - 4
		}
		for i := range w {
			w[i] = float32(i%5) * 0.5
		}
		DepthwiseRow(y, x, w, n, c, xs)
		dwRowGeneric(z, x, w, n, c, xs)
		for i := range y {
			if y[i] != z[i] {
				t.Fatalf("%v [%d]: %v, want %v", tc, i, y[i], z[i])
			}
		}
	}
}
