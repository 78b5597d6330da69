// Package turns finds who spoke when in one microphone's recording of a
// conversation between an enrolled speaker (the doctor) and one other
// person (the patient). Speech frames come from the VAD; each frame is
// scored under the doctor's voice model and under a model of the other
// voice; a two-state Viterbi pass chooses the speaker of every speech frame
// with a cost for each change of speaker (small across a pause, large inside
// continuous speech). The first pass scores the other voice with the
// background model; the frames it gives the patient then adapt a patient
// model (MAP, as enrolment does) for a second pass — the usual refinement
// of GMM-based speaker segmentation.
//
// One microphone cannot separate two people speaking at once: a change of
// speaker with no pause between them is where an overlap or an
// interruption happened, and is marked so on the segment.
package turns

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"contactd/classifier/dsp"
	"contactd/classifier/emotion"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
)

// Who spoke a segment (the names the voice path uses).
const (
	Doctor  = "employee"
	Patient = "patient"
)

// Segment is a stretch of one speaker's speech without a pause of MinPause.
type Segment struct {
	Who        string        `json:"who"`
	Start      time.Duration `json:"start"`
	End        time.Duration `json:"end"`
	Syllables  int           `json:"syllables"`
	AfterPause bool          `json:"after_pause"` // false: it follows the previous segment directly
	// Emotion of segments of at least a second, when the models include one.
	Emotion string  `json:"emotion,omitempty"`
	Valence float64 `json:"valence,omitempty"`
	Arousal float64 `json:"arousal,omitempty"`
}

// Config holds the segmentation's costs.
type Config struct {
	// ChangeCost is the log-likelihood (nats) a change of speaker inside
	// continuous speech must win back; PauseChangeCost the same across a
	// pause of at least MinPause.
	ChangeCost      float64
	PauseChangeCost float64
	MinPause        time.Duration
	// Passes of re-segmentation with both voices' models adapted to this
	// recording (0: the first split only).
	Passes int
	// MinSeparation: the first split's two clusters of the enrolled
	// voice's log-likelihood ratio (per frame, averaged over a second)
	// must lie this far apart to be two voices.
	MinSeparation float64
	// LevelRange: frames more than this many dB under the speech's loud
	// frames (95th percentile) carry no evidence of the speaker.
	LevelRange float64
	// PitchWeight scales the log-F0 term of the re-segmentation passes,
	// EnrolledWeight the enrolled voice's log-likelihood ratio in them.
	PitchWeight    float64
	EnrolledWeight float64
	// Relevance of the passes' MAP adaptation (0: enrolment's).
	Relevance float64
	// SplitBySegment makes the first split by stretches of speech rather
	// than by one-second windows.
	SplitBySegment bool
	// OneChangePerStretch decodes by stretches of speech (runs without a
	// pause of MinPause): a stretch is one speaker's, or one speaker's and
	// then the other's, each part at least MinPart long. In one
	// microphone's recording a change of speaker with no pause between is
	// one person cutting in on the other; two such changes inside one
	// unbroken stretch are far likelier to be the models' noise.
	OneChangePerStretch bool
	MinPart             time.Duration
	// OwnComponents > 0: the passes model each voice by a mixture of this
	// many components fitted to its frames in this recording alone
	// (maximum likelihood), in Cepstra cepstra of the log mel spectrum and
	// their deltas (0: the background's MFCCs), z-scored over the
	// recording's speech. A background model is a compromise over many
	// voices; two voices of one sex differ in details it smooths over.
	OwnComponents int
	Cepstra       int
	// SeedShare > 0: the first pass learns the two voices only from the
	// stretches of speech the enrolled voice is surest of: those holding
	// this share of the speech with the highest mean ratio (the doctor's)
	// and as much with the lowest (the patient's).
	SeedShare float64
	// Cluster makes the first labelling without the enrolled voice: each
	// stretch of speech (no pause of MinPause) becomes a supervector of
	// the background adapted to it, and stretches are merged (Ward) until
	// two groups remain; the enrolled voice only names the doctor's group.
	Cluster bool
	// Nuisance (with SeedShare) ranks the stretches
	// for the surest ones by the cosine between their supervector and the
	// enrolled voice's, both taken relative to the whole recording's and
	// with the nuisance directions (how a sentence was said) projected out,
	// instead of by the mean log-likelihood ratio. It assumes a recording
	// of one conversation (two voices); leave it off for a day of many
	// patients. NuisanceRelevance is the stretches' MAP relevance (0:
	// enrolment's).
	Nuisance          bool
	NuisanceRelevance float64
	// NuisanceMix ranks by the sum of both scores, each standardised over
	// the recording's stretches, instead of the cosine alone.
	NuisanceMix bool
	// Compensate > 0 takes the nuisance part of how the speech around each
	// frame (this many speech frames either side) departs from the
	// background off the frame before anything is scored or learnt
	// (speaker.GMM.Compensate). The doctor's voice must have been enrolled
	// on frames compensated so too.
	Compensate int
}

func meanStd(v []float64) (m, s float64) {
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, math.Max(math.Sqrt(s/float64(len(v))), 0.05)
}

func logNormal(x, m, s float64) float64 {
	d := (x - m) / s
	return -0.5*d*d - math.Log(s) - 0.5*math.Log(2*math.Pi)
}

// DefaultConfig was chosen on conversations mixed from half of the RAVDESS
// actors and checked on the other half (see the README).
var DefaultConfig = Config{ChangeCost: 60, PauseChangeCost: 4, MinPause: 150 * time.Millisecond, Passes: 2, MinSeparation: 0.4,
	LevelRange: 30, PitchWeight: 1, SeedShare: 0.35, Nuisance: true, NuisanceMix: true}

// Models are the shared models.
type Models struct {
	VAD        *vad.Model
	Background *speaker.Background
	Emotion    *emotion.Model    // optional
	Nuisance   *speaker.Nuisance // see Config.Nuisance; nil: the built-in one
}

var builtinNuisance = sync.OnceValues(speaker.DefaultNuisance)

const frame = time.Second / (features.Rate / features.Hop)

// Find segments x (16 kHz mono) into the doctor's and the patient's speech.
func Find(x []float32, m Models, doctor *speaker.Voice, cfg Config) ([]Segment, error) {
	if m.VAD == nil || m.Background == nil || doctor == nil {
		return nil, errors.New("turns: the VAD, the background model and the doctor's voice are needed")
	}
	a := features.NewExtractor().Analyze(x)
	mask, _ := vad.Mask(m.VAD.NewDetector(), x, 0.5, features.Hop)
	n := min(len(a.Frames), len(mask))
	var idx []int
	var vecs [][]float64
	for i := 1; i < n-1; i++ {
		if mask[i] {
			idx = append(idx, i)
			vecs = append(vecs, speaker.Vector(a, i))
		}
	}
	if len(idx) == 0 {
		return nil, nil
	}
	// Only voiced frames near the speech's level carry the voice: the
	// others (breath, fricatives, the edges of words) mostly carry the room,
	// which both voices share. They give no evidence either way.
	useful := make([]bool, len(idx))
	energies := make([]float64, 0, len(idx))
	for _, i := range idx {
		energies = append(energies, a.Frames[i].Energy)
	}
	slices.Sort(energies)
	floor := energies[len(energies)*95/100] - cfg.LevelRange
	logF0 := make([]float64, len(idx))
	for k, i := range idx {
		f := a.Frames[i]
		useful[k] = f.F0 > 0 && f.Energy >= floor
		if f.F0 > 0 {
			logF0[k] = math.Log(f.F0)
		}
	}
	gate := func(l []float64) []float64 {
		for k := range l {
			if !useful[k] {
				l[k] = 0
			}
		}
		return l
	}
	if cfg.Compensate > 0 {
		if m.Nuisance == nil {
			nz, err := builtinNuisance()
			if err != nil {
				return nil, err
			}
			m.Nuisance = nz
		}
		vecs = m.Background.GMM.Compensate(m.Nuisance, vecs, useful, cfg.Compensate, 10, speaker.Relevance)
	}
	ld := gate(doctor.GMM.FrameLogLikelihoods(vecs))
	lu := gate(m.Background.GMM.FrameLogLikelihoods(vecs))
	minPause := int(cfg.MinPause / frame)
	var doc []bool
	if cfg.SplitBySegment {
		doc = splitSegments(ld, lu, useful, idx, minPause, cfg.MinSeparation)
	} else {
		doc = split(ld, lu, useful, cfg.MinSeparation)
	}
	if cfg.Cluster {
		var nz *speaker.Nuisance
		if cfg.Nuisance {
			nz = m.Nuisance
		}
		doc = clusterSplit(m.Background, nz, vecs, ld, lu, useful, idx, minPause)
	}
	pvecs := vecs
	if cfg.OwnComponents > 0 && cfg.Cepstra > 0 {
		pvecs = cepstra(a, idx, cfg.Cepstra)
	}
	// refine runs the passes from a first labelling, or from seed frames
	// when there are any.
	refine := func(doc []bool, seed []int8) []bool {
		for pass := 0; pass < cfg.Passes; pass++ {
			var df, pf [][]float64
			var dp, pp []float64
			for k, d := range doc {
				if !useful[k] {
					continue
				}
				if pass == 0 && seed != nil {
					if seed[k] == 0 {
						continue
					}
					d = seed[k] > 0
				}
				if d {
					df, dp = append(df, pvecs[k]), append(dp, logF0[k])
				} else {
					pf, pp = append(pf, pvecs[k]), append(pp, logF0[k])
				}
			}
			if len(df) < 200 || len(pf) < 200 { // under 2 s of either: one speaker
				break
			}
			// Both voices as this microphone hears them: the enrolled model
			// only chose which cluster is the doctor. Pitch adds a Gaussian on
			// log F0 per voice.
			rel := cfg.Relevance
			if rel == 0 {
				rel = speaker.Relevance
			}
			var dl, pl []float64
			if cfg.OwnComponents > 0 {
				dg, err1 := speaker.TrainGMM(df, cfg.OwnComponents, 10, uint64(pass+1))
				pg, err2 := speaker.TrainGMM(pf, cfg.OwnComponents, 10, uint64(pass+1))
				if err1 != nil || err2 != nil {
					break
				}
				dl, pl = gate(dg.FrameLogLikelihoods(pvecs)), gate(pg.FrameLogLikelihoods(pvecs))
			} else {
				dl = gate(m.Background.GMM.Adapt(df, rel).FrameLogLikelihoods(vecs))
				pl = gate(m.Background.GMM.Adapt(pf, rel).FrameLogLikelihoods(vecs))
			}
			if cfg.EnrolledWeight > 0 {
				// The enrolled voice keeps the doctor's identity from drifting
				// with the labels the passes learn from.
				for k := range dl {
					dl[k] += cfg.EnrolledWeight * (ld[k] - lu[k])
				}
			}
			if cfg.PitchWeight > 0 {
				dm, ds := meanStd(dp)
				pm, ps := meanStd(pp)
				for k := range dl {
					if useful[k] {
						dl[k] += cfg.PitchWeight * logNormal(logF0[k], dm, ds)
						pl[k] += cfg.PitchWeight * logNormal(logF0[k], pm, ps)
					}
				}
			}
			if cfg.OneChangePerStretch {
				doc = decodeStretches(dl, pl, idx, minPause, int(cfg.MinPart/frame), cfg)
			} else {
				doc = viterbi(dl, pl, idx, minPause, cfg)
			}
		}
		return doc
	}
	var seed []int8
	// Seeds only where the first labelling heard two voices: one voice (the
	// doctor dictating, on the phone) must not be split in two.
	if cfg.SeedShare > 0 && slices.Contains(doc, true) && slices.Contains(doc, false) {
		var score func(a, b int) float64
		if cfg.Nuisance && m.Nuisance == nil {
			nz, err := builtinNuisance()
			if err != nil {
				return nil, err
			}
			m.Nuisance = nz
		}
		if cfg.Nuisance {
			score = nuisanceScore(m, doctor, vecs, useful, cfg.NuisanceRelevance)
		}
		seed = seeds(ld, lu, useful, idx, minPause, cfg.SeedShare, score, cfg.NuisanceMix)
	}
	doc = refine(doc, seed)
	segs := segments(a, idx, doc, minPause)
	if m.Emotion != nil {
		classify(m.Emotion, a, mask, segs)
	}
	return segs, nil
}

// seeds marks the frames of the stretches (runs without a pause of
// minPause) whose mean log-likelihood ratio is highest (1: the doctor's)
// and lowest (-1), each side holding share of the useful frames.
func seeds(ld, lu []float64, useful []bool, idx []int, minPause int, share float64, score func(a, b int) float64, mix bool) []int8 {
	type run struct {
		a, b int
		mean float64
		w    float64
		alt  float64
	}
	var runs []run
	var total float64
	for a := 0; a < len(idx); {
		b := a + 1
		for b < len(idx) && idx[b]-idx[b-1]-1 < minPause {
			b++
		}
		r := run{a: a, b: b}
		for k := a; k < b; k++ {
			if useful[k] {
				r.mean += ld[k] - lu[k]
				r.w++
			}
		}
		if r.w > 0 {
			r.mean /= r.w
			if score != nil {
				r.alt = score(a, b)
			}
			runs = append(runs, r)
			total += r.w
		}
		a = b
	}
	if score != nil && len(runs) > 1 {
		var ms, as []float64
		for _, r := range runs {
			ms, as = append(ms, r.mean), append(as, r.alt)
		}
		mm, msd := meanStd(ms)
		am, asd := meanStd(as)
		for i := range runs {
			z := (runs[i].alt - am) / asd
			if mix {
				z += (runs[i].mean - mm) / msd
			}
			runs[i].mean = z
		}
	}
	out := make([]int8, len(idx))
	take := func(v int8, score func(run) float64) {
		slices.SortFunc(runs, func(x, y run) int { return cmp.Compare(score(y), score(x)) })
		var got float64
		for _, r := range runs {
			if got >= share*total {
				break
			}
			if out[r.a] != 0 {
				continue
			}
			for k := r.a; k < r.b; k++ {
				out[k] = v
			}
			got += r.w
		}
	}
	take(1, func(r run) float64 { return r.mean })
	take(-1, func(r run) float64 { return -r.mean })
	return out
}

// nuisanceScore scores a stretch [a, b) of the speech frames by the
// cosine between its supervector and the enrolled voice's, both relative
// to the recording's own supervector (the room and the microphone, and
// whatever both voices share, cancel) and with the nuisance directions
// projected out.
func nuisanceScore(m Models, doctor *speaker.Voice, vecs [][]float64, useful []bool, rel float64) func(a, b int) float64 {
	if rel == 0 {
		rel = speaker.Relevance
	}
	var all [][]float64
	for k, u := range useful {
		if u {
			all = append(all, vecs[k])
		}
	}
	// Both relative to the background adapted to the whole recording.
	rec := m.Background.GMM.Adapt(all, speaker.Relevance)
	doc := m.Nuisance.Project(rec.Offset(doctor.GMM))
	return func(a, b int) float64 {
		var fr [][]float64
		for k := a; k < b; k++ {
			if useful[k] {
				fr = append(fr, vecs[k])
			}
		}
		sv := rec.Supervector(fr, rel)
		return speaker.Cosine(m.Nuisance.Project(sv), doc)
	}
}

// clusterSplit labels the frames by two groups of stretches of speech
// found by Ward's agglomerative clustering of the stretches' supervectors;
// the group with the higher mean log-likelihood ratio of the enrolled
// voice is the doctor's.
func clusterSplit(bg *speaker.Background, nz *speaker.Nuisance, vecs [][]float64, ld, lu []float64, useful []bool, idx []int, minPause int) []bool {
	type group struct {
		runs [][2]int
		sv   []float64 // weighted mean supervector
		w    float64
	}
	var gs []*group
	for a := 0; a < len(idx); {
		b := a + 1
		for b < len(idx) && idx[b]-idx[b-1]-1 < minPause {
			b++
		}
		var fr [][]float64
		for k := a; k < b; k++ {
			if useful[k] {
				fr = append(fr, vecs[k])
			}
		}
		if len(fr) >= 20 {
			sv := bg.GMM.Supervector(fr, speaker.Relevance)
			if nz != nil {
				sv = nz.Project(sv)
			}
			gs = append(gs, &group{runs: [][2]int{{a, b}}, sv: sv, w: float64(len(fr))})
		}
		a = b
	}
	out := make([]bool, len(idx))
	if len(gs) < 2 {
		return split(ld, lu, useful, 0)
	}
	ward := func(x, y *group) float64 {
		var s float64
		for i := range x.sv {
			d := x.sv[i] - y.sv[i]
			s += d * d
		}
		return x.w * y.w / (x.w + y.w) * s
	}
	for len(gs) > 2 {
		bi, bj, best := 0, 1, math.Inf(1)
		for i := range gs {
			for j := i + 1; j < len(gs); j++ {
				if d := ward(gs[i], gs[j]); d < best {
					bi, bj, best = i, j, d
				}
			}
		}
		x, y := gs[bi], gs[bj]
		for i := range x.sv {
			x.sv[i] = (x.w*x.sv[i] + y.w*y.sv[i]) / (x.w + y.w)
		}
		x.w += y.w
		x.runs = append(x.runs, y.runs...)
		gs = append(gs[:bj], gs[bj+1:]...)
	}
	mean := func(g *group) float64 {
		var s, n float64
		for _, r := range g.runs {
			for k := r[0]; k < r[1]; k++ {
				if useful[k] {
					s, n = s+ld[k]-lu[k], n+1
				}
			}
		}
		return s / max(n, 1)
	}
	doc := gs[0]
	if mean(gs[1]) > mean(gs[0]) {
		doc = gs[1]
	}
	// Frames of stretches too short to cluster follow the ratio.
	for k := range out {
		out[k] = ld[k]-lu[k] > 0
	}
	for _, g := range gs {
		for _, r := range g.runs {
			for k := r[0]; k < r[1]; k++ {
				out[k] = g == doc
			}
		}
	}
	return out
}

// cepstra are frames' first n cepstra of the log mel spectrum (c1…cn) and
// their deltas over ±2 frames, z-scored over the frames given.
func cepstra(a *features.Analysis, idx []int, n int) [][]float64 {
	nb := len(a.Frames[0].LogMel)
	dct := dsp.NewDCT(nb, n+1)
	c := make([][]float64, len(a.Frames))
	tmp := make([]float64, n+1)
	for i := range a.Frames {
		dct.Apply(a.Frames[i].LogMel[:], tmp)
		c[i] = append([]float64(nil), tmp[1:]...)
	}
	out := make([][]float64, len(idx))
	for k, i := range idx {
		v := make([]float64, 2*n)
		copy(v, c[i])
		lo, hi := max(i-2, 0), min(i+2, len(c)-1)
		for j := 0; j < n; j++ {
			v[n+j] = (c[hi][j] - c[lo][j]) / float64(hi-lo)
		}
		out[k] = v
	}
	d := 2 * n
	mean, sd := make([]float64, d), make([]float64, d)
	for _, v := range out {
		for j, x := range v {
			mean[j] += x
		}
	}
	for j := range mean {
		mean[j] /= float64(len(out))
	}
	for _, v := range out {
		for j, x := range v {
			sd[j] += (x - mean[j]) * (x - mean[j])
		}
	}
	for j := range sd {
		sd[j] = math.Max(math.Sqrt(sd[j]/float64(len(out))), 1e-6)
	}
	for _, v := range out {
		for j := range v {
			v[j] = (v[j] - mean[j]) / sd[j]
		}
	}
	return out
}

// classify gives each segment of a second or more an emotion, read against
// its speaker's own baseline over the recording (each speaker's voice
// z-scored on itself, as the model was trained) when the speaker has at
// least six such segments, else against the population's.
func classify(m *emotion.Model, a *features.Analysis, mask []bool, segs []Segment) {
	vecs := make([][]float64, len(segs))
	by := map[string][][]float64{}
	for i, s := range segs {
		if s.End-s.Start < time.Second {
			continue
		}
		from, to := int(s.Start/frame), int(s.End/frame)
		if v, ok := features.Summarize(a, from, to, mask); ok {
			vecs[i] = v
			by[s.Who] = append(by[s.Who], v)
		}
	}
	base := map[string]emotion.Baseline{}
	for who, vs := range by {
		base[who] = m.Population
		if len(vs) >= 6 {
			base[who] = emotion.FitBaseline(vs)
		}
	}
	for i, v := range vecs {
		if v == nil {
			continue
		}
		p := m.Predict(base[segs[i].Who].Apply(v))
		segs[i].Emotion, segs[i].Valence, segs[i].Arousal = p.Emotion, p.Valence, p.Arousal
	}
}

// split is the first labelling: the enrolled voice's log-likelihood
// ratio, averaged over a second of speech around each frame, falls in two
// clusters when two people speak (2-means); the higher is the doctor. When
// the clusters lie closer than minSep nats the recording holds one voice:
// the doctor's if the mean ratio is above zero.
func split(ld, lu []float64, useful []bool, minSep float64) []bool {
	n := len(ld)
	llr := make([]float64, n+1) // prefix sums of the ratio and of the useful frames
	cnt := make([]float64, n+1)
	for k := range ld {
		llr[k+1] = llr[k] + ld[k] - lu[k]
		cnt[k+1] = cnt[k]
		if useful[k] {
			cnt[k+1]++
		}
	}
	sm := make([]float64, n)
	for k := range sm {
		a, b := max(k-50, 0), min(k+51, n)
		sm[k] = (llr[b] - llr[a]) / max(cnt[b]-cnt[a], 1)
	}
	sorted := slices.Clone(sm)
	slices.Sort(sorted)
	lo, hi := sorted[n/4], sorted[3*n/4]
	for it := 0; it < 30; it++ {
		var sl, sh float64
		var nl, nh int
		mid := (lo + hi) / 2
		for _, v := range sm {
			if v > mid {
				sh += v
				nh++
			} else {
				sl += v
				nl++
			}
		}
		if nl == 0 || nh == 0 {
			break
		}
		lo, hi = sl/float64(nl), sh/float64(nh)
	}
	out := make([]bool, n)
	if hi-lo < minSep {
		one := llr[n]/max(cnt[n], 1) > 0
		for k := range out {
			out[k] = one
		}
		return out
	}
	mid := (lo + hi) / 2
	for k, v := range sm {
		out[k] = v > mid
	}
	return out
}

// splitSegments is split by stretches of speech between pauses: each
// stretch's mean ratio, 2-means over the stretches weighted by length.
func splitSegments(ld, lu []float64, useful []bool, idx []int, minPause int, minSep float64) []bool {
	type run struct {
		a, b  int
		score float64
		w     float64
	}
	var runs []run
	for a := 0; a < len(idx); {
		b := a + 1
		for b < len(idx) && idx[b]-idx[b-1]-1 < minPause {
			b++
		}
		r := run{a: a, b: b}
		for k := a; k < b; k++ {
			if useful[k] {
				r.score += ld[k] - lu[k]
				r.w++
			}
		}
		if r.w > 0 {
			r.score /= r.w
		}
		runs = append(runs, r)
		a = b
	}
	scores := make([]float64, 0, len(runs))
	var total, wsum float64
	for _, r := range runs {
		if r.w > 0 {
			scores = append(scores, r.score)
			total += r.score * r.w
			wsum += r.w
		}
	}
	out := make([]bool, len(idx))
	if len(scores) < 2 {
		for k := range out {
			out[k] = wsum > 0 && total > 0
		}
		return out
	}
	slices.Sort(scores)
	lo, hi := scores[len(scores)/4], scores[3*len(scores)/4]
	for it := 0; it < 30; it++ {
		var sl, sh, nl, nh float64
		mid := (lo + hi) / 2
		for _, r := range runs {
			if r.w == 0 {
				continue
			}
			if r.score > mid {
				sh, nh = sh+r.score*r.w, nh+r.w
			} else {
				sl, nl = sl+r.score*r.w, nl+r.w
			}
		}
		if nl == 0 || nh == 0 {
			break
		}
		lo, hi = sl/nl, sh/nh
	}
	mid := (lo + hi) / 2
	one := hi-lo < minSep
	for _, r := range runs {
		d := r.score > mid
		if one {
			d = total > 0
		}
		for k := r.a; k < r.b; k++ {
			out[k] = d
		}
	}
	return out
}

// viterbi labels each speech frame (true: the doctor's) by the best path
// through two states whose emissions are the two models' log densities.
func viterbi(ld, lp []float64, idx []int, minPause int, cfg Config) []bool {
	n := len(idx)
	// back[k][s]: the state at k-1 on the best path into state s at k.
	back := make([][2]bool, n)
	score := [2]float64{lp[0], ld[0]} // 0: patient, 1: doctor
	for k := 1; k < n; k++ {
		cost := cfg.ChangeCost
		if idx[k]-idx[k-1]-1 >= minPause {
			cost = cfg.PauseChangeCost
		}
		var next [2]float64
		for s := 0; s < 2; s++ {
			stay, change := score[s], score[1-s]-cost
			if change > stay {
				next[s], back[k][s] = change, 1-s == 1
			} else {
				next[s], back[k][s] = stay, s == 1
			}
		}
		next[0] += lp[k]
		next[1] += ld[k]
		score = next
	}
	out := make([]bool, n)
	out[n-1] = score[1] > score[0]
	for k := n - 1; k > 0; k-- {
		s := 0
		if out[k] {
			s = 1
		}
		out[k-1] = back[k][s]
	}
	return out
}

// decodeStretches labels each speech frame (true: the doctor's) by the
// best path in which every stretch of speech (no pause of minPause) holds
// at most one change of speaker, at cfg.ChangeCost, with both parts at
// least minPart frames; a change across a pause costs cfg.PauseChangeCost.
func decodeStretches(ld, lp []float64, idx []int, minPause, minPart int, cfg Config) []bool {
	n := len(idx)
	type stretch struct {
		a, b int
		// best[s0][s1]: the stretch's score starting as s0 and ending as
		// s1 (0 patient, 1 doctor); at: the first frame of s1 when s0 != s1.
		best [2][2]float64
		at   [2][2]int
	}
	var sts []stretch
	for a := 0; a < n; {
		b := a + 1
		for b < n && idx[b]-idx[b-1]-1 < minPause {
			b++
		}
		st := stretch{a: a, b: b}
		// Prefix sums of each state's emissions.
		pre := [2][]float64{make([]float64, b-a+1), make([]float64, b-a+1)}
		for k := a; k < b; k++ {
			pre[0][k-a+1] = pre[0][k-a] + lp[k]
			pre[1][k-a+1] = pre[1][k-a] + ld[k]
		}
		m := b - a
		for s := 0; s < 2; s++ {
			st.best[s][s], st.at[s][s] = pre[s][m], b
			o := 1 - s
			st.best[s][o], st.at[s][o] = math.Inf(-1), b
			for t := minPart; t <= m-minPart; t++ {
				if v := pre[s][t] + pre[o][m] - pre[o][t] - cfg.ChangeCost; v > st.best[s][o] {
					st.best[s][o], st.at[s][o] = v, a+t
				}
			}
		}
		sts = append(sts, st)
		a = b
	}
	// Viterbi over the stretches; the state is the speaker at a stretch's end.
	type from struct{ start, prevEnd int }
	back := make([][2]from, len(sts))
	var score [2]float64
	for s1 := 0; s1 < 2; s1++ {
		score[s1] = math.Inf(-1)
		for s0 := 0; s0 < 2; s0++ {
			if v := sts[0].best[s0][s1]; v > score[s1] {
				score[s1], back[0][s1] = v, from{s0, -1}
			}
		}
	}
	for i := 1; i < len(sts); i++ {
		var next [2]float64
		for s1 := 0; s1 < 2; s1++ {
			next[s1] = math.Inf(-1)
			for s0 := 0; s0 < 2; s0++ {
				for pe := 0; pe < 2; pe++ {
					v := score[pe] + sts[i].best[s0][s1]
					if pe != s0 {
						v -= cfg.PauseChangeCost
					}
					if v > next[s1] {
						next[s1], back[i][s1] = v, from{s0, pe}
					}
				}
			}
		}
		score = next
	}
	out := make([]bool, n)
	end := 0
	if score[1] > score[0] {
		end = 1
	}
	for i := len(sts) - 1; i >= 0; i-- {
		st, f := sts[i], back[i][end]
		for k := st.a; k < st.b; k++ {
			out[k] = f.start == 1
			if k >= st.at[f.start][end] {
				out[k] = end == 1
			}
		}
		end = f.prevEnd
	}
	return out
}

// segments turns labelled speech frames into segments: a new one at each
// change of speaker and after each pause of minPause frames.
func segments(a *features.Analysis, idx []int, doc []bool, minPause int) []Segment {
	var out []Segment
	start := 0
	for k := 1; k <= len(idx); k++ {
		if k < len(idx) && doc[k] == doc[k-1] && idx[k]-idx[k-1]-1 < minPause {
			continue
		}
		who := Patient
		if doc[start] {
			who = Doctor
		}
		s := Segment{Who: who, Start: time.Duration(idx[start]) * frame, End: time.Duration(idx[k-1]+1) * frame,
			Syllables: Syllables(a, idx[start], idx[k-1]+1), AfterPause: start == 0 || idx[start]-idx[start-1]-1 >= minPause}
		out = append(out, s)
		start = k
	}
	return out
}

// Syllables counts the syllable nuclei in frames [from, to) of an analysis:
// peaks of the loudness contour that are voiced, rise at least 2 dB over
// the dips on both sides, and are within 25 dB of the stretch's loudest
// frame (after de Jong & Wempe, Behavior Research Methods 41, 2009).
func Syllables(a *features.Analysis, from, to int) int {
	from, to = max(from, 0), min(to, len(a.Frames))
	if to-from < 3 {
		return 0
	}
	// Energy in dB, smoothed over 30 ms so that pitch ripples are no peaks.
	e := make([]float64, to-from)
	for i := range e {
		s, c := 0.0, 0
		for j := max(from+i-1, from); j <= min(from+i+1, to-1); j++ {
			s += a.Frames[j].Energy
			c++
		}
		e[i] = s / float64(c)
	}
	top := math.Inf(-1)
	for _, v := range e {
		top = math.Max(top, v)
	}
	const rise, floor = 2.0, 25.0
	n := 0
	// Walk the contour: a peak counts once the contour has fallen `rise`
	// below it (or the stretch ends) and it had risen `rise` from the last dip.
	dip, peak, peakAt := e[0], e[0], 0
	rising := true
	for i := 1; i < len(e); i++ {
		v := e[i]
		if rising {
			if v > peak {
				peak, peakAt = v, i
			} else if peak-v >= rise {
				if peak-dip >= rise && peak >= top-floor && a.Frames[from+peakAt].F0 > 0 {
					n++
				}
				rising, dip = false, v
			}
		} else {
			if v < dip {
				dip = v
			} else if v-dip >= rise {
				rising, peak, peakAt = true, v, i
			}
		}
	}
	if rising && peak-dip >= rise && peak >= top-floor && a.Frames[from+peakAt].F0 > 0 {
		n++
	}
	return n
}
