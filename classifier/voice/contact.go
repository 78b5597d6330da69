package voice

import (
	"time"

	"contactd/contact"
)

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

// Says turns readings (one a second) into stretches of one speaker's
// speech: consecutive seconds with at least 0.2 s of speech by the same
// speaker. It is the coarse who-spoke-when that finds consultations.
func Says(rs []Reading) []contact.Say {
	var out []contact.Say
	for _, r := range rs {
		if r.Speech < 0.2 || r.Who == "" {
			continue
		}
		end := r.Start.Add(time.Second)
		if n := len(out); n > 0 && out[n-1].Who == r.Who && !r.Start.After(out[n-1].End) {
			out[n-1].End = end
			continue
		}
		out = append(out, contact.Say{Who: r.Who, Start: r.Start, End: end})
	}
	return out
}
