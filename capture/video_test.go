package capture

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"contactd/recorder"
)

// TestCameraFromFile decodes an H.264 file, encodes VP8 at the target size
// and rate, and checks the frames: rate, keyframes, and picture size.
func TestCameraFromFile(t *testing.T) {
	in := filepath.Join(t.TempDir(), "cam.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-c:v", "libx264",
		"-preset", "ultrafast", "-pix_fmt", "yuv420p", in).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	cam := &Camera{Input: in, Width: 160, Height: 120, FPS: 10}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	frames, keys := 0, 0
	var w, h int
	err := cam.Run(ctx, func(b []byte, dur time.Duration, key bool) {
		frames++
		if key {
			keys++
			w, h, _ = recorder.VP8Size(b)
		}
		if dur != 100*time.Millisecond {
			t.Errorf("frame duration %v", dur)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// About 3 s at 10 fps (paced like a live camera), a keyframe first.
	if frames < 25 || frames > 32 || keys < 1 || w != 160 || h != 120 {
		t.Fatalf("%d frames, %d keyframes, %dx%d", frames, keys, w, h)
	}
}
