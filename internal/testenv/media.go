package testenv

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Probe reads a media file's duration (s) and codecs with ffprobe: an
// independent reader, not the code under test.
func Probe(t testing.TB, path string) (dur float64, codecs []string) {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p struct {
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
		Streams []struct {
			CodecName string `json:"codec_name"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	dur, _ = strconv.ParseFloat(p.Format.Duration, 64)
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecName)
	}
	return dur, codecs
}

// Keyframes lists the video keyframe times (s) of a file, as ffprobe reads them.
func Keyframes(t testing.TB, path string) []float64 {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, ",")
		if len(f) == 2 && strings.HasPrefix(f[1], "K") {
			v, _ := strconv.ParseFloat(f[0], 64)
			out = append(out, v)
		}
	}
	return out
}
