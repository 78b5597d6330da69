package emotion

import (
	"contactd/classifier/features"
	"contactd/classifier/vad"
)

// Second is the model's reading of one second of a recording.
type Second struct {
	Start  float64 `json:"start"`  // seconds from the start
	Speech float64 `json:"speech"` // seconds of speech in this second
	*Prediction
}

// Segment is one stretch of continuous speech (pauses under 300 ms
// bridged) and the model's reading of it.
type Segment struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	*Prediction
}

// Timeline is a recording read second by second and segment by segment.
type Timeline struct {
	Seconds  []Second  `json:"seconds"`
	Segments []Segment `json:"segments"`
	// Baseline says what the vectors were z-scored against: "self" (the
	// recording's own speech, enough of it) or "population".
	Baseline string `json:"baseline"`
}

// Analyze reads a recording (16 kHz): the VAD finds the speech; each
// second with at least 0.3 s of speech is described over the 2 s around it,
// each speech segment over its length; the model classifies both against
// the recording's own baseline when it has 10 such seconds, else against
// the population.
func (m *Model) Analyze(ext *features.Extractor, det *vad.Detector, x []float32) *Timeline {
	a := ext.Analyze(x)
	det.Reset()
	mask, _ := SpeechMask(det, x, 0.5)
	n := len(a.Frames)
	tl := &Timeline{Seconds: []Second{}, Segments: []Segment{}}
	type pending struct {
		vec   []float64
		apply func(*Prediction)
	}
	var todo []pending
	var windows [][]float64
	for s := 0; s*100 < n; s++ {
		speech := 0
		for f := s * 100; f < min((s+1)*100, n); f++ {
			if mask[f] {
				speech++
			}
		}
		sec := Second{Start: float64(s), Speech: float64(speech) / 100}
		tl.Seconds = append(tl.Seconds, sec)
		if speech < 30 {
			continue
		}
		if v, ok := features.Summarize(a, s*100-50, s*100+150, mask); ok {
			i := len(tl.Seconds) - 1
			windows = append(windows, v)
			todo = append(todo, pending{v, func(p *Prediction) { tl.Seconds[i].Prediction = p }})
		}
	}
	for _, seg := range vad.Segments(mask, 30, 50) {
		if v, ok := features.Summarize(a, seg[0], seg[1], mask); ok {
			i := len(tl.Segments)
			tl.Segments = append(tl.Segments, Segment{Start: float64(seg[0]) / 100, End: float64(seg[1]) / 100})
			todo = append(todo, pending{v, func(p *Prediction) { tl.Segments[i].Prediction = p }})
		}
	}
	base := m.Population
	tl.Baseline = "population"
	if len(windows) >= MinSpeakerRecordings {
		base = FitBaseline(windows)
		tl.Baseline = "self"
	}
	for _, p := range todo {
		pred := m.Predict(base.Apply(p.vec))
		p.apply(&pred)
	}
	return tl
}
