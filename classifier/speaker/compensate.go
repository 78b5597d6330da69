package speaker

import "math"

// Compensate removes from every frame the nuisance part of how the speech
// around it departs from the background: the supervector of the frames
// within half frames either side (those use marks), projected on the
// nuisance subspace, is turned back into a shift of each component's mean
// and taken off the frame in proportion to the component's posterior.
// This is nuisance compensation in the feature domain (Vair et al.,
// Odyssey 2006; Castaldo et al., IEEE TASLP 2007): every model learnt
// from the compensated frames afterwards sees less of how a sentence was
// said. The shift is computed every step frames and held between, which
// costs little accuracy for a tenth of the work.
func (g *GMM) Compensate(nz *Nuisance, frames [][]float64, use []bool, half, step int, r float64) [][]float64 {
	if len(frames) == 0 {
		return nil
	}
	if step < 1 {
		step = 1
	}
	k, d := len(g.Weights), len(g.Means[0])
	post := make([][]float64, len(frames))
	for t, x := range frames {
		p := make([]float64, k)
		tot := g.logComponents(x, p)
		for c := range p {
			p[c] = math.Exp(p[c] - tot)
		}
		post[t] = p
	}
	nk := make([]float64, k)
	sx := make([]float64, k*d)
	add := func(t int, sign float64) {
		if t < 0 || t >= len(frames) || (use != nil && !use[t]) {
			return
		}
		for c, p := range post[t] {
			nk[c] += sign * p
			row := sx[c*d : (c+1)*d]
			for i, v := range frames[t] {
				row[i] += sign * p * v
			}
		}
	}
	for t := 0; t <= half && t < len(frames); t++ {
		add(t, 1)
	}
	sv := make([]float64, k*d)
	shift := make([]float64, k*d) // per component, in the features' units
	out := make([][]float64, len(frames))
	for t := range frames {
		if t > 0 {
			add(t+half, 1)
			add(t-half-1, -1)
		}
		if t%step == 0 {
			for c := 0; c < k; c++ {
				a := math.Max(nk[c], 0) / (math.Max(nk[c], 0) + r)
				sw := math.Sqrt(g.Weights[c])
				for i := 0; i < d; i++ {
					s := 0.0
					if nk[c] > 1e-9 {
						s = a * (sx[c*d+i]/nk[c] - g.Means[c][i])
					}
					sv[c*d+i] = sw * s / math.Sqrt(g.Vars[c][i])
				}
			}
			clear(shift)
			for _, b := range nz.Basis {
				y := dot(sv, b)
				for j, v := range b {
					shift[j] += y * v
				}
			}
			for c := 0; c < k; c++ {
				sw := math.Sqrt(g.Weights[c])
				for i := 0; i < d; i++ {
					shift[c*d+i] *= math.Sqrt(g.Vars[c][i]) / sw
				}
			}
		}
		x := append([]float64(nil), frames[t]...)
		for c, p := range post[t] {
			if p < 1e-4 {
				continue
			}
			row := shift[c*d : (c+1)*d]
			for i := range x {
				x[i] -= p * row[i]
			}
		}
		out[t] = x
	}
	return out
}
