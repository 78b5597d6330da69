package face

import (
	"archive/tar"
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
)

// FuzzParseManifest: any manifest and shard bytes give weights or an
// error naming the manifest, never a panic or an out-of-range read.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"w","shape":[2,2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.1,"min":-1}}]}]`), []byte{1, 2, 3, 4})
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"w","shape":[1],"dtype":"float32"}]}]`), []byte{0, 0, 128, 63})
	f.Add([]byte(`[{"paths":["a.bin"],"weights":[{"name":"w","shape":[3],"dtype":"float32","quantization":{"dtype":"uint16","scale":1,"min":0}}]}]`), []byte{1, 0, 2})
	f.Add([]byte(`[{"paths":[],"weights":[{"name":"w","shape":[0],"dtype":"int32"}]}]`), []byte{})
	f.Add([]byte(`{}`), []byte{})
	f.Fuzz(func(t *testing.T, manifest, shard []byte) {
		ws, err := parseManifest(manifest, "m.json", func(string) ([]byte, error) { return shard, nil })
		if err != nil {
			if !strings.Contains(err.Error(), "m.json") {
				t.Fatalf("error does not name the manifest: %v", err)
			}
			return
		}
		for name, w := range ws {
			n := 1
			for _, d := range w.shape {
				n *= d
			}
			if n != len(w.data) {
				t.Fatalf("%s: shape %v but %d values", name, w.shape, len(w.data))
			}
		}
	})
}

// FuzzReadTar: a corpus tar yields samples or an error, never a panic.
func FuzzReadTar(f *testing.F) {
	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4)))
	for _, entries := range [][][2]string{
		{{"happy/a.png", img.String()}},
		{{"contempt/a.png", img.String()}, {"anger/b.png", img.String()}},
		{{"sad/broken.jpg", "not an image"}},
		{{"noLabel.png", img.String()}},
	} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range entries {
			tw.WriteHeader(&tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg})
			tw.Write([]byte(e[1]))
		}
		tw.Close()
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		samples, _, err := ReadTar(bytes.NewReader(b), nil)
		if err != nil {
			return
		}
		for _, s := range samples {
			if s.Image == nil || s.Image.W*s.Image.H*s.Image.C != len(s.Image.Pix) {
				t.Fatalf("sample %s: bad image", s.Name)
			}
			if _, ok := CorpusLabels[s.Label]; !ok {
				t.Fatalf("sample %s: label %q", s.Name, s.Label)
			}
		}
	})
}
