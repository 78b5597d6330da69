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
