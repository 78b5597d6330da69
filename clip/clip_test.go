package clip

import (
	"contactd/internal/testenv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// makeRecording encodes a test recording with the ffmpeg CLI: a tone and,
// optionally, a 10 fps test picture with a keyframe every 2 s.
func makeRecording(t *testing.T, name string, video bool, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=30"}
	if video {
		cmd = append(cmd, "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=30")
	}
	cmd = append(cmd, args...)
	cmd = append(cmd, "-metadata", "creation_time=2026-03-02T09:00:00.000000Z", out)
	if b, err := exec.Command("ffmpeg", cmd...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	return out
}

func TestCutAudioVideoWebM(t *testing.T) {
	rec := makeRecording(t, "rec.webm", true, "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "20", "-b:v", "50k")
	c, err := Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Info().HasVideo() || c.Info().CreationTime.IsZero() {
		t.Fatalf("info %+v", c.Info())
	}
	if f, ext := c.Info().Container(); f != "webm" || ext != "webm" {
		t.Fatalf("container %s", f)
	}
	keys := testenv.Keyframes(t, rec)
	if len(keys) < 10 {
		t.Fatalf("keyframes %v", keys)
	}
	for _, r := range [][2]float64{{10.3, 17.7}, {0, 5}, {3.05, 9}, {25, 30}, {12.3, 12.9}} {
		from, to := sec(r[0]), sec(r[1])
		out := filepath.Join(t.TempDir(), "c.webm")
		span, err := c.Cut(from, to, out)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		// Video starts at the keyframe at or before from.
		wantStart := 0.0
		for _, k := range keys {
			if k <= r[0]+1e-6 {
				wantStart = k
			}
		}
		if d := span.Start.Seconds() - wantStart; math.Abs(d) > 0.001 {
			t.Errorf("%v: start %v, want keyframe at %v", r, span.Start, wantStart)
		}
		if d := span.End.Seconds() - r[1]; d < -0.001 || d > 0.021 {
			t.Errorf("%v: end %v, want within one audio packet after %v", r, span.End, r[1])
		}
		dur, codecs := testenv.Probe(t, out)
		if len(codecs) != 2 {
			t.Errorf("%v: codecs %v", r, codecs)
		}
		if d := dur - (span.End - span.Start).Seconds(); math.Abs(d) > 0.021 {
			t.Errorf("%v: ffprobe duration %.3f, span %v", r, dur, span)
		}
	}
}

func TestCutAudioOnlyIsExactToThePacket(t *testing.T) {
	rec := makeRecording(t, "rec.ogg", false, "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20")
	c, err := Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, r := range [][2]float64{{10.3, 17.7}, {0, 4}, {29, 31}} {
		out := filepath.Join(t.TempDir(), "c.webm")
		span, err := c.Cut(sec(r[0]), sec(r[1]), out)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		wantEnd := math.Min(r[1], 30)
		if ds, de := span.Start.Seconds()-r[0], span.End.Seconds()-wantEnd; ds < -0.021 || ds > 0 || de < -0.001 || de > 0.021 {
			t.Errorf("%v: span %v", r, span)
		}
		dur, _ := testenv.Probe(t, out)
		if d := dur - (wantEnd - r[0]); math.Abs(d) > 0.041 {
			t.Errorf("%v: ffprobe duration %.3f, want %.3f", r, dur, wantEnd-r[0])
		}
	}
}

func TestCutH264IntoMatroska(t *testing.T) {
	rec := makeRecording(t, "rec.mkv", true, "-c:a", "aac", "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-bf", "0")
	c, err := Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f, ext := c.Info().Container(); f != "matroska" || ext != "mkv" {
		t.Fatalf("container %s", f)
	}
	out := filepath.Join(t.TempDir(), "c.mkv")
	span, err := c.Cut(sec(5.5), sec(11), out)
	if err != nil {
		t.Fatal(err)
	}
	dur, codecs := testenv.Probe(t, out)
	if len(codecs) != 2 || codecs[0] != "aac" && codecs[1] != "aac" {
		t.Fatalf("codecs %v", codecs)
	}
	var wantStart float64
	for _, k := range testenv.Keyframes(t, rec) {
		if k <= 5.5 {
			wantStart = k
		}
	}
	if math.Abs(span.Start.Seconds()-wantStart) > 0.001 || math.Abs(dur-(span.End-span.Start).Seconds()) > 0.05 {
		t.Fatalf("span %v, duration %.3f", span, dur)
	}
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	_, err := Open("/nonexistent/rec.webm")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/rec.webm") {
		t.Fatalf("got %v", err)
	}
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func TestCutSourcesAcrossSegments(t *testing.T) {
	rec := makeRecording(t, "rec.webm", true, "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-g", "20", "-b:v", "50k")
	dir := t.TempDir()
	list := filepath.Join(dir, "list.csv")
	// Segments keep the recording's timestamps, so every one sits at offset 0.
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", rec, "-c", "copy", "-f", "segment", "-segment_time", "6",
		"-segment_list", list, "-segment_format", "matroska", filepath.Join(dir, "seg%03d.mkv")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	b, _ := os.ReadFile(list)
	var srcs []Source
	var starts []float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, ",")
		start, _ := strconv.ParseFloat(f[1], 64)
		srcs = append(srcs, Source{Path: filepath.Join(dir, f[0])})
		starts = append(starts, start)
	}
	if len(srcs) < 4 {
		t.Fatalf("segments %v", srcs)
	}
	// The segments' own timestamps are the timeline (the muxer may shift them
	// a little to avoid negative times), so take the keyframes from them.
	var keys []float64
	for _, s := range srcs {
		keys = append(keys, testenv.Keyframes(t, s.Path)...)
	}
	for _, r := range [][2]float64{{7.3, 19.1}, {1, 29}, {12.5, 13.5}} {
		// The sources a caller would pass: from the last one starting at or before from.
		var use []Source
		for i, s := range srcs {
			next := 1e9
			if i+1 < len(srcs) {
				next = starts[i+1]
			}
			if next > r[0] && starts[i] < r[1] {
				use = append(use, s)
			}
		}
		p := filepath.Join(t.TempDir(), "c.webm")
		span, err := CutSources(use, sec(r[0]), sec(r[1]), p)
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		want := 0.0
		for _, k := range keys {
			if k <= r[0]+1e-6 {
				want = k
			}
		}
		if math.Abs(span.Start.Seconds()-want) > 0.002 || span.End.Seconds()-r[1] > 0.021 || span.End.Seconds() < r[1]-0.001 {
			t.Errorf("%v: span %v, want start %.3f", r, span, want)
		}
		dur, codecs := testenv.Probe(t, p)
		if len(codecs) != 2 || math.Abs(dur-(span.End-span.Start).Seconds()) > 0.021 {
			t.Errorf("%v: ffprobe %.3f s %v, span %v", r, dur, codecs, span)
		}
		// No gap at the joins: packet times rise by at most one packet.
		pk, _ := exec.Command("ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", p).Output()
		prev := -1.0
		for _, l := range strings.Fields(string(pk)) {
			v, _ := strconv.ParseFloat(l, 64)
			if prev >= 0 && (v-prev > 0.0215 || v <= prev) {
				t.Errorf("%v: audio jumps from %.3f to %.3f", r, prev, v)
				break
			}
			prev = v
		}
	}
}

// TestCutSourcesVideoJoinsLater: the camera came on in the second segment;
// the clip has both streams, audio from the exact start, video from its
// first keyframe.
func TestCutSourcesVideoJoinsLater(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.mkv")
	av := filepath.Join(dir, "av.mkv")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "sine=f=440:r=48000:d=6", "-c:a", "libopus", "-frame_duration", "20", a},
		{"-f", "lavfi", "-i", "sine=f=440:r=48000:d=6", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10:d=6",
			"-c:a", "libopus", "-frame_duration", "20", "-c:v", "libvpx", "-deadline", "realtime", "-g", "10", av},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	out := filepath.Join(dir, "clip.webm")
	span, err := CutSources([]Source{{Path: a}, {Path: av, Offset: 6 * time.Second}}, sec(2.5), sec(10), out)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(span.Start.Seconds()-2.5) > 0.021 || math.Abs(span.End.Seconds()-10) > 0.021 {
		t.Errorf("span %v, want 2.5 s – 10 s", span)
	}
	dur, codecs := testenv.Probe(t, out)
	if len(codecs) != 2 || math.Abs(dur-7.5) > 0.05 {
		t.Errorf("clip %.3f s %v, want 7.5 s with audio and video", dur, codecs)
	}
	if k := testenv.Keyframes(t, out); len(k) == 0 || math.Abs(k[0]-3.5) > 0.05 {
		t.Errorf("video keyframes %v, want the first at 3.5 s (6 s on the timeline)", k)
	}
}
