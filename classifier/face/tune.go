package face

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"

	"contactd/classifier/internal/f32"
)

// Tuned is the expression network's last dense block (or last two) and
// classifier, fine-tuned in Go on a face corpus: the first blocks stay as
// shipped (general face features); the tuned ones and the classifier adapt
// to the corpus's crops and labels.
type Tuned struct {
	// From is the first tuned block: 0 (all four) to 3 (the last only).
	From   int
	blocks []*denseBlock
	fcW    []float32 // [7][256]
	fcB    []float32
	// Mirror averages the prediction with that of the mirrored crop.
	Mirror bool
	// Trained says on what and how, for the record.
	Trained string
	// Also are more fine-tunings of the same blocks whose predictions are
	// averaged with this one's: an ensemble that shares the frozen blocks,
	// which run once a view, so a member costs only its own blocks.
	Also []*Tuned
	// Input is the side the crop is drawn at for this network (0: the
	// shipped network's 112). A network with its own input has all four
	// blocks of its own (From 0) and shares nothing with the shipped one.
	Input int
	// Beside are networks with their own input (trained from scratch at
	// another size: other errors than a fine-tuning of the shipped one)
	// whose predictions are averaged with this one's, model by model.
	Beside []*Tuned
}

// side is the input side t reads crops at.
func (t *Tuned) side() int {
	if t.Input > 0 {
		return t.Input
	}
	return 112
}

// classifyOwn runs a network with its own input on img (and its mirror
// image with Mirror): all four blocks are its own.
func (t *Tuned) classifyOwn(img *Image) []float64 {
	id := jitterDraw{scale: 1, contrast: 1}
	views := []*tensor{normalise(id.renderAt(img, t.side()))}
	if t.Mirror {
		id.flip = true
		views = append(views, normalise(id.renderAt(img, t.side())))
	}
	return t.classify(views...)
}

// members is t and its ensemble.
func (t *Tuned) members() []*Tuned { return append([]*Tuned{t}, t.Also...) }

// classify averages every member's prediction over the views (the frozen
// blocks' output for the crop and, with Mirror, for its mirror image).
func (t *Tuned) classify(views ...*tensor) []float64 {
	p := make([]float64, len(Labels))
	n := 0
	for _, m := range t.members() {
		for _, v := range views {
			for i, q := range m.predict(m.forward(v)) {
				p[i] += q
			}
			n++
		}
	}
	for i := range p {
		p[i] /= float64(n)
	}
	return p
}

// denseBlock is one dense block whose first convolution has stride 2. The
// first block's first convolution is a full one on the image (first; then
// convs[0] is nil).
type denseBlock struct {
	first *conv
	convs [4]*sepConv
}

func (b *denseBlock) forward(x *tensor) *tensor {
	var o1 *tensor
	if b.first != nil {
		o1 = relu(b.first.apply(x, 2, true))
	} else {
		o1 = relu(b.convs[0].apply(x, 2))
	}
	o2 := b.convs[1].apply(o1, 1)
	o3 := b.convs[2].apply(relu(sum(o1, o2)), 1)
	o4 := b.convs[3].apply(relu(sum(o1, o2, o3)), 1)
	return relu(sum(o1, o2, o3, o4))
}

// forward runs the tuned blocks on the output of the blocks before From.
func (t *Tuned) forward(x *tensor) *tensor {
	for _, b := range t.blocks {
		x = b.forward(x)
	}
	return x
}

func (t *Tuned) logits(m *tensor) ([]float32, []float32) {
	feat := Pool(m, 1)
	l := make([]float32, len(Labels))
	for o := range l {
		l[o] = f32.Dot(t.fcW[o*Features:(o+1)*Features], feat) + t.fcB[o]
	}
	return l, feat
}

func (t *Tuned) predict(m *tensor) []float64 {
	l, _ := t.logits(m)
	p := make([]float64, len(l))
	for i, v := range l {
		p[i] = float64(v)
	}
	return softmax(p)
}

// tunedFrom copies the shipped blocks from `from` on and the classifier as the start.
func tunedFrom(n *ExpressionNet, from int) *Tuned {
	t := &Tuned{From: from, fcW: slices.Clone(n.fcW), fcB: slices.Clone(n.fcB)}
	for bi := from; bi < 4; bi++ {
		b := &denseBlock{}
		if bi == 0 {
			b.first = n.conv0.clone()
		}
		for i, c := range n.blocks[bi] {
			if c != nil {
				b.convs[i] = c.clone()
			}
		}
		t.blocks = append(t.blocks, b)
	}
	return t
}

func (c *sepConv) clone() *sepConv {
	return &sepConv{in: c.in, out: c.out, dw: slices.Clone(c.dw), pw: slices.Clone(c.pw), bias: slices.Clone(c.bias)}
}

func (c *conv) clone() *conv {
	d := *c
	d.w, d.bias = slices.Clone(c.w), slices.Clone(c.bias)
	return &d
}

// noParam stands in the first block's first convolution for the pointwise
// weights it has not, so that every convolution has three tensors in params.
var noParam = []float32{}

// params lists the trainable tensors in a fixed order: each block's four
// convolutions (depthwise, pointwise, bias; the first block's full
// convolution as filters, an empty tensor, bias), then the classifier.
func (t *Tuned) params() [][]float32 {
	var ps [][]float32
	for _, b := range t.blocks {
		for i, c := range b.convs {
			if i == 0 && b.first != nil {
				ps = append(ps, b.first.w, noParam, b.first.bias)
				continue
			}
			ps = append(ps, c.dw, c.pw, c.bias)
		}
	}
	return append(ps, t.fcW, t.fcB)
}

// names are the params' names in a file: the last block's are conv{i}/…,
// the third's block2/conv{i}/….
func (t *Tuned) names() []string {
	var out []string
	for k := range t.blocks {
		prefix := ""
		if bi := t.From + k; bi != 3 {
			prefix = fmt.Sprintf("block%d/", bi)
		}
		for ci := 0; ci < 4; ci++ {
			ws := []string{"dw", "pw", "bias"}
			if t.From+k == 0 && ci == 0 {
				ws = []string{"filters", "none", "bias"} // "none": noParam, not written
			}
			for _, w := range ws {
				out = append(out, fmt.Sprintf("%sconv%d/%s", prefix, ci, w))
			}
		}
	}
	return append(out, "fc/w", "fc/b")
}

type tunedFile struct {
	From    *int              `json:"from,omitempty"` // absent in older files: 3
	Input   int               `json:"input,omitempty"`
	Mirror  bool              `json:"mirror"`
	Trained string            `json:"trained"`
	Weights map[string]string `json:"weights"`
	// Also: the ensemble's other members (their own mirror flag is the first's).
	Also []tunedFile `json:"also,omitempty"`
	// Beside: networks with their own input, averaged model by model.
	Beside []tunedFile `json:"beside,omitempty"`
}

func (t *Tuned) file() tunedFile {
	from := t.From
	f := tunedFile{From: &from, Input: t.Input, Mirror: t.Mirror, Trained: t.Trained, Weights: map[string]string{}}
	names := t.names()
	for i, p := range t.params() {
		if len(p) > 0 {
			f.Weights[names[i]] = encodeF32(p)
		}
	}
	for _, m := range t.Also {
		f.Also = append(f.Also, m.file())
	}
	for _, m := range t.Beside {
		f.Beside = append(f.Beside, m.file())
	}
	return f
}

// MarshalJSON writes the tuned weights (base64 little-endian float32).
func (t *Tuned) MarshalJSON() ([]byte, error) { return json.Marshal(t.file()) }

// Join makes an ensemble of fine-tunings of the same blocks: the first
// keeps its mirror setting, the others' predictions are averaged with it.
// A network with its own input size (trained at another side, all four
// blocks its own) goes beside the first instead: it shares no blocks, and
// its prediction is averaged with the first's ensemble model by model.
func Join(ts ...*Tuned) (*Tuned, error) {
	if len(ts) == 0 {
		return nil, errors.New("no tuned blocks to join")
	}
	out := *ts[0]
	out.Also = nil
	out.Beside = slices.Clone(ts[0].Beside)
	for i, t := range ts {
		for _, m := range t.members() {
			if m == ts[0] {
				continue
			}
			c := *m
			c.Also, c.Beside = nil, nil
			switch {
			case m.side() == out.side() && m.From == out.From:
				out.Also = append(out.Also, &c)
			case m.side() != out.side() && m.side() != 112 && m.From == 0:
				if len(t.Also) > 0 {
					return nil, fmt.Errorf("member %d reads crops at %d and is an ensemble: a network beside is a single one", i+1, m.side())
				}
				out.Beside = append(out.Beside, &c)
			default:
				return nil, fmt.Errorf("member %d tunes from block %d at %d×%d, the first from %d at %d×%d: an ensemble shares the frozen blocks, and a network beside it has its own input size and all four blocks", i+1, m.From, m.side(), m.side(), out.From, out.side(), out.side())
			}
		}
		if t != ts[0] {
			out.Beside = append(out.Beside, t.Beside...)
		}
	}
	return &out, nil
}

// ParseTuned reads tuned blocks for net (whose shapes they must fit).
func ParseTuned(b []byte, name string, net *ExpressionNet) (*Tuned, error) {
	var f tunedFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: not a tuned expression block: %w", name, err)
	}
	t, err := f.tuned(net, name)
	if err != nil {
		return nil, err
	}
	for i, m := range f.Also {
		if len(m.Also) > 0 {
			return nil, fmt.Errorf("%s: also[%d]: an ensemble's member has no members of its own", name, i)
		}
		if mf := m.from(); mf != t.From {
			return nil, fmt.Errorf("%s: also[%d]: from %d, the first member from %d (an ensemble shares the frozen blocks)", name, i, mf, t.From)
		}
		mt, err := m.tuned(net, fmt.Sprintf("%s: also[%d]", name, i))
		if err != nil {
			return nil, err
		}
		t.Also = append(t.Also, mt)
	}
	for i, m := range f.Beside {
		where := fmt.Sprintf("%s: beside[%d]", name, i)
		if len(m.Also) > 0 || len(m.Beside) > 0 {
			return nil, fmt.Errorf("%s: a network beside has no members of its own", where)
		}
		if m.Input < 16 || m.Input > 224 || m.Input == 112 || m.from() != 0 {
			return nil, fmt.Errorf("%s: input %d, from %d: a network beside has its own input size (16–224, not the shipped 112) and all four blocks (from 0)", where, m.Input, m.from())
		}
		mt, err := m.tuned(net, where)
		if err != nil {
			return nil, err
		}
		t.Beside = append(t.Beside, mt)
	}
	return t, nil
}

// from is the first tuned block (3 in files older than the field).
func (f tunedFile) from() int {
	if f.From == nil {
		return 3
	}
	return *f.From
}

func (f tunedFile) tuned(net *ExpressionNet, name string) (*Tuned, error) {
	from := f.from()
	if from < 0 || from > 3 {
		return nil, fmt.Errorf("%s: from %d (want 0 to 3)", name, from)
	}
	t := tunedFrom(net, from)
	t.Mirror, t.Trained, t.Input = f.Mirror, f.Trained, f.Input
	names := t.names()
	for _, k := range slices.Sorted(maps.Keys(f.Weights)) {
		if !slices.Contains(names, k) {
			return nil, fmt.Errorf("%s: weight %q is not one of blocks %d–3 (from %d)", name, k, from, from)
		}
	}
	for i, p := range t.params() {
		if len(p) == 0 {
			continue
		}
		v, err := decodeF32(f.Weights[names[i]], len(p), names[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		copy(p, v)
	}
	return t, nil
}

// sepState keeps what a separable convolution's backward pass needs.
type sepState struct {
	x  *tensor
	dw []float32 // depthwise output, pixels × in
}

func (s *sepConv) forwardKeep(x *tensor, stride int) (*tensor, sepState) {
	dw, oh, ow := s.depthwise(x, stride)
	return &tensor{oh, ow, s.out, pointwise(dw, oh*ow, s.in, s.pw, s.bias, s.out)}, sepState{x, dw}
}

// backward adds the gradients of the weights (g: dw, pw, bias) for output
// gradient dy and returns the input gradient.
func (s *sepConv) backward(st sepState, stride int, dy []float32, g [3][]float32) []float32 {
	x := st.x
	oh, pt := samePad(x.h, 3, stride)
	ow, pl := samePad(x.w, 3, stride)
	dx := make([]float32, len(x.d))
	ddw := make([]float32, s.in)
	for p := 0; p < oh*ow; p++ {
		dyp := dy[p*s.out : (p+1)*s.out]
		for o, v := range dyp {
			g[2][o] += v
		}
		dwp := st.dw[p*s.in : (p+1)*s.in]
		for c := 0; c < s.in; c++ {
			f32.Axpy(g[1][c*s.out:(c+1)*s.out], dwp[c], dyp)
			ddw[c] = f32.Dot(s.pw[c*s.out:(c+1)*s.out], dyp)
		}
		oy, ox := p/ow, p%ow
		for ky := 0; ky < 3; ky++ {
			iy := oy*stride + ky - pt
			if iy < 0 || iy >= x.h {
				continue
			}
			for kx := 0; kx < 3; kx++ {
				ix := ox*stride + kx - pl
				if ix < 0 || ix >= x.w {
					continue
				}
				k := (ky*3 + kx) * s.in
				i := (iy*x.w + ix) * s.in
				f32.MulAdd(g[0][k:k+s.in], x.d[i:i+s.in], ddw)
				f32.MulAdd(dx[i:i+s.in], s.dw[k:k+s.in], ddw)
			}
		}
	}
	return dx
}

// reluMask zeroes g where the activation a is not positive.
func reluMask(g []float32, a *tensor) {
	for i, v := range a.d {
		if v <= 0 {
			g[i] = 0
		}
	}
}

func addTo(dst []float32, srcs ...[]float32) {
	for _, s := range srcs {
		for i, v := range s {
			dst[i] += v
		}
	}
}

// blockState keeps a dense block's activations for its backward pass.
type blockState struct {
	s            [4]sepState
	patches      []float32 // the first block's: its full convolution's input patches
	o1, in3, in4 *tensor
	out          *tensor
}

func (b *denseBlock) forwardKeep(x *tensor) (*tensor, blockState) {
	var st blockState
	var a1 *tensor
	var s1 sepState
	if b.first != nil {
		var oh, ow int
		st.patches, oh, ow = b.first.im2col(x, 2, true)
		a1 = b.first.fromPatches(st.patches, oh, ow)
	} else {
		a1, s1 = b.convs[0].forwardKeep(x, 2)
	}
	st.o1 = relu(a1)
	o2, s2 := b.convs[1].forwardKeep(st.o1, 1)
	st.in3 = relu(sum(st.o1, o2))
	o3, s3 := b.convs[2].forwardKeep(st.in3, 1)
	st.in4 = relu(sum(st.o1, o2, o3))
	o4, s4 := b.convs[3].forwardKeep(st.in4, 1)
	st.out = relu(sum(st.o1, o2, o3, o4))
	st.s = [4]sepState{s1, s2, s3, s4}
	return st.out, st
}

// backward takes the gradient of the block's output, adds its weights'
// gradients to g (12 tensors, in params order) and returns the gradient of
// its input (nil unless wantInput).
func (b *denseBlock) backward(st blockState, dout []float32, g [][]float32, wantInput bool) []float32 {
	dsum4 := slices.Clone(dout)
	reluMask(dsum4, st.out)
	do1, do2, do3 := slices.Clone(dsum4), slices.Clone(dsum4), slices.Clone(dsum4)
	din4 := b.convs[3].backward(st.s[3], 1, dsum4, [3][]float32{g[9], g[10], g[11]})
	reluMask(din4, st.in4)
	addTo(do1, din4)
	addTo(do2, din4)
	addTo(do3, din4)
	din3 := b.convs[2].backward(st.s[2], 1, do3, [3][]float32{g[6], g[7], g[8]})
	reluMask(din3, st.in3)
	addTo(do1, din3)
	addTo(do2, din3)
	addTo(do1, b.convs[1].backward(st.s[1], 1, do2, [3][]float32{g[3], g[4], g[5]}))
	reluMask(do1, st.o1)
	if b.first != nil {
		// The image needs no gradient: only the filters' and the bias's.
		b.first.backwardWeights(st.patches, do1, g[0], g[2])
		putBuf(st.patches)
		return nil
	}
	dx := b.convs[0].backward(st.s[0], 2, do1, [3][]float32{g[0], g[1], g[2]})
	if !wantInput {
		return nil
	}
	return dx
}

// backwardWeights adds the gradients of a full convolution's filters (gw,
// laid out as c.w) and bias (gb) for output gradient dy, from its input patches.
func (c *conv) backwardWeights(patches, dy []float32, gw, gb []float32) {
	n := c.k * c.k * c.in
	for p := 0; p < len(dy)/c.out; p++ {
		dyp := dy[p*c.out : (p+1)*c.out]
		for o, v := range dyp {
			gb[o] += v
		}
		for i, v := range patches[p*n : (p+1)*n] {
			if v != 0 {
				f32.Axpy(gw[i*c.outP:i*c.outP+c.out], v, dyp)
			}
		}
	}
}

// step runs one sample forward and back, adding gradients into g (ordered
// as params) and returning the loss.
func (t *Tuned) step(x *tensor, target []float64, g [][]float32) float64 {
	states := make([]blockState, len(t.blocks))
	out := x
	for i, b := range t.blocks {
		out, states[i] = b.forwardKeep(out)
	}
	l, feat := t.logits(out)
	p := make([]float64, len(l))
	for i, v := range l {
		p[i] = float64(v)
	}
	p = softmax(p)
	loss := 0.0
	for o, v := range target {
		if v > 0 {
			loss -= v * math.Log(max(p[o], 1e-12))
		}
	}
	nb := len(t.blocks) * 12
	dfeat := make([]float32, Features)
	for o := range p {
		d := float32(p[o] - target[o])
		f32.Axpy(g[nb][o*Features:(o+1)*Features], d, feat)
		g[nb+1][o] += d
		f32.Axpy(dfeat, d, t.fcW[o*Features:(o+1)*Features])
	}
	// The average pool spreads the feature gradient over the 7×7 grid.
	n := out.h * out.w
	dout := make([]float32, len(out.d))
	for i := 0; i < n; i++ {
		for c := 0; c < Features; c++ {
			dout[i*Features+c] = dfeat[c] / float32(n)
		}
	}
	for i := len(t.blocks) - 1; i >= 0; i-- {
		dout = t.blocks[i].backward(states[i], dout, g[i*12:(i+1)*12], i > 0)
	}
	return loss
}

// TuneConfig sets the fine-tuning.
type TuneConfig struct {
	// From is the first block tuned: 0 (all four) to 3 (the last).
	From   int
	Epochs int
	LR     float64 // Adam step size
	L2     float64 // decoupled weight decay
	Batch  int
	Seed   uint64
	// Augmentation of the frozen blocks' output, drawn anew every epoch
	// (the maps are computed once, so augmenting the images themselves would
	// cost the frozen blocks every epoch): Shift moves a map by up to Shift
	// cells each way (one cell of the 28×28 map is 4 input pixels, ~1.7 of a
	// 48-pixel FER crop); Erase zeroes a random square of up to that share
	// of the side; Mixup blends two crops and their labels with a
	// Beta(Mixup, Mixup) weight (Zhang et al. 2018, here on hidden maps as in
	// Verma et al. 2019); Smooth is label smoothing.
	Shift  int
	Erase  float64
	Mixup  float64
	Smooth float64
	// Cosine decays the step size to zero over the epochs (half a cosine).
	Cosine bool
	// Jitter changes the crops themselves, drawn anew every time one is
	// seen (TuneImages only: the frozen blocks then run on every sample).
	Jitter Jitter
	// Input is the side crops are drawn at (0: the shipped network's 112);
	// another size needs From 0 and Scratch or a Start of that size.
	Input int
	// Scratch starts all four blocks from random weights instead of the
	// shipped ones (He initialisation; the classifier at zero).
	Scratch bool
	// Start, if set, is where tuning starts instead of the shipped weights
	// (its From may not be before From; blocks before its From start as
	// shipped): a further tuning of an earlier one.
	Start *Tuned
	// Progress, if set, is told the samples done in the current epoch
	// after every minibatch.
	Progress func(done int)
	// Average, if above 0, keeps the running mean of the weights from the
	// start of that epoch on, taken AverageEvery times an epoch (stochastic
	// weight averaging, Izmailov et al. 2018: the mean of the points a
	// constant step size visits lies nearer the middle of a wide minimum
	// than any one of them, at no cost in inference). Averaged is then
	// told the mean after every epoch from Average on.
	Average      int
	AverageEvery int
	Averaged     func(avg *Tuned, ep int) bool
}

// DefaultTuneConfig is what the built-in tuned block was trained with.
var DefaultTuneConfig = TuneConfig{From: 2, Epochs: 12, LR: 5e-4, L2: 1e-4, Batch: 64, Seed: 1, Shift: 1, Mixup: 0.2, Smooth: 0.05, Cosine: true}

// augment returns x (a map of the frozen blocks' output) moved by up to
// shift cells each way, with a random square of up to erase of its side
// zeroed; x itself is not changed.
func augment(x *tensor, shift int, erase float64, rng *rand.Rand) *tensor {
	if shift <= 0 && erase <= 0 {
		return x
	}
	out := x
	if shift > 0 {
		dy, dx := rng.IntN(2*shift+1)-shift, rng.IntN(2*shift+1)-shift
		if dy != 0 || dx != 0 {
			out = newTensor(x.h, x.w, x.c)
			for y := 0; y < x.h; y++ {
				sy := y - dy
				if sy < 0 || sy >= x.h {
					continue
				}
				for xx := 0; xx < x.w; xx++ {
					sx := xx - dx
					if sx < 0 || sx >= x.w {
						continue
					}
					copy(out.d[(y*x.w+xx)*x.c:(y*x.w+xx+1)*x.c], x.d[(sy*x.w+sx)*x.c:(sy*x.w+sx+1)*x.c])
				}
			}
		}
	}
	if erase > 0 {
		side := rng.IntN(int(erase*float64(x.h)) + 1)
		if side > 0 {
			if out == x {
				out = &tensor{x.h, x.w, x.c, slices.Clone(x.d)}
			}
			y0, x0 := rng.IntN(x.h-side+1), rng.IntN(x.w-side+1)
			for y := y0; y < y0+side; y++ {
				clear(out.d[(y*x.w+x0)*x.c : (y*x.w+x0+side)*x.c])
			}
		}
	}
	return out
}

// betaSample draws from Beta(a, a) as the ratio of two gamma draws.
func betaSample(a float64, rng *rand.Rand) float64 {
	g1, g2 := gammaSample(a, rng), gammaSample(a, rng)
	if g1+g2 == 0 {
		return 0.5
	}
	return g1 / (g1 + g2)
}

// gammaSample draws from Gamma(a, 1) by Marsaglia and Tsang's method (2000),
// with their boost U^(1/a) for a < 1.
func gammaSample(a float64, rng *rand.Rand) float64 {
	if a < 1 {
		return gammaSample(a+1, rng) * math.Pow(rng.Float64(), 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// target is the training distribution of a label, smoothed.
func target(label int, smooth float64) []float64 {
	t := make([]float64, len(Labels))
	for i := range t {
		t[i] = smooth / float64(len(t))
	}
	t[label] += 1 - smooth
	return t
}

// Tune fine-tunes the last dense block and the classifier on Dense2 maps x
// (labels y index Labels), starting from the shipped weights, with
// minibatch Adam on every core. epoch, if set, is called after each pass
// with the mean loss and may return false to stop.
func Tune(ctx context.Context, net *ExpressionNet, x []*DenseMap, y []int, cfg TuneConfig, epoch func(t *Tuned, ep int, loss float64) bool) (*Tuned, error) {
	return tune(ctx, net, len(x), y, cfg, func(i int, rng *rand.Rand) *tensor {
		return augment(x[i].unpack(), cfg.Shift, cfg.Erase, rng)
	}, epoch)
}

// TuneImages fine-tunes as Tune does, on the crops themselves: every time
// a crop is seen it is drawn anew through cfg.Jitter and the frozen blocks
// run on it (about a third more work a sample than tuning on cached maps,
// and no map cache in memory). Mirror images come from the jitter's Flip.
func TuneImages(ctx context.Context, net *ExpressionNet, imgs []*Image, y []int, cfg TuneConfig, epoch func(t *Tuned, ep int, loss float64) bool) (*Tuned, error) {
	from := cfg.From
	if cfg.Input > 0 && cfg.Input != 112 {
		if from != 0 || cfg.Start == nil && !cfg.Scratch {
			return nil, fmt.Errorf("input %d: a network at its own input size has all four blocks (from 0) and starts from scratch or from one of its own", cfg.Input)
		}
	}
	size := cfg.Input
	if size <= 0 {
		size = 112
	}
	return tune(ctx, net, len(imgs), y, cfg, func(i int, rng *rand.Rand) *tensor {
		m := net.blocksUpTo(cfg.Jitter.draw(rng).renderAt(imgs[i], size), from)
		return augment(m, cfg.Shift, cfg.Erase, rng)
	}, epoch)
}

// tune runs minibatch Adam over n samples, sample(i) giving the input of
// the tuned blocks for sample i (drawn anew each time it is asked).
func tune(ctx context.Context, net *ExpressionNet, n int, y []int, cfg TuneConfig, sample func(i int, rng *rand.Rand) *tensor, epoch func(t *Tuned, ep int, loss float64) bool) (*Tuned, error) {
	from := cfg.From
	if from < 0 || from > 3 {
		return nil, fmt.Errorf("from block %d: want 0 to 3", from)
	}
	if len(y) != n {
		return nil, fmt.Errorf("%d samples but %d labels", n, len(y))
	}
	t := tunedFrom(net, from)
	if cfg.Input != 112 {
		t.Input = cfg.Input
	}
	if cfg.Scratch {
		if from != 0 || cfg.Start != nil {
			return nil, fmt.Errorf("from scratch: all four blocks (from 0) and no start")
		}
		t.initRandom(rand.New(rand.NewPCG(cfg.Seed, 17)))
	}
	if s := cfg.Start; s != nil {
		if s.side() != t.side() {
			return nil, fmt.Errorf("the start reads crops at %d, this tuning at %d", s.side(), t.side())
		}
		if s.From < from {
			return nil, fmt.Errorf("the start tunes from block %d, before block %d", s.From, from)
		}
		// The start's blocks and classifier replace the shipped ones; blocks
		// before its From stay as shipped (a tuning may reach further back
		// than the one it continues).
		tp, sp := t.params(), s.params()
		off := (s.From - from) * 12
		for i := range sp {
			copy(tp[off+i], sp[i])
		}
	}
	ps := t.params()
	m1, m2 := make([][]float32, len(ps)), make([][]float32, len(ps))
	for i, p := range ps {
		m1[i], m2[i] = make([]float32, len(p)), make([]float32, len(p))
	}
	workers := runtime.GOMAXPROCS(0)
	wg := make([][][]float32, workers)
	for w := range wg {
		wg[w] = make([][]float32, len(ps))
		for i, p := range ps {
			wg[w][i] = make([]float32, len(p))
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 5))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	step := 0
	stepsPerEpoch := (len(order) + cfg.Batch - 1) / cfg.Batch
	totalSteps := cfg.Epochs * stepsPerEpoch
	var avg *averager
	if cfg.Average > 0 {
		avg = newAverager(t, stepsPerEpoch, cfg.AverageEvery)
	}
	for ep := 1; ep <= cfg.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		total := 0.0
		for b0 := 0; b0 < len(order); b0 += cfg.Batch {
			if err := ctx.Err(); err != nil {
				return t, err
			}
			batch := order[b0:min(b0+cfg.Batch, len(order))]
			losses := make([]float64, workers)
			var w8 sync.WaitGroup
			for w := 0; w < workers; w++ {
				w8.Add(1)
				go func() {
					defer w8.Done()
					for _, g := range wg[w] {
						clear(g)
					}
					rng := rand.New(rand.NewPCG(cfg.Seed^uint64(step)<<8, uint64(w)+11))
					for k := w; k < len(batch); k += workers {
						a := sample(batch[k], rng)
						tg := target(y[batch[k]], cfg.Smooth)
						if cfg.Mixup > 0 && len(batch) > 1 {
							j := batch[(k+1+rng.IntN(len(batch)-1))%len(batch)]
							b := sample(j, rng)
							lam := betaSample(cfg.Mixup, rng)
							lam = max(lam, 1-lam) // the first crop leads
							mixed := newTensor(a.h, a.w, a.c)
							for i := range mixed.d {
								mixed.d[i] = float32(lam)*a.d[i] + float32(1-lam)*b.d[i]
							}
							tb := target(y[j], cfg.Smooth)
							for i := range tg {
								tg[i] = lam*tg[i] + (1-lam)*tb[i]
							}
							a = mixed
						}
						losses[w] += t.step(a, tg, wg[w])
					}
				}()
			}
			w8.Wait()
			for w := range losses {
				total += losses[w]
				if w > 0 {
					for i := range ps {
						addTo(wg[0][i], wg[w][i])
					}
				}
			}
			lr := cfg.LR
			if cfg.Cosine && totalSteps > 0 {
				lr *= 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(totalSteps)))
			}
			step++
			if cfg.Progress != nil {
				cfg.Progress(b0 + len(batch))
			}
			const b1, b2 = 0.9, 0.999
			c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
			scale := 1 / float64(len(batch))
			for pi, p := range ps {
				decay := len(p) > len(Labels) && pi%3 != 2 // weights, not biases
				for i := range p {
					gr := float64(wg[0][pi][i]) * scale
					m1[pi][i] = float32(b1*float64(m1[pi][i]) + (1-b1)*gr)
					m2[pi][i] = float32(b2*float64(m2[pi][i]) + (1-b2)*gr*gr)
					upd := lr * (float64(m1[pi][i]) / c1) / (math.Sqrt(float64(m2[pi][i])/c2) + 1e-8)
					if decay {
						upd += lr * cfg.L2 * float64(p[i])
					}
					p[i] -= float32(upd)
				}
			}
			if avg != nil && ep >= cfg.Average {
				avg.after(b0/cfg.Batch, ps)
			}
		}
		if epoch != nil && !epoch(t, ep, total/float64(len(order))) {
			break
		}
		if avg != nil && ep >= cfg.Average && cfg.Averaged != nil && !cfg.Averaged(avg.mean, ep) {
			break
		}
	}
	if avg != nil && avg.n > 0 {
		return avg.mean, nil
	}
	return t, nil
}

// averager keeps the running mean of a tuning's weights.
type averager struct {
	mean  *Tuned
	sum   [][]float64
	n     int
	every map[int]bool // minibatches of an epoch after which a snapshot is taken
}

func newAverager(t *Tuned, stepsPerEpoch, perEpoch int) *averager {
	perEpoch = max(1, min(perEpoch, stepsPerEpoch))
	a := &averager{mean: t.clone(), every: map[int]bool{}}
	for k := 1; k <= perEpoch; k++ {
		a.every[k*stepsPerEpoch/perEpoch-1] = true
	}
	for _, p := range t.params() {
		a.sum = append(a.sum, make([]float64, len(p)))
	}
	return a
}

// after adds the weights ps after minibatch b of an epoch, if b is one the
// snapshots are taken after, and refreshes the mean.
func (a *averager) after(b int, ps [][]float32) {
	if !a.every[b] {
		return
	}
	a.n++
	for i, p := range ps {
		for j, v := range p {
			a.sum[i][j] += float64(v)
		}
	}
	for i, p := range a.mean.params() {
		for j := range p {
			p[j] = float32(a.sum[i][j] / float64(a.n))
		}
	}
}

// clone is a deep copy of t's weights (not its ensemble).
func (t *Tuned) clone() *Tuned {
	c := &Tuned{From: t.From, Input: t.Input, fcW: slices.Clone(t.fcW), fcB: slices.Clone(t.fcB), Mirror: t.Mirror, Trained: t.Trained}
	for _, b := range t.blocks {
		nb := &denseBlock{}
		if b.first != nil {
			nb.first = b.first.clone()
		}
		for i, cv := range b.convs {
			if cv != nil {
				nb.convs[i] = cv.clone()
			}
		}
		c.blocks = append(c.blocks, nb)
	}
	return c
}

// DenseMap is the output of the blocks before the tuned ones, kept for
// fine-tuning in bfloat16 (half the memory; the frozen activations need no
// more precision).
type DenseMap struct {
	h, w, c int
	d       []uint16
}

func pack(t *tensor) *DenseMap {
	m := &DenseMap{t.h, t.w, t.c, make([]uint16, len(t.d))}
	for i, v := range t.d {
		b := math.Float32bits(v)
		m.d[i] = uint16((b + 0x7fff + (b>>16)&1) >> 16) // round to nearest even
	}
	return m
}

func (m *DenseMap) unpack() *tensor {
	t := newTensor(m.h, m.w, m.c)
	for i, u := range m.d {
		t.d[i] = math.Float32frombits(uint32(u) << 16)
	}
	return t
}

// DenseAll computes, on every core, the output of the first k blocks of
// many crops: the input of fine-tuning from block k.
func (n *ExpressionNet) DenseAll(ctx context.Context, imgs []*Image, k int, progress func(done int)) ([]*DenseMap, error) {
	return parallel(ctx, imgs, func(m *Image) *DenseMap { return pack(n.denseUpTo(m, k)) }, progress)
}

// PredictMaps classifies maps of the blocks before From: a map and, when
// mirrored is set, its mirror image's map, averaged.
func (t *Tuned) PredictMaps(m, mirrored *DenseMap) []float64 {
	if mirrored != nil {
		return t.classify(m.unpack(), mirrored.unpack())
	}
	return t.classify(m.unpack())
}

//go:embed face_tuned.json
var builtinTuned []byte

// UseHead sets net's classifier from face.head: "" for the built-in one
// (fine-tuned on FER2013's training set; the network's own when none is
// built in), "none" for the network's own, or a file from `contactd face
// tune` or `contactd face train`.
func (n *ExpressionNet) UseHead(path string) error {
	n.Head, n.Tuned = nil, nil
	var b []byte
	name := path
	switch path {
	case "none":
		return nil
	case "":
		if len(builtinTuned) == 0 {
			return nil
		}
		b, name = builtinTuned, "built-in tuned expression block"
	default:
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return err
		}
	}
	var probe struct {
		Grid    *int              `json:"grid"`
		Weights map[string]string `json:"weights"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return fmt.Errorf("%s: not a face head: %w", name, err)
	}
	if probe.Grid != nil {
		h, err := ParseHead(b, name)
		n.Head = h
		return err
	}
	t, err := ParseTuned(b, name, n)
	n.Tuned = t
	return err
}

// initRandom replaces every weight with a random start: He-normal for
// the pointwise and full convolutions (ReLU follows), unit-gain depthwise
// filters, zero biases and a zero classifier. The second to fourth
// convolutions of a block are halved because the block sums them: the
// sum's spread then stays near that of one convolution.
func (t *Tuned) initRandom(rng *rand.Rand) {
	normal := func(p []float32, std float64) {
		for i := range p {
			p[i] = float32(rng.NormFloat64() * std)
		}
	}
	for _, b := range t.blocks {
		if c := b.first; c != nil {
			clear(c.w)
			for r := 0; r < c.k*c.k*c.in; r++ {
				normal(c.w[r*c.outP:r*c.outP+c.out], math.Sqrt(2/float64(c.k*c.k*c.in)))
			}
			clear(c.bias)
		}
		for i, c := range b.convs {
			if c == nil {
				continue
			}
			normal(c.dw, math.Sqrt(1/9.0))
			gain := 1.0
			if i > 0 {
				gain = 0.5
			}
			normal(c.pw, gain*math.Sqrt(2/float64(c.in)))
			clear(c.bias)
		}
	}
	clear(t.fcW)
	clear(t.fcB)
}
