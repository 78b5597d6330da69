package turns

import (
	"slices"
	"testing"

	"contactd/classifier/features"
)

// TestLoudVoiced: speech the VAD missed is a loud, mostly voiced run of
// half a second or more, over short dips between words; a loud unvoiced
// run (a door, paper), a short voiced one or frames the VAD already has
// are not.
func TestLoudVoiced(t *testing.T) {
	const n = 400
	pa, pb := make([][]float64, n), make([][]float64, n)
	ad, ap := &features.Analysis{Frames: make([]features.Frame, n)}, &features.Analysis{Frames: make([]features.Frame, n)}
	speech := make([]bool, n)
	for i := range n {
		pa[i], pb[i] = make([]float64, twoFFT/2+1), make([]float64, twoFFT/2+1)
	}
	mark := func(from, to int, voiced bool) {
		for i := from; i < to; i++ {
			for k := twoLoBin; k < twoHiBin; k++ {
				pb[i][k] = 1e-3
			}
			if voiced {
				ap.Frames[i].F0 = 180
			}
		}
	}
	mark(10, 40, true) // words of 0.3 s, a 0.2 s dip, 0.4 s
	mark(60, 100, true)
	mark(120, 200, false) // a loud noise, unvoiced
	mark(220, 250, true)  // 0.3 s alone: too short
	mark(280, 360, true)  // the VAD heard it already
	for i := 280; i < 360; i++ {
		speech[i] = true
	}
	got := loudVoiced(pa, pb, ad, ap, speech, db(1e-3*float64(twoHiBin-twoLoBin))-1, twoVoicedBridge)
	if want := [][2]int{{10, 100}}; !slices.Equal(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
}
