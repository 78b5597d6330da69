package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"contactd/capture"
	"contactd/config"
	"contactd/contact"
	"contactd/internal/testenv"
	"contactd/storage"
)

const token = "desk-1-secret-token-0123"

// media makes a speech track (Ogg Opus, one 20 ms packet per page) and a
// test-picture track (VP8 IVF, 10 fps, keyframe every second).
func media(t *testing.T) (ogg, ivf string) {
	t.Helper()
	dir := t.TempDir()
	wav := filepath.Join(dir, "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Good morning, how can I help you? Please take a seat, the doctor will see you shortly.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	ogg = filepath.Join(dir, "speech.ogg")
	ivf = filepath.Join(dir, "camera.ivf")
	for _, args := range [][]string{
		{"-i", wav, "-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-page_duration", "20000", "-frame_duration", "20", ogg},
		{"-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=10", "-c:v", "libvpx", "-deadline", "realtime", "-g", "10", "-b:v", "100k", ivf},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v %s", args, err, out)
		}
	}
	return ogg, ivf
}

// serverHook, if set, adjusts a test's Server before it starts.
var serverHook func(*Server)

type testServer struct {
	srv    *Server
	url    string
	store  string
	cancel context.CancelFunc
	done   chan error
}

func startServer(t *testing.T, state, store string, opts ...func(*config.Config)) *testServer {
	t.Helper()
	cfg := config.Default()
	cfg.StateDir = state
	cfg.Recorder.SegmentLength = 2 * time.Second
	cfg.WebRTC.Interfaces = []string{"lo"}
	cfg.Stations = []config.Station{{ID: "desk-1", Token: token}, {ID: "desk-2", Token: "desk-2-secret-token-0123"}}
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := storage.OpenLocal(store)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Config: cfg, Archive: &storage.Archive{Store: st}, IncludeLoopback: true,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if serverHook != nil {
		serverHook(s)
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	scheme := "http://"
	if cfg.TLS.Enabled() {
		scheme = "https://"
	}
	ts := &testServer{srv: s, url: scheme + ln.Addr().String(), store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(ctx, ln) }()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	if ts.cancel != nil {
		ts.cancel()
		<-ts.done
		ts.cancel = nil
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func post(t *testing.T, url, tok, ctype, body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func loopbackOnly(name string) bool { return name == "lo" }

// waitSidecar polls the store until n sidecars exist.
func waitSidecars(t *testing.T, store string, n int, timeout time.Duration) []*storage.Sidecar {
	t.Helper()
	deadline := time.Now().Add(timeout)
	a := &storage.Archive{Store: mustLocal(t, store)}
	for {
		var out []*storage.Sidecar
		for k := range a.Store.List(context.Background(), "clips/") {
			if strings.HasSuffix(k, ".json") {
				if sc, err := a.ReadSidecar(context.Background(), k); err == nil {
					out = append(out, sc)
				}
			}
		}
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func mustLocal(t *testing.T, dir string) *storage.Local {
	s, err := storage.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLiveContactOverWHIP: a publisher on loopback streams speech and a
// camera; arrive and leave come over the data channel, the rating from a
// terminal over the API; the contact's clip lands in the store with its set.
func TestLiveContactOverWHIP(t *testing.T) {
	ogg, ivf := media(t)
	ts := startServer(t, t.TempDir(), t.TempDir())

	var mu sync.Mutex
	var replies []string
	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, Video: true, InterfaceFilter: loopbackOnly,
		IncludeLoopback: true, OnReply: func(b []byte) { mu.Lock(); replies = append(replies, string(b)); mu.Unlock() }}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	sctx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); capture.StreamOgg(sctx, pub.Audio, ogg) }()
	go func() { defer wg.Done(); capture.StreamIVF(sctx, pub.VideoTr, ivf) }()
	defer func() { stopStream(); wg.Wait() }()

	time.Sleep(4 * time.Second)
	// Garbage on the data channel is answered with an error; the session goes on.
	pub.Send(map[string]any{"id": 1, "type": "teleport", "at": time.Now()})
	arrive := time.Now().UTC()
	if err := pub.Send(map[string]any{"id": 2, "type": "arrive", "at": arrive}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	// The terminal beside the desk posts the rating (not the agent).
	code, body := post(t, ts.url+"/api/v1/ratings", token, "application/json",
		fmt.Sprintf(`{"station":"desk-1","value":0,"scale":"4pt","at":%q}`, time.Now().UTC().Format(time.RFC3339Nano)))
	if code != http.StatusAccepted || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("rating: %d %s", code, body)
	}
	time.Sleep(2 * time.Second)
	leave := time.Now().UTC()
	if err := pub.Send(map[string]any{"id": 3, "type": "leave", "at": leave}); err != nil {
		t.Fatal(err)
	}
	scs := waitSidecars(t, ts.store, 1, 30*time.Second)
	if len(scs) != 1 {
		t.Fatalf("%d contacts in the store, want 1", len(scs))
	}
	t.Logf("clip stored %.1f s after the leave", time.Since(leave).Seconds())
	c := scs[0]
	if c.Set != contact.Negative || c.Rating == nil || c.Rating.Value != 0 || c.Station != "desk-1" {
		t.Errorf("contact %+v", c.Contact)
	}
	if d := c.Arrive.Sub(arrive); d.Abs() > time.Millisecond || c.Leave.Sub(leave).Abs() > time.Millisecond {
		t.Errorf("arrive/leave %s–%s, want %s–%s", c.Arrive, c.Leave, arrive, leave)
	}
	wantFrom, wantTo := arrive.Add(-3*time.Second), leave.Add(3*time.Second)
	// Keyframes come at least every second (GOP 10 at 10 fps, PLI every 2 s).
	if c.ClipStart.After(wantFrom.Add(20*time.Millisecond)) || c.ClipStart.Before(wantFrom.Add(-1100*time.Millisecond)) {
		t.Errorf("clip start %s, want the keyframe at or before %s", c.ClipStart, wantFrom)
	}
	if d := c.ClipEnd.Sub(wantTo); d < -40*time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("clip end %s, want %s", c.ClipEnd, wantTo)
	}
	dur, codecs := testenv.Probe(t, filepath.Join(ts.store, c.Clip))
	if len(codecs) != 2 || math.Abs(dur-c.ClipEnd.Sub(c.ClipStart).Seconds()) > 0.05 {
		t.Errorf("clip %s: %.3f s %v, sidecar range %v", c.Clip, dur, codecs, c.ClipEnd.Sub(c.ClipStart))
	}
	if c.ClipEnd.Sub(c.ClipStart) < leave.Sub(arrive)+5*time.Second {
		t.Errorf("clip of %v is shorter than the contact plus rolls", c.ClipEnd.Sub(c.ClipStart))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(replies) < 3 || !strings.Contains(replies[0], `"error"`) || !strings.Contains(replies[0], "type") ||
		!strings.Contains(replies[1], `"ok":true`) {
		t.Errorf("data channel replies %v", replies)
	}
}

func TestWHIPRejectsBadRequests(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir())
	offer := func() string {
		pub := &capture.Publisher{}
		_ = pub
		// A minimal valid-looking offer with Opus, for the checks before ICE.
		return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\n"
	}()
	cases := []struct {
		name, station, tok, ctype, body string
		want                            int
		says                            string
	}{
		{"wrong token", "desk-1", "nope-nope-nope-nope", "application/sdp", offer, 401, "token"},
		{"no token", "desk-1", "", "application/sdp", offer, 401, "token"},
		{"other station's token", "desk-1", "desk-2-secret-token-0123", "application/sdp", offer, 401, "token"},
		{"unknown station", "desk-9", token, "application/sdp", offer, 404, "unknown station"},
		{"bad station id", "..", token, "application/sdp", offer, 404, ""},
		{"not sdp", "desk-1", token, "application/json", offer, 415, "application/sdp"},
		{"malformed sdp", "desk-1", token, "application/sdp", "hello\r\n", 400, "SDP offer"},
		{"no opus", "desk-1", token, "application/sdp", strings.ReplaceAll(offer, "opus", "PCMU"), 400, "Opus"},
		{"oversized", "desk-1", token, "application/sdp", offer + strings.Repeat("a=x\r\n", 20000), 413, "bytes"},
	}
	for _, tc := range cases {
		code, body := post(t, ts.url+"/whip/"+tc.station, tc.tok, tc.ctype, tc.body)
		if code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, code, body, tc.want, tc.says)
		}
	}
	// The events API: bad lines are named, good ones kept, foreign stations refused.
	body := `{"station":"desk-1","type":"arrive","at":"2026-03-02T09:00:00Z"}
{"station":"desk-1","type":"arrive"}
{"station":"desk-2","type":"arrive","at":"2026-03-02T09:00:00Z"}`
	code, resp := post(t, ts.url+"/api/v1/events", token, "application/x-ndjson", body)
	if code != http.StatusAccepted || !strings.Contains(resp, `"accepted":1`) || !strings.Contains(resp, `"field":"at"`) ||
		!strings.Contains(resp, "desk-2") {
		t.Errorf("events: %d %s", code, resp)
	}
	if code, _ := post(t, ts.url+"/api/v1/events", "", "application/json", body); code != 401 {
		t.Errorf("events without token: %d", code)
	}
	if code, _ := post(t, ts.url+"/api/v1/events", "no-station-has-this-token", "application/json", ""); code != 401 {
		t.Errorf("events with an unknown token: %d", code)
	}
	if code, _ := post(t, ts.url+"/api/v1/ratings", token, "application/json", strings.Repeat("x", MaxAPIBody+1)); code != 413 {
		t.Errorf("oversized ratings: %d", code)
	}
	// Metrics count the refusals.
	resp2, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !bytes.Contains(m, []byte(`contactd_rejected_requests_total{reason="bad_token",site="default",station="desk-1"} 3`)) {
		t.Errorf("metrics:\n%s", m)
	}
}

// TestChromiumCapturePage: headless Chromium with a fake camera and a WAV as
// microphone publishes through /capture/{station}; the buttons send arrive
// and leave; the contact lands in the store with audio and video.
func TestChromiumCapturePage(t *testing.T) {
	dir := t.TempDir()
	wav := filepath.Join(dir, "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Hello, I have an appointment with doctor Smith at ten. Yes, here is my card.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	ts := startServer(t, t.TempDir(), t.TempDir())
	b := testenv.StartChromium(t, ts.url+"/capture/desk-1#token="+token, wav)
	if !b.WaitFor(`window.contactd && contactd.state() === "connected" && !document.getElementById("controls").hidden`, 30*time.Second) {
		v, _ := b.Eval(`document.getElementById("state").textContent`)
		t.Fatalf("page did not connect: %s", v)
	}
	time.Sleep(4 * time.Second)
	if _, err := b.Eval(`document.getElementById("arrive").click()`); err != nil {
		t.Fatal(err)
	}
	arrive := time.Now()
	time.Sleep(8 * time.Second)
	if _, err := b.Eval(`document.getElementById("leave").click()`); err != nil {
		t.Fatal(err)
	}
	leave := time.Now()
	scs := waitSidecars(t, ts.store, 1, 30*time.Second)
	if len(scs) != 1 {
		last, _ := b.Eval(`document.getElementById("last").textContent`)
		t.Fatalf("%d contacts in the store, want 1 (page says %s)", len(scs), last)
	}
	c := scs[0]
	if c.Arrive.Sub(arrive).Abs() > time.Second || c.Leave.Sub(leave).Abs() > time.Second || c.Set != contact.Unrated {
		t.Errorf("contact %+v", c.Contact)
	}
	dur, codecs := testenv.Probe(t, filepath.Join(ts.store, c.Clip))
	if len(codecs) != 2 || dur < leave.Sub(arrive).Seconds()+4 {
		t.Errorf("clip %.1f s %v for a %.1f s contact", dur, codecs, leave.Sub(arrive).Seconds())
	}
	// The microphone was the WAV: the clip is not silent.
	out, _ := exec.Command("ffmpeg", "-nostdin", "-i", filepath.Join(ts.store, c.Clip), "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	m := regexp.MustCompile(`max_volume: (-?[\d.]+) dB`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("volumedetect: %s", out)
	}
	if v, _ := strconv.ParseFloat(string(m[1]), 64); v < -30 {
		t.Errorf("clip audio peaks at %v dB: the fake microphone did not come through", v)
	}
}

// TestLiveH264Camera: a camera that sends H.264 is recorded by stream copy;
// its clip is Matroska with H.264 and Opus, cut at an IDR picture.
func TestLiveH264Camera(t *testing.T) {
	ogg, _ := media(t)
	h264 := filepath.Join(t.TempDir(), "camera.h264")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=10:d=10", "-c:v", "libx264",
		"-profile:v", "baseline", "-preset", "ultrafast", "-g", "10", "-x264-params", "repeat-headers=1", "-pix_fmt", "yuv420p",
		"-f", "h264", h264).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	ts := startServer(t, t.TempDir(), t.TempDir())
	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, Video: true, VideoMime: "video/H264",
		InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); capture.StreamOgg(sctx, pub.Audio, ogg) }()
	go func() { defer wg.Done(); capture.StreamH264(sctx, pub.VideoTr, h264, 10) }()
	defer func() { stop(); wg.Wait() }()
	time.Sleep(4 * time.Second)
	pub.Send(map[string]any{"type": "arrive", "at": time.Now().UTC()})
	time.Sleep(6 * time.Second)
	pub.Send(map[string]any{"type": "leave", "at": time.Now().UTC()})
	scs := waitSidecars(t, ts.store, 1, 30*time.Second)
	if len(scs) != 1 {
		t.Fatalf("%d contacts", len(scs))
	}
	c := scs[0]
	if !strings.HasSuffix(c.Clip, ".mkv") || c.Media.Container != "matroska" {
		t.Errorf("clip %s in %s, want Matroska", c.Clip, c.Media.Container)
	}
	dur, codecs := testenv.Probe(t, filepath.Join(ts.store, c.Clip))
	if strings.Join(codecs, ",") != "opus,h264" || math.Abs(dur-c.ClipEnd.Sub(c.ClipStart).Seconds()) > 0.05 {
		t.Errorf("clip %.3f s %v, sidecar range %v", dur, codecs, c.ClipEnd.Sub(c.ClipStart))
	}
	// The picture decodes: every packet of the clip gives a frame, with no
	// decoder error (ffprobe decodes without re-timing for an encoder).
	out := mustRun(t, "ffprobe", "-v", "error", "-count_frames", "-count_packets", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames,nb_read_packets", "-of", "csv=p=0", filepath.Join(ts.store, c.Clip))
	var frames, packets int
	if _, err := fmt.Sscanf(strings.TrimSpace(out), "%d,%d", &frames, &packets); err != nil || frames < 50 || frames != packets {
		t.Errorf("decoding the clip: %q (want one frame a packet, at least 5 s at 10 fps)", out)
	}
}

func mustRun(t *testing.T, name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v %s", name, err, out)
	}
	return string(out)
}
