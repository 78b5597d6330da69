package face

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Labels are the corpus names of the classes (FER2013's), in the order of
// Expressions, the network's outputs.
var Labels = []string{"neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"}

// CorpusLabels maps the label folders of a face corpus (FER2013's and their
// synonyms) to Labels; other labels (contempt, …) are excluded.
var CorpusLabels = map[string]string{
	"neutral": "neutral", "happy": "happy", "happiness": "happy",
	"sad": "sad", "sadness": "sad", "angry": "angry", "anger": "angry",
	"fear": "fear", "fearful": "fear", "disgust": "disgust", "disgusted": "disgust",
	"surprise": "surprise", "surprised": "surprise",
}

// Sample is one labelled face crop of a corpus.
type Sample struct {
	Name  string // the tar entry
	Label string // one of Labels
	Image *Image
}

// ReadTar reads a corpus tar whose entries are <label>/<image> (JPEG or
// PNG, any size, grey or colour). Entries of unknown labels are counted in
// skipped, not returned; an image that does not decode is an error naming
// the entry. keep, if set, selects entries by name before decoding.
func ReadTar(r io.Reader, keep func(name string) bool) (samples []Sample, skipped int, err error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return samples, skipped, nil
		}
		if err != nil {
			return samples, skipped, fmt.Errorf("tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		dir, file := path.Split(strings.TrimPrefix(h.Name, "./"))
		label, ok := CorpusLabels[strings.ToLower(strings.Trim(path.Base(dir), "/"))]
		if dir == "" || file == "" || !ok {
			skipped++
			continue
		}
		if keep != nil && !keep(h.Name) {
			continue
		}
		if h.Size > 32<<20 {
			return samples, skipped, fmt.Errorf("tar entry %s: %d bytes is too large for a face crop", h.Name, h.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return samples, skipped, fmt.Errorf("tar entry %s: %w", h.Name, err)
		}
		img, err := Decode(bytes.NewReader(b))
		if err != nil {
			return samples, skipped, fmt.Errorf("tar entry %s: not a JPEG or PNG image: %w", h.Name, err)
		}
		samples = append(samples, Sample{Name: h.Name, Label: label, Image: img})
	}
}
