package server

import (
	"time"

	"contactd/appointments"
	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/turns"
	"contactd/classifier/voice"
	"contactd/consult"
	"contactd/contact"
	"contactd/live"
)

// rooms gives the live engine the consulting rooms: bookings from the
// schedule, who spoke when from the voice path (a room with two
// microphones: from its recording's two channels), each consultation's
// conversation measured on its clip (with the doctor's enrolled voice, or
// the two microphones).
func (s *Server) rooms() *live.Rooms {
	any := false
	for _, st := range s.Config.Stations {
		any = any || st.IsRoom()
		if st.IsRoom() && st.DoctorMic == "" {
			// Said once at start: the counts a reviewer reads are less sure.
			s.Log.Info("consulting room on one microphone: its turn and interruption counts are estimates (stations[].doctor_mic for two)", "station", st.ID)
		}
	}
	if !any {
		return nil
	}
	return &live.Rooms{
		Is: func(station string) bool { st, ok := s.stations[station]; return ok && st.IsRoom() },
		Appointments: func(room string, from, to time.Time) []appointments.Appointment {
			return s.schedule.In(room, from, to)
		},
		Consult: s.Config.Consult,
		Speech: func(station string, from, to time.Time) []contact.Say {
			if ch := s.stations[station].DoctorChannel(); ch >= 0 {
				return s.twoRoomSpeech(station, ch, from, to)
			}
			return voice.Says(s.voice.Readings(station, from, to, 3*time.Second))
		},
		Converse: s.converse,
		NoShow: func(a appointments.Appointment) {
			s.pipeline.Consult.NoShows.WithLabelValues(s.Config.Site, a.Room, a.Doctor).Inc()
		},
	}
}

// converse measures a consultation from its clip: the doctor's and the
// patient's turns found on the clip's audio.
func (s *Server) converse(c *contact.Contact, clip string) *contact.Conversation {
	m := s.voice.Models
	models := turns.Models{VAD: m.VAD, Background: m.Background, Emotion: m.Emotion}
	// Only the consultation, not the clip's rolls.
	cut := func(x []float32) ([]float32, time.Time) {
		a := max(0, min(int(c.Arrive.Sub(c.ClipStart).Seconds()*features.Rate), len(x)))
		b := max(a, min(int(c.Leave.Sub(c.ClipStart).Seconds()*features.Rate), len(x)))
		return x[a:b], c.ClipStart.Add(time.Duration(a) * time.Second / features.Rate)
	}
	var segs []turns.Segment
	var base time.Time
	var sep float64
	if ch := s.stations[c.Station].DoctorChannel(); ch >= 0 {
		// Two microphones: they tell the voices apart, no enrolled voice needed.
		var mics [2][]float32
		for i, k := range []int{ch, 1 - ch} {
			x, err := audio.DecodeChannel(clip, features.Rate, k)
			if err != nil {
				s.Log.Warn("consultation audio", "contact", c.ID, "channel", k, "error", err)
				return nil
			}
			mics[i], base = cut(x)
		}
		var err error
		if segs, sep, err = turns.FindTwoSeparated(mics[0], mics[1], models, turns.DefaultTwoConfig); err != nil {
			s.Log.Warn("consultation turns", "contact", c.ID, "error", err)
			return nil
		}
		if sep > 0 && sep < turns.SureSeparation {
			// Said per consultation: an installer moves the doctor's microphone.
			s.Log.Warn("the room's two microphones hardly tell the voices apart: the doctor's microphone should be nearer the doctor (a lapel)",
				"contact", c.ID, "station", c.Station, "separation_db", sep, "want_db", turns.SureSeparation)
		}
	} else {
		v := s.voices[c.Employee]
		if v == nil {
			s.Log.Info("no conversation metrics: the doctor's voice is not enrolled", "contact", c.ID, "doctor", c.Employee)
			return nil
		}
		x, err := audio.DecodeFile(clip, features.Rate)
		if err != nil {
			s.Log.Warn("consultation audio", "contact", c.ID, "error", err)
			return nil
		}
		var y []float32
		y, base = cut(x)
		if segs, err = turns.Find(y, models, v, turns.DefaultConfig); err != nil {
			s.Log.Warn("consultation turns", "contact", c.ID, "error", err)
			return nil
		}
	}
	conv := consult.Measure(s.Config.Consult, consult.Says(segs, base), c.Arrive)
	conv.Microphones = 1
	if s.stations[c.Station].DoctorChannel() >= 0 {
		conv.Microphones, conv.MicSeparation = 2, sep
	}
	return conv
}

// consent says whether a station may be recorded at a time: always, but
// for a room that records only inside its bookings (from consult.early
// before the start to consult.max_overrun after the end).
func (s *Server) consent(station string, at time.Time) bool {
	st, ok := s.stations[station]
	if !ok || st.Record != "appointments" {
		return true
	}
	c := s.Config.Consult
	for _, a := range s.schedule.In(station, at.Add(-c.MaxOverrun), at.Add(c.Early+time.Nanosecond)) {
		if !a.Cancelled && !at.Before(a.Start.Add(-c.Early)) && at.Before(a.End.Add(c.MaxOverrun)) {
			return true
		}
	}
	return false
}

// consentFunc is the ingest's consent check, nil when every station records always.
func (s *Server) consentFunc() func(string, time.Time) bool {
	for _, st := range s.Config.Stations {
		if st.Record == "appointments" {
			return s.consent
		}
	}
	return nil
}
