package daygen

import (
	"math"
	"testing"
	"time"
)

func tone(n int, freq float64) []Utterance {
	var us []Utterance
	for i := 0; i < n; i++ {
		x := make([]float32, int((1.2+0.15*float64(i%7))*Rate))
		for k := range x {
			x[k] = float32(0.1 * math.Sin(2*math.Pi*freq*float64(k)/Rate))
		}
		us = append(us, Utterance{PCM: x, Emotion: []string{"neutral", "angry", "happy", "sad", "calm", "fearful"}[i%6], Text: 1 + i%2})
	}
	return us
}

// TestConsultScript: the script's counts are what its turns show — an
// interruption is a turn that starts before the other's ends — and nobody
// speaks over their own last turn, over many draws.
func TestConsultScript(t *testing.T) {
	kinds := []Kind{Normal, Overrun, BackToBack, Normal, NoShow, Normal}
	var turns, interruptions int
	for seed := uint64(1); seed <= 12; seed++ {
		d, err := GenerateConsultDay(ConsultOptions{Start: time.Unix(0, 0), Room: "room-1", Doctor: tone(12, 180),
			Patients: [][]Utterance{tone(12, 240), tone(12, 300)}, Kinds: kinds, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range d.Slots {
			if s.Kind == NoShow {
				continue
			}
			if s.Turns != len(s.Script) {
				t.Fatalf("seed %d %s: %d turns counted, %d in the script", seed, s.ID, s.Turns, len(s.Script))
			}
			n := 0
			for i, st := range s.Script {
				if i > 0 && st.Start.Before(s.Script[i-1].End) {
					n++
					if st.Doctor == s.Script[i-1].Doctor {
						t.Errorf("seed %d %s: turn %d interrupts its own speaker", seed, s.ID, i)
					}
				}
				if i > 1 && st.Start.Before(s.Script[i-2].End.Add(400*time.Millisecond)) {
					t.Errorf("seed %d %s: turn %d starts %v, within 0.4 s of the same speaker's turn ending %v",
						seed, s.ID, i, st.Start.Sub(d.Start), s.Script[i-2].End.Sub(d.Start))
				}
			}
			if n != s.Interruptions {
				t.Errorf("seed %d %s: %d interruptions counted, %d turns start over the other's", seed, s.ID, s.Interruptions, n)
			}
			turns += s.Turns
			interruptions += n
		}
	}
	// About a quarter of the changes are interruptions (some become pauses).
	if r := float64(interruptions) / float64(turns); r < 0.12 || r > 0.3 {
		t.Errorf("interruptions are %.2f of the turns", r)
	}
}
