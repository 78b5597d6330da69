package consult

import (
	"time"

	"contactd/classifier/turns"
	"contactd/contact"
)

// Says places segments of a recording that began at t0 on the wall clock.
func Says(segs []turns.Segment, t0 time.Time) []contact.Say {
	out := make([]contact.Say, 0, len(segs))
	for _, s := range segs {
		out = append(out, contact.Say{Who: s.Who, Start: t0.Add(s.Start), End: t0.Add(s.End), Overlap: !s.AfterPause,
			Syllables: s.Syllables, Emotion: s.Emotion, Valence: s.Valence})
	}
	return out
}
