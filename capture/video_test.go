package capture

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/recorder"
	"contactd/rtc"
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

// TestCameraPassthrough: an H.264 camera without B-frames is sent as it is,
// in Annex B with its parameter sets before every IDR picture, at its own
// rate; one with B-frames is refused with the reason.
func TestCameraPassthrough(t *testing.T) {
	dir := t.TempDir()
	encode := func(name string, args ...string) string {
		p := filepath.Join(dir, name)
		a := append([]string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25"}, args...)
		if out, err := exec.Command("ffmpeg", append(a, p)...).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		return p
	}
	plain := encode("ipcam.mp4", "-profile:v", "main", "-bf", "0")
	bframes := encode("bframes.mp4", "-profile:v", "high", "-bf", "2")
	if ok, why, err := (&Camera{Input: bframes}).CanPassthrough(); err != nil || ok || !strings.Contains(why, "B-frames") {
		t.Errorf("B-frames: ok=%v %q %v", ok, why, err)
	}
	if ok, why, err := (&Camera{Input: filepath.Join(dir, "../nothing.mp4")}).CanPassthrough(); err == nil || ok {
		t.Errorf("missing input: ok=%v %q %v", ok, why, err)
	}
	cam := &Camera{Input: plain, Passthrough: true}
	if ok, why, err := cam.CanPassthrough(); err != nil || !ok {
		t.Fatalf("plain H.264: ok=%v %q %v", ok, why, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	frames, keys := 0, 0
	err := cam.Run(ctx, func(b []byte, dur time.Duration, key bool) {
		if frames == 0 && !key {
			t.Error("the first picture is not a keyframe")
		}
		frames++
		if dur != 40*time.Millisecond {
			t.Errorf("frame %d lasts %v, want the camera's 40 ms", frames, dur)
		}
		if key != rtc.H264Keyframe(b) {
			t.Errorf("frame %d: key flag %v disagrees with its NAL units", frames, key)
		}
		if key {
			keys++
			sps, pps := rtc.H264ParamSets(b)
			if sps == nil || pps == nil {
				t.Fatalf("keyframe %d without SPS/PPS", keys)
			}
			if w, h, err := rtc.H264Size(sps); err != nil || w != 320 || h != 240 {
				t.Errorf("SPS says %dx%d (%v), want the camera's 320x240", w, h, err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// About 2 s at 25 fps, paced like a live camera; a keyframe each second.
	if frames < 40 || frames > 56 || keys < 2 {
		t.Fatalf("%d frames, %d keyframes", frames, keys)
	}
}
