package emotion

import "math"

// Baseline is the mean and spread of each feature for one speaker (or for
// the training set): vectors are expressed relative to it.
type Baseline struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// FitBaseline computes the mean and standard deviation of each column.
func FitBaseline(vecs [][]float64) Baseline {
	d := len(vecs[0])
	b := Baseline{Mean: make([]float64, d), Std: make([]float64, d)}
	for _, v := range vecs {
		for i, x := range v {
			b.Mean[i] += x
		}
	}
	for i := range b.Mean {
		b.Mean[i] /= float64(len(vecs))
	}
	for _, v := range vecs {
		for i, x := range v {
			b.Std[i] += (x - b.Mean[i]) * (x - b.Mean[i])
		}
	}
	for i := range b.Std {
		b.Std[i] = math.Sqrt(b.Std[i] / float64(len(vecs)))
	}
	return b
}

// Apply returns (v - mean) / std, with a floor on std so constant features
// stay finite, clipped to ±6 so one wild value cannot dominate.
func (b Baseline) Apply(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		s := b.Std[i]
		if s < 1e-6 {
			s = 1e-6
		}
		out[i] = math.Max(-6, math.Min(6, (x-b.Mean[i])/s))
	}
	return out
}
