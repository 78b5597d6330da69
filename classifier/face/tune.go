package face

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"

	"contactd/classifier/internal/f32"
)

// Tuned is the expression network's last dense block and classifier,
// fine-tuned in Go on a face corpus (the first three blocks stay as
// shipped: they are general face features; the last block and the
// classifier adapt to the corpus's crops and labels).
type Tuned struct {
	convs [4]*sepConv
	fcW   []float32 // [7][256]
	fcB   []float32
	// Mirror averages the prediction with that of the mirrored crop.
	Mirror bool
	// Trained says on what and how, for the record.
	Trained string
}

// block runs the tuned last dense block on a Dense2 map.
func (t *Tuned) block(x *tensor) *tensor {
	o1 := relu(t.convs[0].apply(x, 2))
	o2 := t.convs[1].apply(o1, 1)
	o3 := t.convs[2].apply(relu(sum(o1, o2)), 1)
	o4 := t.convs[3].apply(relu(sum(o1, o2, o3)), 1)
	return relu(sum(o1, o2, o3, o4))
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

// tunedFrom copies the shipped last block and classifier as the start.
func tunedFrom(n *ExpressionNet) *Tuned {
	t := &Tuned{fcW: slices.Clone(n.fcW), fcB: slices.Clone(n.fcB)}
	for i, c := range n.blocks[3] {
		t.convs[i] = &sepConv{in: c.in, out: c.out, dw: slices.Clone(c.dw), pw: slices.Clone(c.pw), bias: slices.Clone(c.bias)}
	}
	return t
}

// params lists the trainable tensors in a fixed order.
func (t *Tuned) params() [][]float32 {
	var ps [][]float32
	for _, c := range t.convs {
		ps = append(ps, c.dw, c.pw, c.bias)
	}
	return append(ps, t.fcW, t.fcB)
}

type tunedFile struct {
	Mirror  bool              `json:"mirror"`
	Trained string            `json:"trained"`
	Weights map[string]string `json:"weights"`
}

var tunedNames = []string{"conv0/dw", "conv0/pw", "conv0/bias", "conv1/dw", "conv1/pw", "conv1/bias",
	"conv2/dw", "conv2/pw", "conv2/bias", "conv3/dw", "conv3/pw", "conv3/bias", "fc/w", "fc/b"}

// MarshalJSON writes the tuned weights (base64 little-endian float32).
func (t *Tuned) MarshalJSON() ([]byte, error) {
	f := tunedFile{Mirror: t.Mirror, Trained: t.Trained, Weights: map[string]string{}}
	for i, p := range t.params() {
		f.Weights[tunedNames[i]] = encodeF32(p)
	}
	return json.Marshal(f)
}

// ParseTuned reads a tuned block for net (whose shapes it must fit).
func ParseTuned(b []byte, name string, net *ExpressionNet) (*Tuned, error) {
	var f tunedFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: not a tuned expression block: %w", name, err)
	}
	t := tunedFrom(net)
	t.Mirror, t.Trained = f.Mirror, f.Trained
	for i, p := range t.params() {
		v, err := decodeF32(f.Weights[tunedNames[i]], len(p), tunedNames[i])
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

// step runs one sample forward and back, adding gradients into g (ordered
// as params) and returning the loss.
func (t *Tuned) step(x *tensor, label int, g [][]float32) float64 {
	a1, s1 := t.convs[0].forwardKeep(x, 2)
	o1 := relu(a1)
	o2, s2 := t.convs[1].forwardKeep(o1, 1)
	in3 := relu(sum(o1, o2))
	o3, s3 := t.convs[2].forwardKeep(in3, 1)
	in4 := relu(sum(o1, o2, o3))
	o4, s4 := t.convs[3].forwardKeep(in4, 1)
	out := relu(sum(o1, o2, o3, o4))
	l, feat := t.logits(out)
	p := make([]float64, len(l))
	for i, v := range l {
		p[i] = float64(v)
	}
	p = softmax(p)
	loss := -math.Log(max(p[label], 1e-12))
	// Classifier.
	dfeat := make([]float32, Features)
	for o := range p {
		d := float32(p[o])
		if o == label {
			d--
		}
		f32.Axpy(g[12][o*Features:(o+1)*Features], d, feat)
		g[13][o] += d
		f32.Axpy(dfeat, d, t.fcW[o*Features:(o+1)*Features])
	}
	// Average pool, then the block's sums and ReLUs, last convolution first.
	n := out.h * out.w
	dsum4 := make([]float32, len(out.d))
	for i := 0; i < n; i++ {
		for c := 0; c < Features; c++ {
			dsum4[i*Features+c] = dfeat[c] / float32(n)
		}
	}
	reluMask(dsum4, out)
	do1, do2, do3 := slices.Clone(dsum4), slices.Clone(dsum4), slices.Clone(dsum4)
	din4 := t.convs[3].backward(s4, 1, dsum4, [3][]float32{g[9], g[10], g[11]})
	reluMask(din4, in4)
	addTo(do1, din4)
	addTo(do2, din4)
	addTo(do3, din4)
	din3 := t.convs[2].backward(s3, 1, do3, [3][]float32{g[6], g[7], g[8]})
	reluMask(din3, in3)
	addTo(do1, din3)
	addTo(do2, din3)
	addTo(do1, t.convs[1].backward(s2, 1, do2, [3][]float32{g[3], g[4], g[5]}))
	reluMask(do1, o1)
	t.convs[0].backward(s1, 2, do1, [3][]float32{g[0], g[1], g[2]})
	return loss
}

// TuneConfig sets the fine-tuning.
type TuneConfig struct {
	Epochs int
	LR     float64 // Adam step size
	L2     float64 // decoupled weight decay
	Batch  int
	Seed   uint64
}

// DefaultTuneConfig is what the built-in tuned block was trained with.
var DefaultTuneConfig = TuneConfig{Epochs: 8, LR: 3e-4, L2: 1e-4, Batch: 64, Seed: 1}

// Tune fine-tunes the last dense block and the classifier on Dense2 maps x
// (labels y index Labels), starting from the shipped weights, with
// minibatch Adam on every core. epoch, if set, is called after each pass
// with the mean loss and may return false to stop.
func Tune(ctx context.Context, net *ExpressionNet, x []*DenseMap, y []int, cfg TuneConfig, epoch func(t *Tuned, ep int, loss float64) bool) (*Tuned, error) {
	t := tunedFrom(net)
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
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	step := 0
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
					for k := w; k < len(batch); k += workers {
						losses[w] += t.step(x[batch[k]], y[batch[k]], wg[w])
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
			step++
			const b1, b2 = 0.9, 0.999
			c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
			scale := 1 / float64(len(batch))
			for pi, p := range ps {
				decay := len(p) > len(Labels) && pi%3 != 2 // weights, not biases
				for i := range p {
					gr := float64(wg[0][pi][i]) * scale
					m1[pi][i] = float32(b1*float64(m1[pi][i]) + (1-b1)*gr)
					m2[pi][i] = float32(b2*float64(m2[pi][i]) + (1-b2)*gr*gr)
					upd := cfg.LR * (float64(m1[pi][i]) / c1) / (math.Sqrt(float64(m2[pi][i])/c2) + 1e-8)
					if decay {
						upd += cfg.LR * cfg.L2 * float64(p[i])
					}
					p[i] -= float32(upd)
				}
			}
		}
		if epoch != nil && !epoch(t, ep, total/float64(len(order))) {
			break
		}
	}
	return t, nil
}

// DenseMap is a Dense2 output, kept for fine-tuning.
type DenseMap = tensor

// Dense2All computes the Dense2 maps of many crops on every core.
func (n *ExpressionNet) Dense2All(ctx context.Context, imgs []*Image, progress func(done int)) ([]*DenseMap, error) {
	return parallel(ctx, imgs, n.Dense2, progress)
}

// PredictMaps classifies Dense2 maps with a tuned block: a map and, when
// mirrored is set, its mirror image's map, averaged.
func (t *Tuned) PredictMaps(m, mirrored *DenseMap) []float64 {
	p := t.predict(t.block(m))
	if mirrored != nil {
		q := t.predict(t.block(mirrored))
		for i := range p {
			p[i] = (p[i] + q[i]) / 2
		}
	}
	return p
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
