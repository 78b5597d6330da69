package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"contactd/capture"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
	"contactd/config"
	"contactd/contact"
	"contactd/daygen"
	"contactd/internal/testenv"
)

const roomToken = "room-1-secret-token-0123"

// TestLiveConsultingRoom: a consulting room's agent streams a consultation
// over WebRTC, with no door sensor; the clinic information system has
// pushed the booking (and an earlier one nobody came to). Once the
// booking's latest end has passed, the consultation is stored with its
// appointment, doctor (whose enrolled voice told them from the patient),
// rating and conversation metrics, and the no-show is settled once.
func TestLiveConsultingRoom(t *testing.T) { liveConsultingRoom(t, false) }

// TestLiveTwoMicrophoneRoom: the same room with the doctor's lapel
// microphone beside the room's, sent as the two channels of the agent's
// Opus track (doctor_mic: left), and no voice enrolled. The consultation
// is found and measured from the two microphones (turns.FindTwo on the
// recording's channels over the booking window, then on the clip's): the
// same bounds, the doctor's talk share within 5 % of the script, turns
// within 2.
func TestLiveTwoMicrophoneRoom(t *testing.T) { liveConsultingRoom(t, true) }

func liveConsultingRoom(t *testing.T, two bool) {
	ctx := context.Background()
	ravdess := filepath.Join(testenv.Datasets(t), "ravdess")
	doctor, err := daygen.RAVDESSActor(ctx, ravdess, 15)
	if err != nil {
		t.Fatal(err)
	}
	patient, err := daygen.RAVDESSActor(ctx, ravdess, 16)
	if err != nil {
		t.Fatal(err)
	}
	// The doctor enrolled at the room's microphone, on one sentence.
	state := t.TempDir()
	vm, err := vad.LoadInstalled("")
	if err != nil {
		t.Fatal(err)
	}
	bg, _ := speaker.DefaultBackground()
	ext, det := features.NewExtractor(), vm.NewDetector()
	var frames [][]float64
	var rest []daygen.Utterance
	for _, u := range doctor {
		if u.Text == 1 {
			frames = append(frames, speaker.SpeechFrames(ext, det, daygen.Level(daygen.Trim(u.PCM), daygen.SpeechDB))...)
		} else {
			rest = append(rest, u)
		}
	}
	v, err := bg.Enroll("dr-orlova", frames)
	if err != nil {
		t.Fatal(err)
	}
	if !two { // two microphones need no enrolled voice
		os.MkdirAll(filepath.Join(state, "voices"), 0o755)
		b, _ := json.Marshal(v)
		os.WriteFile(filepath.Join(state, "voices", "dr-orlova.json"), b, 0o644)
	}

	ts := startServer(t, state, t.TempDir(), func(c *config.Config) {
		st := config.Station{ID: "room-1", Token: roomToken, Employee: "dr-orlova", Kind: "room"}
		if two {
			st.DoctorMic = "left"
		}
		c.Stations = append(c.Stations, st)
		c.Schedulers = []config.Scheduler{{Name: "mis", Token: "mis-token-0123456789"}}
		c.Consult.Gap, c.Consult.ChangePause = 3*time.Second, time.Second
		c.Segmenter.RatingWindow = 8 * time.Second
	})

	// A short consultation, generated from the two actors' recordings.
	opt := daygen.ConsultOptions{Start: time.Unix(0, 0), Room: "room-1", Doctor: rest,
		Patients: [][]daygen.Utterance{patient}, Kinds: []daygen.Kind{daygen.Normal}, Doors: []bool{false}, Slot: 70 * time.Second,
		Lead: 2 * time.Second, Tail: 3 * time.Second, Seed: 2}
	if two {
		l := daygen.LapelMic
		opt.Mics = &l
	}
	d, err := daygen.GenerateConsultDay(opt)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	chans := [][]float32{d.Audio}
	bitrate := "32k"
	if two {
		chans, bitrate = d.Mics[:], "64k" // the agent's audio.bitrate is per channel
	}
	n := len(chans[0])
	for _, c := range chans {
		n = min(n, len(c))
	}
	raw := make([]byte, 2*n*len(chans))
	for i := range n {
		for k, c := range chans {
			binary.LittleEndian.PutUint16(raw[2*(i*len(chans)+k):], uint16(int16(c[i]*32767)))
		}
	}
	ogg := filepath.Join(dir, "room.ogg")
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "s16le", "-ar", "16000", "-ac", fmt.Sprint(len(chans)), "-i", "-", "-c:a", "libopus", "-b:a", bitrate,
		"-ar", "48000", "-page_duration", "20000", "-frame_duration", "20", ogg)
	cmd.Stdin = strings.NewReader(string(raw))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}

	pub := &capture.Publisher{URL: ts.url + "/whip/room-1", Token: roomToken, InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := pub.Connect(cctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	t0 := time.Now().UTC()
	slot := d.Slots[0]
	at := func(x time.Time) time.Time { return t0.Add(x.Sub(d.Start)) } // script time → wall time
	csv := fmt.Sprintf("id,room,doctor,start,end\nA-1,room-1,dr-orlova,%s,%s\nA-0,room-1,dr-orlova,%s,%s\n",
		at(slot.Start).Format(time.RFC3339Nano), at(slot.End).Format(time.RFC3339Nano),
		t0.Add(-10*time.Minute).Format(time.RFC3339Nano), t0.Add(-9*time.Minute).Format(time.RFC3339Nano))
	if code, body := post(t, ts.url+"/api/v1/appointments", "mis-token-0123456789", "text/csv", csv); code != http.StatusAccepted || !strings.Contains(body, `"accepted":2`) {
		t.Fatalf("appointments: %d %s", code, body)
	}
	streamed := time.Now()
	// StreamOgg loops: one pass of the recording, then silence.
	sctx, stop := context.WithTimeout(cctx, time.Duration(n)*time.Second/16000)
	capture.StreamOgg(sctx, pub.Audio, ogg)
	stop()
	// The patient presses on the exit terminal.
	if code, body := post(t, ts.url+"/api/v1/ratings", roomToken, "application/json",
		fmt.Sprintf(`{"station":"room-1","value":4,"scale":"5pt","at":%q}`, time.Now().UTC().Format(time.RFC3339Nano))); code != http.StatusAccepted {
		t.Fatalf("rating: %d %s", code, body)
	}
	t.Logf("streamed %.1f s of audio in %.1f s", float64(n)/16000, time.Since(streamed).Seconds())
	scs := waitSidecars(t, ts.store, 1, 40*time.Second)
	if len(scs) != 1 {
		t.Fatalf("%d contacts stored, want the consultation", len(scs))
	}
	c := scs[0].Contact
	if c.Appointment == nil || c.Appointment.ID != "A-1" || c.Employee != "dr-orlova" || c.Station != "room-1" {
		t.Fatalf("contact %+v appointment %+v", c, c.Appointment)
	}
	if tl := c.Conversation; tl != nil && len(tl.Timeline) > 0 {
		t.Logf("streamed at %v; says %v–%v; contact %v–%v; clip %v–%v; script %v–%v", streamed.Sub(t0), tl.Timeline[0].Start.Sub(t0), tl.Timeline[len(tl.Timeline)-1].End.Sub(t0),
			c.Arrive.Sub(t0), c.Leave.Sub(t0), c.ClipStart.Sub(t0), c.ClipEnd.Sub(t0), at(slot.Arrive).Sub(t0), at(slot.Leave).Sub(t0))
	}
	// The voice path reads whole seconds: its first and last are up to a second off.
	if d := c.Arrive.Sub(at(slot.Arrive)); d.Abs() > 2*time.Second {
		t.Errorf("arrive %v off the first speech by %v", c.Arrive, d)
	}
	if d := c.Leave.Sub(at(slot.Leave)); d.Abs() > 2*time.Second {
		t.Errorf("leave %v off the last speech by %v", c.Leave, d)
	}
	if c.Rating == nil || c.Rating.Value != 4 || c.Set != contact.Positive {
		t.Errorf("rating %+v set %s", c.Rating, c.Set)
	}
	conv := c.Conversation
	if conv == nil || conv.Turns < slot.Turns/2 || conv.DoctorShare < 0.2 || conv.DoctorShare > 0.8 {
		t.Fatalf("conversation %+v (script: %d turns)", conv, slot.Turns)
	}
	if wantMics := map[bool]int{false: 1, true: 2}[two]; conv.Microphones != wantMics {
		t.Errorf("conversation read on %d microphones, want %d", conv.Microphones, wantMics)
	}
	t.Logf("doctor share %.2f, turns %d (script %d), interruptions %d (script %d), trend %s (script %s)",
		conv.DoctorShare, conv.Turns, slot.Turns, conv.DoctorInterruptions+conv.PatientInterruptions, slot.Interruptions, conv.PatientTrend, slot.PatientTrend)
	if two {
		want := voicedShare(vm, slot)
		ints := conv.DoctorInterruptions + conv.PatientInterruptions
		if diff := conv.DoctorShare - want; diff > 0.05 || diff < -0.05 || conv.Turns > slot.Turns+1 || conv.Turns < slot.Turns-1 ||
			ints > slot.Interruptions+1 || ints < slot.Interruptions-1 {
			t.Errorf("two microphones: doctor share %.3f (script %.3f), turns %d (script %d), interruptions %d (script %d)",
				conv.DoctorShare, want, conv.Turns, slot.Turns, ints, slot.Interruptions)
		}
	}
	done, _ := os.ReadFile(filepath.Join(state, "journal", "room-1.done"))
	if strings.Count(string(done), `"A-0"`) != 1 || strings.Count(string(done), `"A-1"`) != 1 {
		t.Errorf("settled bookings:\n%s", done)
	}
}

// TestRoomRecordsOnlyInsideBookings: a room whose consent rules allow
// recording only inside its bookings keeps nothing while none is under
// way and tells its agent so; a booking pushed for now turns recording on
// (and the agent is told); a spooled segment from outside the bookings is
// discarded.
func TestRoomRecordsOnlyInsideBookings(t *testing.T) {
	ogg, _ := media(t)
	ts := startServer(t, t.TempDir(), t.TempDir(), func(c *config.Config) {
		c.Stations = append(c.Stations, config.Station{ID: "room-2", Token: roomToken, Employee: "dr-orlova", Kind: "room", Record: "appointments"})
		c.Schedulers = []config.Scheduler{{Name: "mis", Token: "mis-token-0123456789"}}
		c.Consult.Early, c.Consult.MaxOverrun = time.Second, time.Second
	})
	var mu sync.Mutex
	var states []string
	pub := &capture.Publisher{URL: ts.url + "/whip/room-2", Token: roomToken, InterfaceFilter: loopbackOnly, IncludeLoopback: true,
		OnReply: func(b []byte) {
			if strings.Contains(string(b), `"type":"recording"`) {
				mu.Lock()
				states = append(states, string(b))
				mu.Unlock()
			}
		}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); capture.StreamOgg(sctx, pub.Audio, ogg) }()
	defer func() { stop(); <-done }()
	told := func(want string) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			mu.Lock()
			last := ""
			if len(states) > 0 {
				last = states[len(states)-1]
			}
			mu.Unlock()
			if strings.Contains(last, want) {
				return true
			}
		}
		return false
	}
	if !told(`"recording":false`) {
		t.Fatalf("the agent was not told recording is off: %v", states)
	}
	time.Sleep(5 * time.Second)
	rec, err := ts.srv.Recorder("room-2")
	if err != nil {
		t.Fatal(err)
	}
	rec.Flush(time.Now(), time.Second)
	if segs := rec.Segments(time.Time{}, time.Now().Add(time.Hour)); len(segs) != 0 {
		t.Fatalf("%d segments recorded outside any booking", len(segs))
	}
	// A booking for now: recording begins.
	now := time.Now().UTC()
	csv := fmt.Sprintf("id,room,doctor,start,end\nN-1,room-2,dr-orlova,%s,%s\n", now.Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339))
	if code, body := post(t, ts.url+"/api/v1/appointments", "mis-token-0123456789", "text/csv", csv); code != http.StatusAccepted {
		t.Fatalf("appointments: %d %s", code, body)
	}
	if !told(`"recording":true`) {
		t.Fatalf("the agent was not told recording is on: %v", states)
	}
	time.Sleep(5 * time.Second)
	rec.Flush(time.Now().Add(-time.Second), 2*time.Second)
	if segs := rec.Segments(time.Time{}, time.Now().Add(time.Hour)); len(segs) == 0 || segs[0].Start.Before(now.Add(-time.Second)) {
		t.Errorf("segments inside the booking: %+v", segs)
	}
	// A segment spooled an hour ago, outside any booking: discarded.
	req, _ := http.NewRequest("POST", ts.url+"/api/v1/segments/room-2", strings.NewReader("not even a segment"))
	req.Header.Set("Authorization", "Bearer "+roomToken)
	req.Header.Set("X-Segment-Start", now.Add(-time.Hour).Format(time.RFC3339Nano))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "discarded") {
		t.Errorf("a spooled segment from outside the bookings: %d %s", resp.StatusCode, b)
	}
}

// voicedShare is the doctor's share of a slot's script in voiced speech
// (the recordings placed have silence at both ends).
func voicedShare(vm *vad.Model, s daygen.ConsultSlot) float64 {
	det := vm.NewDetector()
	var doc, pat float64
	for _, p := range s.Placed {
		det.Reset()
		mask, _ := vad.Mask(det, p.PCM, 0.5, features.Hop)
		for _, v := range mask {
			if v && p.Doctor {
				doc++
			} else if v {
				pat++
			}
		}
	}
	return doc / (doc + pat)
}
