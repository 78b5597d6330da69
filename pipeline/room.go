package pipeline

import (
	"context"
	"fmt"
	"time"

	"contactd/appointments"
	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/turns"
	"contactd/consult"
	"contactd/contact"
	"contactd/segmenter"
)

// Room makes an analysis a consulting room's: contacts come from the
// appointments (refined by the door or button events, or by the voices),
// and each gets its conversation measured.
type Room struct {
	Appointments []appointments.Appointment
	Consult      consult.Config
	Turns        turns.Config
	Models       turns.Models
	// Voice returns a doctor's enrolled voice (nil: not enrolled).
	Voice func(doctor string) *speaker.Voice
	// Two, when set, is a room with two microphones on the recording's
	// two channels: the doctor's and the room's. The voices are told
	// apart by the microphones; no enrolled voice is needed.
	Two *TwoMics
}

// TwoMics is a two-microphone room's audio.
type TwoMics struct {
	DoctorChannel int // 0 or 1; the other channel is the room's microphone
	Turns         turns.TwoConfig
}

// twoContacts is contacts for a room with two microphones.
func (r *Room) twoContacts(ctx context.Context, o Options, start time.Time, in segmenter.Input, rep *Report) (*segmenter.Result, error) {
	var mics [2][]float32
	for i, ch := range []int{r.Two.DoctorChannel, 1 - r.Two.DoctorChannel} {
		x, err := audio.DecodeChannel(o.Media, features.Rate, ch)
		if err != nil {
			return nil, fmt.Errorf("%s: decoding microphone %d of room %s (doctor_mic): %w", o.Media, i+1, o.Station, err)
		}
		mics[i] = x
	}
	at := func(d time.Duration) int {
		return max(0, min(int(d.Seconds()*features.Rate), len(mics[0]), len(mics[1])))
	}
	find := func(from, to time.Time) ([]contact.Say, float64, error) {
		a, b := at(from.Sub(start)), at(to.Sub(start))
		segs, sep, err := turns.FindTwoSeparated(mics[0][a:b], mics[1][a:b], r.Models, r.Two.Turns)
		if err != nil {
			return nil, 0, err
		}
		return consult.Says(segs, start.Add(time.Duration(a)*time.Second/features.Rate)), sep, nil
	}
	var appts []appointments.Appointment
	for _, a := range r.Appointments {
		if a.Room == o.Station && a.End.After(start) && a.Start.Before(in.Until) {
			appts = append(appts, a)
		}
	}
	// Who spoke when over the bookings (widened by the room rules).
	var speech []contact.Say
	for _, w := range consult.Windows(r.Consult, appts) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		says, _, err := find(w[0], w[1])
		if err != nil {
			return nil, err
		}
		speech = append(speech, says...)
	}
	res := consult.Contacts(r.Consult, consult.Input{Room: o.Station, Appointments: appts, Events: in.Events, Speech: speech})
	rep.NoShows = res.NoShows
	if rep.NoShows == nil {
		rep.NoShows = []appointments.Appointment{}
	}
	for _, c := range res.Contacts {
		c.ClipStart, c.ClipEnd = c.Arrive.Add(-o.Segmenter.PreRoll), c.Leave.Add(o.Segmenter.PostRoll)
		if c.ClipStart.Before(start) {
			c.ClipStart = start
		}
		if c.ClipEnd.After(in.Until) {
			c.ClipEnd = in.Until
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		says, sep, err := find(c.Arrive, c.Leave)
		if err != nil {
			return nil, err
		}
		c.Conversation = consult.Measure(r.Consult, says, c.Arrive)
		c.Conversation.Microphones, c.Conversation.MicSeparation = 2, sep
	}
	join := segmenter.Join(o.Segmenter, o.Rules, res.Contacts, in.Ratings)
	return &segmenter.Result{Contacts: res.Contacts, Orphans: join.Orphans, Debounced: join.Debounced}, nil
}

// roomContacts runs the room rules over the recording.
func (r *Room) contacts(ctx context.Context, o Options, start time.Time, in segmenter.Input, rep *Report) (*segmenter.Result, error) {
	if r.Two != nil {
		return r.twoContacts(ctx, o, start, in, rep)
	}
	x, err := audio.DecodeFile(o.Media, features.Rate)
	if err != nil {
		return nil, fmt.Errorf("%s: decoding the audio: %w", o.Media, err)
	}
	at := func(d time.Duration) int { return max(0, min(int(d.Seconds()*features.Rate), len(x))) }
	// Who spoke when, over each doctor's bookings (a room may host several
	// doctors in a day): the voice evidence of the consultations.
	var appts []appointments.Appointment
	for _, a := range r.Appointments {
		if a.Room == o.Station && a.End.After(start) && a.Start.Before(in.Until) {
			appts = append(appts, a)
		}
	}
	var speech []contact.Say
	voices := map[string]*speaker.Voice{}
	for _, a := range appts {
		if _, ok := voices[a.Doctor]; ok {
			continue
		}
		v := r.Voice(a.Doctor)
		voices[a.Doctor] = v
		if v == nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("doctor %s has no enrolled voice: their consultations need a door or button, and get no conversation metrics", a.Doctor))
			continue
		}
		// The doctor's bookings, widened by the room rules.
		var from, to time.Time
		for _, b := range appts {
			if b.Doctor != a.Doctor {
				continue
			}
			if f := b.Start.Add(-r.Consult.Early); from.IsZero() || f.Before(from) {
				from = f
			}
			if t := b.End.Add(r.Consult.MaxOverrun); t.After(to) {
				to = t
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The doctor's whole day holds many patients: the projected cosine
		// compares stretches relative to a recording of two voices, so this
		// pass ranks them by the enrolled voice's ratio alone (each
		// consultation's own pass below uses both).
		day := r.Turns
		day.Nuisance = false
		segs, err := turns.Find(x[at(from.Sub(start)):at(to.Sub(start))], r.Models, v, day)
		if err != nil {
			return nil, err
		}
		base := start.Add(time.Duration(at(from.Sub(start))) * time.Second / features.Rate)
		speech = append(speech, consult.Says(segs, base)...)
	}
	res := consult.Contacts(r.Consult, consult.Input{Room: o.Station, Appointments: appts, Events: in.Events, Speech: speech})
	rep.NoShows = res.NoShows
	if rep.NoShows == nil {
		rep.NoShows = []appointments.Appointment{}
	}
	for _, c := range res.Contacts {
		c.ClipStart, c.ClipEnd = c.Arrive.Add(-o.Segmenter.PreRoll), c.Leave.Add(o.Segmenter.PostRoll)
		if c.ClipStart.Before(start) {
			c.ClipStart = start
		}
		if c.ClipEnd.After(in.Until) {
			c.ClipEnd = in.Until
		}
		v := voices[c.Employee]
		if v == nil {
			continue
		}
		// The consultation's own audio: the patient's voice is learnt on it alone.
		a, b := at(c.Arrive.Sub(start)), at(c.Leave.Sub(start))
		segs, err := turns.Find(x[a:b], r.Models, v, r.Turns)
		if err != nil {
			return nil, err
		}
		c.Conversation = consult.Measure(r.Consult, consult.Says(segs, start.Add(time.Duration(a)*time.Second/features.Rate)), c.Arrive)
		c.Conversation.Microphones = 1
	}
	join := segmenter.Join(o.Segmenter, o.Rules, res.Contacts, in.Ratings)
	return &segmenter.Result{Contacts: res.Contacts, Orphans: join.Orphans, Debounced: join.Debounced}, nil
}
