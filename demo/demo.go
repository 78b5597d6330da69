// Package demo runs contactd as a clinic would see it, on one machine with
// nothing to configure: `contactd serve` on local disk, two reception desks
// whose agents stream real emotional speech (RAVDESS actors as employees
// and patients) over WebRTC with presence events and ratings, enrolled
// employee voices, and users of every role. Within a minute the review
// page has clips, the monitor has live tiles and the mirror moves.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"contactd/auth"
	"contactd/capture"
	"contactd/classifier/audio"
	"contactd/classifier/face"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
	"contactd/config"
	"contactd/history"
	"contactd/server"
	"contactd/storage"
)

// Password is every demo user's password. The demo is for one machine.
const Password = "contactd-demo"

// Options configure a demo.
type Options struct {
	Listen   string // e.g. 127.0.0.1:8080
	Dir      string // state, store and generated media
	Datasets string // the directory holding ravdess/
	Log      *slog.Logger
	// Ready is called with the base URL once the server answers.
	Ready func(url string)
	// Progress reports preparation steps (a terminal line each).
	Progress func(msg string)
}

// Users of the demo, one per role, and which employee each desk has.
var Users = []struct{ Name, Role, Employee, Lang string }{
	{"olga", auth.Quality, "", "ru"},
	{"sergey", auth.Supervisor, "", "ru"},
	{"anna", auth.Employee, "anna", "ru"},
	{"boris", auth.Employee, "boris", "en"},
	{"admin", auth.Admin, "", "ru"},
}

// A desk: its employee (a RAVDESS actor), the emotions the employee's
// lines are drawn from, and its patients (actor, emotion, rating on the
// 5-point terminal, -1 for none).
type desk struct {
	station, token, employee, actor string
	camera                          bool     // a desk camera showing the employee's face
	lines                           []string // RAVDESS emotion codes
	patients                        []patient
}

type patient struct {
	actor, emotion string
	rating         int
}

// RAVDESS emotion codes: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry.
var desks = []desk{
	{"desk-1", "desk-1-demo-token-0001", "anna", "18", true, []string{"01", "02", "03", "02"}, []patient{
		{"05", "05", 0}, {"07", "03", 4}, {"09", "01", 3}, {"11", "05", 1}, {"03", "04", -1}, {"15", "03", 4}}},
	{"desk-2", "desk-2-demo-token-0002", "boris", "13", false, []string{"04", "05", "01", "04"}, []patient{
		{"04", "05", 0}, {"06", "01", 2}, {"08", "05", 0}, {"10", "03", 3}, {"12", "04", 1}, {"14", "01", -1}}},
}

// Config is the demo's configuration: two desks, their employees, one
// user of every role, local storage under dir.
func Config(dir string) (*config.Config, error) {
	cfg := config.Default()
	cfg.Site = "demo-clinic"
	cfg.Timezone = "Europe/Moscow"
	cfg.Store = filepath.Join(dir, "store")
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.WebRTC.IncludeLoopback = true
	hash, err := auth.Hash(Password)
	if err != nil {
		return nil, err
	}
	for _, d := range desks {
		cfg.Stations = append(cfg.Stations, config.Station{ID: d.station, Token: d.token, Employee: d.employee})
	}
	cfg.Stations = append(cfg.Stations, config.Station{ID: roomStation, Token: roomToken, Employee: roomDoctor, Kind: "room"})
	for _, u := range Users {
		cfg.Users = append(cfg.Users, config.User{Name: u.Name, Role: u.Role, Employee: u.Employee, Lang: u.Lang, PasswordHash: hash})
	}
	return cfg, cfg.Validate()
}

// Run prepares the demo (cached under Dir), serves it and streams the desks
// until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	ravdess := filepath.Join(o.Datasets, "ravdess")
	if _, err := os.Stat(ravdess); err != nil {
		return fmt.Errorf("demo: the RAVDESS corpus is not at %s (set --datasets to the directory that holds ravdess/): %w", ravdess, err)
	}
	for _, tool := range []string{"ffmpeg"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("demo: %s is not installed (scripts/setup.sh installs it)", tool)
		}
	}
	cfg, err := Config(o.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return err
	}
	media := filepath.Join(o.Dir, "media")
	shifts := make([]*shift, len(desks))
	for i, d := range desks {
		o.Progress(fmt.Sprintf("preparing %s: %s's dialogues with %d patients", d.station, d.employee, len(d.patients)))
		if shifts[i], err = buildShift(ctx, ravdess, media, d); err != nil {
			return err
		}
		if d.camera {
			o.Progress(fmt.Sprintf("preparing %s's desk camera", d.employee))
			if shifts[i].ivf, err = buildCamera(ctx, filepath.Join(o.Datasets, "fer2013", "train.tar"), media, d); err != nil {
				return err
			}
		}
		o.Progress(fmt.Sprintf("enrolling %s's voice", d.employee))
		if err := enroll(ravdess, cfg.StateDir, d); err != nil {
			return err
		}
	}
	if err := seedHistory(cfg); err != nil {
		return err
	}
	if err := seedRoom(ctx, cfg, ravdess, o.Dir, o.Progress); err != nil {
		return err
	}
	st, err := storage.OpenLocal(cfg.Store)
	if err != nil {
		return err
	}
	srv := &server.Server{Config: cfg, Archive: &storage.Archive{Store: st, Location: cfg.Location()}, Log: o.Log, IncludeLoopback: true}
	if err := srv.Initialize(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		srv.Close()
		return err
	}
	base := "http://" + ln.Addr().String()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(sctx, ln) }()
	if o.Ready != nil {
		o.Ready(base)
	}
	for i, d := range desks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			streamDesk(sctx, base, d, shifts[i], o.Log)
		}()
	}
	err = <-serveErr
	stop()
	wg.Wait()
	return err
}

// shift is a desk's looped audio: dialogues separated by quiet, and when
// each contact starts and ends in it.
type shift struct {
	ogg      string
	ivf      string // the desk camera, if any
	contacts []span
}

type span struct {
	arrive, leave time.Duration
	rating        int
}

// Quiet between contacts, and between the turns of a dialogue.
const (
	gap      = 6 * time.Second
	turnGap  = 600 * time.Millisecond
	turns    = 4
	fileRate = 48000
)

func files(ravdess, actor, emotion string) []string {
	f, _ := filepath.Glob(filepath.Join(ravdess, fmt.Sprintf("03-01-%s-*-%s.ogg", emotion, actor)))
	sort.Strings(f)
	return f
}

// buildShift writes the desk's looped Ogg Opus (once; cached) and its schedule.
func buildShift(ctx context.Context, ravdess, dir string, d desk) (*shift, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	var inputs []string
	sh := &shift{ogg: filepath.Join(dir, d.station+".ogg")}
	var at time.Duration
	var parts []string // filter graph inputs, with padding
	add := func(f string, pad time.Duration) error {
		dur, err := probe(ctx, f)
		if err != nil {
			return err
		}
		inputs = append(inputs, f)
		parts = append(parts, fmt.Sprintf("[%d:a]aresample=%d,aformat=channel_layouts=mono,apad=pad_dur=%.3f[a%d]", len(inputs)-1, fileRate, pad.Seconds(), len(inputs)-1))
		at += dur + pad
		return nil
	}
	silence := filepath.Join(dir, "silence.wav")
	if _, err := os.Stat(silence); err != nil {
		if out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "0.5", silence).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
		}
	}
	if err := add(silence, gap/2-500*time.Millisecond); err != nil {
		return nil, err
	}
	for pi, p := range d.patients {
		emp := []string{}
		for _, e := range d.lines {
			emp = append(emp, files(ravdess, d.actor, e)...)
		}
		pat := files(ravdess, p.actor, p.emotion)
		if len(emp) < turns || len(pat) < turns {
			return nil, fmt.Errorf("demo: RAVDESS actor %s or %s lacks files under %s", d.actor, p.actor, ravdess)
		}
		arrive := at
		for k := 0; k < turns; k++ {
			// The employee greets, the patient answers; lines vary by contact.
			if err := add(emp[(pi*turns+k*3)%len(emp)], turnGap); err != nil {
				return nil, err
			}
			if err := add(pat[(k*2+pi)%len(pat)], turnGap); err != nil {
				return nil, err
			}
		}
		sh.contacts = append(sh.contacts, span{arrive: arrive - time.Second, leave: at - turnGap + time.Second, rating: p.rating})
		if err := add(silence, gap-500*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(sh.ogg); err == nil {
		return sh, nil
	}
	args := []string{"-v", "error", "-y"}
	for _, f := range inputs {
		args = append(args, "-i", f)
	}
	graph := ""
	for _, p := range parts {
		graph += p + ";"
	}
	for i := range inputs {
		graph += fmt.Sprintf("[a%d]", i)
	}
	graph += fmt.Sprintf("concat=n=%d:v=0:a=1[out]", len(inputs))
	tmp := sh.ogg + ".tmp.ogg"
	args = append(args, "-filter_complex", graph, "-map", "[out]", "-c:a", "libopus", "-b:a", "32k",
		"-frame_duration", "20", "-page_duration", "20000", tmp)
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return sh, os.Rename(tmp, sh.ogg)
}

// buildCamera makes the desk camera's loop (once; cached): the employee's
// face — a FER2013 training face standing in for them — smiling for 6 s,
// then neutral for 6 s, over a desk background, VP8 at 10 fps.
func buildCamera(ctx context.Context, tarPath, dir string, d desk) (string, error) {
	ivf := filepath.Join(dir, d.station+".ivf")
	if _, err := os.Stat(ivf); err == nil {
		return ivf, nil
	}
	f, err := os.Open(tarPath)
	if err != nil {
		return "", fmt.Errorf("demo: the FER2013 corpus is not at %s: %w", tarPath, err)
	}
	defer f.Close()
	picked := map[string]*face.Image{}
	samples, _, err := face.ReadTar(f, func(name string) bool {
		return strings.HasPrefix(name, "happy/Training_1") || strings.HasPrefix(name, "neutral/Training_1")
	})
	if err != nil {
		return "", err
	}
	// Faces the server will find and read as what they show, at the
	// camera's size: as the live path sees them (320 px wide, input 224).
	dirModels, err := face.ModelDir("")
	if err != nil {
		return "", err
	}
	det, err := face.LoadDetector(dirModels)
	if err != nil {
		return "", err
	}
	if err := det.UseHead(""); err != nil {
		return "", err
	}
	det.Scales, det.InputSize = nil, 224
	net, err := face.LoadExpressionNet(dirModels)
	if err != nil {
		return "", err
	}
	if err := net.UseHead(""); err != nil {
		return "", err
	}
	scenes := map[string]*face.Image{}
	for _, s := range samples {
		if picked[s.Label] != nil {
			continue
		}
		sc := face.Compose(rand.New(rand.NewPCG(11, 12)), 640, 480, []*face.Image{s.Image}, 230, 230)
		small := sc.Image.Resize(320, 240)
		boxes := det.Detect(small)
		if len(boxes) != 1 {
			continue
		}
		crop, err := small.Crop(boxes[0])
		if err != nil {
			continue
		}
		p := net.Classify(crop)
		want := slices.Index(face.Labels, s.Label)
		if p[want] > 0.8 {
			picked[s.Label], scenes[s.Label] = s.Image, sc.Image
		}
	}
	if picked["happy"] == nil || picked["neutral"] == nil {
		return "", fmt.Errorf("demo: no happy and neutral faces in %s", tarPath)
	}
	var args []string
	for i, l := range []string{"happy", "neutral"} {
		png := filepath.Join(dir, fmt.Sprintf("%s-%d.png", d.station, i))
		if err := writePNG(png, scenes[l]); err != nil {
			return "", err
		}
		args = append(args, "-loop", "1", "-framerate", "10", "-t", "6", "-i", png)
	}
	tmp := ivf + ".tmp.ivf"
	args = append([]string{"-v", "error", "-y"}, args...)
	args = append(args, "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-c:v", "libvpx",
		"-deadline", "realtime", "-g", "10", "-b:v", "600k", "-pix_fmt", "yuv420p", "-f", "ivf", tmp)
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return ivf, os.Rename(tmp, ivf)
}

func writePNG(path string, m *face.Image) error {
	img := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		copy(img.Pix[i*4:], m.Pix[i*3:i*3+3])
		img.Pix[i*4+3] = 255
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func probe(ctx context.Context, f string) (time.Duration, error) {
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", f).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %w", f, err)
	}
	var s float64
	if _, err := fmt.Sscan(string(bytes.TrimSpace(out)), &s); err != nil {
		return 0, fmt.Errorf("ffprobe %s: %q", f, out)
	}
	return time.Duration(s * float64(time.Second)), nil
}

// enroll writes the employee's voice (from lines not used at the desk's
// first contacts) so the server tells their speech from patients'.
func enroll(ravdess, state string, d desk) error {
	path := filepath.Join(state, "voices", d.employee+".json")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	vm, err := vad.LoadInstalled("")
	if err != nil {
		return err
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		return err
	}
	ext, det := features.NewExtractor(), vm.NewDetector()
	var frames [][]float64
	for _, e := range []string{"01", "02", "03", "04", "05"} {
		for _, f := range files(ravdess, d.actor, e) {
			x, err := audio.DecodeFile(f, features.Rate)
			if err != nil {
				return err
			}
			frames = append(frames, speaker.SpeechFrames(ext, det, x)...)
		}
	}
	v, err := bg.Enroll(d.employee, frames)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o640)
}

// seedHistory gives the employees 20 past working days, so the monitor has
// baselines and sparklines: anna steady, boris drifting in the last week
// (more negative, less positive each day) — the early warning the monitor
// exists for. These past days are simulated; today's figures are live.
func seedHistory(cfg *config.Config) error {
	b, err := history.Open(filepath.Join(cfg.StateDir, "history.jsonl"), nil)
	if err != nil {
		return err
	}
	today := time.Now().In(cfg.Location())
	for i := 1; i <= 20; i++ {
		day := today.AddDate(0, 0, -i).Format(time.DateOnly)
		k := float64(8 - i) // boris's last 7 days drift: k = 1..7
		wob := 0.02 * float64(i%3)
		anna := history.Day{Employee: "anna", Day: day, Speech: 3600, Negative: 3600 * (0.10 + wob), Positive: 3600 * (0.32 - wob)}
		bn, bp := 0.12+wob, 0.28-wob
		if i <= 7 {
			bn, bp = 0.14+0.04*k, 0.26-0.03*k
		}
		boris := history.Day{Employee: "boris", Day: day, Speech: 3000, Negative: 3000 * bn, Positive: 3000 * bp}
		for _, d := range []history.Day{anna, boris} {
			if b.Get(d.Employee, d.Day).Speech == 0 {
				b.Set(d)
			}
		}
	}
	return b.Close()
}

// streamDesk is a desk's agent: it publishes the shift's audio over WHIP,
// looping, with arrive and leave at each dialogue and the patient's rating
// after it; it reconnects when the connection drops.
func streamDesk(ctx context.Context, base string, d desk, sh *shift, log *slog.Logger) {
	data, err := os.ReadFile(sh.ogg)
	if err != nil {
		log.Error("demo desk stopped", "station", d.station, "error", err)
		return
	}
	for ctx.Err() == nil {
		pub := &capture.Publisher{URL: base + "/whip/" + d.station, Token: d.token, IncludeLoopback: true,
			InterfaceFilter: func(n string) bool { return n == "lo" }, Log: log, Video: sh.ivf != ""}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := pub.Connect(cctx)
		cancel()
		if err != nil {
			log.Warn("demo desk: connect failed, retrying", "station", d.station, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			continue
		}
		vctx, stopVideo := context.WithCancel(ctx)
		var vwg sync.WaitGroup
		if sh.ivf != "" {
			vwg.Add(1)
			go func() { defer vwg.Done(); capture.StreamIVF(vctx, pub.VideoTr, sh.ivf) }()
		}
		err = loop(ctx, pub, data, sh)
		stopVideo()
		vwg.Wait()
		pub.Close(context.Background())
		if err != nil && ctx.Err() == nil {
			log.Warn("demo desk: stream ended, reconnecting", "station", d.station, "error", err)
		}
	}
}

// loop sends the Ogg pages in real time and the events at their offsets.
func loop(ctx context.Context, pub *capture.Publisher, data []byte, sh *shift) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	type pending struct {
		at  time.Duration
		msg func() map[string]any
	}
	for {
		var evs []pending
		for _, c := range sh.contacts {
			evs = append(evs, pending{c.arrive, func() map[string]any { return map[string]any{"type": "arrive", "at": time.Now().UTC()} }})
			evs = append(evs, pending{c.leave, func() map[string]any { return map[string]any{"type": "leave", "at": time.Now().UTC()} }})
			if c.rating >= 0 {
				v := c.rating
				evs = append(evs, pending{c.leave + 2*time.Second, func() map[string]any {
					return map[string]any{"value": v, "scale": "5pt", "at": time.Now().UTC()}
				}})
			}
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
		r, _, err := oggreader.NewWith(bytes.NewReader(data))
		if err != nil {
			return err
		}
		var pos time.Duration
		var last uint64
		for {
			page, hdr, err := r.ParseNextPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if len(page) == 0 || hdr.GranulePosition == 0 {
				continue
			}
			dur := time.Duration(hdr.GranulePosition-last) * time.Second / fileRate
			last = hdr.GranulePosition
			if dur <= 0 || dur > 120*time.Millisecond {
				dur = 20 * time.Millisecond
			}
			select {
			case <-ctx.Done():
				return nil
			case <-pub.Done():
				return errors.New("connection lost")
			case <-tick.C:
			}
			for len(evs) > 0 && evs[0].at <= pos {
				if err := pub.Send(evs[0].msg()); err != nil {
					return err
				}
				evs = evs[1:]
			}
			if err := pub.Audio.WriteSample(media.Sample{Data: page, Duration: dur}); err != nil {
				return err
			}
			pos += dur
		}
		for _, e := range evs { // a rating past the end of the file
			pub.Send(e.msg())
		}
	}
}
