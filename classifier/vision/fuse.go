package vision

// Fuser fuses the voice and the face of one employee into one emotion
// stream. The rule: valence and arousal are an exponential average fed by
// both modalities — each second of the employee's speech with weight
// 0.25 × its speech fraction, each look at their face with weight 0.1, or
// a quarter of that in the second after speech (a talking mouth reads
// poorly as an expression). So while they speak the voice leads; when
// they are silent the face carries the stream (four looks a second at the
// default rate); with neither, it holds. Smile is the same average of the
// smile probability, over face looks only.
type Fuser struct {
	Valence float64 `json:"valence"`
	Arousal float64 `json:"arousal"`
	Smile   float64 `json:"smile"`
	// Voice and Face say whether each modality has contributed yet.
	Voice   bool `json:"voice"`
	Face    bool `json:"face"`
	talking int  // face looks left that follow speech
}

// Fusion weights (see Fuser).
const (
	VoiceWeight = 0.25
	FaceWeight  = 0.1
)

// AddVoice feeds one second of the employee's speech (speech fraction
// 0–1) with its valence and arousal.
func (f *Fuser) AddVoice(speech, valence, arousal float64) {
	if speech <= 0.2 {
		return
	}
	f.add(VoiceWeight*min(speech, 1), valence, arousal)
	f.Voice = true
	f.talking = LooksPerSecond
}

// LooksPerSecond is the face rate the speech damping assumes (face.fps default).
const LooksPerSecond = 4

// AddFace feeds one look at the face.
func (f *Fuser) AddFace(r Reading) {
	if !r.Face {
		return
	}
	k := FaceWeight
	if f.talking > 0 {
		k, f.talking = FaceWeight/4, f.talking-1
	}
	f.add(k, r.Valence, r.Arousal)
	if !f.Face {
		f.Smile = r.Happy
	} else {
		f.Smile += FaceWeight * (r.Happy - f.Smile)
	}
	f.Face = true
}

func (f *Fuser) add(k, valence, arousal float64) {
	if !f.Voice && !f.Face { // the first reading sets the state
		f.Valence, f.Arousal = valence, arousal
		return
	}
	f.Valence += k * (valence - f.Valence)
	f.Arousal += k * (arousal - f.Arousal)
}
