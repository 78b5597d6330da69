package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"contactd/capture"
	"contactd/internal/testenv"
	"contactd/storage"
)

const liveToken = "desk-1-secret-token-0123"

// buildBinary compiles contactd for tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "contactd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProc is a `contactd serve` process owned by a test.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	logf *os.File
}

func startServe(t *testing.T, bin, cfgPath, addr, logPath string) *serveProc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = childEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, url: "http://" + addr, logf: logf}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait(); logf.Close() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("contactd serve did not come up:\n%s", b)
		}
	}
}

func speechOgg(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	wav := filepath.Join(dir, "s.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Good morning. Do you have an appointment today? Please take a seat.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	ogg := filepath.Join(dir, "s.ogg")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", wav, "-c:a", "libopus", "-ar", "48000", "-page_duration", "20000",
		"-frame_duration", "20", ogg).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	return ogg
}

// publish connects a publisher and streams speech until the returned stop is called.
func publish(t *testing.T, url, ogg string) (*capture.Publisher, func()) {
	t.Helper()
	pub := &capture.Publisher{URL: url + "/whip/desk-1", Token: liveToken, IncludeLoopback: true,
		InterfaceFilter: func(n string) bool { return n == "lo" }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); capture.StreamOgg(sctx, pub.Audio, ogg) }()
	return pub, func() { stop(); wg.Wait(); pub.Close(context.Background()) }
}

// TestServeRecoversFromSIGKILL: the server is killed mid-contact and
// restarted; the agent reconnects; the contact completes from the journal
// and the segments on disk, with one clip and no duplicate.
func TestServeRecoversFromSIGKILL(t *testing.T) {
	bin := buildBinary(t)
	ogg := speechOgg(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := filepath.Join(dir, "contactd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store: %s
state_dir: %s
listen: %s
recorder: {segment_length: 2s}
webrtc: {interfaces: [lo], include_loopback: true}
stations:
  - {id: desk-1, token: %s}
`, store, filepath.Join(dir, "state"), addr, liveToken)), 0o644)
	logPath := filepath.Join(dir, "serve.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", b)
		}
	})

	srv := startServe(t, bin, cfg, addr, logPath)
	pub, stop := publish(t, srv.url, ogg)
	time.Sleep(4 * time.Second)
	arrive := time.Now().UTC()
	if err := pub.Send(map[string]any{"type": "arrive", "at": arrive}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	stop()
	killed := time.Now()

	srv = startServe(t, bin, cfg, addr, logPath)
	pub, stop = publish(t, srv.url, ogg)
	defer stop()
	time.Sleep(4 * time.Second)
	leave := time.Now().UTC()
	if err := pub.Send(map[string]any{"type": "leave", "at": leave}); err != nil {
		t.Fatal(err)
	}

	a := &storage.Archive{Store: mustLocal(t, store)}
	var sc *storage.Sidecar
	for deadline := time.Now().Add(30 * time.Second); sc == nil && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for k := range a.Store.List(context.Background(), "clips/") {
			if strings.HasSuffix(k, ".json") {
				sc, _ = a.ReadSidecar(context.Background(), k)
			}
		}
	}
	if sc == nil {
		t.Fatal("the contact never landed")
	}
	if !sc.Arrive.Equal(arrive) || !sc.Leave.Equal(leave) {
		t.Errorf("contact %s–%s, want %s–%s", sc.Arrive, sc.Leave, arrive, leave)
	}
	// The clip starts before the kill: the segment being written when the
	// process died was recovered.
	if d := sc.ClipStart.Sub(arrive.Add(-3 * time.Second)); d.Abs() > 40*time.Millisecond {
		t.Errorf("clip starts at %s, want %s (media from before the kill)", sc.ClipStart, arrive.Add(-3*time.Second))
	}
	if d := sc.ClipEnd.Sub(leave.Add(3 * time.Second)); d.Abs() > 40*time.Millisecond {
		t.Errorf("clip ends at %s, want %s", sc.ClipEnd, leave.Add(3*time.Second))
	}
	// Audio before the kill reached the clip (all but the last second or so).
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time",
		"-of", "csv=p=0", filepath.Join(store, sc.Clip)).Output()
	if err != nil {
		t.Fatal(err)
	}
	before := 0
	limit := killed.Sub(sc.ClipStart).Seconds()
	for _, f := range strings.Fields(string(out)) {
		var v float64
		fmt.Sscan(f, &v)
		if v < limit {
			before++
		}
	}
	if min := int((arrive.Sub(sc.ClipStart).Seconds() + 5 - 1.5) / 0.02); before < min {
		t.Errorf("%d audio packets from before the kill, want at least %d", before, min)
	}
	time.Sleep(time.Second)
	n := 0
	for k := range a.Store.List(context.Background(), "clips/") {
		if strings.HasSuffix(k, ".webm") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d clips in the store, want 1", n)
	}
}

// TestServeSIGTERMFinishesClosedContacts: a leave arrives and SIGTERM follows
// at once; the server cuts that contact's clip before it exits.
func TestServeSIGTERMFinishesClosedContacts(t *testing.T) {
	bin := buildBinary(t)
	ogg := speechOgg(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := filepath.Join(dir, "contactd.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store: %s\nstate_dir: %s\nlisten: %s\nwebrtc: {interfaces: [lo], include_loopback: true}\nstations:\n  - {id: desk-1, token: %s}\n",
		store, filepath.Join(dir, "state"), addr, liveToken)), 0o644)
	logPath := filepath.Join(dir, "serve.log")
	srv := startServe(t, bin, cfg, addr, logPath)
	pub, stop := publish(t, srv.url, ogg)
	defer stop()
	time.Sleep(4 * time.Second)
	pub.Send(map[string]any{"type": "arrive", "at": time.Now().UTC()})
	time.Sleep(5 * time.Second)
	pub.Send(map[string]any{"type": "leave", "at": time.Now().UTC()})
	time.Sleep(200 * time.Millisecond) // the message is on its way
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.cmd.Wait(); err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("exit: %v\n%s", err, b)
	}
	n := 0
	filepath.WalkDir(filepath.Join(store, "clips"), func(p string, _ os.DirEntry, _ error) error {
		if strings.HasSuffix(p, ".webm") {
			n++
		}
		return nil
	})
	if n != 1 {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%d clips after SIGTERM, want 1\n%s", n, b)
	}
}

// childEnv is the environment for a contactd process a test starts: the
// tests' own CONTACTD_FAULT_ settings are not contactd's.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		// The tests' own knobs are not the server's settings.
		if !strings.HasPrefix(kv, "CONTACTD_FAULT_") && !strings.HasPrefix(kv, "CONTACTD_ARTIFACTS=") {
			env = append(env, kv)
		}
	}
	return env
}
