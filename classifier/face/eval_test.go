package face

import (
	"context"
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
// positions and scales (60–220 px) in 640×480 frames. The target is recall
// ≥ 0.95 at IoU 0.5 with ≤ 0.1 false positives a frame. The built-in head
// (retrained on scenes of training faces; threshold and sizes chosen on
// held-out training faces) is held to it; the network's own head, with the
// scene settings chosen for it, reaches about 0.86 and is guarded there.
func TestDetectorOnComposedScenes(t *testing.T) {
	var crops []*Image
	for _, s := range readSamples(t, validation(t), nil) {
		crops = append(crops, s.Image)
	}
	frames := 120
	if testing.Short() {
		frames = 30
	}
	for _, c := range []struct {
		head                 string
		minRecall, maxFP     float64
		shippedSceneSettings bool
	}{
		{"", 0.95, 0.1, false},
		{"none", 0.85, 0.2, true},
	} {
		det, err := LoadDetector(modelDir(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := det.UseHead(c.head); err != nil {
			t.Fatal(err)
		}
		if c.shippedSceneSettings {
			det.Scales, det.ScoreThreshold = SceneScales, SceneThreshold
		}
		r := EvaluateDetector(det, crops, frames, 640, 480, 60, 220, 42)
		t.Logf("head %q, sizes %v, threshold %.2f, %d frames: %+v", c.head, det.Scales, det.ScoreThreshold, frames, r)
		if r.Recall < c.minRecall || r.FPPerFrame > c.maxFP || r.MeanIoU < 0.7 {
			t.Errorf("head %q: recall %.3f (want ≥ %.2f), %.3f false positives a frame (want ≤ %.2f), mean IoU %.2f", c.head, r.Recall, c.minRecall, r.FPPerFrame, c.maxFP, r.MeanIoU)
		}
	}
}

// TestBuiltinExpressionOnValidation: the built-in classifier on FER2013's
// validation crops (never trained on) against the targets: 7-class
// accuracy ≥ 0.66 and happy-vs-rest AUC ≥ 0.95 (README, Accuracy), and
// well over the network as shipped.
func TestBuiltinExpressionOnValidation(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	samples := readSamples(t, validation(t), nil)
	imgs, truth := make([]*Image, len(samples)), make([]string, len(samples))
	for i, s := range samples {
		imgs[i], truth[i] = s.Image, s.Label
	}
	eval := func(head string) Report {
		if err := net.UseHead(head); err != nil {
			t.Fatal(err)
		}
		probs, err := net.ClassifyAll(context.Background(), imgs, nil)
		if err != nil {
			t.Fatal(err)
		}
		return Evaluate(probs, truth)
	}
	shipped, builtin := eval("none"), eval("")
	t.Logf("n %d: shipped accuracy %.4f AUC %.4f; built-in accuracy %.4f AUC %.4f, recall %v", builtin.N, shipped.Accuracy, shipped.HappyAUC, builtin.Accuracy, builtin.HappyAUC, builtin.PerClass)
	if builtin.Accuracy < 0.66 || builtin.HappyAUC < 0.95 || builtin.Accuracy < shipped.Accuracy+0.05 {
		t.Errorf("built-in: accuracy %.4f (target 0.66, and 5 points over the shipped %.4f), happy AUC %.4f (target 0.95)", builtin.Accuracy, shipped.Accuracy, builtin.HappyAUC)
	}
}
