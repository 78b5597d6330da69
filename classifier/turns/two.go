package turns

import (
	"errors"
	"math"
	"slices"
	"time"

	"contactd/classifier/dsp"
	"contactd/classifier/features"
	"contactd/classifier/vad"
)

// TwoConfig holds the settings of the two-microphone segmentation.
type TwoConfig struct {
	// MinPause: one voice's runs of speech closer than this are one
	// segment. MinSay: shorter runs are dropped (a cough, a leak).
	MinPause time.Duration
	MinSay   time.Duration
	// Range: a voice is speaking where its power (over ±Smooth) is within
	// Range dB of its loud speech (95th percentile) — and clear of what
	// the other voice's speech alone leaves on it.
	Range  float64
	Smooth time.Duration
	// MinSeparation (dB): the two voices' level differences between the
	// microphones must lie this far apart to be two people.
	MinSeparation float64
	// Continue: a voice's pause shorter than this, wholly inside the
	// other's speech, is the other masking it, not a pause.
	Continue time.Duration
}

// DefaultTwoConfig is what the two-microphone days were read with (see
// the README).
var DefaultTwoConfig = TwoConfig{MinPause: 150 * time.Millisecond, MinSay: 250 * time.Millisecond, Range: 25,
	Smooth: 50 * time.Millisecond, MinSeparation: 6, Continue: 500 * time.Millisecond}

// STFT of the two channels: 32 ms windows every 10 ms (the features'
// hop), bins from 200 Hz to 5 kHz where speech has its power.
const (
	twoFFT   = 512
	twoLoBin = 200 * twoFFT / features.Rate
	twoHiBin = 5000 * twoFFT / features.Rate
	twoFloor = 1e-12
	twoQuiet = 10.0 // dB over a microphone's noise floor a bin needs to count
	// A voice speaks where it holds at least this share of its
	// microphone's power, and this much more than it holds while only the
	// other voice speaks.
	twoMinShare    = 0.2
	twoShareMargin = 0.1
	// Speech the VAD missed: this many frames, this share of them voiced.
	twoVoicedRun   = 50
	twoVoicedShare = 0.5
	// ... over dips between its words shorter than this.
	twoVoicedBridge = 30
)

// FindTwo segments a conversation recorded on two microphones at once
// (16 kHz each): doctorMic near the doctor, otherMic elsewhere in the room
// (the room's microphone, or one near the patient). Each voice reaches
// the two microphones with its own difference of level; in each 10 ms of
// each frequency bin one voice mostly dominates (speech is sparse in time
// and frequency), so a bin is given to the voice whose difference its own
// is nearer, and a voice speaks where the bins given to it carry speech
// power. Unlike one microphone, two voices at once are heard as two: an
// interruption is a segment that starts while the other voice's runs.
//
// The doctor is the voice the doctor's microphone hears louder, relative
// to the other microphone; a recording of one voice is the doctor's when
// the doctor's microphone hears it louder than the other does.
func FindTwo(doctorMic, otherMic []float32, m Models, cfg TwoConfig) ([]Segment, error) {
	segs, _, err := FindTwoSeparated(doctorMic, otherMic, m, cfg)
	return segs, err
}

// SureSeparation (dB) is how far apart the two voices' level differences
// between the microphones must lie for the counts to be sure: a lapel
// put them 15.5–21.6 dB apart on the generated days (every consultation
// within the targets), a desk microphone 6.6–11.6 (seven in ten).
const SureSeparation = 12.0

// FindTwoSeparated is FindTwo, and how far apart (dB) the two voices'
// level differences between the microphones lay: how well this room's
// microphones tell them apart (0: one voice, or no speech).
func FindTwoSeparated(doctorMic, otherMic []float32, m Models, cfg TwoConfig) ([]Segment, float64, error) {
	if m.VAD == nil {
		return nil, 0, errors.New("turns: the VAD is needed")
	}
	n := min(len(doctorMic), len(otherMic))
	doctorMic, otherMic = doctorMic[:n], otherMic[:n]
	pa, pb := stftPower(doctorMic), stftPower(otherMic)
	// Speech where either microphone's VAD hears it.
	ma, _ := vad.Mask(m.VAD.NewDetector(), doctorMic, 0.5, features.Hop)
	mb, _ := vad.Mask(m.VAD.NewDetector(), otherMic, 0.5, features.Hop)
	nf := min(len(pa), len(ma), len(mb))
	speech := make([]bool, nf)
	var idx []int
	for t := range nf {
		speech[t] = ma[t] || mb[t]
		if speech[t] {
			idx = append(idx, t)
		}
	}
	if len(idx) == 0 {
		return nil, 0, nil
	}
	// Each speech frame's level difference between the microphones (dB),
	// over its loud frames: two clusters when two people speak.
	sum := func(p []float64) float64 {
		s := 0.0
		for _, v := range p[twoLoBin:twoHiBin] {
			s += v
		}
		return s
	}
	level := make([]float64, nf)
	diff := make([]float64, nf)
	var loud []int
	var levels []float64
	for _, t := range idx {
		sa, sb := sum(pa[t]), sum(pb[t])
		level[t] = db(math.Max(sa, sb))
		diff[t] = db(sa) - db(sb)
		levels = append(levels, level[t])
	}
	slices.Sort(levels)
	top := levels[len(levels)*95/100]
	ad, ap := analysis(doctorMic, otherMic, Doctor), analysis(doctorMic, otherMic, Patient)
	for _, r := range loudVoiced(pa, pb, ad, ap, speech, top-cfg.Range, twoVoicedBridge) {
		for t := r[0]; t < r[1]; t++ {
			if !speech[t] {
				speech[t] = true
				sa, sb := sum(pa[t]), sum(pb[t])
				level[t] = db(math.Max(sa, sb))
				diff[t] = db(sa) - db(sb)
				idx = append(idx, t)
			}
		}
	}
	slices.Sort(idx)
	for _, t := range idx {
		if level[t] >= top-cfg.Range {
			loud = append(loud, t)
		}
	}
	var ds []float64
	for _, t := range loud {
		ds = append(ds, diff[t])
	}
	hi, lo := twoMeans(ds)
	one := hi-lo < cfg.MinSeparation
	// The frames surest of one voice alone: beyond their cluster's centre.
	var docOnly, patOnly []int
	for _, t := range loud {
		if diff[t] >= hi {
			docOnly = append(docOnly, t)
		} else if diff[t] <= lo {
			patOnly = append(patOnly, t)
		}
	}
	if one || len(docOnly) < 50 || len(patOnly) < 50 {
		// One voice (or too little of the second to learn it): all of it
		// goes to whoever the microphones say it is.
		who := Patient
		if mean(ds) > 0 {
			who = Doctor
		}
		act := make([]bool, nf)
		copy(act, speech)
		runs := activeRuns(act, cfg)
		segs := make([]Segment, 0, len(runs))
		a := ap
		if who == Doctor {
			a = ad
		}
		for i, r := range runs {
			segs = append(segs, Segment{Who: who, Start: time.Duration(r[0]) * frame, End: time.Duration(r[1]) * frame,
				Syllables: Syllables(a, r[0], r[1]), AfterPause: i == 0 || r[0]-runs[i-1][1] >= int(cfg.MinPause/frame)})
		}
		if m.Emotion != nil {
			classify(m.Emotion, a, speech, segs)
		}
		return segs, 0, nil
	}
	// Each voice's level difference per bin, and the midpoint between.
	mid := make([]float64, twoFFT/2+1)
	for k := twoLoBin; k < twoHiBin; k++ {
		dd := make([]float64, 0, len(docOnly))
		for _, t := range docOnly {
			dd = append(dd, db(pa[t][k])-db(pb[t][k]))
		}
		dp := make([]float64, 0, len(patOnly))
		for _, t := range patOnly {
			dp = append(dp, db(pa[t][k])-db(pb[t][k]))
		}
		mid[k] = (median(dd) + median(dp)) / 2
	}
	// Each voice's power per frame: its bins, each as heard on the voice's
	// nearer microphone. Bins near either microphone's noise floor carry
	// no voice.
	na, nb := noiseFloor(pa, speech), noiseFloor(pb, speech)
	// ed, ep: the power of each voice's bins on its own microphone; ta,
	// tb: all the bins' on each.
	ed, ep, ta, tb := make([]float64, nf), make([]float64, nf), make([]float64, nf), make([]float64, nf)
	for t := range nf {
		for k := twoLoBin; k < twoHiBin; k++ {
			a, b := pa[t][k], pb[t][k]
			if db(a)-na < twoQuiet && db(b)-nb < twoQuiet {
				continue
			}
			ta[t] += a
			tb[t] += b
			if db(a)-db(b) > mid[k] {
				ed[t] += a
			} else {
				ep[t] += b
			}
		}
	}
	sm := int(cfg.Smooth / frame)
	ed, ep, ta, tb = smooth(ed, sm), smooth(ep, sm), smooth(ta, sm), smooth(tb, sm)
	actD := voiceActivity(ed, ta, speech, docOnly, patOnly, cfg.Range)
	actP := voiceActivity(ep, tb, speech, patOnly, docOnly, cfg.Range)
	rd, rp := activeRuns(actD, cfg), activeRuns(actP, cfg)
	cont := int(cfg.Continue / frame)
	rd, rp = bridgeMasked(rd, rp, cont, ed, leakLevel(ed, patOnly)), bridgeMasked(rp, rd, cont, ep, leakLevel(ep, docOnly))
	var segs []Segment
	minPause := int(cfg.MinPause / frame)
	for _, side := range []struct {
		who         string
		runs, other [][2]int
		a           *features.Analysis
	}{{Doctor, rd, rp, ad}, {Patient, rp, rd, ap}} {
		var own []Segment
		for _, r := range side.runs {
			// A segment starting while the other voice speaks is an
			// overlap; one after the other's speech with less than a pause
			// between is a change with no pause, as one microphone hears it.
			after := true
			for _, o := range side.other {
				if o[0] < r[0] && o[1]+minPause > r[0] {
					after = false
				}
			}
			own = append(own, Segment{Who: side.who, Start: time.Duration(r[0]) * frame, End: time.Duration(r[1]) * frame,
				Syllables: Syllables(side.a, r[0], r[1]), AfterPause: after})
		}
		if m.Emotion != nil {
			classify(m.Emotion, side.a, speech, own)
		}
		segs = append(segs, own...)
	}
	slices.SortFunc(segs, func(a, b Segment) int { return int(a.Start - b.Start) })
	return segs, hi - lo, nil
}

// loudVoiced finds speech the VAD missed: runs of loud voiced frames
// (over floor dB on either microphone, a pitch on one of them; none VAD
// speech) over dips shorter than bridge, of at least twoVoicedRun frames
// and mostly voiced. The network misses some shouted or strained words; a
// noise that loud is rarely periodic for half a second (a ringing phone
// or music would be).
func loudVoiced(pa, pb [][]float64, ad, ap *features.Analysis, speech []bool, floor float64, bridge int) [][2]int {
	n := min(len(speech), len(ad.Frames), len(ap.Frames))
	vl := make([]bool, n)
	for t := range n {
		sa, sb := 0.0, 0.0
		for k := twoLoBin; k < twoHiBin; k++ {
			sa += pa[t][k]
			sb += pb[t][k]
		}
		vl[t] = !speech[t] && db(math.Max(sa, sb)) >= floor && (ad.Frames[t].F0 > 0 || ap.Frames[t].F0 > 0)
	}
	var out [][2]int
	for t := 0; t < n; {
		if !vl[t] {
			t++
			continue
		}
		u, last, voiced := t, t, 0
		for u < n && u-last <= bridge && !speech[u] {
			if vl[u] {
				last = u
				voiced++
			}
			u++
		}
		if end := last + 1; end-t >= twoVoicedRun && float64(voiced) >= twoVoicedShare*float64(end-t) {
			out = append(out, [2]int{t, end})
		}
		t = last + 1
	}
	return out
}

// noiseFloor is a microphone's mean bin power (dB) in the frames without
// speech (the quietest tenth of all frames when there are too few).
func noiseFloor(p [][]float64, speech []bool) float64 {
	var quiet, all []float64
	for t := range speech {
		s := 0.0
		for _, v := range p[t][twoLoBin:twoHiBin] {
			s += v
		}
		v := db(s / float64(twoHiBin-twoLoBin))
		all = append(all, v)
		if !speech[t] {
			quiet = append(quiet, v)
		}
	}
	if len(quiet) >= 50 {
		return median(quiet)
	}
	slices.Sort(all)
	return all[len(all)/10]
}

// analysis is the features of the microphone nearer who.
func analysis(doctorMic, otherMic []float32, who string) *features.Analysis {
	if who == Doctor {
		return features.NewExtractor().Analyze(doctorMic)
	}
	return features.NewExtractor().Analyze(otherMic)
}

// voiceActivity marks the speech frames where a voice holds enough of its
// microphone's power (e of all): a share clear of what it holds while
// only the other voice speaks (others), and a level within rng dB of its
// loud speech.
func voiceActivity(e, all []float64, speech []bool, own, others []int, rng float64) []bool {
	var mine, leak []float64
	for _, t := range own {
		mine = append(mine, db(e[t]))
	}
	for _, t := range others {
		leak = append(leak, e[t]/max(all[t], twoFloor))
	}
	slices.Sort(mine)
	slices.Sort(leak)
	level := mine[len(mine)*95/100] - rng
	share := max(twoMinShare, leak[len(leak)*95/100]+twoShareMargin)
	// Hysteresis: once speaking, a voice goes on while it holds a share
	// clear of the leak's usual level — the other voice cutting in halves
	// its share, it does not end its speech.
	keep := min(share, max(twoMinShare/2, median(leak)+twoShareMargin))
	act := make([]bool, len(e))
	for t := range e {
		th := share
		if t > 0 && act[t-1] {
			th = keep
		}
		act[t] = speech[t] && db(e[t]) >= level && e[t] >= th*all[t]
	}
	return act
}

// bridgeMasked joins a voice's runs less than maxGap frames apart when
// the other voice is speaking where the second begins: while two speak at
// once the louder masks the other's bins, and a speaker talking on
// through an interruption is heard in pieces. A masked voice still fills
// its own bins (e) over the gap; one that paused leaves in them no more
// than the other's speech alone does (leak, dB), and the gap stays.
func bridgeMasked(runs, other [][2]int, maxGap int, e []float64, leak float64) [][2]int {
	if len(runs) == 0 {
		return runs
	}
	out := [][2]int{runs[0]}
	for _, r := range runs[1:] {
		last := &out[len(out)-1]
		masked := false
		if r[0]-last[1] < maxGap {
			for _, o := range other {
				if o[0] < r[0] && o[1] > r[0] {
					masked = true
					break
				}
			}
		}
		if masked && r[0] > last[1] {
			gap := make([]float64, 0, r[0]-last[1])
			for _, v := range e[last[1]:r[0]] {
				gap = append(gap, db(v))
			}
			masked = median(gap) > leak
		}
		if masked {
			last[1] = r[1]
		} else {
			out = append(out, r)
		}
	}
	return out
}

// leakLevel is how loud a voice's bins get (dB, 90th percentile) in the
// frames where only the other voice speaks.
func leakLevel(e []float64, others []int) float64 {
	v := make([]float64, 0, len(others))
	for _, t := range others {
		v = append(v, db(e[t]))
	}
	slices.Sort(v)
	return v[len(v)*90/100]
}

// activeRuns turns marked frames into runs [from, to): gaps under
// MinPause are bridged, runs under MinSay dropped.
func activeRuns(act []bool, cfg TwoConfig) [][2]int {
	minPause, minSay := int(cfg.MinPause/frame), int(cfg.MinSay/frame)
	var runs [][2]int
	for t := 0; t < len(act); {
		if !act[t] {
			t++
			continue
		}
		u := t
		for u < len(act) && act[u] {
			u++
		}
		if n := len(runs); n > 0 && t-runs[n-1][1] < minPause {
			runs[n-1][1] = u
		} else {
			runs = append(runs, [2]int{t, u})
		}
		t = u
	}
	out := runs[:0]
	for _, r := range runs {
		if r[1]-r[0] >= minSay {
			out = append(out, r)
		}
	}
	return out
}

// stftPower is the power spectrum of x in 32 ms Hann windows centred on
// each 10 ms frame.
func stftPower(x []float32) [][]float64 {
	fft := dsp.NewRealFFT(twoFFT)
	win := dsp.Hann(twoFFT)
	n := len(x) / features.Hop
	out := make([][]float64, n)
	buf := make([]float64, twoFFT)
	for t := range n {
		c := t*features.Hop + features.Hop/2 - twoFFT/2
		for i := range buf {
			j := c + i
			if j >= 0 && j < len(x) {
				buf[i] = float64(x[j]) * win[i]
			} else {
				buf[i] = 0
			}
		}
		out[t] = make([]float64, twoFFT/2+1)
		fft.Power(buf, out[t])
	}
	return out
}

// smooth sums e over ±w frames.
func smooth(e []float64, w int) []float64 {
	out := make([]float64, len(e))
	for t := range e {
		for u := max(0, t-w); u <= min(len(e)-1, t+w); u++ {
			out[t] += e[u]
		}
	}
	return out
}

// twoMeans splits v in two clusters (1-D k-means from the 10th and 90th
// percentiles) and returns their centres, higher first.
func twoMeans(v []float64) (hi, lo float64) {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0, 0
	}
	lo, hi = s[len(s)/10], s[len(s)*9/10]
	for range 30 {
		var sh, sl float64
		var nh, nl int
		for _, x := range s {
			if math.Abs(x-hi) < math.Abs(x-lo) {
				sh += x
				nh++
			} else {
				sl += x
				nl++
			}
		}
		if nh == 0 || nl == 0 {
			break
		}
		hi, lo = sh/float64(nh), sl/float64(nl)
	}
	return hi, lo
}

func db(p float64) float64 { return 10 * math.Log10(p+twoFloor) }

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}
