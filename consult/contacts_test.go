package consult

import (
	"math"
	"slices"
	"testing"
	"time"

	"contactd/appointments"
	"contactd/contact"
	"contactd/daygen"
)

// scriptSays is the generated day's true speech: who spoke when.
func scriptSays(d *daygen.ConsultDay) []contact.Say {
	var out []contact.Say
	for _, s := range d.Slots {
		var prevEnd time.Time
		for i, t := range s.Script {
			who := Patient
			if t.Doctor {
				who = Doctor
			}
			out = append(out, contact.Say{Who: who, Start: t.Start, End: t.End, Overlap: i > 0 && t.Start.Before(prevEnd)})
			prevEnd = t.End
		}
	}
	return out
}

func syntheticVoice(n int, seed float64) []daygen.Utterance {
	var us []daygen.Utterance
	for i := 0; i < n; i++ {
		x := make([]float32, int((1.2+0.1*float64(i%8))*daygen.Rate))
		for k := range x {
			x[k] = float32(0.1 * math.Sin(float64(k)*seed))
		}
		us = append(us, daygen.Utterance{PCM: x, Emotion: []string{"neutral", "angry", "happy", "sad", "calm"}[i%5]})
	}
	return us
}

// TestScheduleContacts runs the room rules on a generated day's true
// speech (the segmentation is tested on its own): consultations found
// where they happened, a no-show counted, overruns flagged, back-to-back
// consultations split with and without a door, a cancelled appointment
// ignored, a walk-in kept as unscheduled, and the metrics equal to the script.
func TestScheduleContacts(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	kinds := []daygen.Kind{daygen.Normal, daygen.Normal, daygen.NoShow, daygen.Overrun, daygen.BackToBack, daygen.Normal, daygen.Overrun, daygen.BackToBack}
	doors := []bool{true, false, false, false, true, false, false, false}
	d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: t0, Room: "room-1", Doctor: syntheticVoice(12, 0.05),
		Patients: [][]daygen.Utterance{syntheticVoice(20, 0.09)}, Kinds: kinds, Doors: doors, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var appts []appointments.Appointment
	for _, s := range d.Slots {
		appts = append(appts, appointments.Appointment{ID: s.ID, Room: "room-1", Doctor: "dr-ivanova", Start: s.Start, End: s.End})
	}
	// A cancelled booking over the no-show's slot, and another room's.
	appts = append(appts, appointments.Appointment{ID: "X-1", Room: "room-1", Doctor: "dr-petrov", Start: d.Slots[2].Start, End: d.Slots[2].End, Cancelled: true},
		appointments.Appointment{ID: "Y-1", Room: "room-2", Doctor: "dr-petrov", Start: d.Slots[0].Start, End: d.Slots[0].End})
	says := scriptSays(d)
	// A walk-in after the last booking: two voices, nobody booked.
	last := d.Slots[len(d.Slots)-1]
	walkIn := last.End
	if last.Leave.After(walkIn) { // the doctor ran late
		walkIn = last.Leave
	}
	walkIn = walkIn.Add(40 * time.Second)
	for i := 0; i < 4; i++ {
		who := []string{Doctor, Patient}[i%2]
		at := walkIn.Add(time.Duration(i) * 3 * time.Second)
		says = append(says, contact.Say{Who: who, Start: at, End: at.Add(2 * time.Second)})
	}
	cfg := DefaultConfig()
	res := Contacts(cfg, Input{Room: "room-1", Appointments: appts, Events: d.Events, Speech: says})

	if len(res.NoShows) != 1 || res.NoShows[0].ID != d.Slots[2].ID {
		t.Errorf("no-shows %+v, want only %s", res.NoShows, d.Slots[2].ID)
	}
	byAppt := map[string]*contact.Contact{}
	unscheduled := 0
	for _, c := range res.Contacts {
		if c.Appointment == nil {
			unscheduled++
			if !c.HasFlag(contact.FlagUnscheduled) || c.Arrive.Sub(walkIn).Abs() > time.Second {
				t.Errorf("unscheduled contact at %v flags %v, want the walk-in at %v", c.Arrive.Sub(t0), c.Flags, walkIn.Sub(t0))
			}
			continue
		}
		byAppt[c.Appointment.ID] = c
	}
	if unscheduled != 1 {
		t.Errorf("%d unscheduled contacts, want the walk-in", unscheduled)
	}
	overruns := 0
	for _, s := range d.Slots {
		if s.Kind == daygen.NoShow {
			continue
		}
		c := byAppt[s.ID]
		if c == nil {
			t.Errorf("%s (%s): no contact", s.ID, kindName(s.Kind))
			continue
		}
		if c.Arrive.Sub(s.Arrive).Abs() > 100*time.Millisecond || c.Leave.Sub(s.Leave).Abs() > 100*time.Millisecond {
			t.Errorf("%s (%s, door %v): contact %v–%v, want %v–%v", s.ID, kindName(s.Kind), s.Door, c.Arrive.Sub(t0), c.Leave.Sub(t0), s.Arrive.Sub(t0), s.Leave.Sub(t0))
		}
		over := s.Leave.After(s.End.Add(cfg.Overrun))
		if over {
			overruns++
		}
		if over != c.HasFlag(contact.FlagOverrun) {
			t.Errorf("%s: overrun flag %v, want %v", s.ID, c.HasFlag(contact.FlagOverrun), over)
		}
		if c.Employee != "dr-ivanova" || c.Appointment.Start != s.Start || c.Station != "room-1" {
			t.Errorf("%s: doctor %q appointment %+v station %q", s.ID, c.Employee, c.Appointment, c.Station)
		}
		in := slices.DeleteFunc(slices.Clone(says), func(x contact.Say) bool { return x.Start.Before(c.Arrive) || x.Start.After(c.Leave) })
		conv := Measure(cfg, in, c.Arrive)
		want := s.DoctorSpeech / (s.DoctorSpeech + s.PatientSpeech)
		if math.Abs(conv.DoctorShare-want) > 0.02 || conv.Turns != s.Turns || conv.DoctorInterruptions+conv.PatientInterruptions != s.Interruptions {
			t.Errorf("%s: share %.3f turns %d interruptions %d; script %.3f, %d, %d", s.ID, conv.DoctorShare, conv.Turns,
				conv.DoctorInterruptions+conv.PatientInterruptions, want, s.Turns, s.Interruptions)
		}
	}
	if overruns < 2 {
		t.Errorf("the day has %d overruns; the script was meant to have two", overruns)
	}
}

// TestMeasure checks each metric on a hand-made consultation.
func TestMeasure(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	says := []contact.Say{
		{Who: Doctor, Start: at(2), End: at(6), Syllables: 16},                                  // greeting, 4 s
		{Who: Patient, Start: at(7), End: at(15), Syllables: 24, Emotion: "sad", Valence: -0.6}, // opening, cut short
		{Who: Doctor, Start: at(14.5), End: at(20), Overlap: true, Syllables: 22},               // interrupts, 5.5 s
		{Who: Doctor, Start: at(20.5), End: at(30), Syllables: 38},                              // same turn: 15.5 s in all
		{Who: Patient, Start: at(40), End: at(44), Syllables: 12, Emotion: "neutral", Valence: 0},
		{Who: Doctor, Start: at(44), End: at(44.5), Overlap: true, Syllables: 2}, // a short overlap, not an interruption
		{Who: Patient, Start: at(45), End: at(53), Syllables: 24, Emotion: "happy", Valence: 0.6},
	}
	c := Measure(DefaultConfig(), says, t0)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("doctor seconds", c.DoctorSeconds, 4+5.5+9.5+0.5)
	near("patient seconds", c.PatientSeconds, 8+4+8)
	near("doctor share", c.DoctorShare, 19.5/39.5)
	if c.Turns != 6 || c.DoctorTurns != 3 || c.PatientTurns != 3 {
		t.Errorf("turns %d (doctor %d, patient %d), want 6 (3, 3)", c.Turns, c.DoctorTurns, c.PatientTurns)
	}
	if c.Overlaps != 2 || c.DoctorInterruptions != 1 || c.PatientInterruptions != 0 {
		t.Errorf("overlaps %d, interruptions %d/%d; want 2, 1/0", c.Overlaps, c.DoctorInterruptions, c.PatientInterruptions)
	}
	near("longest monologue", c.LongestMonologue, 15.5)
	near("longest silence", c.LongestSilence, 10)
	near("doctor rate", c.DoctorRate, 78/19.5)
	near("patient rate", c.PatientRate, 60/20.0)
	near("patient first say", c.PatientFirstSay, 40) // the opening was cut short
	near("patient opening", c.PatientOpening, 8)
	if c.PatientTrend != "improving" || c.PatientValenceStart >= c.PatientValenceEnd {
		t.Errorf("trend %s (%.2f → %.2f), want improving", c.PatientTrend, c.PatientValenceStart, c.PatientValenceEnd)
	}
	empty := Measure(DefaultConfig(), nil, t0)
	if empty.PatientFirstSay != -1 || empty.PatientTrend != "unknown" || empty.Turns != 0 {
		t.Errorf("no speech: %+v", empty)
	}
}

// TestRunningLate: the first consultation runs 15 minutes past its slot,
// through the whole of the second booking; the second patient, who waited,
// comes in a minute after the first leaves — after their own booked end —
// and still gets their booking. A booking that began before the late
// consultation did (nobody came) stays a no-show, and a walk-in after the
// second patient is unscheduled.
func TestRunningLate(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := func(m, s int) time.Time { return t0.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second) }
	appts := []appointments.Appointment{
		{ID: "A-0", Room: "r", Doctor: "d", Start: at(0, 0), End: at(10, 0)},
		{ID: "A-1", Room: "r", Doctor: "d", Start: at(10, 0), End: at(20, 0)},
		{ID: "A-2", Room: "r", Doctor: "d", Start: at(20, 0), End: at(30, 0)},
	}
	talk := func(from, to time.Time) []contact.Say {
		var out []contact.Say
		for i := 0; from.Add(3 * time.Second).Before(to); i++ {
			out = append(out, contact.Say{Who: []string{Doctor, Patient}[i%2], Start: from, End: from.Add(2 * time.Second)})
			from = from.Add(3 * time.Second)
		}
		return out
	}
	var says []contact.Say
	says = append(says, talk(at(11, 0), at(35, 0))...) // A-1's patient, 15 minutes over
	says = append(says, talk(at(36, 0), at(42, 0))...) // A-2's, after their booked end
	says = append(says, talk(at(50, 0), at(52, 0))...) // nobody booked
	res := Contacts(DefaultConfig(), Input{Room: "r", Appointments: appts, Speech: says})
	got := map[string]string{}
	for _, c := range res.Contacts {
		id := "unscheduled"
		if c.Appointment != nil {
			id = c.Appointment.ID
		}
		got[id] = c.Arrive.Sub(t0).String()
	}
	want := map[string]string{"A-1": "11m0s", "A-2": "36m0s", "unscheduled": "50m0s"}
	if len(got) != len(want) {
		t.Errorf("contacts %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if len(res.NoShows) != 1 || res.NoShows[0].ID != "A-0" {
		t.Errorf("no-shows %v, want A-0", res.NoShows)
	}
}
