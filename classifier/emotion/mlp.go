package emotion

import (
	"math"
	"math/rand/v2"
)

// Network is a one-hidden-layer perceptron with three heads: a softmax
// over the four classes, and sigmoids for high arousal and for positive
// valence. Hidden == 0 makes it a (multi-task) logistic regression.
type Network struct {
	In     int       `json:"in"`
	Hidden int       `json:"hidden"`
	W1     []float64 `json:"w1,omitempty"` // [Hidden][In]
	B1     []float64 `json:"b1,omitempty"`
	W2     []float64 `json:"w2"` // [outs][width]
	B2     []float64 `json:"b2"`
}

const outs = 4 + 2 // class logits, arousal, valence

func (n *Network) width() int {
	if n.Hidden == 0 {
		return n.In
	}
	return n.Hidden
}

// Output of one forward pass.
type Output struct {
	Probs            [4]float64
	Arousal, Valence float64 // probabilities of high arousal, positive valence
}

func softmax4(z []float64) (p [4]float64) {
	m := math.Max(math.Max(z[0], z[1]), math.Max(z[2], z[3]))
	var s float64
	for i := range 4 {
		p[i] = math.Exp(z[i] - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// forward computes the hidden activations into h (len width) and the
// output logits into z (len outs).
func (n *Network) forward(x, h, z []float64) {
	if n.Hidden == 0 {
		copy(h, x)
	} else {
		for j := 0; j < n.Hidden; j++ {
			s := n.B1[j]
			w := n.W1[j*n.In : (j+1)*n.In]
			for i, v := range x {
				s += w[i] * v
			}
			h[j] = math.Tanh(s)
		}
	}
	w := n.width()
	for o := 0; o < outs; o++ {
		s := n.B2[o]
		row := n.W2[o*w : (o+1)*w]
		for j, v := range h {
			s += row[j] * v
		}
		z[o] = s
	}
}

// Predict runs the network on one standardised vector.
func (n *Network) Predict(x []float64) Output {
	h := make([]float64, n.width())
	z := make([]float64, outs)
	n.forward(x, h, z)
	return Output{Probs: softmax4(z[:4]), Arousal: sigmoid(z[4]), Valence: sigmoid(z[5])}
}

// TrainConfig sets the optimiser.
type TrainConfig struct {
	Hidden       int     `json:"hidden"`
	Epochs       int     `json:"epochs"`
	Batch        int     `json:"batch"`
	LearningRate float64 `json:"learning_rate"`
	L2           float64 `json:"l2"`
	InputDropout float64 `json:"input_dropout"`
	Seed         uint64  `json:"seed"`
	// StrangerSpeeds are the speed perturbations whose windows were added
	// to the strangers' training (Featurizer.Speeds); Train itself does not
	// read it, the model file records it so that the training can be rerun.
	StrangerSpeeds []float64 `json:"stranger_speeds,omitempty"`
	// StrangerLevels likewise records Featurizer.Levels.
	StrangerLevels []float64 `json:"stranger_levels,omitempty"`
}

// Sample is one training example; targets < 0 are unknown.
type Sample struct {
	X                []float64
	Class            int
	Arousal, Valence int
}

// Train fits a network with Adam on the samples, weighting classes so that
// each of the four (and each side of arousal and valence) counts equally.
func Train(samples []Sample, cfg TrainConfig) *Network {
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	in := len(samples[0].X)
	n := &Network{In: in, Hidden: cfg.Hidden}
	w := n.width()
	if cfg.Hidden > 0 {
		n.W1, n.B1 = make([]float64, cfg.Hidden*in), make([]float64, cfg.Hidden)
		for i := range n.W1 {
			n.W1[i] = r.NormFloat64() * math.Sqrt(1/float64(in))
		}
	}
	n.W2, n.B2 = make([]float64, outs*w), make([]float64, outs)
	for i := range n.W2 {
		n.W2[i] = r.NormFloat64() * math.Sqrt(1/float64(w)) * 0.1
	}
	// Balanced weights.
	var cc [4]float64
	var ac, vc [2]float64
	for _, s := range samples {
		if s.Class >= 0 {
			cc[s.Class]++
		}
		if s.Arousal >= 0 {
			ac[s.Arousal]++
		}
		if s.Valence >= 0 {
			vc[s.Valence]++
		}
	}
	bal := func(c []float64) []float64 {
		var tot, k float64
		for _, v := range c {
			if v > 0 {
				tot += v
				k++
			}
		}
		out := make([]float64, len(c))
		for i, v := range c {
			if v > 0 {
				out[i] = tot / (k * v)
			}
		}
		return out
	}
	cw, aw, vw := bal(cc[:]), bal(ac[:]), bal(vc[:])

	params := [][]float64{n.W1, n.B1, n.W2, n.B2}
	grads := make([][]float64, len(params))
	m1 := make([][]float64, len(params))
	m2 := make([][]float64, len(params))
	for i, p := range params {
		grads[i], m1[i], m2[i] = make([]float64, len(p)), make([]float64, len(p)), make([]float64, len(p))
	}
	const b1, b2, eps = 0.9, 0.999, 1e-8
	step := 0
	order := make([]int, len(samples))
	for i := range order {
		order[i] = i
	}
	x := make([]float64, in)
	h := make([]float64, w)
	z := make([]float64, outs)
	dz := make([]float64, outs)
	dh := make([]float64, w)
	batch := max(cfg.Batch, 1)
	for ep := 0; ep < cfg.Epochs; ep++ {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += batch {
			for _, g := range grads {
				clear(g)
			}
			end := min(start+batch, len(order))
			for _, idx := range order[start:end] {
				s := samples[idx]
				for i, v := range s.X {
					if cfg.InputDropout > 0 && r.Float64() < cfg.InputDropout {
						x[i] = 0
					} else {
						x[i] = v / (1 - cfg.InputDropout)
					}
				}
				n.forward(x, h, z)
				clear(dz)
				if s.Class >= 0 {
					p := softmax4(z[:4])
					for k := range 4 {
						t := 0.0
						if k == s.Class {
							t = 1
						}
						dz[k] = cw[s.Class] * (p[k] - t)
					}
				}
				if s.Arousal >= 0 {
					dz[4] = aw[s.Arousal] * (sigmoid(z[4]) - float64(s.Arousal))
				}
				if s.Valence >= 0 {
					dz[5] = vw[s.Valence] * (sigmoid(z[5]) - float64(s.Valence))
				}
				gW2, gB2 := grads[2], grads[3]
				clear(dh)
				for o := 0; o < outs; o++ {
					if dz[o] == 0 {
						continue
					}
					gB2[o] += dz[o]
					row := n.W2[o*w : (o+1)*w]
					grow := gW2[o*w : (o+1)*w]
					for j, v := range h {
						grow[j] += dz[o] * v
						dh[j] += dz[o] * row[j]
					}
				}
				if n.Hidden > 0 {
					gW1, gB1 := grads[0], grads[1]
					for j := 0; j < n.Hidden; j++ {
						d := dh[j] * (1 - h[j]*h[j])
						if d == 0 {
							continue
						}
						gB1[j] += d
						g := gW1[j*in : (j+1)*in]
						for i, v := range x {
							g[i] += d * v
						}
					}
				}
			}
			step++
			scale := 1 / float64(end-start)
			c1 := 1 - math.Pow(b1, float64(step))
			c2 := 1 - math.Pow(b2, float64(step))
			for pi, p := range params {
				g := grads[pi]
				decay := pi == 0 || pi == 2 // weights, not biases
				for i := range p {
					gi := g[i] * scale
					if decay {
						gi += cfg.L2 * p[i]
					}
					m1[pi][i] = b1*m1[pi][i] + (1-b1)*gi
					m2[pi][i] = b2*m2[pi][i] + (1-b2)*gi*gi
					p[i] -= cfg.LearningRate * (m1[pi][i] / c1) / (math.Sqrt(m2[pi][i]/c2) + eps)
				}
			}
		}
	}
	return n
}
