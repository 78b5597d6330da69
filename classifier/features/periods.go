package features

import "math"

// periods walks each voiced run from peak to peak of the waveform, one
// glottal cycle at a time, guided by the frame F0 (the waveform-matching
// idea of Praat's period detection, reduced to peak picking): the basis
// of jitter and shimmer.
func periods(x []float32, fr []Frame) []Period {
	var out []Period
	run := 0
	for i := 0; i < len(fr); {
		if fr[i].F0 == 0 {
			i++
			continue
		}
		j := i
		for j < len(fr) && fr[j].F0 > 0 {
			j++
		}
		if j-i >= 3 {
			out = append(out, runPeriods(x, fr, i, j, run)...)
			run++
		}
		i = j
	}
	return out
}

func runPeriods(x []float32, fr []Frame, from, to, run int) []Period {
	s, e := from*Hop, min(to*Hop, len(x))
	// Polarity: follow whichever peaks are larger in this run.
	var hi, lo float32
	for _, v := range x[s:e] {
		hi, lo = max(hi, v), min(lo, v)
	}
	sign := float32(1)
	if -lo > hi {
		sign = -1
	}
	periodAt := func(t int) float64 {
		k := min(max(t/Hop, from), to-1)
		return Rate / fr[k].F0
	}
	peak := func(a, b int) (int, float64) {
		best := a
		for t := a; t < b && t < len(x); t++ {
			if sign*x[t] > sign*x[best] {
				best = t
			}
		}
		// Parabolic refinement of the peak position.
		pos := float64(best)
		if best > 0 && best+1 < len(x) {
			y0, y1, y2 := float64(sign*x[best-1]), float64(sign*x[best]), float64(sign*x[best+1])
			if den := y0 - 2*y1 + y2; den != 0 {
				pos += 0.5 * (y0 - y2) / den
			}
		}
		return best, pos
	}
	t0 := int(periodAt(s))
	cur, curPos := peak(s, s+t0)
	var out []Period
	for {
		T := periodAt(cur)
		a, b := cur+int(0.75*T), cur+int(1.3*T)+1
		if b >= e {
			break
		}
		next, nextPos := peak(a, b)
		length := nextPos - curPos
		if length > 0.7*T && length < 1.35*T {
			out = append(out, Period{At: curPos / Rate, T: length / Rate, Amp: float64(sign * x[cur]), Run: run})
		}
		cur, curPos = next, nextPos
	}
	return out
}

// JitterShimmer are the local jitter (mean absolute difference of
// consecutive periods over the mean period) and local shimmer in dB (mean
// absolute dB ratio of consecutive peak amplitudes), over periods of the
// same run.
func JitterShimmer(ps []Period) (jitter, shimmerDB float64, n int) {
	var dT, sumT, dA float64
	for i := 1; i < len(ps); i++ {
		p, q := ps[i-1], ps[i]
		if p.Run != q.Run || math.Abs(q.At-(p.At+p.T)) > 0.25*p.T || p.Amp <= 0 || q.Amp <= 0 {
			continue
		}
		dT += math.Abs(q.T - p.T)
		sumT += (q.T + p.T) / 2
		dA += math.Abs(20 * math.Log10(q.Amp/p.Amp))
		n++
	}
	if n == 0 {
		return 0, 0, 0
	}
	return dT / sumT, dA / float64(n), n
}
