package voice

import "contactd/contact"

// ContactVoice gathers a contact's readings by speaker, with summaries;
// nil when nobody spoke.
func ContactVoice(rs []Reading) *contact.Voice {
	v := &contact.Voice{}
	side := func(who string) **contact.VoiceSide {
		switch who {
		case Employee:
			return &v.Employee
		case Patient:
			return &v.Patient
		}
		return &v.Unattributed
	}
	any := false
	for _, r := range rs {
		if r.Prediction == nil {
			continue
		}
		any = true
		sp := side(r.Who)
		if *sp == nil {
			*sp = &contact.VoiceSide{EmotionSeconds: map[string]float64{}, Timeline: []contact.VoiceSecond{}}
		}
		s := *sp
		s.Timeline = append(s.Timeline, contact.VoiceSecond{At: r.Start, Speech: r.Speech, Emotion: r.Emotion,
			Arousal: r.Arousal, Valence: r.Valence, Confidence: r.Confidence})
		s.SpeechSeconds += r.Speech
		s.EmotionSeconds[r.Emotion] += r.Speech
		s.MeanArousal += r.Arousal * r.Speech
		s.MeanValence += r.Valence * r.Speech
	}
	if !any {
		return nil
	}
	for _, s := range []*contact.VoiceSide{v.Employee, v.Patient, v.Unattributed} {
		if s == nil || s.SpeechSeconds == 0 {
			continue
		}
		s.MeanArousal /= s.SpeechSeconds
		s.MeanValence /= s.SpeechSeconds
		s.NegativeShare = (s.EmotionSeconds["sad"] + s.EmotionSeconds["angry"]) / s.SpeechSeconds
	}
	return v
}
