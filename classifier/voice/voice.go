// Package voice is the live voice path of one station: 16 kHz audio in,
// one reading per second out — how much speech, whose (the enrolled
// employee or someone else) and what emotion, read against that speaker's
// running baseline.
package voice

import (
	"math"
	"time"

	"contactd/classifier/emotion"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
)

// Who spoke.
const (
	Employee = "employee"
	Patient  = "patient"
	Unknown  = "unattributed" // no employee voice enrolled for this station
)

// Reading is one second of a station's audio.
type Reading struct {
	Start   time.Time `json:"start"`
	Speech  float64   `json:"speech"` // seconds of speech in this second
	Who     string    `json:"who,omitempty"`
	Speaker float64   `json:"speaker_score,omitempty"` // log-likelihood ratio, employee vs background
	// Level of the second's speech, dBFS (the mean energy of its speech
	// frames): a voice at the desk against one across the room.
	Level float64 `json:"level_db,omitempty"`
	*emotion.Prediction
}

// Models are the shared, read-only models.
type Models struct {
	VAD        *vad.Model
	Emotion    *emotion.Model
	Background *speaker.Background
}

// Baseline half-life and warm-up, in seconds of speech.
const (
	employeeHalfLife = 4 * 3600 // a shift or two: the employee's usual voice
	warmup           = 30
)

// Station reads one station's stream. It is not safe for concurrent use;
// its owner feeds it from one goroutine.
type Station struct {
	m     *Models
	voice *speaker.Voice // nil: no attribution
	det   *vad.Detector
	ext   *features.Extractor

	buf     []float32        // the last window of audio, 16 kHz
	bufT    time.Time        // time of buf[0]
	speech  []bool           // VAD decision per 32 ms chunk of buf
	frames  []features.Frame // analysed frames of buf, reused by the next read
	started bool
	next    time.Time // end of the next second to read

	employeeBase *emotion.RunningBaseline

	// Phase shifts this station's seconds off the wall clock's, so that
	// many stations do not all read a second at the same instant.
	Phase time.Duration
	// RelativeScore (presence.relative_score): a second scored as the
	// employee's but under this share of their usual score (the running
	// mean of their last 100 seconds, from 30 on) is another voice's. The
	// fixed threshold alone gives the employee many patients' seconds: an
	// enrolled voice is likelier than the background for most voices at
	// its microphone. 0: the fixed threshold alone.
	RelativeScore float64
	score         float64 // running mean of the employee's seconds' scores
	scoreN        int
}

const (
	window = 2 * features.Rate // functionals over the last 2 s
	// align keeps trimming on both the VAD's chunks and the frames: 160 ms.
	align = vad.ChunkSize * features.Hop / 32
)

// NewStation starts a station's reader; voice may be nil.
func NewStation(m *Models, voice *speaker.Voice, employeeBase *emotion.RunningBaseline) *Station {
	d := len(features.Names)
	if employeeBase == nil {
		employeeBase = emotion.NewRunningBaseline(d, employeeHalfLife, warmup)
	}
	return &Station{m: m, voice: voice, det: m.VAD.NewDetector(), ext: features.NewExtractor(),
		employeeBase: employeeBase}
}

// EmployeeBaseline is the employee's running baseline (to keep it across
// restarts or hand it to the next station they work at).
func (s *Station) EmployeeBaseline() *emotion.RunningBaseline { return s.employeeBase }

// Push takes audio starting at `at` and returns the readings of every
// second it completes. A gap in time (lost packets, a reconnect) restarts
// the window.
func (s *Station) Push(pcm []float32, at time.Time) []Reading {
	end := s.bufT.Add(time.Duration(len(s.buf)) * time.Second / features.Rate)
	if !s.started || at.Sub(end).Abs() > 200*time.Millisecond {
		s.buf, s.speech, s.frames, s.bufT, s.started = s.buf[:0], s.speech[:0], nil, at, true
		s.det.Reset()
		s.next = at.Add(-s.Phase).Truncate(time.Second).Add(s.Phase + time.Second)
		if s.next.Sub(at) < 500*time.Millisecond { // too little of the first second
			s.next = s.next.Add(time.Second)
		}
	}
	var out []Reading
	for len(pcm) > 0 {
		// Feed up to the end of the next second.
		need := int(s.next.Sub(s.bufT).Seconds()*features.Rate) - len(s.buf)
		n := min(max(need, 0), len(pcm))
		s.append(pcm[:n])
		pcm = pcm[n:]
		if need <= n {
			out = append(out, s.read())
			s.next = s.next.Add(time.Second)
		}
	}
	return out
}

// append adds audio and its VAD decisions, keeping the window plus up to
// 160 ms.
func (s *Station) append(x []float32) {
	s.buf = append(s.buf, x...)
	for (len(s.speech)+1)*vad.ChunkSize <= len(s.buf) {
		start := len(s.speech) * vad.ChunkSize
		p, _ := s.det.StepGated(s.buf[start : start+vad.ChunkSize])
		s.speech = append(s.speech, p >= 0.5)
	}
	if over := len(s.buf) - window; over >= align {
		over -= over % align
		s.buf = append(s.buf[:0], s.buf[over:]...)
		s.speech = append(s.speech[:0], s.speech[over/vad.ChunkSize:]...)
		s.frames = s.frames[min(over/features.Hop, len(s.frames)):]
		s.bufT = s.bufT.Add(time.Duration(over) * time.Second / features.Rate)
	}
}

// read describes the second that ends at s.next.
func (s *Station) read() Reading {
	start := s.next.Add(-time.Second)
	r := Reading{Start: start}
	// Frames whose chunk the VAD has not decided yet (the last < 32 ms)
	// count as silence until the next second.
	mask := vad.ChunksToFrames(s.speech, len(s.buf)/features.Hop, features.Hop)
	frameAt := func(t time.Time) int { return int(t.Sub(s.bufT).Seconds()*100 + 0.5) }
	from, to := max(frameAt(start), 0), min(frameAt(s.next), len(mask))
	speech := 0
	for f := from; f < to; f++ {
		if mask[f] {
			speech++
		}
	}
	r.Speech = float64(speech) / 100
	if speech < 30 {
		return r
	}
	// Only the audio since the last read is new: its frames are computed,
	// the others (but the last 40 ms, which saw a cut-short window) reused.
	a := s.ext.AnalyzeFrom(s.buf, s.frames, len(s.frames)-4)
	s.frames = a.Frames
	var lv float64
	for f := from; f < to; f++ {
		if mask[f] && f < len(a.Frames) {
			lv += math.Pow(10, a.Frames[f].Energy/10)
		}
	}
	r.Level = 10 * math.Log10(lv/float64(speech)+1e-10)
	r.Who = Unknown
	if s.voice != nil {
		fr := speaker.Frames(a, mask, from, to)
		if sc, err := s.m.Background.Score(s.voice, fr); err == nil {
			r.Speaker = sc
			r.Who = Patient
			if sc > 0 {
				r.Who = Employee
				if s.RelativeScore > 0 && s.scoreN >= 30 && sc < s.RelativeScore*s.score {
					r.Who = Patient
				} else {
					s.scoreN = min(s.scoreN+1, 100)
					s.score += (sc - s.score) / float64(s.scoreN)
				}
			}
		}
	}
	v, ok := features.Summarize(a, to-200, to, mask)
	if !ok {
		return r
	}
	var p emotion.Prediction
	if r.Who == Patient {
		// A patient is a stranger: seconds of speech, usually in one mood,
		// too few and too alike for a baseline of their own.
		p = s.m.Emotion.PredictStranger(v)
	} else {
		p = s.m.Emotion.Predict(s.employeeBase.Baseline(s.m.Emotion.Population).Apply(v))
		s.employeeBase.Update(v)
	}
	r.Prediction = &p
	return r
}

// SetNoGate turns the VAD's energy gate off (benchmarks).
func (s *Station) SetNoGate(off bool) { s.det.NoGate = off }

// SetEmployee changes who works at the station (a shift change): their
// enrolled voice (nil: none) and their running baseline (nil: a fresh one).
func (s *Station) SetEmployee(voice *speaker.Voice, base *emotion.RunningBaseline) {
	if base == nil {
		base = emotion.NewRunningBaseline(len(features.Names), employeeHalfLife, warmup)
	}
	if voice != s.voice { // another voice: their usual score is to learn anew
		s.score, s.scoreN = 0, 0
	}
	s.voice, s.employeeBase = voice, base
}

// NewEmployeeBaseline is an empty baseline with the live half-life and warm-up.
func NewEmployeeBaseline() *emotion.RunningBaseline {
	return emotion.NewRunningBaseline(len(features.Names), employeeHalfLife, warmup)
}
