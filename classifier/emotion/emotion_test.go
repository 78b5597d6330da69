package emotion

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"contactd/classifier/features"
	"contactd/classifier/vad"
	"contactd/internal/testenv"
)

// synthetic makes labelled vectors of len(features.Names): each class
// shifts a few features; speakers add their own offset to everything.
func synthetic(n int, seed uint64) ([]Item, [][]float64) {
	r := rand.New(rand.NewPCG(seed, 7))
	d := len(features.Names)
	var items []Item
	var vecs [][]float64
	emos := []string{"neutral", "happy", "sad", "angry", "fearful"}
	for s := 0; s < 4; s++ {
		off := make([]float64, d)
		for i := range off {
			off[i] = r.NormFloat64() * 3
		}
		for i := 0; i < n; i++ {
			e := emos[i%len(emos)]
			l, _ := ParseEmotion(e)
			v := make([]float64, d)
			for j := range v {
				v[j] = off[j] + r.NormFloat64()
			}
			if l.Class >= 0 {
				v[l.Class] += 5
			}
			if l.Arousal == 1 {
				v[10] += 5
			}
			if l.Valence == 1 {
				v[11] += 5
			}
			items = append(items, Item{Path: e, Speaker: string(rune('a' + s)), Label: l})
			vecs = append(vecs, v)
		}
	}
	return items, vecs
}

// TestFitIsSeededAndLearns: the same seed gives the same model; on held-out
// speakers of separable data it is accurate; another seed differs.
func TestFitIsSeededAndLearns(t *testing.T) {
	items, vecs := synthetic(60, 1)
	cfg := DefaultTrainConfig
	cfg.Epochs = 30
	train := func(seed uint64) *Model {
		c := cfg
		c.Seed = seed
		m, err := Fit(items[:180], vecs[:180], nil, nil, c, []string{"synthetic"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, c := train(1), train(1), train(2)
	if !slices.Equal(a.Nets[0].W2, b.Nets[0].W2) || !slices.Equal(a.Nets[4].W1, b.Nets[4].W1) {
		t.Error("the same seed gave different models")
	}
	if slices.Equal(a.Nets[0].W2, c.Nets[0].W2) {
		t.Error("another seed gave the same model")
	}
	s := a.Evaluate(items[180:], vecs[180:])                        // the fourth speaker, unseen
	if s.UA4 < 0.85 || s.ArousalAcc < 0.85 || s.ValenceAcc < 0.85 { // chance: 0.25, 0.5, 0.5
		t.Errorf("held-out speaker: %+v", s)
	}
	// Cross-validation by speaker: four folds, none sharing a speaker.
	folds, err := CrossValidate(items, vecs, nil, nil, cfg, func(s string) string { return s }, nil)
	if err != nil || len(folds) != 4 {
		t.Fatalf("%d folds, %v", len(folds), err)
	}
	for _, f := range folds {
		if len(f.Speakers) != 1 || f.N != 60 || f.UA4 < 0.8 {
			t.Errorf("fold %s: %v n=%d UA %.2f", f.Name, f.Speakers, f.N, f.UA4)
		}
	}
	if p := Pool([]Scores{folds[0].Scores, folds[1].Scores}); p.N != 120 || p.N4 != folds[0].N4+folds[1].N4 {
		t.Errorf("pooled %+v", p)
	}
}

// TestModelFile: a saved model loads and predicts the same; files for
// other features or versions are refused with what to do.
func TestModelFile(t *testing.T) {
	items, vecs := synthetic(30, 2)
	cfg := DefaultTrainConfig
	cfg.Epochs = 5
	m, err := Fit(items, vecs, nil, nil, cfg, []string{"synthetic"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	z := m.Population.Apply(vecs[7])
	p, q := m.Predict(z), back.Predict(z)
	for _, c := range Classes {
		if math.Abs(p.Probs[c]-q.Probs[c]) > 1e-4 {
			t.Errorf("%s: %v before saving, %v after", c, p.Probs[c], q.Probs[c])
		}
	}
	if p.Arousal < -1 || p.Arousal > 1 || p.Valence < -1 || p.Valence > 1 || p.Confidence < 0 || p.Confidence > 1 {
		t.Errorf("prediction out of range: %+v", p)
	}
	b, _ := os.ReadFile(path)
	for _, tc := range []struct{ from, to, want string }{
		{`"version":1`, `"version":99`, "retrain"},
		{`"f0_st_mean"`, `"pitch"`, "other features"},
		{`"nets":[`, `"nets":[{"in":3,"hidden":0,"w2":[],"b2":[]},`, "wrong shape"},
	} {
		bad := strings.Replace(string(b), tc.from, tc.to, 1)
		if bad == string(b) {
			t.Fatalf("%q not in the file", tc.from)
		}
		if _, err := Parse([]byte(bad), "m.json"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: %v", tc.from, tc.to, err)
		}
	}
	if _, err := Default(); err != nil {
		t.Errorf("built-in model: %v", err)
	}
	if st, _ := os.Stat("voice_model.json"); st == nil || st.Size() > 1<<20 {
		t.Errorf("the built-in model file must exist and stay under 1 MB")
	}
}

// TestBuiltInModelIsReproducible retrains the shipped model from the
// shared corpora with its recorded configuration and checks that it
// predicts what the shipped one does.
func TestBuiltInModelIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("featurises 4000 recordings")
	}
	ship, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if ship.Strangers == nil {
		t.Fatal("the built-in model has no strangers' ensemble: retrain it")
	}
	ds := testenv.Datasets(t)
	var items []Item
	for _, c := range ship.TrainedOn {
		it, err := LoadCorpus(filepath.Join(ds, c))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it...)
	}
	vm, err := vad.LoadInstalled("")
	if err != nil {
		t.Fatal(err)
	}
	vecs, wins, pert, _, err := (&Featurizer{VAD: vm, Speeds: ship.Config.StrangerSpeeds, Levels: ship.Config.StrangerLevels}).Featurize(context.Background(), items, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Fit(items, vecs, wins, pert, ship.Config, ship.TrainedOn)
	if err != nil {
		t.Fatal(err)
	}
	if m.Samples != ship.Samples {
		t.Fatalf("%d usable recordings, the shipped model had %d", m.Samples, ship.Samples)
	}
	worst := 0.0
	for i := 0; i < len(vecs); i += 17 {
		if vecs[i] == nil {
			continue
		}
		z := ship.Population.Apply(vecs[i])
		a, b := m.Predict(z), ship.Predict(z)
		sa, sb := m.PredictStranger(vecs[i]), ship.PredictStranger(vecs[i])
		for _, c := range Classes {
			worst = math.Max(worst, math.Abs(a.Probs[c]-b.Probs[c]))
			worst = math.Max(worst, math.Abs(sa.Probs[c]-sb.Probs[c]))
		}
	}
	t.Logf("max |Δp| retrained vs shipped: %.2g", worst)
	if worst > 0.02 {
		t.Errorf("retrained model differs from the shipped one by up to %.3f", worst)
	}
}

// TestRunningBaseline: it starts at the population, converges to the
// speaker's own statistics, and forgets old ones at its half-life.
func TestRunningBaseline(t *testing.T) {
	pop := Baseline{Mean: []float64{0}, Std: []float64{1}}
	r := NewRunningBaseline(1, 100, 10)
	if b := r.Baseline(pop); b.Mean[0] != 0 || b.Std[0] != 1 {
		t.Fatalf("empty: %+v", b)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		r.Update([]float64{5 + 2*rng.NormFloat64()})
	}
	if b := r.Baseline(pop); math.Abs(b.Mean[0]-5) > 0.3 || math.Abs(b.Std[0]-2) > 0.3 {
		t.Errorf("after 2000 windows of N(5, 2): %+v", b)
	}
	for i := 0; i < 100; i++ { // one half-life of a new voice
		r.Update([]float64{-5})
	}
	if m := r.Baseline(pop).Mean[0]; math.Abs(m) > 1 {
		t.Errorf("after one half-life at -5 the mean is %.2f, want about 0", m)
	}
}

// TestWindows: a recording is read as the live path reads it, the last
// 2 s at each second that holds speech; a silent second gives no window.
func TestWindows(t *testing.T) {
	const rate = features.Rate
	voice := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			// A 140 Hz voice-like pulse train with harmonics.
			ph := float64(i) * 140 / rate
			x[i] = float32(0.3 * (math.Sin(2*math.Pi*ph) + 0.5*math.Sin(4*math.Pi*ph) + 0.25*math.Sin(6*math.Pi*ph)))
		}
		return x
	}
	x := append(voice(2*rate), make([]float32, rate)...) // speech, speech, silence
	x = append(x, voice(rate+rate/2)...)                 // speech, speech (half)
	fz := &Featurizer{}
	ws := fz.Windows(features.NewExtractor(), nil, x)
	// Seconds 1, 2, 4 (3 is silent; 5 s is not reached: 4.5 s long).
	if len(ws) != 3 {
		t.Fatalf("%d windows, want 3", len(ws))
	}
	for _, w := range ws {
		if len(w) != len(features.Names) {
			t.Fatalf("window of %d values", len(w))
		}
	}
	if short := fz.Windows(features.NewExtractor(), nil, voice(rate/2)); len(short) != 1 {
		t.Errorf("half a second of speech: %d windows, want 1", len(short))
	}
}

// TestSpeedPerturbation: a copy played 1.1 times as fast is 1/1.1 as long
// and its tone 1.1 times as high; 0.9 the other way.
func TestSpeedPerturbation(t *testing.T) {
	const f0 = 200.0
	x := make([]float32, features.Rate) // 1 s
	for i := range x {
		x[i] = float32(0.5 * math.Sin(2*math.Pi*f0*float64(i)/features.Rate))
	}
	for _, a := range []float64{0.9, 1.1} {
		y := Speed(x, a)
		if want := int(float64(len(x)) / a); abs(len(y)-want) > 2 {
			t.Errorf("speed %g: %d samples, want %d", a, len(y), want)
		}
		// Frequency from the zero crossings of the middle half (the edges
		// carry the filter's ramp).
		mid := y[len(y)/4 : 3*len(y)/4]
		n := 0
		for i := 1; i < len(mid); i++ {
			if (mid[i-1] < 0) != (mid[i] < 0) {
				n++
			}
		}
		f := float64(n) / 2 / (float64(len(mid)) / features.Rate)
		if math.Abs(f-f0*a) > 2 {
			t.Errorf("speed %g: tone at %.1f Hz, want %.1f", a, f, f0*a)
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestFitPerturbedWindows: the perturbed windows join the strangers'
// training but not their population (a patient is read against real
// voices), and they change what the strangers' networks learn.
func TestFitPerturbedWindows(t *testing.T) {
	items, vecs := synthetic(40, 3)
	wins := make([][][]float64, len(vecs))
	pert := make([][][]float64, len(vecs))
	r := rand.New(rand.NewPCG(5, 5))
	for i, v := range vecs {
		wins[i] = [][]float64{v}
		p := slices.Clone(v)
		for j := range p {
			p[j] += r.NormFloat64()
		}
		pert[i] = [][]float64{p}
	}
	cfg := DefaultTrainConfig
	cfg.Epochs = 10
	plain, err := Fit(items, vecs, wins, nil, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	aug, err := Fit(items, vecs, wins, pert, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain.Strangers.Population.Mean, aug.Strangers.Population.Mean) {
		t.Error("the perturbed windows moved the strangers' population")
	}
	if slices.Equal(plain.Strangers.Nets[0].W1, aug.Strangers.Nets[0].W1) {
		t.Error("the perturbed windows did not reach the strangers' training")
	}
	if !slices.Equal(plain.Nets[0].W1, aug.Nets[0].W1) {
		t.Error("the perturbed windows reached the per-speaker ensemble")
	}
}

// TestAtLevel: the copy's speech has the mean power asked for; what would
// pass full scale is clipped.
func TestAtLevel(t *testing.T) {
	x := make([]float32, features.Rate)
	for i := range x {
		x[i] = float32(0.01 * math.Sin(2*math.Pi*300*float64(i)/features.Rate))
	}
	ext := features.NewExtractor()
	a := ext.Analyze(x)
	for _, db := range []float64{-36, -16} {
		y := AtLevel(x, a, nil, db)
		b := ext.Analyze(y)
		var p float64
		for _, f := range b.Frames {
			p += math.Pow(10, f.Energy/10)
		}
		if got := 10 * math.Log10(p/float64(len(b.Frames))); math.Abs(got-db) > 0.5 {
			t.Errorf("level %g dBFS: copy at %.2f", db, got)
		}
	}
	for _, v := range AtLevel(x, a, nil, -3) {
		if v > 1 || v < -1 {
			t.Fatalf("sample %g past full scale", v)
		}
	}
}
