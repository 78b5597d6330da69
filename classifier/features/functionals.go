package features

import (
	"math"
	"slices"
)

// Percentile of v (0..1, linear interpolation); v is sorted in place.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	pos := p * float64(len(v)-1)
	i := int(pos)
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[i] + (pos-float64(i))*(v[i+1]-v[i])
}

// Names lists the functionals Summarize returns, in order.
var Names = summaryNames()

func summaryNames() []string {
	var c collector
	c.names = true
	c.run(&Analysis{}, 0, 0, nil)
	return c.keys
}

// Summarize computes the functionals of frames [from, to) of a: statistics
// of each descriptor over the active frames (speech; voiced frames for the
// pitch-related ones), rhythm (voiced segments and pauses per second,
// their lengths), jitter and shimmer. active marks speech frames (nil: by
// energy, within 35 dB of the loudest frame). The result has len(Names)
// values; ok is false when there is too little voiced speech to describe.
func Summarize(a *Analysis, from, to int, active []bool) (v []float64, ok bool) {
	var c collector
	ok = c.run(a, from, to, active)
	return c.vals, ok
}

type collector struct {
	names bool
	keys  []string
	vals  []float64
}

func (c *collector) add(name string, v float64) {
	if c.names {
		c.keys = append(c.keys, name)
		return
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	c.vals = append(c.vals, v)
}

func meanStd(v []float64) (m, s float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, math.Sqrt(s / float64(len(v)))
}

// contour adds mean, std, 20/50/80th percentiles, the 20–80 range and the
// mean rising and falling slope (per second) of a series with gaps (NaN).
func (c *collector) contour(name string, series []float64) {
	var v []float64
	var rise, fall []float64
	for i, x := range series {
		if math.IsNaN(x) {
			continue
		}
		v = append(v, x)
		if i > 0 && !math.IsNaN(series[i-1]) {
			d := (x - series[i-1]) * 100 // per second at 10 ms frames
			if d > 0 {
				rise = append(rise, d)
			} else if d < 0 {
				fall = append(fall, -d)
			}
		}
	}
	m, s := meanStd(v)
	c.add(name+"_mean", m)
	c.add(name+"_std", s)
	p20, p50, p80 := Percentile(v, 0.2), Percentile(v, 0.5), Percentile(v, 0.8)
	c.add(name+"_p20", p20)
	c.add(name+"_p50", p50)
	c.add(name+"_p80", p80)
	c.add(name+"_range2080", p80-p20)
	rm, _ := meanStd(rise)
	fm, _ := meanStd(fall)
	c.add(name+"_rise", rm)
	c.add(name+"_fall", fm)
}

func (c *collector) stats(name string, v []float64) {
	m, s := meanStd(v)
	c.add(name+"_mean", m)
	c.add(name+"_std", s)
}

func (c *collector) run(a *Analysis, from, to int, active []bool) bool {
	fr := a.Frames
	if to > len(fr) {
		to = len(fr)
	}
	if from < 0 {
		from = 0
	}
	if from > to {
		from = to
	}
	fr = fr[from:to]
	act := make([]bool, len(fr))
	if active != nil {
		for i := range fr {
			act[i] = from+i < len(active) && active[from+i]
		}
	} else {
		top := math.Inf(-1)
		for _, f := range fr {
			top = math.Max(top, f.Energy)
		}
		for i, f := range fr {
			act[i] = f.Energy > top-35 && f.Energy > -55
		}
	}
	nan := math.NaN()
	series := func(get func(Frame) float64, voiced bool) []float64 {
		out := make([]float64, len(fr))
		for i, f := range fr {
			if act[i] && (!voiced || f.F0 > 0) {
				out[i] = get(f)
			} else {
				out[i] = nan
			}
		}
		return out
	}
	pick := func(get func(Frame) float64, voiced, unvoiced bool) []float64 {
		var out []float64
		for i, f := range fr {
			if act[i] && (!voiced || f.F0 > 0) && (!unvoiced || f.F0 == 0) {
				out = append(out, get(f))
			}
		}
		return out
	}
	nVoiced := 0
	for i, f := range fr {
		if act[i] && f.F0 > 0 {
			nVoiced++
		}
	}
	// Pitch in semitones re 27.5 Hz, as eGeMAPS.
	c.contour("f0_st", series(func(f Frame) float64 { return 12 * math.Log2(f.F0/27.5) }, true))
	c.contour("loudness", series(func(f Frame) float64 { return f.Loudness }, false))
	c.stats("energy_db", pick(func(f Frame) float64 { return f.Energy }, false, false))
	c.stats("hnr_db", pick(func(f Frame) float64 { return f.HNR }, true, false))
	c.stats("voicing", pick(func(f Frame) float64 { return f.Voicing }, false, false))
	for i, get := range []func(Frame) float64{
		func(f Frame) float64 { return f.F1 }, func(f Frame) float64 { return f.F2 }, func(f Frame) float64 { return f.F3 },
	} {
		var v []float64
		for _, x := range pick(get, true, false) {
			if x > 0 {
				v = append(v, x)
			}
		}
		c.stats("formant"+string(rune('1'+i))+"_hz", v)
	}
	c.stats("formant1_bw_hz", pick(func(f Frame) float64 { return f.B1 }, true, false))
	spectral := []struct {
		name string
		get  func(Frame) float64
	}{
		{"alpha_ratio", func(f Frame) float64 { return f.Alpha }},
		{"hammarberg", func(f Frame) float64 { return f.Hammarberg }},
		{"slope0_500", func(f Frame) float64 { return f.Slope0_500 }},
		{"slope500_1500", func(f Frame) float64 { return f.Slope500_1500 }},
	}
	for _, s := range spectral {
		c.stats(s.name+"_voiced", pick(s.get, true, false))
		m, _ := meanStd(pick(s.get, false, true))
		c.add(s.name+"_unvoiced_mean", m)
	}
	c.stats("flux", pick(func(f Frame) float64 { return f.Flux }, false, false))
	c.stats("centroid_hz", pick(func(f Frame) float64 { return f.Centroid }, false, false))
	c.stats("zcr", pick(func(f Frame) float64 { return f.ZCR }, false, false))
	for k := 0; k < nMFCC; k++ {
		c.stats("mfcc"+itoa(k+1), pick(func(f Frame) float64 { return f.MFCC[k] }, false, false))
		// Spread of the frame-to-frame change: articulation rate.
		var d []float64
		for i := 1; i < len(fr); i++ {
			if act[i] && act[i-1] {
				d = append(d, fr[i].MFCC[k]-fr[i-1].MFCC[k])
			}
		}
		_, s := meanStd(d)
		c.add("mfcc"+itoa(k+1)+"_delta_std", s)
	}
	// Spectral envelope: log mel band powers, relative to the frame's mean
	// band power so loudness does not count twice.
	for b := 0; b < nMel; b += 2 {
		c.stats("logmel"+itoa(b+1)+"_"+itoa(b+2), pick(func(f Frame) float64 {
			var m float64
			for _, v := range f.LogMel {
				m += v
			}
			return (f.LogMel[b]+f.LogMel[b+1])/2 - m/nMel
		}, false, false))
	}
	// Rhythm: voiced segments and pauses.
	secs := float64(len(fr)) / 100
	var voicedLens, pauseLens []float64
	for i := 0; i < len(fr); {
		v := act[i] && fr[i].F0 > 0
		j := i
		for j < len(fr) && (act[j] && fr[j].F0 > 0) == v {
			j++
		}
		if v {
			voicedLens = append(voicedLens, float64(j-i)/100)
		} else if i > 0 && j < len(fr) {
			pauseLens = append(pauseLens, float64(j-i)/100)
		}
		i = j
	}
	rate := func(n int) float64 {
		if secs == 0 {
			return 0
		}
		return float64(n) / secs
	}
	c.add("voiced_segments_per_s", rate(len(voicedLens)))
	c.stats("voiced_segment_s", voicedLens)
	c.stats("unvoiced_segment_s", pauseLens)
	c.add("voiced_fraction", rate(nVoiced)/100)
	peaks := 0
	for i := 1; i+1 < len(fr); i++ {
		if act[i] && fr[i].Loudness > fr[i-1].Loudness && fr[i].Loudness >= fr[i+1].Loudness {
			peaks++
		}
	}
	c.add("loudness_peaks_per_s", rate(peaks))
	// Jitter and shimmer over the periods inside the range.
	t0, t1 := float64(from)/100, float64(to)/100
	var ps []Period
	for _, p := range a.Periods {
		if p.At >= t0 && p.At+p.T <= t1 {
			ps = append(ps, p)
		}
	}
	j, s, _ := JitterShimmer(ps)
	c.add("jitter_local", j)
	c.add("shimmer_local_db", s)
	return nVoiced >= 10
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}
