package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// faceTar writes a tar of n <label>/<image> PNG crops: happy ones lit on
// the left, sad ones on the right, over noise.
func faceTar(t *testing.T, n int) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range n {
		label := []string{"happy", "sad"}[i%2]
		m := image.NewGray(image.Rect(0, 0, 48, 48))
		for y := 0; y < 48; y++ {
			for x := 0; x < 48; x++ {
				v := uint8(rng.IntN(80))
				if (x < 24) == (label == "happy") {
					v += 150
				}
				m.SetGray(x, y, color.Gray{Y: v})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
		hdr := &tar.Header{Name: label + "/" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ".png", Mode: 0o644, Size: int64(b.Len())}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(b.Bytes())
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "crops.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFaceTuneOwnNetworkAndJoin: `face tune --scratch --input` writes a
// network of its own size, `face join builtin` puts it beside the built-in
// classifier, and `face eval` runs the result through face.head; wrong
// flag combinations are usage errors that say what to give.
func TestFaceTuneOwnNetworkAndJoin(t *testing.T) {
	crops := faceTar(t, 24)
	dir := t.TempDir()
	own, ens := filepath.Join(dir, "own.json"), filepath.Join(dir, "ens.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", "32"}, "--images"},
		{[]string{"--images", "--from", "0", "--input", "32"}, "--scratch"},
		{[]string{"--images", "--from", "2", "--scratch"}, "--from 0"},
		{[]string{"--images", "--from", "0", "--scratch", "--input", "300"}, "16 to 224"},
	} {
		code, _, errs := contactd(t, append([]string{"face", "tune", "--tar", crops, "--out", own}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("face tune %v: exit %d, stderr %q (want 2 and %q)", c.args, code, errs, c.want)
		}
	}
	code, out, errs := contactd(t, "face", "tune", "--tar", crops, "--validation", crops, "--out", own,
		"--images", "--from", "0", "--scratch", "--input", "32", "--epochs", "2", "--batch", "8")
	if code != 0 {
		t.Fatalf("face tune --scratch: exit %d: %s", code, errs)
	}
	t.Log(out)
	var f struct {
		From    int    `json:"from"`
		Input   int    `json:"input"`
		Trained string `json:"trained"`
	}
	b, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Input != 32 || f.From != 0 || !strings.Contains(f.Trained, "random") {
		t.Fatalf("own network file: input %d from %d, trained %q (err %v)", f.Input, f.From, f.Trained, err)
	}
	// The built-in classifier already has a network of its own beside it.
	code, out, errs = contactd(t, "face", "join", "--out", ens, "builtin", own)
	if code != 0 || !strings.Contains(out, "2 networks of their own beside") {
		t.Fatalf("face join builtin own: exit %d, %q %s", code, out, errs)
	}
	t.Setenv("CONTACTD_FACE_HEAD", ens)
	code, out, errs = contactd(t, "face", "eval", "--tar", crops, "--json")
	if code != 0 {
		t.Fatalf("face eval with the joined classifier: exit %d: %s", code, errs)
	}
	var r struct {
		N int `json:"n"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.N != 24 {
		t.Fatalf("face eval: n %d (want 24), err %v: %s", r.N, err, out)
	}
	// The built-in classifier at the shipped size cannot go beside itself.
	if code, _, errs := contactd(t, "face", "join", "--out", ens, own, "builtin"); code == 0 {
		t.Fatalf("joined the built-in beside a 32-pixel network as its member: %s", errs)
	}
}
