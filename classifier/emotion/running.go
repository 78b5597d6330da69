package emotion

import (
	"math"
	"slices"
	"sync"
)

// RunningBaseline follows one speaker's feature distribution as their
// speech comes in: exponentially weighted (HalfLife windows), and blended
// with the population baseline until it has seen Warmup windows, so the
// first minutes of a shift are read against everyone and later ones
// against the speaker's own voice.
type RunningBaseline struct {
	mu     sync.Mutex // an employee may move between stations mid-shift
	Mean   []float64  `json:"mean"`
	Var    []float64  `json:"var"`
	Count  float64    `json:"count"` // effective number of windows (decayed)
	Seen   float64    `json:"seen"`  // windows ever added
	Warmup float64    `json:"-"`
	Decay  float64    `json:"-"` // per-window weight of the past
}

// NewRunningBaseline starts an empty baseline with a half-life of
// halfLife windows (seconds of speech, live) and warm-up of warmup.
func NewRunningBaseline(dims int, halfLife, warmup float64) *RunningBaseline {
	return &RunningBaseline{Mean: make([]float64, dims), Var: make([]float64, dims), Warmup: warmup,
		Decay: math.Pow(0.5, 1/halfLife)}
}

// Update adds one window's raw functionals.
func (r *RunningBaseline) Update(v []float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Seen++
	if r.Count == 0 {
		copy(r.Mean, v)
		clear(r.Var)
		r.Count = 1
		return
	}
	n := r.Count*r.Decay + 1
	w := 1 / n
	for i, x := range v {
		d := x - r.Mean[i]
		r.Mean[i] += w * d
		r.Var[i] = (1 - w) * (r.Var[i] + w*d*d)
	}
	r.Count = n
}

// Baseline is the current blend of the speaker's and the population's.
func (r *RunningBaseline) Baseline(pop Baseline) Baseline {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.Seen / (r.Seen + r.Warmup)
	b := Baseline{Mean: make([]float64, len(r.Mean)), Std: make([]float64, len(r.Mean))}
	for i := range r.Mean {
		m := w*r.Mean[i] + (1-w)*pop.Mean[i]
		// Mixture variance: both spreads plus the spread of the two means.
		v := w*r.Var[i] + (1-w)*pop.Std[i]*pop.Std[i] + w*(1-w)*(r.Mean[i]-pop.Mean[i])*(r.Mean[i]-pop.Mean[i])
		b.Mean[i], b.Std[i] = m, math.Sqrt(v)
	}
	return b
}

// Snapshot is a copy safe to encode while the baseline keeps learning.
func (r *RunningBaseline) Snapshot() *RunningBaseline {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &RunningBaseline{Mean: slices.Clone(r.Mean), Var: slices.Clone(r.Var), Count: r.Count, Seen: r.Seen,
		Warmup: r.Warmup, Decay: r.Decay}
}

// Restore takes the learnt state of a saved baseline of the same size.
func (r *RunningBaseline) Restore(saved *RunningBaseline) bool {
	if saved == nil || len(saved.Mean) != len(r.Mean) || len(saved.Var) != len(r.Var) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	copy(r.Mean, saved.Mean)
	copy(r.Var, saved.Var)
	r.Count, r.Seen = saved.Count, saved.Seen
	return true
}
