package voice

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// opusPackets encodes RAVDESS speech to 20 ms Opus packets, as a station sends them.
func opusPackets(t *testing.T, files ...string) [][]byte {
	t.Helper()
	ogg := filepath.Join(t.TempDir(), "speech.ogg")
	args := []string{"-v", "error"}
	for _, f := range files {
		args = append(args, "-i", f)
	}
	args = append(args, "-filter_complex", "concat=n="+strconv.Itoa(len(files))+":v=0:a=1", "-ac", "1", "-ar", "48000", "-c:a", "libopus",
		"-frame_duration", "20", "-page_duration", "20000", ogg)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	data, _ := os.ReadFile(ogg)
	r, _, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		page, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 0 && hdr.GranulePosition > 0 {
			out = append(out, page)
		}
	}
}

// TestHubShiftsAndBaselines: a shift change at the station hands the
// reading over to the next employee's baseline; both baselines are kept
// on Close and come back in a new hub.
func TestHubShiftsAndBaselines(t *testing.T) {
	m := loadModels(t)
	files := actorFiles(t, "09")
	pkts := opusPackets(t, files[20:40]...)
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 2, 13, 59, 40, 0, time.UTC)
	change := t0.Add(time.Duration(len(pkts)/2) * 20 * time.Millisecond)
	who := func(_ string, at time.Time) string {
		if at.Before(change) {
			return "anna"
		}
		return "ben"
	}
	// A queue for all of it: the test pushes faster than real time.
	h := &Hub{Models: m, Employee: who, BaselineDir: dir, QueueSize: len(pkts) + 1}
	readings := 0
	h.OnReading = func(string, Reading) { readings++ }
	for i, p := range pkts {
		h.Push("desk-1", p, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	h.Close()
	if readings < len(pkts)/50-3 {
		t.Errorf("%d readings for %d s of audio", readings, len(pkts)/50)
	}
	seen := map[string]float64{}
	for _, e := range []string{"anna", "ben"} {
		b := (&Hub{Models: m, BaselineDir: dir}).baseline(e)
		seen[e] = b.Seen
	}
	if seen["anna"] < 5 || seen["ben"] < 5 {
		t.Errorf("baselines kept: %v (both employees spoke for over 30 s)", seen)
	}
}
