package speaker

import (
	"math"
	"testing"
)

// A recording shifted along a nuisance direction loses that shift, and
// keeps the one across it (the speaker's).
func TestCompensateRemovesOnlyTheNuisance(t *testing.T) {
	g := &GMM{Weights: []float64{1}, Means: [][]float64{{0, 0}}, Vars: [][]float64{{4, 1}}}
	nz := &Nuisance{Version: 1, Basis: [][]float64{{1, 0}}}
	frames := make([][]float64, 400)
	for i := range frames {
		frames[i] = []float64{2, 3}
	}
	out := g.Compensate(nz, frames, nil, 1000, 10, Relevance)
	a := 400.0 / (400 + Relevance) // MAP keeps this much of the shift
	for i, x := range out {
		if math.Abs(x[0]-2*(1-a)) > 1e-9 || x[1] != 3 {
			t.Fatalf("frame %d compensated to %v, want [%.3f 3]", i, x, 2*(1-a))
		}
	}
	if frames[0][0] != 2 {
		t.Fatal("the input frames were changed")
	}
	// Frames the mask leaves out give no evidence: a window of none moves
	// nothing.
	out = g.Compensate(nz, frames, make([]bool, len(frames)), 1000, 10, Relevance)
	if out[0][0] != 2 {
		t.Fatalf("with no frame in use, frame 0 moved to %v", out[0])
	}
	// A window shorter than the recording follows its local shift.
	for i := 200; i < 400; i++ {
		frames[i] = []float64{-2, 3}
	}
	out = g.Compensate(nz, frames, nil, 50, 1, Relevance)
	if out[50][0] >= 2 || out[50][0] <= 0 || out[350][0] <= -2 || out[350][0] >= 0 {
		t.Fatalf("local shifts not followed: frame 50 → %v, frame 350 → %v", out[50], out[350])
	}
}
