package face

import (
	"math"
	"testing"
)

func TestAUC(t *testing.T) {
	// Every positive above every negative: 1; reversed: 0; one tie pair: a half counted.
	if a := AUC([]float64{0.9, 0.8, 0.1, 0.2}, []bool{true, true, false, false}); a != 1 {
		t.Errorf("separable: %v", a)
	}
	if a := AUC([]float64{0.1, 0.2, 0.9}, []bool{true, true, false}); a != 0 {
		t.Errorf("reversed: %v", a)
	}
	if a := AUC([]float64{0.5, 0.5, 0.2, 0.9}, []bool{true, false, false, true}); math.Abs(a-0.875) > 1e-12 {
		t.Errorf("tie: %v, want 0.875", a)
	}
}

func TestEvaluate(t *testing.T) {
	p := func(best int) []float64 {
		r := make([]float64, 7)
		r[best] = 0.9
		return r
	}
	r := Evaluate([][]float64{p(1), p(1), p(0), p(4)}, []string{"happy", "neutral", "neutral", "fear"})
	if r.N != 4 || r.Accuracy != 0.75 || r.PerClass["neutral"] != 0.5 || r.PerClass["fear"] != 1 || r.Confusion[0][1] != 1 {
		t.Errorf("%+v", r)
	}
}

// TestDetectorOnComposedScenes: FER2013 validation faces placed at random
// positions and scales in 640×480 frames are found (recall ≥ 95 % at IoU
// 0.5) with at most one false positive per ten frames.
func TestDetectorOnComposedScenes(t *testing.T) {
	det, err := LoadDetector(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var crops []*Image
	for _, s := range readSamples(t, validation(t), nil) {
		crops = append(crops, s.Image)
	}
	frames := 120
	if testing.Short() {
		frames = 30
	}
	for _, size := range []int{416} {
		det.InputSize = size
		r := EvaluateDetector(det, crops, frames, 640, 480, 60, 220, 42)
		t.Logf("input %d: %+v", size, r)
		if r.Recall < 0.95 || r.FPPerFrame > 0.1 {
			t.Errorf("input %d: recall %.3f (want ≥ 0.95), %.2f false positives a frame (want ≤ 0.1)", size, r.Recall, r.FPPerFrame)
		}
	}
}
