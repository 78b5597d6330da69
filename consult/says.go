package consult

import (
	"slices"
	"time"

	"contactd/appointments"
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

// Windows is the bookings' time, each widened by the room rules (Early
// before the start, MaxOverrun after the end), overlapping ones merged
// and sorted: the stretches where a room's voices can make contacts.
func Windows(cfg Config, appts []appointments.Appointment) [][2]time.Time {
	var w [][2]time.Time
	for _, a := range appts {
		if a.Cancelled {
			continue
		}
		w = append(w, [2]time.Time{a.Start.Add(-cfg.Early), a.End.Add(cfg.MaxOverrun)})
	}
	slices.SortFunc(w, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	out := w[:0]
	for _, x := range w {
		if n := len(out); n > 0 && !x[0].After(out[n-1][1]) {
			if x[1].After(out[n-1][1]) {
				out[n-1][1] = x[1]
			}
			continue
		}
		out = append(out, x)
	}
	return out
}
