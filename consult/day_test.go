package consult

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"contactd/appointments"
	"contactd/classifier/emotion"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/turns"
	"contactd/classifier/vad"
	"contactd/contact"
	"contactd/daygen"
	"contactd/internal/testenv"
)

var (
	actorsMu sync.Mutex
	actors   = map[int][]daygen.Utterance{}
)

func actor(t testing.TB, n int) []daygen.Utterance {
	t.Helper()
	actorsMu.Lock()
	defer actorsMu.Unlock()
	if u, ok := actors[n]; ok {
		return u
	}
	u, err := daygen.RAVDESSActor(context.Background(), filepath.Join(testenv.Datasets(t), "ravdess"), n)
	if err != nil {
		t.Fatal(err)
	}
	actors[n] = u
	return u
}

func models(t testing.TB) turns.Models {
	t.Helper()
	vm, err := vad.LoadInstalled("")
	if err != nil {
		t.Fatal(err)
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		t.Fatal(err)
	}
	em, err := emotion.Default()
	if err != nil {
		t.Fatal(err)
	}
	return turns.Models{VAD: vm, Background: bg, Emotion: em}
}

// enrol makes the doctor's voice from 20 recordings of one sentence (about
// 30 s of speech, read at the enrolment in the room); the day uses their
// recordings of the other sentence.
func enrol(t testing.TB, m turns.Models, us []daygen.Utterance) (*speaker.Voice, []daygen.Utterance) {
	t.Helper()
	v, rest, _ := enrolFrames(t, m, us)
	return v, rest
}

// enrolFrames is enrol, also returning the enrolment's speech frames.
func enrolFrames(t testing.TB, m turns.Models, us []daygen.Utterance) (*speaker.Voice, []daygen.Utterance, [][]float64) {
	t.Helper()
	ext, det := features.NewExtractor(), m.VAD.NewDetector()
	var frames [][]float64
	var rest []daygen.Utterance
	n := 0
	for i, u := range us {
		if u.Text != 1 || n == 20 {
			if u.Text != 1 {
				rest = append(rest, u)
			}
			continue
		}
		n++
		x := daygen.Level(daygen.Trim(u.PCM), daygen.SpeechDB)
		daygen.AddRoomNoise(x, uint64(100+i)) // enrolled in the room
		fr := speaker.SpeechFrames(ext, det, x)
		if compensate > 0 {
			fr = m.Background.GMM.Compensate(m.Nuisance, fr, nil, len(fr), 10, speaker.Relevance)
		}
		frames = append(frames, fr...)
	}
	v, err := m.Background.Enroll("doctor", frames)
	if err != nil {
		t.Fatal(err)
	}
	return v, rest, frames
}

// nuisanceWithout trains the nuisance subspace as "contactd speaker nap"
// does (each recording's supervector against the background), on the
// RAVDESS actors not in skip: the speakers it is used on are never among
// those it learnt from.
func nuisanceWithout(t testing.TB, m turns.Models, skip []int) *speaker.Nuisance {
	t.Helper()
	ext, det := features.NewExtractor(), m.VAD.NewDetector()
	var groups [][][]float64
	for a := 1; a <= 20; a++ {
		if slices.Contains(skip, a) {
			continue
		}
		var recs [][][]float64
		for _, u := range actor(t, a) {
			recs = append(recs, speaker.SpeechFrames(ext, det, u.PCM))
		}
		groups = append(groups, m.Background.RecordingVectors(recs))
	}
	nz, err := speaker.TrainNuisance(groups, speaker.NuisanceDirections, 1)
	if err != nil {
		t.Fatal(err)
	}
	return nz
}

// backgroundWithout trains the background model as "contactd speaker ubm"
// does, on all recordings of the RAVDESS actors not in skip
// (CONTACTD_TURNS_UBM_K: another number of components).
func backgroundWithout(t testing.TB, m turns.Models, skip []int) *speaker.Background {
	t.Helper()
	ext, det := features.NewExtractor(), m.VAD.NewDetector()
	var frames [][]float64
	for a := 1; a <= 20; a++ {
		if !slices.Contains(skip, a) {
			for _, u := range actor(t, a) {
				frames = append(frames, speaker.SpeechFrames(ext, det, u.PCM)...)
			}
		}
	}
	k := speaker.UBMComponents
	if v, err := strconv.Atoi(os.Getenv("CONTACTD_TURNS_UBM_K")); err == nil {
		k = v
	}
	g, err := speaker.TrainGMM(frames, k, 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &speaker.Background{Version: 1, GMM: g}
}

func span(x []float32, t0, from, to time.Time) []float32 {
	a := max(int(from.Sub(t0).Seconds()*features.Rate), 0)
	b := min(int(to.Sub(t0).Seconds()*features.Rate), len(x))
	return x[a:b]
}

// TestTurnsSweep prints the conversation metrics against the script for
// segmentation settings: CONTACTD_TURNS_SWEEP=odd on days of the odd
// (male) RAVDESS actors, which the settings were chosen on, =even on the
// even (female) ones, =fresh-odd and =fresh-even on other doctors and
// pairings with other seeds, measured once after the settings were chosen. Three days of three consultations each.
func TestTurnsSweep(t *testing.T) {
	if os.Getenv("CONTACTD_TURNS_SWEEP") == "" {
		t.Skip("set CONTACTD_TURNS_SWEEP=1")
	}
	m := models(t)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	type pair struct{ doc, pats []int }
	var pairs []pair
	sets, seed := sweepSet(os.Getenv("CONTACTD_TURNS_SWEEP"))
	for _, p := range sets {
		pairs = append(pairs, pair{[]int{p[0]}, p[1:]})
	}
	type day struct {
		d      *daygen.ConsultDay
		voice  *speaker.Voice
		m      turns.Models
		enroll [][]float64
	}
	var days []day
	for i, p := range pairs {
		// Every model the day is read with is learnt without its voices.
		dm := m
		dm.Background = backgroundWithout(t, m, append(p.doc, p.pats...))
		dm.Nuisance = nuisanceWithout(t, dm, append(p.doc, p.pats...))
		v, rest, ef := enrolFrames(t, dm, actor(t, p.doc[0]))
		var pats [][]daygen.Utterance
		for _, a := range p.pats {
			pats = append(pats, actor(t, a))
		}
		d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: t0, Room: "room-1", Doctor: rest, Patients: pats,
			Kinds: []daygen.Kind{daygen.Normal, daygen.Normal, daygen.Normal}, Seed: seed + uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		days = append(days, day{d, v, dm, ef})
	}
	// The settings to compare: edit here when choosing them.
	type named struct {
		name string
		cfg  turns.Config
	}
	def := turns.DefaultConfig
	def.Compensate = compensate
	cfgs := []named{{"default", def}}
	c := turns.DefaultConfig
	c.Nuisance = false
	cfgs = append(cfgs, named{"surest stretches by the enrolled voice's ratio alone", c})
	c = turns.DefaultConfig
	c.SeedShare = 0
	cfgs = append(cfgs, named{"first split by one-second windows", c})
	c = turns.DefaultConfig
	c.OneChangePerStretch, c.ChangeCost, c.MinPart = true, 80, 300*time.Millisecond
	cfgs = append(cfgs, named{"stretch decoder", c})
	c = turns.DefaultConfig
	c.Cluster, c.OwnComponents, c.Cepstra, c.Passes, c.SeedShare, c.Nuisance = true, 8, 20, 3, 0, false
	cfgs = append(cfgs, named{"clustered stretches, own mixtures", c})
	if os.Getenv("CONTACTD_TURNS_FIRST") != "" { // only the first labellings
		cfgs = cfgs[:3]
	}
	if os.Getenv("CONTACTD_TURNS_DEFAULT") != "" { // only the default
		cfgs = cfgs[:1]
	}
	for _, nc := range cfgs {
		{
			cfg := nc.cfg
			var shareErr, maxErr, turnErr, intErr, wrongSum, n float64
			within := 0 // consultations within all three targets
			for _, dy := range days {
				found := make([][]turns.Segment, len(dy.d.Slots))
				for i, s := range dy.d.Slots {
					from, to := s.Arrive.Add(-2*time.Second), s.Leave.Add(2*time.Second)
					segs, err := turns.Find(span(dy.d.Audio, t0, from, to), dy.m, dy.voice, cfg)
					if err != nil {
						t.Fatal(err)
					}
					found[i] = segs
				}
				// CONTACTD_TURNS_DAYVOICE=N: N rounds in which each consultation is
				// read again with the doctor's voice enrolled on the enrolment and
				// the doctor's side of the day's other consultations.
				rounds, _ := strconv.Atoi(os.Getenv("CONTACTD_TURNS_DAYVOICE"))
				for r := 0; r < rounds; r++ {
					ext, det := features.NewExtractor(), dy.m.VAD.NewDetector()
					side := make([][][]float64, len(dy.d.Slots))
					for i, s := range dy.d.Slots {
						from, to := s.Arrive.Add(-2*time.Second), s.Leave.Add(2*time.Second)
						x := span(dy.d.Audio, t0, from, to)
						for _, sg := range found[i] {
							if sg.Who != turns.Doctor || sg.End-sg.Start < dayVoiceMin {
								continue
							}
							a, b := int(sg.Start.Seconds()*features.Rate), min(int(sg.End.Seconds()*features.Rate), len(x))
							side[i] = append(side[i], speaker.SpeechFrames(ext, det, x[a:b])...)
						}
					}
					next := make([][]turns.Segment, len(dy.d.Slots))
					for i, s := range dy.d.Slots {
						frames := slices.Clone(dy.enroll)
						for j := range side {
							if j != i {
								frames = append(frames, side[j]...)
							}
						}
						v, err := dy.m.Background.Enroll("doctor", frames)
						if err != nil {
							t.Fatal(err)
						}
						from, to := s.Arrive.Add(-2*time.Second), s.Leave.Add(2*time.Second)
						if next[i], err = turns.Find(span(dy.d.Audio, t0, from, to), dy.m, v, cfg); err != nil {
							t.Fatal(err)
						}
					}
					found = next
				}
				for i, s := range dy.d.Slots {
					from := s.Arrive.Add(-2 * time.Second)
					segs := found[i]
					c := Measure(DefaultConfig(), Says(segs, from), s.Arrive)
					// Speech of one speaker given to the other: each 10 ms of
					// the segments where the script has exactly one voice.
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
					wrongSum += wrong / max(single, 1)
					want := scriptShare(m, s)
					shareErr += math.Abs(c.DoctorShare - want)
					maxErr = math.Max(maxErr, math.Abs(c.DoctorShare-want))
					if math.Abs(c.DoctorShare-want) <= shareTolerance && abs(c.Turns-s.Turns) <= 1 &&
						abs(c.DoctorInterruptions+c.PatientInterruptions-s.Interruptions) <= 1 {
						within++
					}
					turnErr += math.Abs(float64(c.Turns - s.Turns))
					intErr += math.Abs(float64(c.DoctorInterruptions + c.PatientInterruptions - s.Interruptions))
					n++
					if os.Getenv("VERBOSE") != "" {
						fmt.Printf("%s: share %.3f/%.3f wrong %.3f turns %d/%d int %d/%d overl %d trend %s/%s\n", nc.name, c.DoctorShare, want, wrong/max(single, 1), c.Turns, s.Turns,
							c.DoctorInterruptions+c.PatientInterruptions, s.Interruptions, c.Overlaps, c.PatientTrend, s.PatientTrend)
					}
					if os.Getenv("VERBOSE") == "2" { // the script's turns against the found ones
						for _, st := range s.Script {
							fmt.Printf("  script %-7s %6.2f–%6.2f\n", map[bool]string{true: "doctor", false: "patient"}[st.Doctor], st.Start.Sub(from).Seconds(), st.End.Sub(from).Seconds())
						}
						for _, sg := range Says(segs, from) {
							fmt.Printf("  found  %-7s %6.2f–%6.2f overlap %v\n", sg.Who, sg.Start.Sub(from).Seconds(), sg.End.Sub(from).Seconds(), sg.Overlap)
						}
					}
				}
			}
			fmt.Printf("== %s: mean |share err| %.3f (max %.3f) speech to the wrong side %.3f |turn err| %.2f |int err| %.2f, %d of %.0f within the targets\n", nc.name, shareErr/n, maxErr, wrongSum/n, turnErr/n, intErr/n, within, n)
		}
	}
}

// TestConsultingDay: a generated consulting day — a schedule of eight
// two-minute appointments, a doctor (RAVDESS actor 2, enrolled on 20 other
// recordings of theirs) and a patient per appointment (actors 4, 6, 8, 10,
// 12), with scripted turns, pauses and interruptions; a no-show, two
// overruns, back-to-back appointments, a door sensor on some. Its day and
// pairings are its own, but its actors are among the female ones the
// segmentation's settings were chosen on (TestTurnsSweep's even days).
// The whole path, from one microphone: the day's segmentation finds the
// consultations without a door, each consultation's own segmentation gives
// its metrics. Its targets are not met yet (see the README), so it runs
// on request: CONTACTD_CONSULT_EVAL=1.
func TestConsultingDay(t *testing.T) {
	if os.Getenv("CONTACTD_CONSULT_EVAL") == "" {
		t.Skip("set CONTACTD_CONSULT_EVAL=1: the one-microphone segmentation does not meet its targets yet")
	}
	if compensate > 0 {
		t.Fatal("CONTACTD_TURNS_COMP is a setting of TestTurnsSweep: the room pipeline reads without it")
	}
	m := models(t)
	// Every model the day is read with is learnt without its voices.
	heard := []int{2, 4, 6, 8, 10, 12}
	m.Background = backgroundWithout(t, m, heard)
	voice, rest := enrol(t, m, actor(t, 2))
	var pats [][]daygen.Utterance
	for _, a := range heard[1:] {
		pats = append(pats, actor(t, a))
	}
	m.Nuisance = nuisanceWithout(t, m, heard)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	kinds := []daygen.Kind{daygen.Normal, daygen.Normal, daygen.NoShow, daygen.Overrun, daygen.BackToBack, daygen.Normal, daygen.Overrun, daygen.BackToBack}
	doors := []bool{true, false, false, false, true, false, false, false}
	d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: t0, Room: "room-1", Doctor: rest, Patients: pats, Kinds: kinds, Doors: doors, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var appts []appointments.Appointment
	for _, s := range d.Slots {
		appts = append(appts, appointments.Appointment{ID: s.ID, Room: "room-1", Doctor: "dr-ivanova", Start: s.Start, End: s.End})
	}
	// Who spoke when over the whole day finds the consultations without a door.
	cfg := DefaultConfig()
	dayCfg := turns.DefaultConfig
	dayCfg.Nuisance = false // many patients: as pipeline.Room's day-long pass
	segs, err := turns.Find(d.Audio, m, voice, dayCfg)
	if err != nil {
		t.Fatal(err)
	}
	res := Contacts(cfg, Input{Room: "room-1", Appointments: appts, Events: d.Events, Speech: Says(segs, t0)})
	for _, s := range d.Slots { // what the day's segmentation heard in each consultation
		var doc, pat float64
		for _, sg := range Says(segs, t0) {
			if sg.End.Before(s.Arrive) || sg.Start.After(s.Leave) {
				continue
			}
			if sg.Who == turns.Doctor {
				doc += sg.End.Sub(sg.Start).Seconds()
			} else {
				pat += sg.End.Sub(sg.Start).Seconds()
			}
		}
		if s.Kind != daygen.NoShow {
			t.Logf("%s %-9s %v–%v (booked %v–%v): the day's segmentation hears the doctor %.1f s, the patient %.1f s; script %.1f s, %.1f s",
				s.ID, kindName(s.Kind), s.Arrive.Sub(t0).Round(time.Second), s.Leave.Sub(t0).Round(time.Second), s.Start.Sub(t0), s.End.Sub(t0), doc, pat, s.DoctorSpeech, s.PatientSpeech)
		}
	}

	byAppt := map[string]*contact.Contact{}
	for _, c := range res.Contacts {
		if c.Appointment == nil {
			t.Errorf("unscheduled contact %v–%v", c.Arrive.Sub(t0), c.Leave.Sub(t0))
			continue
		}
		byAppt[c.Appointment.ID] = c
	}
	var noShows []string
	for _, a := range res.NoShows {
		noShows = append(noShows, a.ID)
	}
	var wantNoShows []string
	for _, s := range d.Slots {
		if s.Kind == daygen.NoShow {
			wantNoShows = append(wantNoShows, s.ID)
		}
	}
	if !slices.Equal(noShows, wantNoShows) {
		t.Errorf("no-shows %v, want %v", noShows, wantNoShows)
	}
	var shareErrs []float64
	for _, s := range d.Slots {
		if s.Kind == daygen.NoShow {
			continue
		}
		c := byAppt[s.ID]
		if c == nil {
			t.Errorf("%s (%v): no contact", s.ID, s.Kind)
			continue
		}
		tol := 3 * time.Second
		if (c.Arrive.Sub(s.Arrive)).Abs() > tol || (c.Leave.Sub(s.Leave)).Abs() > tol {
			t.Errorf("%s: contact %v–%v, want %v–%v (door %v)", s.ID, c.Arrive.Sub(t0), c.Leave.Sub(t0), s.Arrive.Sub(t0), s.Leave.Sub(t0), s.Door)
		}
		if over := s.Leave.After(s.End.Add(cfg.Overrun)); over != c.HasFlag(contact.FlagOverrun) {
			t.Errorf("%s: overrun flag %v, want %v", s.ID, c.HasFlag(contact.FlagOverrun), over)
		}
		if c.Employee != "dr-ivanova" {
			t.Errorf("%s: doctor %q", s.ID, c.Employee)
		}
		// The consultation's own audio: the patient's voice adapted on it alone.
		from := c.Arrive.Add(-time.Second)
		cs, err := turns.Find(span(d.Audio, t0, from, c.Leave.Add(time.Second)), m, voice, turns.DefaultConfig)
		if err != nil {
			t.Fatal(err)
		}
		conv := Measure(cfg, Says(cs, from), c.Arrive)
		want := scriptShare(m, s)
		shareErrs = append(shareErrs, math.Abs(conv.DoctorShare-want))
		t.Logf("%s %-10s door=%-5v share %.3f (script %.3f) turns %d (%d) interruptions %d (%d) overlaps %d trend %s (%s) first say %.1f s",
			s.ID, kindName(s.Kind), s.Door, conv.DoctorShare, want, conv.Turns, s.Turns, conv.DoctorInterruptions+conv.PatientInterruptions,
			s.Interruptions, conv.Overlaps, conv.PatientTrend, s.PatientTrend, conv.PatientFirstSay)
		if math.Abs(conv.DoctorShare-want) > shareTolerance {
			t.Errorf("%s: doctor's talk share %.3f, script %.3f", s.ID, conv.DoctorShare, want)
		}
		if abs(conv.Turns-s.Turns) > 1 {
			t.Errorf("%s: %d turns, script %d", s.ID, conv.Turns, s.Turns)
		}
		if got := conv.DoctorInterruptions + conv.PatientInterruptions; abs(got-s.Interruptions) > 1 {
			t.Errorf("%s: %d interruptions, script %d", s.ID, got, s.Interruptions)
		}
	}
	t.Logf("talk share: mean absolute error %.3f over %d consultations", mean(shareErrs), len(shareErrs))
}

// sweepSet is one of the sets of days of TestTurnsSweep: per day the
// doctor and three patients (RAVDESS actors), and the first day's seed.
func sweepSet(name string) ([][]int, uint64) {
	switch name {
	case "even":
		return [][]int{{2, 4, 6, 8}, {10, 12, 14, 16}, {18, 20, 4, 12}}, 1
	case "fresh-odd":
		return [][]int{{13, 7, 1, 17}, {5, 15, 3, 19}, {19, 9, 11, 1}}, 11
	case "fresh-even":
		return [][]int{{12, 6, 2, 18}, {4, 16, 20, 10}, {14, 8, 10, 2}}, 11
	case "fresh2-odd":
		return [][]int{{3, 15, 19, 9}, {7, 1, 13, 17}, {11, 5, 9, 19}}, 21
	case "fresh2-even":
		return [][]int{{6, 10, 14, 2}, {16, 8, 12, 18}, {20, 4, 2, 14}}, 21
	}
	return [][]int{{1, 3, 5, 7}, {9, 11, 13, 15}, {17, 19, 5, 13}}, 1 // odd actors: tuning
}

// sweepSets names them all.
var sweepSets = []string{"odd", "even", "fresh-odd", "fresh-even", "fresh2-odd", "fresh2-even"}

// shareTolerance is the largest error of the doctor's talk share allowed
// per consultation.
const shareTolerance = 0.05

// dayVoiceMin: the shortest doctor's segment the day's voice learns from
// (CONTACTD_TURNS_DAYVOICE).
var dayVoiceMin = func() time.Duration {
	if v, err := time.ParseDuration(os.Getenv("CONTACTD_TURNS_DAYVOICE_MIN")); err == nil {
		return v
	}
	return time.Second
}()

// compensate: CONTACTD_TURNS_COMP=N reads with Config.Compensate N (the
// doctor enrolled on compensated frames too).
var compensate, _ = strconv.Atoi(os.Getenv("CONTACTD_TURNS_COMP"))

func abs(x int) int { return max(x, -x) }

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

func kindName(k daygen.Kind) string {
	return [...]string{"normal", "no-show", "overrun", "back2back"}[k]
}

// scriptShare is the doctor's share of the slot's speech, each speaker's
// talk measured on their own clean recordings as placed (the script's
// talk split; overlapping speech counts for both).
func scriptShare(m turns.Models, s daygen.ConsultSlot) float64 {
	var doc, pat float64
	det := m.VAD.NewDetector()
	for _, p := range s.Placed {
		n := float64(speechFrames(det, p.PCM))
		if p.Doctor {
			doc += n
		} else {
			pat += n
		}
	}
	return doc / (doc + pat)
}

// speechFrames counts a clean recording's 10 ms frames of speech: those
// the VAD hears, and the voiced ones within 30 dB of the recording's
// loudest — the VAD misses some strained or shouted words (a sixth of one
// actor's speech), which are talk all the same.
func speechFrames(det *vad.Detector, pcm []float32) int {
	det.Reset()
	mask, _ := vad.Mask(det, pcm, 0.5, features.Hop)
	a := features.NewExtractor().Analyze(pcm)
	peak := math.Inf(-1)
	for _, f := range a.Frames {
		peak = max(peak, f.Energy)
	}
	n := 0
	for i := range max(len(mask), len(a.Frames)) {
		if (i < len(mask) && mask[i]) || (i < len(a.Frames) && a.Frames[i].F0 > 0 && a.Frames[i].Energy >= peak-30) {
			n++
		}
	}
	return n
}
