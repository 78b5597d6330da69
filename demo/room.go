package demo

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"contactd/appointments"
	"contactd/classifier/emotion"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	segturns "contactd/classifier/turns"
	"contactd/classifier/vad"
	"contactd/config"
	"contactd/contact"
	"contactd/daygen"
	"contactd/pipeline"
	"contactd/storage"
)

// The consulting room: a doctor (RAVDESS actor 19) and this morning's
// patients, analysed from the room's recording when the demo starts.
const (
	roomStation = "room-1"
	roomToken   = "room-1-demo-token-0003"
	roomDoctor  = "dr-orlova"
	roomActor   = 19
)

var roomPatients = []int{20, 12, 14, 7}

// seedRoom generates this morning's consultations in room-1 (a no-show, an
// overrun and back-to-back bookings among them), books them, enrols the
// doctor and analyses the recording into the store, once per demo
// directory.
func seedRoom(ctx context.Context, cfg *config.Config, ravdess, dir string, progress func(string)) error {
	marker := filepath.Join(cfg.StateDir, "room-1.analysed")
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	progress("preparing room-1: this morning's consultations of " + roomDoctor)
	doc, err := daygen.RAVDESSActor(ctx, ravdess, roomActor)
	if err != nil {
		return err
	}
	var pats [][]daygen.Utterance
	for _, a := range roomPatients {
		u, err := daygen.RAVDESSActor(ctx, ravdess, a)
		if err != nil {
			return err
		}
		pats = append(pats, u)
	}
	vm, err := vad.LoadInstalled("")
	if err != nil {
		return err
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		return err
	}
	// Enrolled on one sentence; the consultations use the other.
	ext, det := features.NewExtractor(), vm.NewDetector()
	var frames [][]float64
	var rest []daygen.Utterance
	for _, u := range doc {
		if u.Text == 1 {
			frames = append(frames, speaker.SpeechFrames(ext, det, daygen.Level(daygen.Trim(u.PCM), daygen.SpeechDB))...)
		} else {
			rest = append(rest, u)
		}
	}
	v, err := bg.Enroll(roomDoctor, frames)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(v)
	voices := filepath.Join(cfg.StateDir, "voices")
	if err := os.MkdirAll(voices, 0o750); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(voices, roomDoctor+".json"), b, 0o640); err != nil {
		return err
	}
	start := time.Now().In(cfg.Location()).Truncate(time.Hour).Add(-2 * time.Hour)
	d, err := daygen.GenerateConsultDay(daygen.ConsultOptions{Start: start, Room: roomStation, Doctor: rest, Patients: pats,
		Kinds: []daygen.Kind{daygen.Normal, daygen.Overrun, daygen.NoShow, daygen.BackToBack}, Doors: []bool{true, false, false, false},
		Lead: 10 * time.Second, Tail: 20 * time.Second, Seed: 11})
	if err != nil {
		return err
	}
	work := filepath.Join(dir, "media")
	if err := os.MkdirAll(work, 0o750); err != nil {
		return err
	}
	raw := make([]byte, 2*len(d.Audio))
	for i, x := range d.Audio {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(int16(x*32767)))
	}
	media := filepath.Join(work, "room-1-morning.ogg")
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-y", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "-",
		"-c:a", "libopus", "-b:a", "32k", media)
	cmd.Stdin = strings.NewReader(string(raw))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	var appts []appointments.Appointment
	for _, s := range d.Slots {
		appts = append(appts, appointments.Appointment{ID: s.ID, Room: roomStation, Doctor: roomDoctor, Start: s.Start, End: s.End})
	}
	book, err := appointments.Open(filepath.Join(cfg.StateDir, "appointments.jsonl"), nil)
	if err != nil {
		return err
	}
	err = book.Put(appts)
	book.Close()
	if err != nil {
		return err
	}
	// The exit terminal: the first patient pleased, the one who waited (the overrun) not.
	events, ratings := filepath.Join(work, "room-1-door.jsonl"), filepath.Join(work, "room-1-exit.jsonl")
	var ev, rt strings.Builder
	for _, e := range d.Events {
		j, _ := json.Marshal(e)
		ev.Write(append(j, '\n'))
	}
	for i, val := range map[int]int{0: 4, 1: 0} {
		j, _ := json.Marshal(contact.Rating{Station: roomStation, Value: val, Scale: contact.Scale5pt, At: d.Slots[i].Leave.Add(8 * time.Second)})
		rt.Write(append(j, '\n'))
	}
	if err := os.WriteFile(events, []byte(ev.String()), 0o640); err != nil {
		return err
	}
	if err := os.WriteFile(ratings, []byte(rt.String()), 0o640); err != nil {
		return err
	}
	em, err := emotion.Default()
	if err != nil {
		return err
	}
	st, err := storage.OpenLocal(cfg.Store)
	if err != nil {
		return err
	}
	rep, err := pipeline.Analyze(ctx, pipeline.Options{Media: media, Start: start, Station: roomStation, Site: cfg.Site,
		EventsFile: events, RatingsFile: ratings, Segmenter: cfg.Segmenter, Rules: cfg.Scales,
		Archive: &storage.Archive{Store: st, Location: cfg.Location()},
		Room: &pipeline.Room{Appointments: appts, Consult: cfg.Consult, Turns: segturns.DefaultConfig,
			Models: segturns.Models{VAD: vm, Background: bg, Emotion: em},
			Voice:  func(string) *speaker.Voice { return v }}})
	if err != nil {
		return err
	}
	var got []string
	for _, c := range rep.Contacts {
		id := "unscheduled"
		if c.Appointment != nil {
			id = c.Appointment.ID
		}
		got = append(got, fmt.Sprintf("%s %s–%s", id, c.Arrive.Format("15:04:05"), c.Leave.Format("15:04:05")))
	}
	var missed []string
	for _, a := range rep.NoShows {
		missed = append(missed, a.ID)
	}
	progress(fmt.Sprintf("room-1: consultations %s; no-shows %s", strings.Join(got, ", "), strings.Join(missed, ", ")))
	return os.WriteFile(marker, []byte(time.Now().Format(time.RFC3339)+"\n"), 0o640)
}
