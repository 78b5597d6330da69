package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"contactd/capture"
	"contactd/config"
	"contactd/contact"
	"contactd/internal/testenv"
	"contactd/server"
	"contactd/storage"
)

const token = "desk-1-secret-token-0123"

// alsaHome makes a HOME whose .asoundrc turns PortAudio's default input into
// a raw file of speech (S16_LE, mono, 48 kHz), read in real time.
func alsaHome(t *testing.T, seconds int) string {
	t.Helper()
	home := t.TempDir()
	wav := filepath.Join(home, "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Good morning, how can I help you? I have an appointment at ten. Please take a seat.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	raw := filepath.Join(home, "mic.raw")
	// Speech and a pause, repeated to the length asked for.
	if out, err := exec.Command("sox", wav, "-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", raw,
		"pad", "0", "1", "repeat", strconv.Itoa(seconds/6+1)).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v %s", err, out)
	}
	rc := fmt.Sprintf("pcm.!default {\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n  infile %q\n  format \"raw\"\n}\n", raw)
	if err := os.WriteFile(filepath.Join(home, ".asoundrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}

// pacedMicHome is alsaHome for long runs: the microphone reads a FIFO that
// the test fills in real time with the speech in a loop, so it never runs
// dry and never runs ahead of the wall clock, however long the test.
func pacedMicHome(t *testing.T) string {
	t.Helper()
	home := alsaHome(t, 6)
	raw, err := os.ReadFile(filepath.Join(home, "mic.raw"))
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(home, "mic.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rc := fmt.Sprintf("pcm.!default {\n  type file\n  slave.pcm \"null\"\n  file \"/dev/null\"\n  infile %q\n  format \"raw\"\n}\n", fifo)
	if err := os.WriteFile(filepath.Join(home, ".asoundrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		const chunk = 48000 * 2 / 50 // 20 ms of 48 kHz 16-bit mono
		pos := 0
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Opened anew whenever the reader closed it (check, devices).
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			tick := time.NewTicker(20 * time.Millisecond)
			for err == nil {
				select {
				case <-stop:
					tick.Stop()
					f.Close()
					return
				case <-tick.C:
				}
				end := min(pos+chunk, len(raw))
				_, err = f.Write(raw[pos:end])
				if pos = end; pos == len(raw) {
					pos = 0
				}
			}
			tick.Stop()
			f.Close()
		}
	}()
	t.Cleanup(func() {
		close(stop)
		for { // unblock a writer waiting for a reader that will not come
			if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				time.Sleep(50 * time.Millisecond)
				r.Close()
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	return home
}

func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "contact-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestDevicesThroughALSAFilePlugin(t *testing.T) {
	bin := buildAgent(t)
	cmd := exec.Command(bin, "devices")
	cmd.Env = append(os.Environ(), "HOME="+alsaHome(t, 6))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^\d+\s+default\s`).Match(out) {
		t.Fatalf("no default input device listed:\n%s", out)
	}
}

// clinicServer is an in-process contactd on a fixed port, restartable.
type clinicServer struct {
	t      *testing.T
	addr   string
	state  string
	store  string
	cancel context.CancelFunc
	done   chan error
}

func (c *clinicServer) start() {
	cfg := config.Default()
	cfg.StateDir = c.state
	cfg.Recorder.SegmentLength = 2 * time.Second
	cfg.WebRTC.Interfaces = []string{"lo"}
	cfg.WebRTC.IncludeLoopback = true
	cfg.Stations = []config.Station{{ID: "desk-1", Token: token}}
	st, err := storage.OpenLocal(c.store)
	if err != nil {
		c.t.Fatal(err)
	}
	s := &server.Server{Config: cfg, Archive: &storage.Archive{Store: st},
		Log: slog.New(slog.NewTextHandler(logWriter{c.t, "server"}, nil))}
	if err := s.Initialize(); err != nil {
		c.t.Fatal(err)
	}
	var ln net.Listener
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ln, err = net.Listen("tcp", c.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan error, 1)
	go func() { c.done <- s.Serve(ctx, ln) }()
}

func (c *clinicServer) stop() {
	if c.cancel != nil {
		c.cancel()
		<-c.done
		c.cancel = nil
	}
}

type logWriter struct {
	t    *testing.T
	name string
}

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(w.name + ": " + strings.TrimSpace(string(b)))
	return len(b), nil
}

func startAgent(t *testing.T, bin, home, serverAddr string, extra ...string) (agentURL string) {
	t.Helper()
	port := testenv.FreePort(t)
	cfgPath := filepath.Join(home, "agent.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`server: http://%s
station: desk-1
token: %s
listen: 127.0.0.1:%d
spool: {dir: %s, segment_length: 5s}
reconnect: {min: 500ms, max: 2s}
webrtc: {interfaces: [lo], include_loopback: true}
%s`, serverAddr, token, port, filepath.Join(home, "spool"), strings.Join(extra, "\n"))), 0o644)
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = logWriter{t, "agent"}, logWriter{t, "agent"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatal("agent did not come up")
		}
	}
}

func waitConnected(t *testing.T, agentURL string, want bool, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(agentURL + "/healthz")
		if err != nil {
			continue
		}
		var b [512]byte
		n, _ := resp.Body.Read(b[:])
		resp.Body.Close()
		if strings.Contains(string(b[:n]), fmt.Sprintf(`"connected":%v`, want)) {
			return
		}
	}
	t.Fatalf("agent connected != %v after %v", want, timeout)
}

func postJSON(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

func waitContact(t *testing.T, store string, timeout time.Duration) *storage.Sidecar {
	t.Helper()
	a := &storage.Archive{Store: mustLocal(t, store)}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		for k := range a.Store.List(context.Background(), "clips/") {
			if strings.HasSuffix(k, ".json") {
				if sc, err := a.ReadSidecar(context.Background(), k); err == nil {
					return sc
				}
			}
		}
	}
	t.Fatal("no contact in the store")
	return nil
}

func mustLocal(t *testing.T, dir string) *storage.Local {
	s, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// peakDB is the loudest point of a clip's audio between two offsets (s).
func peakDB(t *testing.T, path string, from, to float64) float64 {
	t.Helper()
	out, _ := exec.Command("ffmpeg", "-nostdin", "-ss", fmt.Sprint(from), "-to", fmt.Sprint(to), "-i", path,
		"-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	m := regexp.MustCompile(`max_volume: (-?[\d.]+) dB`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("volumedetect: %s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestAgentMicrophoneToClip: PortAudio reads speech through ALSA's file
// plugin, the agent encodes it to Opus and publishes it with a camera; a
// sensor posts arrive and leave, the patient presses the terminal, and the
// clip lands with both. A camera whose H.264 has B-frames is decoded and
// re-encoded to VP8; an IP camera's plain H.264 goes through as it is.
func TestAgentMicrophoneToClip(t *testing.T) {
	for _, tc := range []struct {
		name, x264, codec, ext string
	}{
		{"bframes-to-vp8", "-bf 2 -profile:v high", "vp8", ".webm"},
		{"h264-passthrough", "-bf 0 -profile:v main", "h264", ".mkv"},
	} {
		t.Run(tc.name, func(t *testing.T) { agentToClip(t, strings.Fields(tc.x264), tc.codec, tc.ext) })
	}
}

func agentToClip(t *testing.T, x264 []string, codec, ext string) {
	bin := buildAgent(t)
	home := alsaHome(t, 60)
	cam := filepath.Join(home, "camera.mp4")
	args := append([]string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=10", "-c:v", "libx264",
		"-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"}, x264...)
	if out, err := exec.Command("ffmpeg", append(args, cam)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	srv := &clinicServer{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), state: t.TempDir(), store: t.TempDir()}
	srv.start()
	defer srv.stop()
	// A USB button box (a FIFO standing in for /dev/input/eventN): KEY_L (38) is leave.
	buttons := filepath.Join(home, "buttons")
	if err := syscall.Mkfifo(buttons, 0o600); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, bin, home, srv.addr, fmt.Sprintf("video: {input: %s, width: 320, height: 240, fps: 10}", cam),
		fmt.Sprintf("buttons: {device: %s, keys: {30: arrive, 38: leave}}", buttons))
	box, err := os.OpenFile(buttons, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	waitConnected(t, agent, true, 20*time.Second)
	time.Sleep(4 * time.Second)
	postJSON(t, agent+"/events", `{"type":"arrive"}`) // the presence sensor
	time.Sleep(6 * time.Second)
	postJSON(t, agent+"/terminal/rating", `{"value":3}`) // the tablet
	time.Sleep(2 * time.Second)
	box.Write(capture.KeyEvent(time.Now(), 38, 1)) // the button
	box.Write(capture.KeyEvent(time.Now(), 38, 0))
	sc := waitContact(t, srv.store, 30*time.Second)
	if sc.Set != contact.Positive || sc.Rating == nil || sc.Rating.Value != 3 {
		t.Errorf("contact %+v", sc.Contact)
	}
	if d := sc.Leave.Sub(sc.Arrive); d < 7*time.Second || d > 9*time.Second {
		t.Errorf("contact lasted %v, want about 8 s", d)
	}
	if p := peakDB(t, filepath.Join(srv.store, sc.Clip), 0, 30); p < -30 {
		t.Errorf("clip peaks at %.1f dB: the microphone's speech did not arrive", p)
	}
	if _, codecs := testenv.Probe(t, filepath.Join(srv.store, sc.Clip)); !slices.Contains(codecs, "opus") || !slices.Contains(codecs, codec) ||
		len(codecs) != 2 || !strings.HasSuffix(sc.Clip, ext) {
		t.Errorf("clip %s has %v, want opus and %s", sc.Clip, codecs, codec)
	}
}

// agentOutage is how long the server is down in TestAgentSpoolsWhileServerIsDown:
// CONTACTD_FAULT_AGENT_OUTAGE=10m runs the full ten minutes (16 contacts).
func agentOutage(t *testing.T) time.Duration {
	if v := os.Getenv("CONTACTD_FAULT_AGENT_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 45*time.Second {
			t.Fatalf("CONTACTD_FAULT_AGENT_OUTAGE=%q: want a duration of at least 45s", v)
		}
		return d
	}
	return 60 * time.Second
}

// waitContacts waits until n sidecars are in the store.
func waitContacts(t *testing.T, store string, n int, timeout time.Duration) []*storage.Sidecar {
	t.Helper()
	a := &storage.Archive{Store: mustLocal(t, store)}
	var scs []*storage.Sidecar
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		scs = scs[:0]
		for k := range a.Store.List(context.Background(), "clips/") {
			if strings.HasSuffix(k, ".json") {
				if sc, err := a.ReadSidecar(context.Background(), k); err == nil {
					scs = append(scs, sc)
				}
			}
		}
		if len(scs) >= n {
			break
		}
	}
	slices.SortFunc(scs, func(x, y *storage.Sidecar) int { return x.Arrive.Compare(y.Arrive) })
	return scs
}

// TestAgentSpoolsWhileServerIsDown: the server is down (60 s here, ten
// minutes with CONTACTD_FAULT_AGENT_OUTAGE=10m) while whole contacts happen;
// the agent spools audio and events, uploads them when the server is back,
// and every contact lands with its audio and its rating.
func TestAgentSpoolsWhileServerIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over a minute")
	}
	outage := agentOutage(t)
	n := max(1, int((outage-10*time.Second)/(35*time.Second)))
	bin := buildAgent(t)
	home := pacedMicHome(t)
	srv := &clinicServer{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), state: t.TempDir(), store: t.TempDir()}
	srv.start()
	agent := startAgent(t, bin, home, srv.addr)
	waitConnected(t, agent, true, 20*time.Second)
	time.Sleep(3 * time.Second)

	srv.stop()
	down := time.Now()
	waitConnected(t, agent, false, 15*time.Second)
	time.Sleep(10 * time.Second)
	var arrives, leaves []time.Time
	for i := range n {
		postJSON(t, agent+"/events", `{"type":"arrive"}`)
		arrives = append(arrives, time.Now())
		time.Sleep(20 * time.Second)
		postJSON(t, agent+"/terminal/rating", `{"value":0}`)
		time.Sleep(5 * time.Second)
		postJSON(t, agent+"/events", `{"type":"leave"}`)
		leaves = append(leaves, time.Now())
		if i < n-1 {
			time.Sleep(10 * time.Second)
		}
	}
	// The agent's own metrics show it: not connected, audio awaiting upload.
	m := getText(t, agent+"/metrics")
	if !strings.Contains(m, `contactd_agent_connected{station="desk-1"} 0`) || !regexp.MustCompile(`contactd_agent_spool_segments\{station="desk-1"\} [1-9]`).MatchString(m) ||
		!regexp.MustCompile(`contactd_agent_outbox_messages\{station="desk-1"\} [1-9]`).MatchString(m) {
		t.Errorf("agent metrics during the outage:\n%s", m)
	}
	lint := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	lint.Stdin = strings.NewReader(m)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on the agent: %v\n%s", err, out)
	}
	time.Sleep(time.Until(down.Add(outage)))

	srv.start()
	back := time.Now()
	defer srv.stop()
	waitConnected(t, agent, true, 30*time.Second)
	scs := waitContacts(t, srv.store, n, 60*time.Second+time.Duration(n)*10*time.Second)
	t.Logf("server down %s; %d contacts scripted, %d landed, the last %.1f s after the server came back",
		outage, n, len(scs), time.Since(back).Seconds())
	if len(scs) != n {
		t.Fatalf("%d contacts landed, want %d", len(scs), n)
	}
	for i, sc := range scs {
		arrive, leave := arrives[i], leaves[i]
		if sc.Set != contact.Negative || sc.Rating == nil || sc.Rating.Value != 0 {
			t.Errorf("contact %d: %+v", i, sc.Contact)
		}
		if sc.Arrive.Sub(arrive).Abs() > time.Second || sc.Leave.Sub(leave).Abs() > time.Second {
			t.Errorf("contact %d %s–%s, want about %s–%s", i, sc.Arrive, sc.Leave, arrive, leave)
		}
		clipPath := filepath.Join(srv.store, sc.Clip)
		// The whole contact was spooled: speech throughout, nothing missing.
		span := sc.ClipEnd.Sub(sc.ClipStart).Seconds()
		if want := leave.Sub(arrive).Seconds() + 5.5; span < want {
			t.Errorf("contact %d: clip covers %.1f s, want at least %.1f s", i, span, want)
		}
		for from := 0.0; from+6 <= span; from += 6 {
			if p := peakDB(t, clipPath, from, from+6); p < -30 {
				t.Errorf("contact %d: clip is silent from %.0f s to %.0f s (peak %.1f dB): spooled audio missing", i, from, from+6, p)
			}
		}
		// The spooled speech was heard too: the contact has its voice timeline.
		if v := sc.Voice; v == nil || v.Unattributed == nil || v.Unattributed.SpeechSeconds < 0.3*leave.Sub(arrive).Seconds() {
			t.Errorf("contact %d: spooled contact's voice: %+v", i, v)
		}
	}
}

// TestCheckSaysWhatIsWrong: check names a refused token in plain words, and
// is content when all is right.
func TestCheckSaysWhatIsWrong(t *testing.T) {
	bin := buildAgent(t)
	home := alsaHome(t, 6)
	srv := &clinicServer{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), state: t.TempDir(), store: t.TempDir()}
	srv.start()
	defer srv.stop()
	for _, tc := range []struct {
		token, want string
		ok          bool
	}{
		{token, "all good", true},
		{"someone-elses-token-123", "refused the token", false},
	} {
		cmd := exec.Command(bin, "check")
		cmd.Env = append(os.Environ(), "HOME="+home, "CONTACT_AGENT_SERVER=http://"+srv.addr, "CONTACT_AGENT_STATION=desk-1",
			"CONTACT_AGENT_TOKEN="+tc.token)
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "microphone") {
			t.Errorf("token %s: err %v, output:\n%s", tc.token, err, out)
		}
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
