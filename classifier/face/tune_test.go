package face

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestTuneGradients checks the backward pass against finite differences of
// the loss, for weights of every layer of the tuned blocks and the
// classifier: the last block alone, and the last two.
func TestTuneGradients(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int{3, 2, 1, 0} {
		checkGradients(t, net, from)
	}
}

func checkGradients(t *testing.T, net *ExpressionNet, from int) {
	tu := tunedFrom(net, from)
	rng := rand.New(rand.NewPCG(1, 2))
	x := newTensor(14, 14, 128)
	switch from {
	case 2:
		x = newTensor(28, 28, 64)
	case 1:
		x = newTensor(56, 56, 32)
	case 0:
		x = newTensor(32, 32, 3) // a small normalised image: fewer ReLU kinks for the finite differences to cross
	}
	scale := 2.0
	if from < 3 {
		scale = 0.5 // two blocks amplify: keep the loss in its smooth range
	}
	if from == 1 {
		scale = 0.2
	}
	for i := range x.d {
		x.d[i] = float32(rng.Float64() * scale)
		if from == 0 {
			x.d[i] = float32(rng.Float64() - 0.5)
		}
	}
	ps := tu.params()
	g := make([][]float32, len(ps))
	for i, p := range ps {
		g[i] = make([]float32, len(p))
	}
	// A soft target (a mixup of two smoothed labels) checks the loss
	// augmentation trains with, of which one-hot is a special case.
	tg, tb := target(3, 0.1), target(5, 0.1)
	for i := range tg {
		tg[i] = 0.7*tg[i] + 0.3*tb[i]
	}
	tu.step(x, tg, g)
	loss := func() float64 {
		l, _ := tu.logits(tu.forward(x))
		p := make([]float64, len(l))
		for i, v := range l {
			p[i] = float64(v)
		}
		p = softmax(p)
		s := 0.0
		for i, v := range tg {
			s -= v * math.Log(p[i])
		}
		return s
	}
	checked := 0
	names := tu.names()
	for pi, p := range ps {
		if len(p) == 0 {
			continue // the first convolution's missing pointwise weights
		}
		for k := 0; k < 3; k++ {
			// The parameter with the largest gradient, and two random ones.
			i := rng.IntN(len(p))
			if k == 0 {
				for j := range g[pi] {
					if math.Abs(float64(g[pi][j])) > math.Abs(float64(g[pi][i])) {
						i = j
					}
				}
			}
			old := p[i]
			eps := float32(3e-3)
			if from < 3 {
				eps = 1e-3 // more ReLU kinks downstream: a smaller step crosses fewer
			}
			if from <= 1 {
				eps = 3e-4
			}
			p[i] = old + eps
			up := loss()
			p[i] = old - eps
			down := loss()
			p[i] = old
			num := (up - down) / (2 * float64(eps))
			ana := float64(g[pi][i])
			if math.Abs(num-ana) > 0.05*math.Max(math.Abs(num), math.Abs(ana))+2e-3 {
				t.Errorf("from %d, %s[%d]: analytic %.5f, numeric %.5f", from, names[pi], i, ana, num)
			}
			checked++
		}
	}
	t.Logf("from block %d: %d gradients checked", from, checked)
}

func TestAugmentShiftsAndErases(t *testing.T) {
	x := newTensor(4, 4, 2)
	for i := range x.d {
		x.d[i] = float32(i + 1)
	}
	orig := slices.Clone(x.d)
	rng := rand.New(rand.NewPCG(3, 4))
	moved := 0
	for range 50 {
		a := augment(x, 1, 0, rng)
		if !slices.Equal(x.d, orig) {
			t.Fatal("augment changed its input")
		}
		if a == x {
			continue
		}
		moved++
		// A shifted map holds the input's cells, moved by at most one, and zeros.
		zeros := 0
		for _, v := range a.d {
			if v == 0 {
				zeros++
			}
		}
		if zeros == 0 || zeros > 7*2 {
			t.Fatalf("a one-cell shift of a 4×4 map zeroed %d values (want a row and/or a column)", zeros)
		}
	}
	if moved < 30 {
		t.Fatalf("only %d of 50 draws shifted (want about 8 in 9)", moved)
	}
	e := augment(x, 0, 0.5, rng)
	for range 20 {
		e = augment(x, 0, 0.5, rng)
		if e != x {
			break
		}
	}
	zeros := 0
	for _, v := range e.d {
		if v == 0 {
			zeros++
		}
	}
	if zeros == 0 || zeros%2 != 0 || zeros > 2*2*2 {
		t.Fatalf("erasing up to half the side of a 4×4 map zeroed %d values (want whole cells, at most 2×2)", zeros)
	}
}

func TestBetaSampleMean(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, a := range []float64{0.2, 1, 3} {
		sum, sq := 0.0, 0.0
		const n = 20000
		for range n {
			v := betaSample(a, rng)
			if v < 0 || v > 1 {
				t.Fatalf("Beta(%g,%g) drew %g", a, a, v)
			}
			sum += v
			sq += v * v
		}
		mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
		want := 1 / (4 * (2*a + 1)) // variance of Beta(a, a)
		if math.Abs(mean-0.5) > 0.01 || math.Abs(variance-want) > 0.1*want {
			t.Errorf("Beta(%g,%g): mean %.4f (want 0.5), variance %.4f (want %.4f)", a, a, mean, variance, want)
		}
	}
}

// TestJoinAverages: an ensemble written and read back predicts the mean of
// its members' predictions on every view, and refuses members that tune
// other blocks than the first.
func TestJoinAverages(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	a, b := tunedFrom(net, 2), tunedFrom(net, 2)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range b.params() {
		for i := range p {
			p[i] *= float32(1 + 0.3*rng.NormFloat64())
		}
	}
	a.Mirror = true
	j, err := Join(a, b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := j.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTuned(raw, "ensemble", net)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Also) != 1 || !back.Mirror {
		t.Fatalf("read back %d more members, mirror %v", len(back.Also), back.Mirror)
	}
	x, y := newTensor(28, 28, 64), newTensor(28, 28, 64)
	for i := range x.d {
		x.d[i], y.d[i] = float32(rng.Float64()*0.5), float32(rng.Float64()*0.5)
	}
	pa, pb := a.predict(a.forward(x)), b.predict(b.forward(x))
	qa, qb := a.predict(a.forward(y)), b.predict(b.forward(y))
	got := back.classify(x, y)
	differ := false
	for i := range got {
		want := (pa[i] + pb[i] + qa[i] + qb[i]) / 4
		if math.Abs(got[i]-want) > 1e-6 {
			t.Fatalf("class %d: %v, want the members' mean %v", i, got[i], want)
		}
		differ = differ || math.Abs(pa[i]-pb[i]) > 1e-3
	}
	if !differ {
		t.Fatal("the two members predict alike: the test would not see a member dropped")
	}
	if _, err := Join(a, tunedFrom(net, 3)); err == nil {
		t.Fatal("joined members tuned from different blocks")
	}
	bad := strings.Replace(string(raw), `"also":[{"from":2`, `"also":[{"from":3`, 1)
	if _, err := ParseTuned([]byte(bad), "bad", net); err == nil || !strings.Contains(err.Error(), "also[0]") {
		t.Fatalf("member from another block: %v", err)
	}
}

// TestTuneImages: tuning on jittered crops lowers the loss on a toy task
// (faces' halves lit differently), a start with step size 0 comes back
// unchanged, and a start tuning other blocks is refused.
func TestTuneImages(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var imgs []*Image
	var y []int
	for i := range 16 {
		m := randomImage(48, 48, 1, uint64(i)+20)
		lit := i % 2 // class 0: top half lit, class 1: bottom half
		for r := 0; r < 48; r++ {
			if (r < 24) == (lit == 0) {
				for c := 0; c < 48; c++ {
					m.Pix[r*48+c] = 200 + m.Pix[r*48+c]%56
				}
			}
		}
		imgs = append(imgs, m)
		y = append(y, lit*3) // neutral or angry
	}
	cfg := TuneConfig{From: 3, Epochs: 6, LR: 1e-3, Batch: 8, Seed: 1, Jitter: DefaultJitter}
	var losses []float64
	done := 0
	cfg.Progress = func(d int) { done = d }
	tuned, err := TuneImages(context.Background(), net, imgs, y, cfg, func(_ *Tuned, _ int, loss float64) bool {
		losses = append(losses, loss)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != 6 || done != len(imgs) {
		t.Fatalf("%d epochs reported, progress at %d of %d", len(losses), done, len(imgs))
	}
	t.Logf("losses by epoch %.3f", losses)
	if !(losses[5] < 0.5*losses[0]) {
		t.Errorf("losses by epoch %v: tuning on jittered crops did not learn", losses)
	}
	cfg.Start, cfg.LR, cfg.Epochs, cfg.Progress = tuned, 0, 1, nil
	again, err := TuneImages(context.Background(), net, imgs, y, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := tuned.params()
	for i, p := range again.params() {
		if !slices.Equal(p, tp[i]) {
			t.Fatalf("param %s changed with step size 0 from the start", again.names()[i])
		}
	}
	// A tuning from block 2 may start from one of block 3: block 2 as
	// shipped, block 3 and the classifier as started.
	cfg.From = 2
	wider, err := TuneImages(context.Background(), net, imgs, y, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	wp, shipped := wider.params(), tunedFrom(net, 2).params()
	for i := range 12 {
		if !slices.Equal(wp[i], shipped[i]) {
			t.Fatalf("block 2's %s is not as shipped", wider.names()[i])
		}
	}
	for i, p := range tp {
		if !slices.Equal(wp[12+i], p) {
			t.Fatalf("%s is not the start's", wider.names()[12+i])
		}
	}
	cfg.Start, cfg.From = wider, 3
	if _, err := TuneImages(context.Background(), net, imgs, y, cfg, nil); err == nil || !strings.Contains(err.Error(), "block 2") {
		t.Fatalf("a start tuned from block 2 used for block 3 only: err %v", err)
	}
}

// TestTuneAverages checks the weight averaging: with one snapshot an epoch
// the result is the mean of the weights each epoch ended with, and the
// averaged model is reported after each averaged epoch.
func TestTuneAverages(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var imgs []*Image
	var y []int
	for i := range 8 {
		imgs = append(imgs, randomImage(48, 48, 1, uint64(i)+40))
		y = append(y, i%len(Labels))
	}
	cfg := TuneConfig{From: 3, Epochs: 3, LR: 1e-3, Batch: 4, Seed: 1, Average: 2, AverageEvery: 1}
	var ends [][][]float32
	var reported []int
	cfg.Averaged = func(avg *Tuned, ep int) bool {
		reported = append(reported, ep)
		return true
	}
	got, err := TuneImages(context.Background(), net, imgs, y, cfg, func(tu *Tuned, ep int, _ float64) bool {
		ends = append(ends, tu.clone().params())
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reported, []int{2, 3}) {
		t.Fatalf("averaged model reported after epochs %v, want 2 and 3", reported)
	}
	moved := false
	for i, p := range got.params() {
		for j, v := range p {
			want := (float64(ends[1][i][j]) + float64(ends[2][i][j])) / 2
			if math.Abs(float64(v)-want) > 1e-6*max(1, math.Abs(want)) {
				t.Fatalf("%s[%d] = %g, the mean of epochs 2 and 3 is %g", got.names()[i], j, v, want)
			}
			if ends[1][i][j] != ends[2][i][j] {
				moved = true
			}
		}
	}
	if !moved {
		t.Fatal("the weights did not move between epochs 2 and 3: the mean checks nothing")
	}
}

// TestTunedFileFromBlock0 checks that a tuning of all four blocks (whose
// first convolution is a full one) survives its file, that its forward
// pass is the network's own while untouched, and that a file without
// "from" still means the last block only.
func TestTunedFileFromBlock0(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	tu := tunedFrom(net, 0)
	tu.Mirror = true
	img := randomImage(48, 48, 1, 7)
	x := net.denseUpTo(img, 0)
	got, want := tu.forward(x).d, net.FeatureMap(img).d
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-4 {
			t.Fatalf("untouched tuning from block 0 differs from the network at %d: %g against %g", i, got[i], want[i])
		}
	}
	tu.blocks[0].first.w[5] += 0.25 // a change the file must keep
	raw, err := tu.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTuned(raw, "from0", net)
	if err != nil {
		t.Fatal(err)
	}
	if back.From != 0 || !back.Mirror {
		t.Fatalf("read back from %d, mirror %v", back.From, back.Mirror)
	}
	bp := back.params()
	for i, p := range tu.params() {
		if !slices.Equal(p, bp[i]) {
			t.Fatalf("%s differs after the file", tu.names()[i])
		}
	}
	legacy := strings.Replace(string(raw), `"from":0,`, "", 1)
	if legacy == string(raw) {
		t.Fatal(`no "from":0 in the file`)
	}
	if _, err := ParseTuned([]byte(legacy), "legacy", net); err == nil || !strings.Contains(err.Error(), `"block0/conv0/`) {
		t.Fatalf("a file without from is read as the last block's, whose weights this one lacks: err %v", err)
	}
}

// TestOwnInputBeside: a network trained from random weights at its own
// input size learns a toy task, survives its file, and joined beside a
// fine-tuning of the shipped network makes Classify the mean of the two
// models; files and joins that break the rules are refused.
func TestOwnInputBeside(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var imgs []*Image
	var y []int
	for i := range 16 {
		m := randomImage(40, 40, 1, uint64(i)+60)
		lit := i % 2 // class 0: left half lit, class 1: right half
		for r := 0; r < 40; r++ {
			for c := 0; c < 40; c++ {
				if (c < 20) == (lit == 0) {
					m.Pix[r*40+c] = 200 + m.Pix[r*40+c]%56
				}
			}
		}
		imgs = append(imgs, m)
		y = append(y, lit*3)
	}
	j := DefaultJitter
	j.Flip = false // the classes are mirror images of each other
	cfg := TuneConfig{From: 0, Input: 32, Epochs: 8, LR: 2e-3, Batch: 8, Seed: 1, Jitter: j}
	if _, err := TuneImages(context.Background(), net, imgs, y, cfg, nil); err == nil || !strings.Contains(err.Error(), "input 32") {
		t.Fatalf("own input size without scratch or start: err %v", err)
	}
	cfg.Scratch = true
	var losses []float64
	own, err := TuneImages(context.Background(), net, imgs, y, cfg, func(_ *Tuned, _ int, loss float64) bool {
		losses = append(losses, loss)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("losses by epoch %.3f", losses)
	if !(losses[len(losses)-1] < 0.5*losses[0]) {
		t.Errorf("losses by epoch %v: a network from random weights did not learn", losses)
	}
	if own.side() != 32 {
		t.Fatalf("trained at %d, want 32", own.side())
	}
	shipped := tunedFrom(net, 0).params()
	for i, p := range own.params() {
		if len(p) > 0 && slices.Equal(p, shipped[i]) {
			t.Fatalf("%s is as shipped in a network from random weights", own.names()[i])
		}
	}
	right := 0
	for i, m := range imgs {
		p := own.classifyOwn(m)
		if p[y[i]] > 0.5 {
			right++
		}
	}
	if right < 14 {
		t.Errorf("own network right on %d of 16 training crops", right)
	}

	first := tunedFrom(net, 3)
	first.Mirror = true
	joined, err := Join(first, own)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := joined.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTuned(raw, "beside", net)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Beside) != 1 || len(back.Also) != 0 || back.Beside[0].side() != 32 {
		t.Fatalf("read back %d beside, %d also", len(back.Beside), len(back.Also))
	}
	img := imgs[3]
	wantOwn := own.classifyOwn(img)
	net.Tuned = first
	wantFirst := net.Classify(img)
	net.Tuned = back
	got := net.Classify(img)
	net.Tuned = nil
	differ := false
	for i := range got {
		want := (wantFirst[i] + wantOwn[i]) / 2
		if math.Abs(got[i]-want) > 1e-6 {
			t.Fatalf("class %d: %v, want the two models' mean %v", i, got[i], want)
		}
		differ = differ || math.Abs(wantFirst[i]-wantOwn[i]) > 1e-3
	}
	if !differ {
		t.Fatal("the two models predict alike: the test would not see one dropped")
	}

	bad := strings.Replace(string(raw), `"input":32`, `"input":112`, 1)
	if _, err := ParseTuned([]byte(bad), "bad", net); err == nil || !strings.Contains(err.Error(), "beside[0]") {
		t.Fatalf("a network beside at the shipped input size: err %v", err)
	}
	if _, err := Join(first, tunedFrom(net, 2)); err == nil {
		t.Fatal("joined a fine-tuning of other blocks at the shipped size")
	}
}
