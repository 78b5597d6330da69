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
