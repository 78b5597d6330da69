package voice

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"contactd/classifier/emotion"
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

// TestLogEntryKeepsReadings: a reading kept flat comes back as it went in,
// with and without a prediction, and with classes it does not know.
func TestLogEntryKeepsReadings(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.Local)
	probs := map[string]float64{}
	for i, c := range emotion.Classes {
		probs[c] = float64(i+1) / 10
	}
	for _, r := range []Reading{
		{Start: at, Speech: 0.5, Who: Employee, Speaker: 2.5, Level: -31.5,
			Prediction: &emotion.Prediction{Probs: probs, Emotion: emotion.Classes[1], Arousal: 0.25, Valence: -0.5, Confidence: 0.75}},
		{Start: at.Add(time.Second)},
		{Start: at, Prediction: &emotion.Prediction{Probs: map[string]float64{"calm": 1}, Emotion: "calm"}},
	} {
		if got := pack(r).reading(); !reflect.DeepEqual(got, r) {
			t.Errorf("kept %+v, got back %+v", r, got)
		}
	}
}

// BenchmarkKeptSecond reports the heap a station's kept second costs, flat
// (as the hub keeps it) against the Reading it comes from (the baseline).
func BenchmarkKeptSecond(b *testing.B) {
	probs := func() map[string]float64 {
		m := map[string]float64{}
		for i, c := range emotion.Classes {
			m[c] = float64(i) / 10
		}
		return m
	}
	const n = 7200 // two hours of one station
	heap := func(fill func(i int)) float64 {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for i := 0; i < n; i++ {
			fill(i)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		return float64(m1.HeapAlloc-m0.HeapAlloc) / n
	}
	for range b.N {
		var readings []Reading
		var entries []logEntry
		full := heap(func(i int) {
			readings = append(readings, Reading{Start: time.Unix(int64(i), 0), Who: Patient, Speech: 1,
				Prediction: &emotion.Prediction{Probs: probs(), Emotion: emotion.Classes[0]}})
		})
		flat := heap(func(i int) {
			entries = append(entries, pack(Reading{Start: time.Unix(int64(i), 0), Who: Patient, Speech: 1,
				Prediction: &emotion.Prediction{Probs: probs(), Emotion: emotion.Classes[0]}}))
		})
		runtime.KeepAlive(readings)
		runtime.KeepAlive(entries)
		b.ReportMetric(full, "B/reading")
		b.ReportMetric(flat, "B/kept")
		b.ReportMetric(full/flat, "x-smaller")
	}
}
