package speaker

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSupervector: frames drawn around one component's mean shifted by
// one standard deviation move that component's part of the supervector
// towards sqrt(weight)·shift·n/(n+r), and leave the others near zero.
func TestSupervector(t *testing.T) {
	g := &GMM{Weights: []float64{0.5, 0.5}, Means: [][]float64{{-10, 0}, {10, 0}}, Vars: [][]float64{{4, 1}, {4, 1}}}
	g.prepare()
	r := rand.New(rand.NewPCG(1, 2))
	var frames [][]float64
	for i := 0; i < 400; i++ {
		frames = append(frames, []float64{10 + 2 + 0.1*r.NormFloat64(), 0.1 * r.NormFloat64()})
	}
	sv := g.Supervector(frames, 16)
	if len(sv) != 4 {
		t.Fatalf("%d entries, want 4", len(sv))
	}
	want := math.Sqrt(0.5) * 1 * 400 / 416 // one standard deviation (2 of sqrt 4)
	if math.Abs(sv[2]-want) > 0.02 {
		t.Errorf("shifted component: %.3f, want %.3f", sv[2], want)
	}
	for _, i := range []int{0, 1, 3} {
		if math.Abs(sv[i]) > 0.02 {
			t.Errorf("entry %d: %.3f, want about 0", i, sv[i])
		}
	}
}
