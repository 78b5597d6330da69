package consult

import (
	"slices"
	"time"

	"contactd/appointments"
	"contactd/contact"
	"contactd/segmenter"
)

// Input is what is known of one room over a span of time.
type Input struct {
	Room         string
	Appointments []appointments.Appointment
	// Events from a door sensor or the doctor's start/stop button:
	// arrive opens a consultation, leave closes it.
	Events []contact.Event
	// Speech is who spoke when in the room, over the whole span.
	Speech []contact.Say
}

// Result is the room's consultations and the appointments nobody came to.
type Result struct {
	Contacts []*contact.Contact
	NoShows  []appointments.Appointment
}

// session is a stretch of presence found by one kind of evidence.
type session struct {
	start, end time.Time
	source     string // door/button source, or "voice"
	patient    float64
}

// Contacts makes a room's consultations. Sessions come from the door or
// button (arrive to leave) and, where there is none, from the voices: a
// stretch of conversation (speech with pauses shorter than Gap) in which
// the patient spoke at least MinPatient. In time order, each session goes
// to the earliest booking not yet taken that it starts in (from Early
// before the booked start to the booked end) or, when the consultation
// before ran past that booking's start, that began within Early of the
// consultation before ending (the doctor running late); one that fits none
// is an unscheduled contact, and a booking no session took is a no-show.
func Contacts(cfg Config, in Input) *Result {
	appts := slices.DeleteFunc(slices.Clone(in.Appointments), func(a appointments.Appointment) bool {
		return a.Cancelled || a.Room != in.Room
	})
	slices.SortFunc(appts, func(a, b appointments.Appointment) int { return a.Start.Compare(b.Start) })
	sessions := eventSessions(in.Room, in.Events)
	// Speech inside a door or button session is that session's; the rest
	// makes the voice sessions.
	free := slices.DeleteFunc(slices.Clone(in.Speech), func(x contact.Say) bool {
		mid := x.Start.Add(x.End.Sub(x.Start) / 2)
		return slices.ContainsFunc(sessions, func(s session) bool { return !mid.Before(s.start) && mid.Before(s.end) })
	})
	sessions = append(sessions, voiceSessions(cfg, free, appts)...)
	slices.SortFunc(sessions, func(a, b session) int { return a.start.Compare(b.start) })

	res := &Result{}
	taken := make([]bool, len(appts))
	var busyFrom, busyUntil time.Time // the last consultation that took a booking
	for _, s := range sessions {
		if s.source == "voice" && s.patient < cfg.MinPatient.Seconds() {
			continue // one voice only: the doctor on the phone, not a patient
		}
		// The earliest booking still open that the session can belong to:
		// patients come late more often than a whole slot early.
		best := -1
		for i, a := range appts {
			if !taken[i] && !s.start.Before(a.Start.Add(-cfg.Early)) && s.start.Before(a.End) {
				best = i
				break
			}
		}
		if best < 0 && !busyUntil.IsZero() {
			// The doctor running late: a booking began while the
			// consultation before was still going on, and its patient,
			// waiting, came in when it ended — after their own booked
			// end, maybe.
			for i, a := range appts {
				if !taken[i] && a.Start.After(busyFrom) && a.Start.Before(busyUntil) && s.start.Before(busyUntil.Add(cfg.Early)) {
					best = i
					break
				}
			}
		}
		c := &contact.Contact{Station: in.Room, Arrive: s.start, Leave: s.end, Flags: []contact.Flag{}}
		if best >= 0 {
			busyFrom, busyUntil = s.start, s.end
		}
		if best < 0 {
			c.AddFlag(contact.FlagUnscheduled)
		} else {
			a := appts[best]
			taken[best] = true
			c.Employee = a.Doctor
			c.Appointment = &contact.Appointment{ID: a.ID, Start: a.Start, End: a.End}
			if s.end.After(a.End.Add(cfg.Overrun)) {
				c.AddFlag(contact.FlagOverrun)
			}
		}
		c.ID = segmenter.ID(in.Room, c.Arrive)
		res.Contacts = append(res.Contacts, c)
	}
	for i, a := range appts {
		if !taken[i] {
			res.NoShows = append(res.NoShows, a)
		}
	}
	return res
}

// eventSessions pairs each arrive with the next leave.
func eventSessions(room string, events []contact.Event) []session {
	evs := slices.DeleteFunc(slices.Clone(events), func(e contact.Event) bool { return e.Station != room })
	slices.SortStableFunc(evs, func(a, b contact.Event) int { return a.At.Compare(b.At) })
	var out []session
	var open *contact.Event
	for i := range evs {
		e := &evs[i]
		switch {
		case e.Type == contact.Arrive && open == nil:
			open = e
		case e.Type == contact.Leave && open != nil:
			src := open.Source
			if src == "" || src == "voice" {
				src = "sensor"
			}
			out = append(out, session{start: open.At, end: e.At, source: src})
			open = nil
		}
	}
	return out
}

// voiceSessions groups speech into conversations: says apart by less than
// Gap. A conversation that spans the boundary between two appointments
// (back to back, no door) is split at its longest pause near the boundary.
func voiceSessions(cfg Config, says []contact.Say, appts []appointments.Appointment) []session {
	says = slices.Clone(says)
	slices.SortFunc(says, func(a, b contact.Say) int { return a.Start.Compare(b.Start) })
	var groups [][]contact.Say
	for i, s := range says {
		if i == 0 || s.Start.Sub(groupEnd(groups[len(groups)-1])) >= cfg.Gap {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], s)
	}
	var out []session
	for _, g := range groups {
		for _, part := range splitAtBoundaries(cfg, g, appts) {
			s := session{start: part[0].Start, end: groupEnd(part), source: "voice"}
			for _, x := range part {
				if x.Who == Patient {
					s.patient += x.End.Sub(x.Start).Seconds()
				}
			}
			out = append(out, s)
		}
	}
	return out
}

func groupEnd(g []contact.Say) time.Time {
	var end time.Time
	for _, s := range g {
		if s.End.After(end) {
			end = s.End
		}
	}
	return end
}

// splitAtBoundaries cuts a conversation that began before a booked start
// and goes on past it at its longest pause of at least ChangePause between
// two minutes before and MaxOverrun after that start: the previous patient
// leaving, the next coming in.
func splitAtBoundaries(cfg Config, g []contact.Say, appts []appointments.Appointment) [][]contact.Say {
	out := [][]contact.Say{g}
	for _, a := range appts {
		last := out[len(out)-1]
		if len(last) < 2 || !last[0].Start.Before(a.Start) || !groupEnd(last).After(a.Start) {
			continue
		}
		from, to := a.Start.Add(-2*time.Minute), a.Start.Add(cfg.MaxOverrun)
		cut, longest := -1, cfg.ChangePause
		end := last[0].End
		for i := 1; i < len(last); i++ {
			if p := last[i].Start.Sub(end); p >= longest && !last[i].Start.Before(from) && !end.After(to) {
				cut, longest = i, p
			}
			if last[i].End.After(end) {
				end = last[i].End
			}
		}
		if cut > 0 {
			out = append(out[:len(out)-1], last[:cut], last[cut:])
		}
	}
	return out
}
