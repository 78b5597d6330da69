package consult

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"contactd/classifier/turns"
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
// doctor's lapel microphone beside the room's hears them, and holds every
// consultation to the targets: the doctor's talk share within 5 %, turns
// and interruptions within one of the script. It needs no enrolled voice:
// the microphones tell the voices apart.
func TestTwoMicrophoneDays(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 18 generated days")
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
					segs, err := turns.FindTwo(span(d.Mics[0], t0, from, to), span(d.Mics[1], t0, from, to), m, turns.DefaultTwoConfig)
					if err != nil {
						t.Fatal(err)
					}
					c := score(m, s, segs, from)
					all++
					wrong += c.wrong
					shareErr += math.Abs(c.share - c.want)
					if c.within() {
						within++
						setWithin++
					} else {
						t.Errorf("%s, %s day %d (doctor %d, patients %v) %s: share %.3f (script %.3f), turns %d (%d), interruptions %d (%d), wrong side %.3f",
							lay.name, set, i+1, p[0], p[1:], s.ID, c.share, c.want, c.turns, c.wantT, c.ints, c.wantI, c.wrong)
					}
					if os.Getenv("VERBOSE") == "2" {
						for _, st := range s.Script {
							fmt.Printf("  script %-7s %6.2f–%6.2f\n", map[bool]string{true: "doctor", false: "patient"}[st.Doctor], st.Start.Sub(from).Seconds(), st.End.Sub(from).Seconds())
						}
						for _, sg := range Says(segs, from) {
							fmt.Printf("  found  %-7s %6.2f–%6.2f overlap %v\n", sg.Who, sg.Start.Sub(from).Seconds(), sg.End.Sub(from).Seconds(), sg.Overlap)
						}
					}
				}
			}
			t.Logf("%s microphone, %s: %d of 9 within the targets", lay.name, set, setWithin)
		}
		t.Logf("%s microphone: %d of %d consultations within all targets; mean |share error| %.3f, speech given to the wrong voice %.3f",
			lay.name, within, all, shareErr/float64(all), wrong/float64(all))
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
