package server

import (
	"os"
	"slices"
	"sync"
	"time"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/turns"
	"contactd/clip"
	"contactd/consult"
	"contactd/contact"
)

// twoSpeech is who spoke when in the rooms with two microphones
// (stations[].doctor_mic), read with turns.FindTwo from the recording's two
// channels over each booking window: a window recorded to its end is read
// once and kept; one still open is read again at most every twoReread.
type twoSpeech struct {
	mu    sync.Mutex
	reads map[twoKey]twoRead
}

type twoKey struct {
	station  string
	from, to time.Time // the booking window
}

type twoRead struct {
	says   []contact.Say
	until  time.Time // how far the window had been recorded
	at     time.Time // when it was read
	closed bool
}

// twoReread bounds how often an open window is read again: FindTwo over
// half an hour of two channels takes seconds.
const twoReread = 20 * time.Second

// twoKeep is how long a settled window's reading is kept.
const twoKeep = 26 * time.Hour

// speech is who spoke when at a room with two microphones in [from, to).
func (s *Server) twoRoomSpeech(station string, ch int, from, to time.Time) []contact.Say {
	rec, err := s.Recorder(station)
	if err != nil {
		return nil
	}
	high := rec.HighWater()
	m := s.voice.Models
	models := turns.Models{VAD: m.VAD, Background: m.Background, Emotion: m.Emotion}
	var out []contact.Say
	for _, w := range consult.Windows(s.Config.Consult, s.schedule.In(station, from, to)) {
		a, b := maxT(w[0], from), minT(w[1], to, high)
		if !b.After(a) {
			continue
		}
		k := twoKey{station, w[0], w[1]}
		s.two.mu.Lock()
		r, ok := s.two.reads[k]
		s.two.mu.Unlock()
		if ok && (r.closed || time.Since(r.at) < twoReread || !b.After(r.until)) {
			out = append(out, r.says...)
			continue
		}
		says, err := s.readTwo(station, ch, a, b, models)
		if err != nil {
			s.Log.Warn("two-microphone room: reading the window", "station", station, "from", a, "to", b, "error", err)
			continue
		}
		s.two.mu.Lock()
		if s.two.reads == nil {
			s.two.reads = map[twoKey]twoRead{}
		}
		s.two.reads[k] = twoRead{says: says, until: b, at: time.Now(), closed: !b.Before(w[1])}
		for k := range s.two.reads {
			if time.Since(k.to) > twoKeep {
				delete(s.two.reads, k)
			}
		}
		s.two.mu.Unlock()
		out = append(out, says...)
	}
	slices.SortFunc(out, func(x, y contact.Say) int { return x.Start.Compare(y.Start) })
	return out
}

// readTwo cuts [from, to) of a station's recording and finds the turns on
// its two channels (ch the doctor's).
func (s *Server) readTwo(station string, ch int, from, to time.Time, models turns.Models) ([]contact.Say, error) {
	rec, err := s.Recorder(station)
	if err != nil {
		return nil, err
	}
	segs := rec.Segments(from, to)
	if len(segs) == 0 {
		return nil, nil
	}
	zero := segs[0].Start
	var srcs []clip.Source
	for _, sg := range segs {
		srcs = append(srcs, clip.Source{Path: sg.Path, Offset: sg.Start.Sub(zero)})
	}
	tmp, err := os.CreateTemp("", "contactd-room-*") // CutSources picks the container
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	span, err := clip.CutSources(srcs, max(0, from.Sub(zero)), to.Sub(zero), tmp.Name())
	if err != nil {
		return nil, err
	}
	var mics [2][]float32
	for i, k := range []int{ch, 1 - ch} {
		if mics[i], err = audio.DecodeChannel(tmp.Name(), features.Rate, k); err != nil {
			return nil, err
		}
	}
	found, err := turns.FindTwo(mics[0], mics[1], models, turns.DefaultTwoConfig)
	if err != nil {
		return nil, err
	}
	return consult.Says(found, zero.Add(span.Start)), nil
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a time.Time, bs ...time.Time) time.Time {
	for _, b := range bs {
		if b.Before(a) {
			a = b
		}
	}
	return a
}
