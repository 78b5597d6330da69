package vision

import "testing"

func TestFuser(t *testing.T) {
	var f Fuser
	// Silent, smiling: the face carries the stream.
	for i := 0; i < 40; i++ {
		f.AddFace(Reading{Face: true, Valence: 0.8, Arousal: 0.5, Happy: 0.9})
	}
	if f.Valence < 0.75 || f.Smile < 0.85 || f.Voice {
		t.Fatalf("smiling face: %+v", f)
	}
	// Then an angry voice for 5 s while the face keeps smiling: the voice leads.
	for s := 0; s < 5; s++ {
		f.AddVoice(1, -0.8, 0.7)
		for i := 0; i < 4; i++ {
			f.AddFace(Reading{Face: true, Valence: 0.8, Arousal: 0.5, Happy: 0.9})
		}
	}
	if f.Valence > 0 {
		t.Errorf("an angry voice over a smile should pull valence below zero: %+v", f)
	}
	// No face found, no speech: nothing moves.
	v := f.Valence
	f.AddFace(Reading{})
	f.AddVoice(0.1, 1, 1)
	if f.Valence != v {
		t.Errorf("empty readings moved the stream: %v → %v", v, f.Valence)
	}
}
