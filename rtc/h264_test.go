package rtc

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestH264SizeFromRealStreams encodes pictures of known sizes with x264
// (several profiles; 1080 lines are coded as 1088 and cropped) and reads the size back from the SPS.
func TestH264SizeFromRealStreams(t *testing.T) {
	for _, c := range []struct {
		size, profile string
		w, h          int
	}{{"320x240", "baseline", 320, 240}, {"640x360", "main", 640, 360}, {"1280x720", "high", 1280, 720}, {"1920x1080", "high", 1920, 1080}} {
		out := filepath.Join(t.TempDir(), "x.h264")
		if b, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s="+c.size+":d=0.2", "-c:v", "libx264",
			"-profile:v", c.profile, "-pix_fmt", "yuv420p", "-f", "h264", out).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, b)
		}
		b, _ := os.ReadFile(out)
		sps, pps := H264ParamSets(b)
		if sps == nil || pps == nil || !H264Keyframe(b) {
			t.Fatalf("%s: no SPS/PPS/IDR found", c.size)
		}
		w, h, err := H264Size(sps)
		if err != nil || w != c.w || h != c.h {
			t.Errorf("%s %s: %dx%d %v, want %dx%d", c.size, c.profile, w, h, err, c.w, c.h)
		}
	}
}

func FuzzH264Size(f *testing.F) {
	f.Add([]byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, err := H264Size(b)
		if err == nil && (w <= 0 || h <= 0) {
			t.Fatalf("%dx%d without error", w, h)
		}
	})
}
