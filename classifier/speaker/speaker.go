package speaker

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"contactd/classifier/features"
	"contactd/classifier/vad"
)

// Dims of a frame vector: MFCC 1–13 and their deltas.
const Dims = 26

// Frames are the cepstral vectors of the speech frames in [from, to) of
// an analysis (mask marks speech; nil takes every frame with energy).
func Frames(a *features.Analysis, mask []bool, from, to int) [][]float64 {
	from, to = max(from, 1), min(to, len(a.Frames)-1)
	var out [][]float64
	for i := from; i < to; i++ {
		f := a.Frames[i]
		if mask != nil && !mask[i] || mask == nil && f.Energy < -50 {
			continue
		}
		out = append(out, Vector(a, i))
	}
	return out
}

// Vector is frame i's cepstral vector (1 ≤ i < len(a.Frames)-1).
func Vector(a *features.Analysis, i int) []float64 {
	v := make([]float64, Dims)
	copy(v, a.Frames[i].MFCC[:])
	// Delta: the slope over the neighbouring frames.
	for k := 0; k < 13; k++ {
		v[13+k] = (a.Frames[i+1].MFCC[k] - a.Frames[i-1].MFCC[k]) / 2
	}
	return v
}

// UBMComponents is the size of the background mixture.
const UBMComponents = 32

// Relevance is the MAP adaptation relevance factor (Reynolds 2000 uses 16).
const Relevance = 16

// Background is the universal background model.
type Background struct {
	Version int  `json:"version"`
	GMM     *GMM `json:"gmm"`
}

//go:embed ubm.json
var defaultUBM []byte

// DefaultBackground is the background model built into the binary.
func DefaultBackground() (*Background, error) {
	return ParseBackground(defaultUBM, "built-in background model")
}

// ParseBackground decodes and checks a background model.
func ParseBackground(b []byte, name string) (*Background, error) {
	var bg Background
	if err := json.Unmarshal(b, &bg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if bg.Version != 1 || bg.GMM == nil || len(bg.GMM.Means) == 0 || len(bg.GMM.Means[0]) != Dims {
		return nil, fmt.Errorf("%s: not a speaker background model of this version", name)
	}
	return &bg, nil
}

// TrainBackground fits the background mixture on frames of many speakers.
func TrainBackground(frames [][]float64, seed uint64) (*Background, error) {
	g, err := TrainGMM(frames, UBMComponents, 20, seed)
	if err != nil {
		return nil, err
	}
	return &Background{Version: 1, GMM: g}, nil
}

// Save writes the background model.
func (b *Background) Save(path string) error {
	j, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return os.WriteFile(path, j, 0o644)
}

// Voice is an enrolled speaker: the background adapted to their speech.
type Voice struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"` // speech enrolled
	GMM     *GMM    `json:"gmm"`
}

// MinEnrollSeconds of speech make an enrolment.
const MinEnrollSeconds = 10

// Enroll adapts the background to a speaker's frames (10 ms each).
func (b *Background) Enroll(name string, frames [][]float64) (*Voice, error) {
	secs := float64(len(frames)) / 100
	if secs < MinEnrollSeconds {
		return nil, fmt.Errorf("%.1f s of speech to enrol %s; at least %d s are needed (30 s recommended)", secs, name, MinEnrollSeconds)
	}
	return &Voice{Name: name, Seconds: secs, GMM: b.GMM.Adapt(frames, Relevance)}, nil
}

// Score is the mean log-likelihood ratio per frame of the speaker's model
// against the background: above 0, the frames sound more like them.
func (b *Background) Score(v *Voice, frames [][]float64) (float64, error) {
	if len(frames) == 0 {
		return 0, errors.New("no speech frames to attribute")
	}
	return v.GMM.LogLikelihood(frames) - b.GMM.LogLikelihood(frames), nil
}

// SpeechFrames analyses a recording (16 kHz) and returns the cepstral
// vectors of its speech frames, as enrolment and scoring use them.
func SpeechFrames(ext *features.Extractor, det *vad.Detector, x []float32) [][]float64 {
	a := ext.Analyze(x)
	det.Reset()
	mask, _ := vad.Mask(det, x, 0.5, features.Hop)
	return Frames(a, mask, 0, len(a.Frames))
}
