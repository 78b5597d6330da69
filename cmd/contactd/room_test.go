package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"contactd/classifier/features"
	"contactd/classifier/vad"
	"contactd/contact"
	"contactd/daygen"
	"contactd/internal/testenv"
	"contactd/pipeline"
)

// TestAnalyzeRoom: `contactd analyze --schedule` on a generated consulting
// morning (Ogg Opus recording, CSV schedule, door events for one booking,
// a rating at the exit): a contact per attended booking with its doctor,
// appointment, clip and conversation metrics; the no-show reported and the
// rating joined.
func TestAnalyzeRoom(t *testing.T) {
	dir := t.TempDir()
	ravdess := filepath.Join(testenv.Datasets(t), "ravdess")
	ctx := context.Background()
	load := func(actor int) []daygen.Utterance {
		u, err := daygen.RAVDESSActor(ctx, ravdess, actor)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	doctor := load(15)
	t0 := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: t0, Room: "room-1", Doctor: doctor[20:],
		Patients: [][]daygen.Utterance{load(16), load(18), load(17), load(20)},
		Kinds:    []daygen.Kind{daygen.Normal, daygen.Normal, daygen.NoShow, daygen.Normal}, Doors: []bool{true, false, false, false}, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	// The recording, as the room's agent would send it: Opus in Ogg.
	raw := make([]byte, 2*len(d.Audio))
	for i, v := range d.Audio {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(int16(v*32767)))
	}
	media := filepath.Join(dir, "room-1.ogg")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "-", "-c:a", "libopus", "-b:a", "32k", media)
	cmd.Stdin = strings.NewReader(string(raw))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	var csv strings.Builder
	csv.WriteString("id,room,doctor,start,end\n")
	for _, s := range d.Slots {
		fmt.Fprintf(&csv, "%s,room-1,dr-orlova,%s,%s\n", s.ID, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339))
	}
	schedule := filepath.Join(dir, "schedule.csv")
	events := filepath.Join(dir, "events.jsonl")
	ratings := filepath.Join(dir, "ratings.jsonl")
	var evs strings.Builder
	for _, e := range d.Events {
		b, _ := json.Marshal(e)
		evs.Write(append(b, '\n'))
	}
	first := d.Slots[0]
	rating, _ := json.Marshal(contact.Rating{Station: "room-1", Value: 0, Scale: contact.Scale2pt, At: first.Leave.Add(10 * time.Second)})
	for path, body := range map[string]string{schedule: csv.String(), events: evs.String(), ratings: string(rating) + "\n"} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The doctor's voice, enrolled as a clinic would: the CLI on 20 recordings.
	files, _ := filepath.Glob(filepath.Join(ravdess, "03-01-*-15.ogg"))
	sort.Strings(files)
	voices := filepath.Join(dir, "voices")
	os.MkdirAll(voices, 0o755)
	if code, _, errs := contactd(t, append([]string{"speaker", "enroll", "--name", "dr-orlova", "--out", filepath.Join(voices, "dr-orlova.json")}, files[:20]...)...); code != 0 {
		t.Fatalf("enroll: %d %s", code, errs)
	}
	store := filepath.Join(dir, "store")
	code, out, errs := contactd(t, "analyze", "--media", media, "--station", "room-1", "--start", t0.Format(time.RFC3339),
		"--schedule", schedule, "--voices", voices, "--events", events, "--ratings", ratings, "--store", store, "--json")
	if code != 0 {
		t.Fatalf("analyze: exit %d\n%s", code, errs)
	}
	var rep pipeline.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.NoShows) != 1 || rep.NoShows[0].ID != "A-003" {
		t.Errorf("no-shows %+v, want A-003", rep.NoShows)
	}
	got := map[string]*contact.Contact{}
	for _, c := range rep.Contacts {
		if c.Appointment != nil {
			got[c.Appointment.ID] = c
		}
	}
	for _, s := range d.Slots {
		if s.Kind == daygen.NoShow {
			continue
		}
		c := got[s.ID]
		if c == nil {
			t.Errorf("%s: no contact (contacts: %d)", s.ID, len(rep.Contacts))
			continue
		}
		if c.Employee != "dr-orlova" || c.Clip == "" {
			t.Errorf("%s: doctor %q clip %q", s.ID, c.Employee, c.Clip)
		} else if _, err := os.Stat(filepath.Join(store, c.Clip)); err != nil {
			t.Errorf("%s: clip not stored: %v", s.ID, err)
		}
		v := c.Conversation
		if v == nil || v.Turns < 4 || v.DoctorShare < 0.2 || v.DoctorShare > 0.8 || len(v.Timeline) == 0 {
			t.Errorf("%s: conversation %+v", s.ID, v)
			continue
		}
		if v.Microphones != 1 {
			t.Errorf("%s: conversation read on %d microphones, want 1", s.ID, v.Microphones)
		}
		t.Logf("%s: doctor share %.2f (script %.2f), turns %d (%d), interruptions %d (%d)", s.ID, v.DoctorShare,
			s.DoctorSpeech/(s.DoctorSpeech+s.PatientSpeech), v.Turns, s.Turns, v.DoctorInterruptions+v.PatientInterruptions, s.Interruptions)
	}
	if c := got[first.ID]; c != nil && (c.Rating == nil || c.Set != contact.Negative) {
		t.Errorf("%s: rating %+v set %s, want the negative press joined", first.ID, c.Rating, c.Set)
	}
	_, text, _ := contactd(t, "analyze", "--media", media, "--station", "room-1", "--start", t0.Format(time.RFC3339),
		"--schedule", schedule, "--voices", voices, "--events", events, "--store", filepath.Join(dir, "store2"))
	if !strings.Contains(text, "1 no-show(s) A-003") || !strings.Contains(text, "A-004") {
		t.Errorf("summary lacks the room table:\n%s", text)
	}
}

// TestAnalyzeTwoMicrophoneRoom: a room configured with doctor_mic, its
// agent's recording two microphones in the two channels of one Opus
// stream (the doctor's lapel left, the room's right). `analyze
// --schedule` finds the contacts (the first booking's from its door, the
// overrun's from the voices the two microphones tell apart, with no
// enrolled voice) and measures each conversation: talk share within 5 %
// of the script.
func TestAnalyzeTwoMicrophoneRoom(t *testing.T) {
	dir := t.TempDir()
	ravdess := filepath.Join(testenv.Datasets(t), "ravdess")
	ctx := context.Background()
	load := func(actor int) []daygen.Utterance {
		u, err := daygen.RAVDESSActor(ctx, ravdess, actor)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	t0 := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	l := daygen.LapelMic
	d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: t0, Room: "room-1", Doctor: load(15)[20:],
		Patients: [][]daygen.Utterance{load(16), load(18), load(17)},
		Kinds:    []daygen.Kind{daygen.Normal, daygen.NoShow, daygen.Overrun}, Doors: []bool{true, false, false}, Seed: 5, Mics: &l})
	if err != nil {
		t.Fatal(err)
	}
	n := min(len(d.Mics[0]), len(d.Mics[1]))
	raw := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint16(raw[4*i:], uint16(int16(d.Mics[0][i]*32767)))
		binary.LittleEndian.PutUint16(raw[4*i+2:], uint16(int16(d.Mics[1][i]*32767)))
	}
	media := filepath.Join(dir, "room-1.ogg")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "s16le", "-ar", "16000", "-ac", "2", "-i", "-", "-c:a", "libopus", "-b:a", "64k", media)
	cmd.Stdin = strings.NewReader(string(raw))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	var csv strings.Builder
	csv.WriteString("id,room,doctor,start,end\n")
	for _, s := range d.Slots {
		fmt.Fprintf(&csv, "%s,room-1,dr-orlova,%s,%s\n", s.ID, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339))
	}
	schedule := filepath.Join(dir, "schedule.csv")
	conf := filepath.Join(dir, "contactd.yaml")
	events := filepath.Join(dir, "events.jsonl")
	var evs strings.Builder
	for _, e := range d.Events {
		b, _ := json.Marshal(e)
		evs.Write(append(b, '\n'))
	}
	for path, body := range map[string]string{schedule: csv.String(), events: evs.String(),
		conf: "stations: [{id: room-1, token: room-1-secret-token-0123, kind: room, employee: dr-orlova, doctor_mic: left}]\n"} {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := contactd(t, "--config", conf, "analyze", "--media", media, "--station", "room-1", "--start", t0.Format(time.RFC3339),
		"--schedule", schedule, "--events", events, "--voices", filepath.Join(dir, "no-voices"), "--store", filepath.Join(dir, "store"), "--json")
	if code != 0 {
		t.Fatalf("analyze: exit %d\n%s", code, errs)
	}
	var rep pipeline.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.NoShows) != 1 || rep.NoShows[0].ID != "A-002" {
		t.Errorf("no-shows %+v, want A-002", rep.NoShows)
	}
	got := map[string]*contact.Contact{}
	for _, c := range rep.Contacts {
		if c.Appointment != nil {
			got[c.Appointment.ID] = c
		}
	}
	for _, s := range d.Slots {
		if s.Kind == daygen.NoShow {
			continue
		}
		c := got[s.ID]
		if c == nil {
			t.Errorf("%s: no contact (contacts: %d)", s.ID, len(rep.Contacts))
			continue
		}
		if tol := 3 * time.Second; c.Arrive.Sub(s.Arrive).Abs() > tol || c.Leave.Sub(s.Leave).Abs() > tol {
			t.Errorf("%s: contact %v–%v, want %v–%v", s.ID, c.Arrive.Sub(t0), c.Leave.Sub(t0), s.Arrive.Sub(t0), s.Leave.Sub(t0))
			for _, st := range s.Script {
				t.Logf("script %v %v–%v", st.Doctor, st.Start.Sub(t0), st.End.Sub(t0))
			}
			if c.Conversation != nil {
				for _, st := range c.Conversation.Timeline {
					t.Logf("found %s %v–%v", st.Who, st.Start.Sub(t0), st.End.Sub(t0))
				}
			}
		}
		v := c.Conversation
		if v == nil {
			t.Errorf("%s: no conversation", s.ID)
			continue
		}
		if v.Microphones != 2 {
			t.Errorf("%s: conversation read on %d microphones, want 2", s.ID, v.Microphones)
		}
		want := voicedShare(t, s)
		t.Logf("%s: doctor share %.3f (script %.3f), turns %d (%d), interruptions %d (%d)", s.ID, v.DoctorShare, want,
			v.Turns, s.Turns, v.DoctorInterruptions+v.PatientInterruptions, s.Interruptions)
		if diff := v.DoctorShare - want; diff > 0.05 || diff < -0.05 {
			t.Errorf("%s: doctor's talk share %.3f, script %.3f", s.ID, v.DoctorShare, want)
		}
		// The acceptance: turns and interruptions within one of the script.
		if d := v.Turns - s.Turns; d > 1 || d < -1 {
			t.Errorf("%s: %d turns, script %d", s.ID, v.Turns, s.Turns)
		}
		if d := v.DoctorInterruptions + v.PatientInterruptions - s.Interruptions; d > 1 || d < -1 {
			t.Errorf("%s: %d interruptions, script %d", s.ID, v.DoctorInterruptions+v.PatientInterruptions, s.Interruptions)
		}
	}
}

// voicedShare is the doctor's share of a slot's script in voiced speech
// (the recordings placed have silence at both ends).
func voicedShare(t *testing.T, s daygen.ConsultSlot) float64 {
	vm, err := vad.LoadInstalled("")
	if err != nil {
		t.Fatal(err)
	}
	det := vm.NewDetector()
	var doc, pat float64
	for _, p := range s.Placed {
		det.Reset()
		mask, _ := vad.Mask(det, p.PCM, 0.5, features.Hop)
		n := 0.0
		for _, v := range mask {
			if v {
				n++
			}
		}
		if p.Doctor {
			doc += n
		} else {
			pat += n
		}
	}
	return doc / (doc + pat)
}
