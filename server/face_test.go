package server

import (
	"bufio"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"contactd/capture"
	"contactd/classifier/face"
	"contactd/classifier/vision"
	"contactd/config"
	"contactd/internal/testenv"
	"contactd/presence"
)

// faceVideo composes a 640×480 scene with one face crop, 220 px, and
// encodes 8 s of it as VP8 (10 fps, a keyframe a second).
func faceVideo(t *testing.T, crop *face.Image) string {
	t.Helper()
	dir := t.TempDir()
	sc := face.Compose(rand.New(rand.NewPCG(3, 4)), 640, 480, []*face.Image{crop}, 220, 220)
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := 0; i < 640*480; i++ {
		copy(img.Pix[i*4:], sc.Image.Pix[i*3:i*3+3])
		img.Pix[i*4+3] = 255
	}
	f, _ := os.Create(filepath.Join(dir, "scene.png"))
	png.Encode(f, img)
	f.Close()
	ivf := filepath.Join(dir, "camera.ivf")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-loop", "1", "-framerate", "10", "-i", filepath.Join(dir, "scene.png"),
		"-t", "8", "-c:v", "libvpx", "-deadline", "realtime", "-g", "10", "-b:v", "800k", "-pix_fmt", "yuv420p", ivf).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	return ivf
}

// TestLiveFace: a desk camera shows a smiling face over WebRTC; the face
// path finds it a few times a second, reads a smile, fuses it into anna's
// mirror, counts it in the metrics and puts the face timeline in the
// contact's sidecar.
func TestLiveFace(t *testing.T) {
	// A validation crop the network itself reads as happy (chosen by running it, not by hand).
	dir, err := face.ModelDir("")
	if err != nil {
		t.Fatal(err)
	}
	net, err := face.LoadExpressionNet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.UseHead(""); err != nil {
		t.Fatal(err)
	}
	tf, err := os.Open(filepath.Join(testenv.Datasets(t), "fer2013", "validation.tar"))
	if err != nil {
		t.Fatal(err)
	}
	samples, _, err := face.ReadTar(tf, func(n string) bool { return strings.HasPrefix(n, "happy/") })
	tf.Close()
	if err != nil {
		t.Fatal(err)
	}
	var crop *face.Image
	for _, s := range samples {
		if p := net.Classify(s.Image); p[1] > 0.95 {
			crop = s.Image
			break
		}
	}
	if crop == nil {
		t.Fatal("no validation crop read as happy")
	}
	ivf := faceVideo(t, crop)
	// A silent desk: the face alone carries the mirror's fused stream.
	ogg := filepath.Join(t.TempDir(), "silence.ogg")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "10",
		"-c:a", "libopus", "-b:a", "16k", "-page_duration", "20000", "-frame_duration", "20", ogg).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	ts := startServer(t, t.TempDir(), t.TempDir(), func(c *config.Config) {
		c.Stations[0].Employee = "anna"
		c.Users = testUsers(t)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	anna, _ := login(t, ts.url, "anna", "correct horse battery")
	mreq, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/api/v1/mirror/anna/stream", nil)
	mresp, err := anna.Do(mreq)
	if err != nil || mresp.StatusCode != 200 {
		t.Fatalf("mirror: %v %v", err, mresp)
	}
	var mu sync.Mutex
	var faces []vision.Reading
	var lastFused vision.Fuser
	go func() {
		sc := bufio.NewScanner(mresp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m struct {
					Face  *vision.Reading
					Fused vision.Fuser
				}
				if json.Unmarshal([]byte(d), &m) == nil && m.Face != nil {
					mu.Lock()
					faces = append(faces, *m.Face)
					lastFused = m.Fused
					mu.Unlock()
				}
			}
		}
	}()
	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, Video: true, InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	pub.Send(map[string]any{"type": "arrive", "at": time.Now().UTC()})
	sctx, stop := context.WithTimeout(ctx, 7*time.Second)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); capture.StreamOgg(sctx, pub.Audio, ogg) }()
	go func() { defer wg.Done(); capture.StreamIVF(sctx, pub.VideoTr, ivf) }()
	wg.Wait()
	stop()
	pub.Send(map[string]any{"type": "leave", "at": time.Now().UTC()})
	scs := waitSidecars(t, ts.store, 1, 30*time.Second)
	if len(scs) != 1 || scs[0].Face == nil {
		t.Fatalf("sidecars %d, face %+v", len(scs), scs)
	}
	fc := scs[0].Face
	t.Logf("contact face: %d looks, %d with a face, smile share %.2f, mean happy %.2f, shares %v", fc.Samples, fc.Seen, fc.SmileShare, fc.MeanHappy, fc.ExpressionShare)
	if fc.Samples < 12 || float64(fc.Seen) < 0.8*float64(fc.Samples) || fc.SmileShare < 0.8 {
		t.Errorf("contact face %+v", fc)
	}
	mu.Lock()
	n, fused := len(faces), lastFused
	mu.Unlock()
	if n < 12 || !fused.Face || fused.Voice || fused.Smile < 0.7 || fused.Valence < 0.5 {
		t.Errorf("mirror: %d face readings, fused %+v", n, fused)
	}
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b := new(strings.Builder)
	bufio.NewReader(resp.Body).WriteTo(b)
	resp.Body.Close()
	if !strings.Contains(b.String(), `contactd_employee_smile_seconds_total{employee="anna",site="default",station="desk-1"}`) ||
		strings.Contains(b.String(), `contactd_employee_smile_seconds_total{employee="anna",site="default",station="desk-1"} 0`+"\n") {
		t.Errorf("smile seconds not counted:\n%s", grepLines(b.String(), "contactd_employee_smile"))
	}
}

// TestLivePresenceFromCamera: a desk without a sensor (presence: video,
// and voices+video with a silent microphone) whose camera shows someone in
// the patient zone from 3 s to 11 s of the stream: the face path's
// pictures make the contact, dated within a second or so of the picture,
// with no event from the agent.
func TestLivePresenceFromCamera(t *testing.T) {
	for _, mode := range []string{"video", "voices+video"} {
		t.Run(mode, func(t *testing.T) { livePresenceFromCamera(t, mode) })
	}
}

func livePresenceFromCamera(t *testing.T, mode string) {
	dir := t.TempDir()
	ivf := filepath.Join(dir, "camera.ivf")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "smptebars=s=128x96:r=10:d=14",
		"-vf", "noise=alls=8:allf=t,drawbox=x=88:y=56:w=32:h=32:color=green:t=fill:enable='between(t,3,11)'",
		"-c:v", "libvpx", "-deadline", "realtime", "-g", "10", "-b:v", "100k", ivf).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	ogg := filepath.Join(dir, "silence.ogg")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "14",
		"-c:a", "libopus", "-b:a", "16k", "-page_duration", "20000", "-frame_duration", "20", ogg).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	ts := startServer(t, t.TempDir(), t.TempDir(), func(c *config.Config) {
		c.Stations[0].Presence = mode
		desk := presence.Zone{X: 0.65, Y: 0.55, W: 0.32, H: 0.4} // where the patient appears
		if mode == "video" {
			c.Presence.Video.Zone = desk
		} else {
			// The station's own zone, with a global one where nothing
			// happens: a contact shows the station's was used.
			c.Presence.Video.Zone = presence.Zone{W: 0.3, H: 0.3}
			c.Stations[0].Zone = &desk
		}
		c.Presence.Video.Inertia = 3
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, Video: true, InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	start := time.Now()
	// The streams loop their files: one pass of 14 s.
	sctx, stop := context.WithTimeout(ctx, 14*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); capture.StreamOgg(sctx, pub.Audio, ogg) }()
	go func() { defer wg.Done(); capture.StreamIVF(sctx, pub.VideoTr, ivf) }()
	wg.Wait()
	scs := waitSidecars(t, ts.store, 1, 30*time.Second)
	if len(scs) != 1 {
		t.Fatalf("%d contacts, want 1", len(scs))
	}
	c := scs[0]
	arrive, leave := c.Arrive.Sub(start).Seconds(), c.Leave.Sub(start).Seconds()
	t.Logf("contact from the camera: %.2f s – %.2f s of the stream", arrive, leave)
	if arrive < 2 || arrive > 5 || leave < 10 || leave > 13 {
		t.Errorf("contact %.2f–%.2f s, want about 3–11 s", arrive, leave)
	}
}
