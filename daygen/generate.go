package daygen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"contactd/contact"
)

// Options describe the day to build.
type Options struct {
	Out      string        // directory for the files
	Length   time.Duration // recording length
	Start    time.Time     // wall-clock start of the recording
	Station  string
	Seed     uint64
	Video    bool   // add a camera track (VP8, 128x96, 5 fps, keyframe every 2 s)
	Datasets string // directory holding ravdess/ (real emotional speech); optional
	// Actors, if set, are the RAVDESS actors the patients are taken from
	// (to evaluate a model on voices it was not trained on).
	Actors []int
	// Chatter adds the waiting area's voices, 20 dB under the desk's.
	Chatter bool
	// Progress, if set, is told the stage and how far it is.
	Progress func(stage string, done, total int)
}

// Files names what Generate wrote.
type Files struct {
	Recording string    `json:"recording"`
	Events    string    `json:"events"`
	Ratings   string    `json:"ratings"`
	Expected  string    `json:"expected"`
	Start     time.Time `json:"start"`
	Station   string    `json:"station"`
	// Patients says whose voices the patients have: "ravdess" (real
	// emotional speech, their moods audible) or "espeak-ng" (synthetic
	// voices; a mood shows only in the words). A figure measured on a day
	// is only comparable with one measured on the same kind.
	Patients string `json:"patients"`
}

// Generate writes recording.webm, events.jsonl, ratings.jsonl and
// expected.json (plus day.json naming them) into o.Out.
func Generate(ctx context.Context, o Options) (*Files, error) {
	if o.Length < time.Minute {
		return nil, fmt.Errorf("length %v: a day must be at least a minute", o.Length)
	}
	if !contact.ValidStation(o.Station) {
		return nil, fmt.Errorf("station %q is not a station id", o.Station)
	}
	// A day without the corpus is still a day, but one whose patients all
	// sound alike: asking for a corpus or its actors and not getting them
	// must not pass unnoticed.
	patients := "espeak-ng"
	if o.Datasets != "" {
		rav := filepath.Join(o.Datasets, "ravdess", "labels.csv")
		if _, err := os.Stat(rav); err != nil {
			return nil, fmt.Errorf("datasets %s: no RAVDESS corpus (%s): %w", o.Datasets, rav, err)
		}
		patients = "ravdess"
	} else if len(o.Actors) > 0 {
		return nil, fmt.Errorf("actors %v: RAVDESS actors need the datasets directory (ravdess/labels.csv)", o.Actors)
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, int, int) {}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	sc := NewScenario(o.Length, o.Seed)
	f := &Files{
		Recording: filepath.Join(o.Out, "recording.webm"),
		Events:    filepath.Join(o.Out, "events.jsonl"),
		Ratings:   filepath.Join(o.Out, "ratings.jsonl"),
		Expected:  filepath.Join(o.Out, "expected.json"),
		Start:     o.Start,
		Station:   o.Station,
		Patients:  patients,
	}
	if err := writeJSONL(f.Events, sc.Events(o.Station, o.Start)); err != nil {
		return nil, err
	}
	if err := writeJSONL(f.Ratings, sc.Ratings(o.Station, o.Start)); err != nil {
		return nil, err
	}
	if err := writeJSON(f.Expected, sc.Expected(o.Station, o.Start)); err != nil {
		return nil, err
	}

	work, err := os.MkdirTemp("", "contactd-day-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	progress("voices", 0, 1)
	r := rand.New(rand.NewPCG(o.Seed+1, 7))
	v, err := loadVoices(ctx, o.Datasets, work, o.Actors, r)
	if err != nil {
		return nil, err
	}
	progress("voices", 1, 1)
	raw := filepath.Join(work, "day.raw")
	rf, err := os.Create(raw)
	if err != nil {
		return nil, err
	}
	err = writeMix(rf, o.Length, sc.placeSpeech(v, r, o.Chatter), r, func(d, t int) { progress("mixing", d, t) })
	if cerr := rf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := encode(ctx, raw, f.Recording, o, sc, progress); err != nil {
		return nil, err
	}
	return f, writeJSON(filepath.Join(o.Out, "day.json"), f)
}

// encode muxes the mixed audio (Opus, 20 ms packets) and, with video, a still
// picture that shows a green square while a patient is at the desk.
func encode(ctx context.Context, raw, out string, o Options, sc *Scenario, progress func(string, int, int)) error {
	secs := fmt.Sprintf("%.3f", o.Length.Seconds())
	args := []string{"-hide_banner", "-v", "error", "-nostats", "-progress", "pipe:1", "-y",
		"-f", "s16le", "-ar", fmt.Sprint(Rate), "-ac", "1", "-i", raw}
	if o.Video {
		var on []string
		for _, v := range sc.Visits {
			// The camera sees the patient leave even when the sensor missed it.
			on = append(on, fmt.Sprintf("between(t,%.2f,%.2f)", v.Arrive.Seconds(), v.Leave.Seconds()))
		}
		enable := "0"
		if len(on) > 0 {
			enable = strings.Join(on, "+")
		}
		// A still scene (the desk) as a camera sees it: sensor noise and the
		// light changing slowly through a ten-minute cycle; the patient is a
		// square in the lower right while at the desk.
		args = append(args, "-f", "lavfi", "-i", "smptebars=s=128x96:r=5:d="+secs,
			"-filter:v", fmt.Sprintf("noise=alls=8:allf=t,eq=eval=frame:brightness='0.04*sin(2*PI*t/600)',"+
				"drawbox=x=88:y=56:w=32:h=32:color=green:t=fill:enable='%s'", enable),
			"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "10", "-b:v", "30k")
	}
	args = append(args, "-t", secs, "-c:a", "libopus", "-b:a", "24k", "-ar", "48000", "-frame_duration", "20",
		"-metadata", "creation_time="+o.Start.UTC().Format("2006-01-02T15:04:05.000000Z"), out)
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	total := int(o.Length / time.Millisecond)
	buf := make([]byte, 4096)
	var line strings.Builder
	for {
		n, err := stdout.Read(buf)
		for _, b := range buf[:n] {
			if b != '\n' {
				line.WriteByte(b)
				continue
			}
			if us, ok := strings.CutPrefix(line.String(), "out_time_us="); ok {
				var v int64
				fmt.Sscan(us, &v)
				progress("encoding", int(v/1000), total)
			}
			line.Reset()
		}
		if err != nil {
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, stderr.String())
	}
	progress("encoding", total, total)
	return nil
}

func writeJSONL[T any](path string, items []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
