// Package speaker tells the employee from everyone else at a desk
// microphone: a universal background model (a diagonal Gaussian mixture
// over cepstral frames of many speakers), an employee model adapted from it
// on about 30 s of their speech by maximum a posteriori adaptation of the
// means, and the average log-likelihood ratio of a stretch of speech under
// the two (the GMM-UBM method of Reynolds, Quatieri and Dunn, Digital
// Signal Processing 10, 2000).
package speaker

import (
	"errors"
	"math"
	"math/rand/v2"
)

// GMM is a diagonal-covariance Gaussian mixture.
type GMM struct {
	Weights []float64   `json:"weights"`
	Means   [][]float64 `json:"means"`
	Vars    [][]float64 `json:"vars"`
	// cached per component: log weight - 0.5*(d log 2π + Σ log var)
	consts []float64
}

const varFloor = 1e-3

func (g *GMM) prepare() {
	d := len(g.Means[0])
	g.consts = make([]float64, len(g.Weights))
	for k := range g.Weights {
		c := math.Log(g.Weights[k]) - 0.5*float64(d)*math.Log(2*math.Pi)
		for _, v := range g.Vars[k] {
			c -= 0.5 * math.Log(v)
		}
		g.consts[k] = c
	}
}

// logComponents writes each component's log weighted density of x into
// out and returns the log of their sum.
func (g *GMM) logComponents(x []float64, out []float64) float64 {
	if g.consts == nil {
		g.prepare()
	}
	best := math.Inf(-1)
	for k := range g.Weights {
		m, v := g.Means[k], g.Vars[k]
		s := 0.0
		for i, xi := range x {
			d := xi - m[i]
			s += d * d / v[i]
		}
		out[k] = g.consts[k] - 0.5*s
		best = math.Max(best, out[k])
	}
	var sum float64
	for _, l := range out {
		sum += math.Exp(l - best)
	}
	return best + math.Log(sum)
}

// LogLikelihood is the mean log density per frame.
func (g *GMM) LogLikelihood(frames [][]float64) float64 {
	if len(frames) == 0 {
		return 0
	}
	buf := make([]float64, len(g.Weights))
	var s float64
	for _, x := range frames {
		s += g.logComponents(x, buf)
	}
	return s / float64(len(frames))
}

// TrainGMM fits k components to frames by EM from a k-means++ start.
func TrainGMM(frames [][]float64, k, iters int, seed uint64) (*GMM, error) {
	if len(frames) < 2*k {
		return nil, errors.New("too few frames for the mixture")
	}
	r := rand.New(rand.NewPCG(seed, 11))
	d := len(frames[0])
	// Global variance, for the start and as a floor scale.
	mean, gvar := make([]float64, d), make([]float64, d)
	for _, x := range frames {
		for i, v := range x {
			mean[i] += v
		}
	}
	for i := range mean {
		mean[i] /= float64(len(frames))
	}
	for _, x := range frames {
		for i, v := range x {
			gvar[i] += (v - mean[i]) * (v - mean[i])
		}
	}
	for i := range gvar {
		gvar[i] = math.Max(gvar[i]/float64(len(frames)), varFloor)
	}
	// k-means++ seeding.
	g := &GMM{Weights: make([]float64, k), Means: make([][]float64, k), Vars: make([][]float64, k)}
	g.Means[0] = append([]float64(nil), frames[r.IntN(len(frames))]...)
	dist := make([]float64, len(frames))
	for c := 1; c < k; c++ {
		var tot float64
		for n, x := range frames {
			best := math.Inf(1)
			for j := 0; j < c; j++ {
				var s float64
				for i, v := range x {
					dd := v - g.Means[j][i]
					s += dd * dd / gvar[i]
				}
				best = math.Min(best, s)
			}
			dist[n] = best
			tot += best
		}
		u := r.Float64() * tot
		pick := len(frames) - 1
		for n, dv := range dist {
			if u -= dv; u <= 0 {
				pick = n
				break
			}
		}
		g.Means[c] = append([]float64(nil), frames[pick]...)
	}
	for c := range g.Vars {
		g.Weights[c] = 1 / float64(k)
		g.Vars[c] = append([]float64(nil), gvar...)
	}
	for it := 0; it < iters; it++ {
		g.prepare()
		nk, sx, sxx := g.posteriorStats(frames, true)
		for c := 0; c < k; c++ {
			if nk[c] < 1e-3 { // a dead component: restart it on a random frame
				g.Means[c] = append([]float64(nil), frames[r.IntN(len(frames))]...)
				g.Vars[c] = append([]float64(nil), gvar...)
				g.Weights[c] = 1 / float64(len(frames))
				continue
			}
			g.Weights[c] = nk[c] / float64(len(frames))
			for i := 0; i < d; i++ {
				m := sx[c][i] / nk[c]
				g.Means[c][i] = m
				g.Vars[c][i] = math.Max(sxx[c][i]/nk[c]-m*m, varFloor*gvar[i])
			}
		}
	}
	var ws float64
	for _, w := range g.Weights {
		ws += w
	}
	for c := range g.Weights {
		g.Weights[c] /= ws
	}
	g.prepare()
	return g, nil
}

// posteriorStats are the zeroth, first and (if second) second order
// statistics of frames weighted by each component's posterior: the E step.
func (g *GMM) posteriorStats(frames [][]float64, second bool) (nk []float64, sx, sxx [][]float64) {
	k, d := len(g.Weights), len(g.Means[0])
	nk = make([]float64, k)
	sx, sxx = make([][]float64, k), make([][]float64, k)
	for c := range sx {
		sx[c] = make([]float64, d)
		if second {
			sxx[c] = make([]float64, d)
		}
	}
	post := make([]float64, k)
	for _, x := range frames {
		tot := g.logComponents(x, post)
		for c := range post {
			p := math.Exp(post[c] - tot)
			nk[c] += p
			for i, v := range x {
				sx[c][i] += p * v
				if second {
					sxx[c][i] += p * v * v
				}
			}
		}
	}
	return nk, sx, sxx
}

// Adapt returns a copy of g with its means moved towards frames by MAP
// adaptation with relevance factor r (weights and variances kept).
func (g *GMM) Adapt(frames [][]float64, r float64) *GMM {
	k, d := len(g.Weights), len(g.Means[0])
	nk, sx, _ := g.posteriorStats(frames, false)
	out := &GMM{Weights: append([]float64(nil), g.Weights...), Means: make([][]float64, k), Vars: g.Vars}
	for c := 0; c < k; c++ {
		a := nk[c] / (nk[c] + r)
		out.Means[c] = make([]float64, d)
		for i := 0; i < d; i++ {
			ex := g.Means[c][i]
			if nk[c] > 0 {
				ex = sx[c][i] / nk[c]
			}
			out.Means[c][i] = a*ex + (1-a)*g.Means[c][i]
		}
	}
	out.prepare()
	return out
}

// FrameLogLikelihoods is the log density of each frame on its own (the
// input of frame-level segmentation).
func (g *GMM) FrameLogLikelihoods(frames [][]float64) []float64 {
	buf := make([]float64, len(g.Weights))
	out := make([]float64, len(frames))
	for i, x := range frames {
		out[i] = g.logComponents(x, buf)
	}
	return out
}

// Supervector is the MAP adaptation of g's means to frames (relevance r)
// as one vector: each component's mean shift scaled by the square root of
// its weight over its standard deviations, so that Euclidean distances
// between supervectors bound the divergence between the adapted models
// (Campbell, Sturim & Reynolds, IEEE SPL 13, 2006).
func (g *GMM) Supervector(frames [][]float64, r float64) []float64 {
	k, d := len(g.Weights), len(g.Means[0])
	nk, sx, _ := g.posteriorStats(frames, false)
	out := make([]float64, 0, k*d)
	for c := 0; c < k; c++ {
		a := nk[c] / (nk[c] + r)
		sw := math.Sqrt(g.Weights[c])
		for i := 0; i < d; i++ {
			shift := 0.0
			if nk[c] > 0 {
				shift = a * (sx[c][i]/nk[c] - g.Means[c][i])
			}
			out = append(out, sw*shift/math.Sqrt(g.Vars[c][i]))
		}
	}
	return out
}

// Offset is other's means as a supervector relative to g's (the two of
// one background, adapted to different speech), scaled as Supervector.
func (g *GMM) Offset(other *GMM) []float64 {
	out := make([]float64, 0, len(g.Weights)*len(g.Means[0]))
	for c := range g.Weights {
		sw := math.Sqrt(g.Weights[c])
		for i := range g.Means[c] {
			out = append(out, sw*(other.Means[c][i]-g.Means[c][i])/math.Sqrt(g.Vars[c][i]))
		}
	}
	return out
}
