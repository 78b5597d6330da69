package pipeline

import (
	"context"
	"fmt"
	"time"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/voice"
	"contactd/contact"
	"contactd/likely"
)

// Hearing makes an analysis listen to the recording as the live voice path
// does: each contact gets its voice timeline (whose speech, what emotion,
// second by second) and, from it, its likely-negative score.
type Hearing struct {
	Models *voice.Models
	// Employee is the station's enrolled employee voice; nil: speech is
	// not attributed (all of it is "unattributed").
	Employee *speaker.Voice
	// RelativeScore is presence.relative_score (see voice.Station).
	RelativeScore float64
}

// Listen runs the voice path over x (16 kHz from start) and returns its
// readings, one a second.
func (h *Hearing) Listen(ctx context.Context, x []float32, start time.Time) ([]voice.Reading, error) {
	st := voice.NewStation(h.Models, h.Employee, nil)
	st.RelativeScore = h.RelativeScore
	var rs []voice.Reading
	const chunk = features.Rate / 50 // 20 ms, as live
	for i := 0; i < len(x); i += chunk {
		if i%(600*features.Rate) == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		at := start.Add(time.Duration(i) * time.Second / features.Rate)
		rs = append(rs, st.Push(x[i:min(i+chunk, len(x))], at)...)
	}
	return rs, nil
}

// decode reads a recording's audio at the voice path's rate.
func decode(media string) ([]float32, error) {
	x, err := audio.DecodeFile(media, features.Rate)
	if err != nil {
		return nil, fmt.Errorf("%s: decoding the audio: %w", media, err)
	}
	return x, nil
}

// hear gives each contact its voice timeline: the voice path over the
// whole recording.
func (h *Hearing) hear(ctx context.Context, x []float32, start time.Time, cs []*contact.Contact) error {
	rs, err := h.Listen(ctx, x, start)
	if err != nil {
		return err
	}
	for _, c := range cs {
		var in []voice.Reading
		for _, r := range rs {
			if !r.Start.Before(c.Arrive) && r.Start.Before(c.Leave) {
				in = append(in, r)
			}
		}
		c.Voice = voice.ContactVoice(in)
	}
	return nil
}

// score gives every contact its likely-negative score, against the
// usual length of this recording's contacts.
func score(cs []*contact.Contact) {
	u := likely.UsualOf(cs)
	for _, c := range cs {
		c.Likely = likely.Score(c, u, likely.DefaultWeights)
	}
}
