package emotion

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"

	"contactd/classifier/features"
)

// ModelVersion changes when the file format or the features change.
const ModelVersion = 1

// Model is a trained voice emotion model: an ensemble of networks over
// per-speaker z-scored functionals, the population baseline used until a
// speaker has one of their own, and a second ensemble for strangers.
//
// A stranger (a patient at the desk) cannot be read against a baseline of
// their own: they speak for seconds, and usually in one mood throughout,
// so their own baseline would take that mood for their neutral. Strangers
// are read against the population alone, by networks trained the same
// way, so that training and use see the same kind of input.
type Model struct {
	Version    int         `json:"version"`
	Features   []string    `json:"features"`
	TrainedOn  []string    `json:"trained_on"` // corpus directories' names
	Samples    int         `json:"samples"`
	Config     TrainConfig `json:"config"`
	Population Baseline    `json:"population"`
	Nets       []*Network  `json:"nets"`
	// Strangers reads a voice without a baseline of their own; a model
	// file without it reads strangers with Nets against Population.
	Strangers *Strangers `json:"strangers,omitempty"`
}

// Strangers is an ensemble trained on the live windows (see
// Featurizer.Windows) of the training recordings, each z-scored against
// the population of those windows — what a patient's seconds look like.
type Strangers struct {
	Population Baseline   `json:"population"`
	Nets       []*Network `json:"nets"`
}

//go:embed voice_model.json
var defaultModel []byte

// Default is the model shipped in the binary (trained on RAVDESS and TESS;
// see the README).
func Default() (*Model, error) { return Parse(defaultModel, "built-in voice model") }

// Load reads a model file written by Save.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path)
}

// Parse decodes and checks a model.
func Parse(b []byte, name string) (*Model, error) {
	var m Model
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if m.Version != ModelVersion {
		return nil, fmt.Errorf("%s: model version %d, this build reads %d: retrain with 'contactd emotion train'", name, m.Version, ModelVersion)
	}
	if !slices.Equal(m.Features, features.Names) {
		return nil, fmt.Errorf("%s: made for other features than this build computes: retrain with 'contactd emotion train'", name)
	}
	d := len(features.Names)
	if len(m.Nets) == 0 || len(m.Population.Mean) != d || len(m.Population.Std) != d {
		return nil, fmt.Errorf("%s: incomplete model", name)
	}
	nets := m.Nets
	if st := m.Strangers; st != nil {
		if len(st.Nets) == 0 || len(st.Population.Mean) != d || len(st.Population.Std) != d {
			return nil, fmt.Errorf("%s: incomplete strangers' ensemble", name)
		}
		nets = append(slices.Clone(nets), st.Nets...)
	}
	for i, n := range nets {
		w := n.Hidden
		if w == 0 {
			w = n.In
		}
		if n.In != d || len(n.W1) != n.Hidden*n.In || len(n.B1) != n.Hidden || len(n.W2) != outs*w || len(n.B2) != outs {
			return nil, fmt.Errorf("%s: network %d has the wrong shape", name, i)
		}
	}
	return &m, nil
}

// Save writes the model as JSON with 6 significant digits (the file stays
// well under 1 MB and diffs are readable).
func (m *Model) Save(path string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var buf bytes.Buffer
	writeCompact(&buf, v, 0)
	buf.WriteByte('\n')
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeCompact prints JSON with short floats and one key per line at the
// top levels.
func writeCompact(b *bytes.Buffer, v any, depth int) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if depth < 2 {
				b.WriteString("\n" + string(bytes.Repeat([]byte(" "), depth+1)))
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			writeCompact(b, x[k], depth+1)
		}
		if depth < 2 && len(keys) > 0 {
			b.WriteString("\n" + string(bytes.Repeat([]byte(" "), depth)))
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCompact(b, e, depth+1)
		}
		b.WriteByte(']')
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', 6, 64))
	default:
		jb, _ := json.Marshal(x)
		b.Write(jb)
	}
}

// Prediction is the model's answer for one stretch of speech.
type Prediction struct {
	Probs      map[string]float64 `json:"probs"`
	Emotion    string             `json:"emotion"`
	Arousal    float64            `json:"arousal"` // -1 (calm) .. 1 (aroused)
	Valence    float64            `json:"valence"` // -1 (negative) .. 1 (positive)
	Confidence float64            `json:"confidence"`
}

// Predict runs the ensemble on a vector already z-scored against its
// speaker's baseline.
func (m *Model) Predict(z []float64) Prediction { return prediction(m.output(z)) }

// PredictStranger reads the raw functionals of a speaker without a
// baseline of their own (a patient): against the population, by networks
// trained that way.
func (m *Model) PredictStranger(raw []float64) Prediction { return prediction(m.strangerOutput(raw)) }

func (m *Model) strangerOutput(raw []float64) Output {
	if st := m.Strangers; st != nil {
		return average(st.Nets, st.Population.Apply(raw))
	}
	return average(m.Nets, m.Population.Apply(raw))
}

func prediction(o Output) Prediction {
	p := Prediction{Probs: map[string]float64{}}
	best := 0
	var ent float64
	for k, name := range Classes {
		p.Probs[name] = o.Probs[k]
		if o.Probs[k] > o.Probs[best] {
			best = k
		}
		if o.Probs[k] > 0 {
			ent -= o.Probs[k] * math.Log(o.Probs[k])
		}
	}
	p.Emotion = Classes[best]
	p.Arousal = 2*o.Arousal - 1
	p.Valence = 2*o.Valence - 1
	// Confidence: 1 minus the normalised entropy of the class distribution.
	p.Confidence = 1 - ent/math.Log(float64(len(Classes)))
	return p
}

func (m *Model) output(z []float64) Output { return average(m.Nets, z) }

func average(nets []*Network, z []float64) Output {
	var o Output
	k := float64(len(nets))
	for _, n := range nets {
		p := n.Predict(z)
		for i := range o.Probs {
			o.Probs[i] += p.Probs[i] / k
		}
		o.Arousal += p.Arousal / k
		o.Valence += p.Valence / k
	}
	return o
}

// DefaultTrainConfig is the configuration the shipped model was trained
// with, chosen by speaker-independent cross-validation.
var DefaultTrainConfig = TrainConfig{Hidden: 32, Epochs: 100, Batch: 32, LearningRate: 0.002, L2: 0.003, InputDropout: 0.2, Seed: 1}

// Ensemble is how many networks (seeds Seed, Seed+1, …) a model averages.
const Ensemble = 5

// Fit trains a model on featurised, labelled items: vectors are z-scored
// per speaker (label-free), then an ensemble is trained. wins, if given,
// are each item's live windows (Featurizer.Featurize): the strangers'
// ensemble is trained on them, z-scored against their population;
// perturbed, if given, are the windows of each item's speed-perturbed
// copies, added to the strangers' training (the population is the
// unperturbed windows': a patient is read against real voices).
func Fit(items []Item, vecs [][]float64, wins, perturbed [][][]float64, cfg TrainConfig, corpora []string) (*Model, error) {
	its, raw := usable(items, vecs)
	if len(raw) < 20 {
		return nil, errors.New("fewer than 20 usable recordings to train on")
	}
	m := &Model{Version: ModelVersion, Features: features.Names, TrainedOn: corpora, Samples: len(raw), Config: cfg,
		Population: FitBaseline(raw)}
	z := normalizeItems(its, raw, m.Population)
	var samples []Sample
	for i, it := range its {
		samples = append(samples, Sample{X: z[i], Class: it.Class, Arousal: it.Arousal, Valence: it.Valence})
	}
	for e := 0; e < Ensemble; e++ {
		c := cfg
		c.Seed = cfg.Seed + uint64(e)
		m.Nets = append(m.Nets, Train(samples, c))
	}
	if wins == nil {
		return m, nil
	}
	var wl []Item
	var wv [][]float64
	for i, ws := range wins {
		if vecs[i] == nil {
			continue
		}
		for _, w := range ws {
			wl, wv = append(wl, items[i]), append(wv, w)
		}
	}
	if len(wv) < 20 {
		return nil, errors.New("fewer than 20 live windows to train the strangers' ensemble on")
	}
	st := &Strangers{Population: FitBaseline(wv)}
	for i, ws := range perturbed {
		if vecs[i] == nil {
			continue
		}
		for _, w := range ws {
			wl, wv = append(wl, items[i]), append(wv, w)
		}
	}
	samples = samples[:0]
	for i, it := range wl {
		samples = append(samples, Sample{X: st.Population.Apply(wv[i]), Class: it.Class, Arousal: it.Arousal, Valence: it.Valence})
	}
	for e := 0; e < Ensemble; e++ {
		c := cfg
		c.Seed = cfg.Seed + uint64(Ensemble+e)
		st.Nets = append(st.Nets, Train(samples, c))
	}
	m.Strangers = st
	return m, nil
}

// usable drops the items that could not be featurised.
func usable(items []Item, vecs [][]float64) ([]Item, [][]float64) {
	var its []Item
	var raw [][]float64
	for i, v := range vecs {
		if v != nil {
			its = append(its, items[i])
			raw = append(raw, v)
		}
	}
	return its, raw
}

// MinSpeakerRecordings is how many recordings a speaker needs for a
// baseline of their own.
const MinSpeakerRecordings = 10

// normalizeItems z-scores per speaker; recordings without a speaker (or
// with too few) are z-scored over all such recordings of the set when
// there are enough of them, else against the population baseline.
func normalizeItems(items []Item, raw [][]float64, population Baseline) [][]float64 {
	groups := map[string][]int{}
	for i, it := range items {
		groups[it.Speaker] = append(groups[it.Speaker], i)
	}
	out := make([][]float64, len(raw))
	var rest []int
	for s, idx := range groups {
		if s == "" || len(idx) < MinSpeakerRecordings {
			rest = append(rest, idx...)
			continue
		}
		var vs [][]float64
		for _, i := range idx {
			vs = append(vs, raw[i])
		}
		b := FitBaseline(vs)
		for _, i := range idx {
			out[i] = b.Apply(raw[i])
		}
	}
	b := population
	if len(rest) >= MinSpeakerRecordings {
		var vs [][]float64
		for _, i := range rest {
			vs = append(vs, raw[i])
		}
		b = FitBaseline(vs)
	}
	for _, i := range rest {
		out[i] = b.Apply(raw[i])
	}
	return out
}

// Evaluate scores the model on featurised, labelled items, normalising
// them the same way as in training.
func (m *Model) Evaluate(items []Item, vecs [][]float64) Scores {
	its, raw := usable(items, vecs)
	z := normalizeItems(its, raw, m.Population)
	labels := make([]Label, len(its))
	preds := make([]Output, len(its))
	for i := range its {
		labels[i] = its[i].Label
		preds[i] = m.output(z[i])
	}
	return Score(labels, preds)
}

// EvaluateStranger scores the model on items read as strangers, against
// the population alone: each recording by the mean of its live windows'
// readings (wins; the whole recording when it has none).
func (m *Model) EvaluateStranger(items []Item, vecs [][]float64, wins [][][]float64) Scores {
	var labels []Label
	var preds []Output
	for i, it := range items {
		if vecs[i] == nil {
			continue
		}
		var ws [][]float64
		if wins != nil {
			ws = wins[i]
		}
		if len(ws) == 0 {
			ws = [][]float64{vecs[i]}
		}
		var o Output
		for _, w := range ws {
			p := m.strangerOutput(w)
			for k := range o.Probs {
				o.Probs[k] += p.Probs[k] / float64(len(ws))
			}
			o.Arousal += p.Arousal / float64(len(ws))
			o.Valence += p.Valence / float64(len(ws))
		}
		labels, preds = append(labels, it.Label), append(preds, o)
	}
	return Score(labels, preds)
}

// Fold is one speaker-independent cross-validation result: Scores with
// each speaker's own baseline, Stranger with none.
type Fold struct {
	Name     string   `json:"name"`
	Speakers []string `json:"speakers"`
	Scores
	Stranger Scores `json:"stranger"`
}

// CrossValidate trains on all folds but one and tests on it, for each
// fold; foldOf names the fold of a speaker, so no speaker is ever in both.
func CrossValidate(items []Item, vecs [][]float64, wins, perturbed [][][]float64, cfg TrainConfig, foldOf func(speaker string) string, progress func(string)) ([]Fold, error) {
	var order []string
	members := map[string][]int{}
	spk := map[string]map[string]bool{}
	for i, it := range items {
		if vecs[i] == nil {
			continue
		}
		if it.Speaker == "" {
			return nil, fmt.Errorf("%s: no speaker: cross-validation needs a speaker or actor column", it.Path)
		}
		f := foldOf(it.Speaker)
		if _, ok := members[f]; !ok {
			order = append(order, f)
			spk[f] = map[string]bool{}
		}
		members[f] = append(members[f], i)
		spk[f][it.Speaker] = true
	}
	if len(order) < 2 {
		return nil, errors.New("cross-validation needs at least two folds of speakers")
	}
	var out []Fold
	for _, f := range order {
		if progress != nil {
			progress(f)
		}
		test := map[int]bool{}
		for _, i := range members[f] {
			test[i] = true
		}
		var trItems, teItems []Item
		var trVecs, teVecs [][]float64
		var trWins, teWins, trPert [][][]float64
		win := func(i int) [][]float64 {
			if wins == nil {
				return nil
			}
			return wins[i]
		}
		pert := func(i int) [][]float64 {
			if perturbed == nil {
				return nil
			}
			return perturbed[i]
		}
		for i, v := range vecs {
			if v == nil {
				continue
			}
			if test[i] {
				teItems, teVecs, teWins = append(teItems, items[i]), append(teVecs, v), append(teWins, win(i))
			} else {
				trItems, trVecs, trWins = append(trItems, items[i]), append(trVecs, v), append(trWins, win(i))
				trPert = append(trPert, pert(i))
			}
		}
		if wins == nil {
			trWins, teWins = nil, nil
		}
		if perturbed == nil {
			trPert = nil
		}
		m, err := Fit(trItems, trVecs, trWins, trPert, cfg, nil)
		if err != nil {
			return nil, err
		}
		var names []string
		for s := range spk[f] {
			names = append(names, s)
		}
		slices.Sort(names)
		out = append(out, Fold{Name: f, Speakers: names, Scores: m.Evaluate(teItems, teVecs),
			Stranger: m.EvaluateStranger(teItems, teVecs, teWins)})
	}
	return out, nil
}
