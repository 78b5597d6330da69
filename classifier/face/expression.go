package face

import (
	"contactd/classifier/internal/f32"
	"fmt"
	"math"
	"path/filepath"
)

// Expressions are the classes of the expression network, in its output order.
var Expressions = []string{"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"}

// ExpressionNet classifies a face crop: four dense blocks of
// depthwise-separable convolutions (each block's convolutions see the sum of
// all earlier outputs of the block), 112×112 → 7×7×256, an average pool to
// 256 features, and a fully connected layer with a softmax over the classes.
type ExpressionNet struct {
	conv0  *conv
	blocks [4][4]*sepConv // blocks[0][0] unused: the first block starts with conv0
	fcW    []float32      // [7][256]
	fcB    []float32
	// Head, when set, replaces the fully connected layer (a head trained on
	// the network's features; see Head).
	Head *Head
	// Tuned, when set, replaces the last dense block and the classifier
	// with ones fine-tuned in Go (see Tune).
	Tuned *Tuned
}

// expressionMean is the mean RGB the feature extractor subtracts.
var expressionMean = [3]float32{122.782, 117.001, 104.298}

// Features is the length of the feature vector the network's last layer sees.
const Features = 256

// LoadExpressionNet reads face_expression_model-weights_manifest.json from dir.
func LoadExpressionNet(dir string) (*ExpressionNet, error) {
	path := filepath.Join(dir, "face_expression_model-weights_manifest.json")
	ws, err := loadManifest(path)
	if err != nil {
		return nil, err
	}
	n := &ExpressionNet{}
	fail := func(err error) (*ExpressionNet, error) { return nil, fmt.Errorf("%s: %w", path, err) }
	f, err := take(ws, "dense0/conv0/filters", 3, 3, 3, 32)
	if err != nil {
		return fail(err)
	}
	b, err := take(ws, "dense0/conv0/bias", 32)
	if err != nil {
		return fail(err)
	}
	n.conv0 = newConv(f, 3, 3, 32, b)
	chans := []int{32, 32, 64, 128, 256}
	for bi := 0; bi < 4; bi++ {
		for ci := 0; ci < 4; ci++ {
			if bi == 0 && ci == 0 {
				continue
			}
			in := chans[bi+1]
			if ci == 0 {
				in = chans[bi]
			}
			if n.blocks[bi][ci], err = newSepConv(ws, fmt.Sprintf("dense%d/conv%d", bi, ci), in, chans[bi+1]); err != nil {
				return fail(err)
			}
		}
	}
	w, err := take(ws, "fc/weights", Features, 7)
	if err != nil {
		return fail(err)
	}
	if n.fcB, err = take(ws, "fc/bias", 7); err != nil {
		return fail(err)
	}
	n.fcW = make([]float32, 7*Features)
	for i := 0; i < Features; i++ {
		for o := 0; o < 7; o++ {
			n.fcW[o*Features+i] = w[i*7+o]
		}
	}
	return n, nil
}

// Features runs the network up to its last layer on a face crop (any size,
// grey or colour): the 256 features the network's own classifier sees.
func (n *ExpressionNet) Features(img *Image) []float32 {
	return Pool(n.FeatureMap(img), 1)
}

// FeatureMap is the network's last feature map for a crop: 7×7×256 (a
// tuning with its own input size has its own grid).
func (n *ExpressionNet) FeatureMap(img *Image) *tensor {
	if t := n.Tuned; t != nil {
		if t.side() != 112 {
			id := jitterDraw{scale: 1, contrast: 1}
			return t.forward(normalise(id.renderAt(img, t.side())))
		}
		return t.forward(n.denseUpTo(img, t.From))
	}
	return n.block(3, n.Dense2(img))
}

// block runs dense block bi.
func (n *ExpressionNet) block(bi int, out *tensor) *tensor {
	var o1 *tensor
	if bi == 0 {
		o1 = relu(n.conv0.apply(out, 2, true))
	} else {
		o1 = relu(n.blocks[bi][0].apply(out, 2))
	}
	o2 := n.blocks[bi][1].apply(o1, 1)
	s2 := relu(sum(o1, o2))
	o3 := n.blocks[bi][2].apply(s2, 1)
	s3 := relu(sum(o1, o2, o3))
	o4 := n.blocks[bi][3].apply(s3, 1)
	y := relu(sum(o1, o2, o3, o4))
	release(o1, o2, s2, o3, s3, o4) // only y leaves the block
	return y
}

// Dense2 is the output of the first three dense blocks: 14×14×128, the
// input of the last block (which Tune fine-tunes).
func (n *ExpressionNet) Dense2(img *Image) *tensor { return n.denseUpTo(img, 3) }

// denseUpTo runs the preprocessing and the first k dense blocks.
func (n *ExpressionNet) denseUpTo(img *Image, k int) *tensor {
	x0 := img.tensor()
	sq, _, _ := padToSquare(x0, true)
	x := resizeBilinear(sq, 112, 112)
	if sq != x0 && sq != x {
		release(sq)
	}
	if x0 != x {
		release(x0)
	}
	return n.blocksUpTo(x, k)
}

// blocksUpTo normalises a 112×112 RGB (0–255) input, which it releases,
// and runs the first k dense blocks on it.
func (n *ExpressionNet) blocksUpTo(x *tensor, k int) *tensor {
	in := normalise(x)
	out := in
	for bi := 0; bi < k; bi++ {
		next := n.block(bi, out)
		if bi > 0 {
			release(out) // the previous block's output; the input image's tensor stays its own
		}
		out = next
	}
	return out
}

// normalise is the network's input scaling of an RGB (0–255) tensor of
// any size, which it releases.
func normalise(x *tensor) *tensor {
	in := newTensor(x.h, x.w, 3)
	for i := 0; i < x.h*x.w; i++ {
		for c := 0; c < 3; c++ {
			in.d[i*3+c] = (x.d[i*3+c] - expressionMean[c]) / 255
		}
	}
	release(x)
	return in
}

// Pool averages a 7×7 feature map over a grid × grid of windows: 1 is the
// network's own global average; 3 is overlapping 3×3 windows (stride 2),
// which keep where on the face a feature fired (mouth, eyes, brows).
func Pool(m *tensor, grid int) []float32 {
	win, stride := m.h, 0
	switch grid {
	case 1:
	case 2:
		win, stride = 4, 3
	case 3:
		win, stride = 3, 2
	case 7:
		win, stride = 1, 1
	default:
		panic("face.Pool: grid must be 1, 2, 3 or 7")
	}
	out := make([]float32, grid*grid*m.c)
	for gy := 0; gy < grid; gy++ {
		for gx := 0; gx < grid; gx++ {
			dst := out[(gy*grid+gx)*m.c : (gy*grid+gx+1)*m.c]
			for y := gy * stride; y < gy*stride+win; y++ {
				for x := gx * stride; x < gx*stride+win; x++ {
					for c, v := range m.at(y, x) {
						dst[c] += v
					}
				}
			}
			for c := range dst {
				dst[c] /= float32(win * win)
			}
		}
	}
	return out
}

// Mirror returns the image flipped left to right.
func (m *Image) Mirror() *Image {
	out := &Image{W: m.W, H: m.H, C: m.C, Pix: make([]uint8, len(m.Pix))}
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			copy(out.Pix[(y*m.W+m.W-1-x)*m.C:(y*m.W+m.W-x)*m.C], m.Pix[(y*m.W+x)*m.C:(y*m.W+x+1)*m.C])
		}
	}
	return out
}

// sum adds tensors of one shape into a new one.
func sum(ts ...*tensor) *tensor {
	y := &tensor{ts[0].h, ts[0].w, ts[0].c, getBuf(len(ts[0].d))}
	copy(y.d, ts[0].d)
	for _, t := range ts[1:] {
		f32.Axpy(y.d, 1, t.d)
	}
	return y
}

// Classify returns the probability of each class (Labels order) for a face crop.
func (n *ExpressionNet) Classify(img *Image) []float64 {
	if t := n.Tuned; t != nil {
		var p []float64
		switch {
		case t.Input > 0 && t.Input != 112:
			p = t.classifyOwn(img)
		case t.Mirror:
			p = t.classify(n.denseUpTo(img, t.From), n.denseUpTo(img.Mirror(), t.From))
		default:
			p = t.classify(n.denseUpTo(img, t.From))
		}
		for _, b := range t.Beside {
			for i, q := range b.classifyOwn(img) {
				p[i] += q
			}
		}
		for i := range p {
			p[i] /= float64(1 + len(t.Beside))
		}
		return p
	}
	h := n.Head
	if h == nil {
		return n.ownHead(n.Features(img))
	}
	p := h.Predict(Pool(n.FeatureMap(img), h.Grid))
	if h.Mirror {
		q := h.Predict(Pool(n.FeatureMap(img.Mirror()), h.Grid))
		for i := range p {
			p[i] = (p[i] + q[i]) / 2
		}
	}
	return p
}

// ownHead is the network's own fully connected layer and softmax.
func (n *ExpressionNet) ownHead(feat []float32) []float64 {
	logits := make([]float64, 7)
	for o := range logits {
		s := float64(n.fcB[o])
		for i, v := range feat {
			s += float64(n.fcW[o*Features+i]) * float64(v)
		}
		logits[o] = s
	}
	return softmax(logits)
}

func softmax(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	s := 0.0
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Exp(v - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
