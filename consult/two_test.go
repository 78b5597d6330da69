package consult

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"contactd/appointments"
	"contactd/classifier/turns"
	"contactd/contact"
	"contactd/daygen"
)

// consultScore is one consultation read against its script.
type consultScore struct {
	share, want  float64
	turns, wantT int
	ints, wantI  int
	wrong        float64 // share of one-voice speech given to the other voice
}

func (c consultScore) within() bool {
	return math.Abs(c.share-c.want) <= shareTolerance && abs(c.turns-c.wantT) <= 1 && abs(c.ints-c.wantI) <= 1
}

// score measures one slot's found segments (of audio beginning at from).
func score(m turns.Models, s daygen.ConsultSlot, segs []turns.Segment, from time.Time) consultScore {
	c := Measure(DefaultConfig(), Says(segs, from), s.Arrive)
	var wrong, single float64
	for _, sg := range Says(segs, from) {
		for tt := sg.Start; tt.Before(sg.End); tt = tt.Add(10 * time.Millisecond) {
			var d, p bool
			for _, pl := range s.Placed {
				if !tt.Before(pl.At) && tt.Before(pl.At.Add(time.Duration(len(pl.PCM))*time.Second/16000)) {
					if pl.Doctor {
						d = true
					} else {
						p = true
					}
				}
			}
			if d != p {
				single++
				if (sg.Who == turns.Doctor) != d {
					wrong++
				}
			}
		}
	}
	return consultScore{share: c.DoctorShare, want: scriptShare(m, s), turns: c.Turns, wantT: s.Turns,
		ints: c.DoctorInterruptions + c.PatientInterruptions, wantI: s.Interruptions, wrong: wrong / max(single, 1)}
}

// TestTwoMicrophoneDays reads the consulting days of all six sweep sets
// (54 consultations of 18 doctor–patient pairs) as a room with the
// doctor's lapel microphone beside the room's hears them, and reads each
// consultation against the targets: the doctor's talk share within 5 %,
// turns and interruptions within one of the script. It needs no enrolled
// voice: the microphones tell the voices apart. Nine in ten consultations
// must meet all three (CONTACTD_TWO_DESK=1 also reads a desk microphone,
// which is not held to it).
func TestTwoMicrophoneDays(t *testing.T) {
	if os.Getenv("CONTACTD_TWO_SWEEP") == "" {
		t.Skip("set CONTACTD_TWO_SWEEP=1: reads 18 generated days (about 4 minutes)")
	}
	m := models(t)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	layouts := []struct {
		name string
		l    daygen.MicLayout
	}{{"lapel", daygen.LapelMic}}
	if os.Getenv("CONTACTD_TWO_DESK") != "" {
		// A microphone on the desk in front of the doctor: closer to the
		// doctor than the room's, but not by much.
		desk := daygen.LapelMic
		desk.Gain = [2][2]float64{{5, -3}, {0, 0}}
		layouts = append(layouts, struct {
			name string
			l    daygen.MicLayout
		}{"desk", desk})
	}
	for _, lay := range layouts {
		var all, within int
		var wrong, shareErr float64
		var seps []float64
		sets := sweepSets
		if v := os.Getenv("CONTACTD_TWO_SETS"); v != "" {
			sets = strings.Split(v, ",")
		}
		for _, set := range sets {
			sets, seed := sweepSet(set)
			setWithin := 0
			for i, p := range sets {
				doc := actor(t, p[0])
				var pats [][]daygen.Utterance
				for _, a := range p[1:] {
					pats = append(pats, actor(t, a))
				}
				_, rest := splitEnrolment(doc)
				l := lay.l
				d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: t0, Room: "room-1", Doctor: rest, Patients: pats,
					Kinds: []daygen.Kind{daygen.Normal, daygen.Normal, daygen.Normal}, Seed: seed + uint64(i), Mics: &l})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range d.Slots {
					from, to := s.Arrive.Add(-2*time.Second), s.Leave.Add(2*time.Second)
					segs, sep, err := turns.FindTwoSeparated(span(d.Mics[0], t0, from, to), span(d.Mics[1], t0, from, to), m, turns.DefaultTwoConfig)
					if err != nil {
						t.Fatal(err)
					}
					seps = append(seps, sep)
					c := score(m, s, segs, from)
					all++
					wrong += c.wrong
					shareErr += math.Abs(c.share - c.want)
					if c.within() {
						within++
						setWithin++
					} else {
						t.Logf("%s, %s day %d (doctor %d, patients %v) %s: share %.3f (script %.3f), turns %d (%d), interruptions %d (%d), wrong side %.3f",
							lay.name, set, i+1, p[0], p[1:], s.ID, c.share, c.want, c.turns, c.wantT, c.ints, c.wantI, c.wrong)
					}
					if os.Getenv("VERBOSE") == "2" {
						printScript(s, segs, from)
					}
				}
			}
			t.Logf("%s microphone, %s: %d of 9 within the targets", lay.name, set, setWithin)
		}
		t.Logf("%s microphone: %d of %d consultations within all targets; mean |share error| %.3f, speech given to the wrong voice %.3f; voices %.1f–%.1f dB apart",
			lay.name, within, all, shareErr/float64(all), wrong/float64(all), slices.Min(seps), slices.Max(seps))
		// Not yet every consultation (see the README): the floors keep
		// what the lapel microphone reaches.
		if lay.name == "lapel" && (float64(within) < 0.9*float64(all) || shareErr/float64(all) > 0.02 || wrong/float64(all) > 0.02) {
			t.Errorf("lapel microphone: %d of %d within the targets (want 90 %%), share error %.3f (want ≤ 0.02), wrong voice %.3f (want ≤ 0.02)",
				within, all, shareErr/float64(all), wrong/float64(all))
		}
	}
}

// splitEnrolment keeps the recordings enrol leaves for the day (the other
// sentence's), so that two-microphone days hold the same speech as the
// one-microphone ones.
func splitEnrolment(us []daygen.Utterance) (enrolment, rest []daygen.Utterance) {
	for _, u := range us {
		if u.Text == 1 && len(enrolment) < 20 {
			enrolment = append(enrolment, u)
		} else if u.Text != 1 {
			rest = append(rest, u)
		}
	}
	return enrolment, rest
}

// TestTwoMicrophoneConsultingDay is TestConsultingDay's room with the
// doctor's lapel microphone beside the room's: appointments that overrun,
// a no-show (the doctor alone on the phone), back-to-back bookings, doors
// on some. The voices heard over the bookings' windows make the contacts
// without a door (each within 3 s, the no-show none, overruns flagged),
// and each consultation is measured within the targets: the doctor's talk
// share within 5 % of the script, turns and interruptions within one. No
// voice is enrolled.
func TestTwoMicrophoneConsultingDay(t *testing.T) {
	m := models(t)
	heard := []int{2, 4, 6, 8, 10, 12}
	_, rest := splitEnrolment(actor(t, heard[0]))
	var pats [][]daygen.Utterance
	for _, a := range heard[1:] {
		pats = append(pats, actor(t, a))
	}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	kinds := []daygen.Kind{daygen.Normal, daygen.Normal, daygen.NoShow, daygen.Overrun, daygen.BackToBack, daygen.Normal, daygen.Overrun, daygen.BackToBack}
	doors := []bool{true, false, false, false, true, false, false, false}
	l := daygen.LapelMic
	d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: t0, Room: "room-1", Doctor: rest, Patients: pats, Kinds: kinds, Doors: doors, Seed: 7, Mics: &l})
	if err != nil {
		t.Fatal(err)
	}
	var appts []appointments.Appointment
	for _, s := range d.Slots {
		appts = append(appts, appointments.Appointment{ID: s.ID, Room: "room-1", Doctor: "dr-ivanova", Start: s.Start, End: s.End})
	}
	cfg := DefaultConfig()
	var speech []contact.Say
	end := t0.Add(time.Duration(len(d.Mics[0])) * time.Second / 16000)
	for _, w := range Windows(cfg, appts) {
		from, to := maxTime(w[0], t0), minTime(w[1], end)
		segs, err := turns.FindTwo(span(d.Mics[0], t0, from, to), span(d.Mics[1], t0, from, to), m, turns.DefaultTwoConfig)
		if err != nil {
			t.Fatal(err)
		}
		speech = append(speech, Says(segs, from)...)
	}
	res := Contacts(cfg, Input{Room: "room-1", Appointments: appts, Events: d.Events, Speech: speech})
	byAppt := map[string]*contact.Contact{}
	for _, c := range res.Contacts {
		if c.Appointment == nil {
			t.Errorf("unscheduled contact %v–%v", c.Arrive.Sub(t0), c.Leave.Sub(t0))
			continue
		}
		byAppt[c.Appointment.ID] = c
	}
	var noShows, wantNoShows []string
	for _, a := range res.NoShows {
		noShows = append(noShows, a.ID)
	}
	for _, s := range d.Slots {
		if s.Kind == daygen.NoShow {
			wantNoShows = append(wantNoShows, s.ID)
		}
	}
	if !slices.Equal(noShows, wantNoShows) {
		t.Errorf("no-shows %v, want %v", noShows, wantNoShows)
	}
	if len(wantNoShows) == 0 {
		t.Fatal("the day has no no-show to test")
	}
	var shareErrs []float64
	for _, s := range d.Slots {
		if s.Kind == daygen.NoShow {
			continue
		}
		c := byAppt[s.ID]
		if c == nil {
			t.Errorf("%s (%s): no contact", s.ID, kindName(s.Kind))
			continue
		}
		if tol := 3 * time.Second; c.Arrive.Sub(s.Arrive).Abs() > tol || c.Leave.Sub(s.Leave).Abs() > tol {
			t.Errorf("%s: contact %v–%v, want %v–%v (door %v)", s.ID, c.Arrive.Sub(t0), c.Leave.Sub(t0), s.Arrive.Sub(t0), s.Leave.Sub(t0), s.Door)
		}
		if over := s.Leave.After(s.End.Add(cfg.Overrun)); over != c.HasFlag(contact.FlagOverrun) {
			t.Errorf("%s: overrun flag %v, want %v", s.ID, c.HasFlag(contact.FlagOverrun), over)
		}
		if !c.Leave.After(c.Arrive) || c.Arrive.Before(t0) || c.Leave.After(end) {
			t.Errorf("%s: contact %v–%v outside the day", s.ID, c.Arrive.Sub(t0), c.Leave.Sub(t0))
			continue
		}
		from, to := c.Arrive.Add(-time.Second), c.Leave.Add(time.Second)
		segs, sep, err := turns.FindTwoSeparated(span(d.Mics[0], t0, from, to), span(d.Mics[1], t0, from, to), m, turns.DefaultTwoConfig)
		if err != nil {
			t.Fatal(err)
		}
		// The lapel puts the voices 18 dB apart (10 up, 8 down): the
		// separation the room reports must show it is sure.
		if sep < turns.SureSeparation || sep > 30 {
			t.Errorf("%s: the microphones put the voices %.1f dB apart, the layout %.0f", s.ID, sep, daygen.LapelMic.Gain[0][0]-daygen.LapelMic.Gain[0][1])
		}
		conv := Measure(cfg, Says(segs, from), c.Arrive)
		want := scriptShare(m, s)
		shareErrs = append(shareErrs, math.Abs(conv.DoctorShare-want))
		if os.Getenv("VERBOSE") == "2" {
			printScript(s, segs, from)
		}
		ints := conv.DoctorInterruptions + conv.PatientInterruptions
		t.Logf("%s %-10s door=%-5v share %.3f (script %.3f) turns %d (%d) interruptions %d (%d) overlaps %d; voices %.1f dB apart",
			s.ID, kindName(s.Kind), s.Door, conv.DoctorShare, want, conv.Turns, s.Turns, ints, s.Interruptions, conv.Overlaps, sep)
		if math.Abs(conv.DoctorShare-want) > shareTolerance {
			t.Errorf("%s: doctor's talk share %.3f, script %.3f", s.ID, conv.DoctorShare, want)
		}
		if abs(conv.Turns-s.Turns) > 1 {
			t.Errorf("%s: %d turns, script %d", s.ID, conv.Turns, s.Turns)
		}
		if abs(ints-s.Interruptions) > 1 {
			t.Errorf("%s: %d interruptions, script %d", s.ID, ints, s.Interruptions)
		}
	}
	t.Logf("talk share: mean absolute error %.3f over %d consultations", mean(shareErrs), len(shareErrs))
}

func TestWindows(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 11, 2, 9, m, 0, 0, time.UTC) }
	cfg := DefaultConfig()
	appts := []appointments.Appointment{
		{ID: "c", Start: at(120), End: at(135)},
		{ID: "a", Start: at(0), End: at(15)},
		{ID: "b", Start: at(15), End: at(30)},
		{ID: "x", Start: at(80), End: at(90), Cancelled: true},
	}
	got := Windows(cfg, appts)
	want := [][2]time.Time{{at(0).Add(-cfg.Early), at(30).Add(cfg.MaxOverrun)}, {at(120).Add(-cfg.Early), at(135).Add(cfg.MaxOverrun)}}
	if !slices.Equal(got, want) {
		t.Errorf("windows %v, want %v", got, want)
	}
}

func TestBackchannel(t *testing.T) {
	at := func(s float64) time.Time {
		return time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(s * float64(time.Second)))
	}
	says := []contact.Say{
		{Who: turns.Doctor, Start: at(0), End: at(10)},
		{Who: turns.Patient, Start: at(3), End: at(3.5), Overlap: true}, // "yes": inside the doctor's say
		{Who: turns.Patient, Start: at(9), End: at(15), Overlap: true},  // cuts in and takes the floor
		{Who: turns.Doctor, Start: at(16), End: at(20)},
	}
	c := Measure(DefaultConfig(), says, at(0))
	if c.Turns != 3 || c.PatientInterruptions != 1 || c.Overlaps != 2 {
		t.Errorf("turns %d, patient interruptions %d, overlaps %d; want 3, 1, 2", c.Turns, c.PatientInterruptions, c.Overlaps)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// printScript prints a consultation's script beside what was found.
func printScript(s daygen.ConsultSlot, segs []turns.Segment, from time.Time) {
	for _, st := range s.Script {
		fmt.Printf("  script %-7s %6.2f–%6.2f\n", map[bool]string{true: "doctor", false: "patient"}[st.Doctor], st.Start.Sub(from).Seconds(), st.End.Sub(from).Seconds())
	}
	for _, sg := range Says(segs, from) {
		fmt.Printf("  found  %-7s %6.2f–%6.2f overlap %v\n", sg.Who, sg.Start.Sub(from).Seconds(), sg.End.Sub(from).Seconds(), sg.Overlap)
	}
}
