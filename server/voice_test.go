package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"contactd/capture"
	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
	"contactd/classifier/voice"
	"contactd/config"
	"contactd/internal/testenv"
)

// TestLiveVoice: the employee of desk-1 (RAVDESS actor 17) is enrolled;
// a dialogue with a patient (actor 18) is published over WebRTC; the
// contact's sidecar carries both speakers' emotion timelines, and the
// station's live feed sends a reading a second.
func TestLiveVoice(t *testing.T) {
	ds := filepath.Join(testenv.Datasets(t), "ravdess")
	files := func(actor string) []string {
		f, _ := filepath.Glob(filepath.Join(ds, "03-01-*-"+actor+".ogg"))
		sort.Strings(f)
		return f
	}
	emp, pat := files("17"), files("18")
	state, dir := t.TempDir(), t.TempDir()
	enrolEmployee(t, state, "anna", emp[:20])
	// The dialogue: 6 turns each, 0.7 s apart, as one Ogg Opus stream.
	args := []string{}
	for i := 0; i < 6; i++ {
		args = append(args, emp[20+i], pat[20+i])
	}
	var parts []string
	for i, f := range args {
		w := filepath.Join(dir, "t"+string(rune('a'+i))+".wav")
		if out, err := exec.Command("ffmpeg", "-v", "error", "-i", f, "-ar", "48000", "-ac", "1", "-af", "apad=pad_dur=0.7", w).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		parts = append(parts, w)
	}
	wav := filepath.Join(dir, "dialogue.wav")
	if out, err := exec.Command("sox", append(parts, wav)...).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ogg := filepath.Join(dir, "dialogue.ogg")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", wav, "-c:a", "libopus", "-b:a", "32k", "-page_duration", "20000",
		"-frame_duration", "20", ogg).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	ts := startServer(t, state, t.TempDir(), func(c *config.Config) {
		c.Stations[0].Employee = "anna"
		c.Users = testUsers(t)
	})
	// anna's own mirror, as her page would open it after logging in.
	mirrorClient, code := login(t, ts.url, "anna", "correct horse battery")
	if code != 200 {
		t.Fatalf("login: %d", code)
	}
	// The live feed, as the employee's mirror would open it.
	req, _ := http.NewRequest("GET", ts.url+"/api/v1/stations/desk-1/voice?token="+token, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("feed: %v %v", err, resp)
	}
	var mu sync.Mutex
	var feed []voice.Reading
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var r voice.Reading
				if json.Unmarshal([]byte(d), &r) == nil {
					mu.Lock()
					feed = append(feed, r)
					mu.Unlock()
				}
			}
		}
	}()
	mreq, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/api/v1/mirror/anna/stream", nil)
	mresp, err := mirrorClient.Do(mreq)
	if err != nil || mresp.StatusCode != 200 {
		t.Fatalf("mirror: %v %v", err, mresp)
	}
	var mirrored []struct {
		Station string
		Reading voice.Reading
	}
	go func() {
		sc := bufio.NewScanner(mresp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m struct {
					Station string
					Reading voice.Reading
				}
				if json.Unmarshal([]byte(d), &m) == nil {
					mu.Lock()
					mirrored = append(mirrored, m)
					mu.Unlock()
				}
			}
		}
	}()
	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	pub.Send(map[string]any{"type": "arrive", "at": time.Now().UTC()})
	// StreamOgg loops the file; stop it after one pass.
	dur, _ := testenv.Probe(t, ogg)
	once, stop := context.WithTimeout(ctx, time.Duration(dur*float64(time.Second)))
	err = capture.StreamOgg(once, pub.Audio, ogg)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	pub.Send(map[string]any{"type": "leave", "at": time.Now().UTC()})
	scs := waitSidecars(t, ts.store, 1, 30*time.Second)
	if len(scs) != 1 {
		t.Fatalf("%d contacts", len(scs))
	}
	cv := scs[0].Voice
	if cv == nil || cv.Employee == nil || cv.Patient == nil {
		t.Fatalf("contact voice %+v", cv)
	}
	t.Logf("employee %.1f s speech %v; patient %.1f s %v", cv.Employee.SpeechSeconds, cv.Employee.EmotionSeconds,
		cv.Patient.SpeechSeconds, cv.Patient.EmotionSeconds)
	total := cv.Employee.SpeechSeconds + cv.Patient.SpeechSeconds
	if total < 10 || cv.Employee.SpeechSeconds < 0.25*total || cv.Patient.SpeechSeconds < 0.25*total {
		t.Errorf("speech split employee %.1f s / patient %.1f s", cv.Employee.SpeechSeconds, cv.Patient.SpeechSeconds)
	}
	for _, s := range cv.Employee.Timeline {
		if s.At.Before(scs[0].Arrive.Add(-time.Second)) || s.At.After(scs[0].Leave) || s.Emotion == "" {
			t.Errorf("timeline second %+v outside the contact %s–%s", s, scs[0].Arrive, scs[0].Leave)
		}
	}
	mu.Lock()
	n := len(feed)
	mu.Unlock()
	if secs := scs[0].Leave.Sub(scs[0].Arrive).Seconds(); float64(n) < secs-4 {
		t.Errorf("the live feed sent %d readings in a %.0f s contact", n, secs)
	}
	// The mirror showed anna's seconds at desk-1, never the patient's.
	mu.Lock()
	mirror := slices.Clone(mirrored)
	mu.Unlock()
	own := 0
	for _, m := range mirror {
		if m.Station != "desk-1" || m.Reading.Who == voice.Patient {
			t.Errorf("mirror sent %+v", m)
		}
		if m.Reading.Who == voice.Employee {
			own++
		}
	}
	if own < 5 {
		t.Errorf("the mirror sent %d of anna's speaking seconds (of %d readings)", own, len(mirror))
	}
	// The supervisor's monitor has anna live at desk-1 with today's background.
	sup, _ := login(t, ts.url, "sergey", "correct horse battery")
	resp2, err := sup.Get(ts.url + "/api/v1/monitor")
	if err != nil {
		t.Fatal(err)
	}
	var mon struct {
		Employees []struct {
			Employee, Station string
			Live              bool
			Today             *struct {
				SpeechSeconds float64 `json:"speech_seconds"`
				NegativeShare float64 `json:"negative_share"`
			}
		}
	}
	json.NewDecoder(resp2.Body).Decode(&mon)
	resp2.Body.Close()
	found := false
	for _, e := range mon.Employees {
		if e.Employee == "anna" {
			found = true
			if e.Station != "desk-1" || !e.Live || e.Today == nil || e.Today.SpeechSeconds < 5 {
				t.Errorf("monitor: %+v (today %+v)", e, e.Today)
			}
		}
	}
	if !found {
		t.Errorf("monitor lacks anna: %+v", mon)
	}
}

// enrolEmployee enrols an employee from recordings as an administrator
// would, into the state dir's voices/.
func enrolEmployee(t *testing.T, state, name string, recordings []string) {
	t.Helper()
	vm, err := vad.LoadInstalled("")
	if err != nil {
		t.Fatal(err)
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		t.Fatal(err)
	}
	ext, det := features.NewExtractor(), vm.NewDetector()
	var frames [][]float64
	for _, f := range recordings {
		x, err := audio.DecodeFile(f, features.Rate)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, speaker.SpeechFrames(ext, det, x)...)
	}
	v, err := bg.Enroll(name, frames)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(state, "voices"), 0o755)
	b, _ := json.Marshal(v)
	os.WriteFile(filepath.Join(state, "voices", name+".json"), b, 0o644)
}
