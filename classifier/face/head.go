package face

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"contactd/classifier/internal/f32"
)

// Head is an expression classifier trained in Go on the network's feature
// map pooled over a grid (see Pool): standardised features, an optional
// hidden ReLU layer, a softmax over Labels.
type Head struct {
	Grid int `json:"grid"`
	// Mirror averages the prediction with that of the mirrored crop.
	Mirror bool      `json:"mirror"`
	Dims   int       `json:"dims"`
	Hidden int       `json:"hidden"` // 0: linear
	Mean   []float32 `json:"-"`
	Std    []float32 `json:"-"`
	W1, B1 []float32 `json:"-"` // [Hidden][Dims]
	W2, B2 []float32 `json:"-"` // [7][Hidden or Dims]
	// Trained says on what and how, for the record.
	Trained string `json:"trained"`
}

// headFile is a head on disk: the weights as base64 little-endian float32.
type headFile struct {
	Head
	Weights map[string]string `json:"weights"`
}

func encodeF32(x []float32) string {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func decodeF32(s string, n int, name string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 4*n {
		return nil, fmt.Errorf("weights %s: want %d float32 values (%v)", name, n, err)
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// MarshalJSON writes the head with its weights.
func (h *Head) MarshalJSON() ([]byte, error) {
	f := headFile{Head: *h, Weights: map[string]string{"mean": encodeF32(h.Mean), "std": encodeF32(h.Std),
		"w2": encodeF32(h.W2), "b2": encodeF32(h.B2)}}
	if h.Hidden > 0 {
		f.Weights["w1"], f.Weights["b1"] = encodeF32(h.W1), encodeF32(h.B1)
	}
	type plain headFile // without this method
	return json.Marshal(plain(f))
}

// ParseHead reads a head file's bytes; name is for errors.
func ParseHead(b []byte, name string) (*Head, error) {
	var f headFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: not a face head: %w", name, err)
	}
	h := f.Head
	if h.Grid != 1 && h.Grid != 2 && h.Grid != 3 && h.Grid != 7 {
		return nil, fmt.Errorf("%s: grid %d (want 1, 2, 3 or 7)", name, h.Grid)
	}
	if h.Dims != h.Grid*h.Grid*Features || h.Hidden < 0 || h.Hidden > 4096 {
		return nil, fmt.Errorf("%s: dims %d, hidden %d do not fit grid %d", name, h.Dims, h.Hidden, h.Grid)
	}
	in := h.Dims
	var err error
	get := func(key string, n int) []float32 {
		if err != nil {
			return nil
		}
		var v []float32
		v, err = decodeF32(f.Weights[key], n, key)
		return v
	}
	h.Mean, h.Std = get("mean", h.Dims), get("std", h.Dims)
	if h.Hidden > 0 {
		h.W1, h.B1 = get("w1", h.Hidden*h.Dims), get("b1", h.Hidden)
		in = h.Hidden
	}
	h.W2, h.B2 = get("w2", len(Labels)*in), get("b2", len(Labels))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &h, nil
}

// logits computes the head's scores for standardised input z; hid receives
// the hidden activations when the head has a hidden layer.
func (h *Head) logits(z, hid []float32) []float32 {
	in := z
	if h.Hidden > 0 {
		for j := 0; j < h.Hidden; j++ {
			hid[j] = max(0, f32.Dot(h.W1[j*h.Dims:(j+1)*h.Dims], z)+h.B1[j])
		}
		in = hid
	}
	out := make([]float32, len(Labels))
	for o := range out {
		out[o] = f32.Dot(h.W2[o*len(in):(o+1)*len(in)], in) + h.B2[o]
	}
	return out
}

func (h *Head) standardise(feat []float32) []float32 {
	z := make([]float32, len(feat))
	for i, v := range feat {
		z[i] = (v - h.Mean[i]) / h.Std[i]
	}
	return z
}

// Predict returns class probabilities (Labels order) for pooled features.
func (h *Head) Predict(feat []float32) []float64 {
	l := h.logits(h.standardise(feat), make([]float32, h.Hidden))
	out := make([]float64, len(l))
	for i, v := range l {
		out[i] = float64(v)
	}
	return softmax(out)
}

// TrainConfig sets how a head is trained.
type TrainConfig struct {
	Grid    int     // pooling grid of the features
	Hidden  int     // hidden units; 0 for a linear head
	Epochs  int     // passes over the data
	LR      float64 // Adam step size
	L2      float64 // weight decay
	Dropout float64 // input dropout
	Batch   int
	Seed    uint64
}

// DefaultTrainConfig is what the built-in head was trained with.
var DefaultTrainConfig = TrainConfig{Grid: 3, Hidden: 256, Epochs: 30, LR: 1e-3, L2: 1e-4, Dropout: 0.3, Batch: 128, Seed: 1}

// TrainHead fits a head to pooled features x with labels y (indices into
// Labels), by minibatch Adam on the cross-entropy. progress, if set, gets
// each epoch's mean loss.
func TrainHead(x [][]float32, y []int, cfg TrainConfig, progress func(epoch int, loss float64)) *Head {
	dims := len(x[0])
	h := &Head{Grid: cfg.Grid, Dims: dims, Hidden: cfg.Hidden, Mean: make([]float32, dims), Std: make([]float32, dims)}
	for _, v := range x {
		for i, f := range v {
			h.Mean[i] += f
		}
	}
	for i := range h.Mean {
		h.Mean[i] /= float32(len(x))
	}
	for _, v := range x {
		for i, f := range v {
			d := f - h.Mean[i]
			h.Std[i] += d * d
		}
	}
	for i := range h.Std {
		h.Std[i] = float32(math.Sqrt(float64(h.Std[i])/float64(len(x)))) + 1e-3
	}
	z := make([][]float32, len(x))
	for i, v := range x {
		z[i] = h.standardise(v)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 11))
	in := dims
	if h.Hidden > 0 {
		h.W1, h.B1 = make([]float32, h.Hidden*dims), make([]float32, h.Hidden)
		s := math.Sqrt(2 / float64(dims))
		for i := range h.W1 {
			h.W1[i] = float32(rng.NormFloat64() * s)
		}
		in = h.Hidden
	}
	k := len(Labels)
	h.W2, h.B2 = make([]float32, k*in), make([]float32, k)
	s := math.Sqrt(1 / float64(in))
	for i := range h.W2 {
		h.W2[i] = float32(rng.NormFloat64() * s)
	}
	params := [][]float32{h.W2, h.B2}
	if h.Hidden > 0 {
		params = append(params, h.W1, h.B1)
	}
	grads := make([][]float32, len(params))
	m1, m2 := make([][]float32, len(params)), make([][]float32, len(params))
	for i, p := range params {
		grads[i], m1[i], m2[i] = make([]float32, len(p)), make([]float32, len(p)), make([]float32, len(p))
	}
	order := make([]int, len(z))
	for i := range order {
		order[i] = i
	}
	hid, dHid := make([]float32, h.Hidden), make([]float32, h.Hidden)
	xin := make([]float32, dims)
	step := 0
	for ep := 0; ep < cfg.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		total := 0.0
		for b0 := 0; b0 < len(order); b0 += cfg.Batch {
			batch := order[b0:min(b0+cfg.Batch, len(order))]
			for _, g := range grads {
				clear(g)
			}
			for _, n := range batch {
				// Input dropout (inverted): the head must not lean on a few features.
				keep := float32(1 / (1 - cfg.Dropout))
				for i, v := range z[n] {
					if rng.Float64() < cfg.Dropout {
						xin[i] = 0
					} else {
						xin[i] = v * keep
					}
				}
				l := h.logits(xin, hid)
				p := make([]float64, k)
				for o, v := range l {
					p[o] = float64(v)
				}
				p = softmax(p)
				total -= math.Log(max(p[y[n]], 1e-12))
				act := xin
				if h.Hidden > 0 {
					act = hid
					clear(dHid)
				}
				for o := 0; o < k; o++ {
					g := float32(p[o])
					if o == y[n] {
						g--
					}
					f32.Axpy(grads[0][o*in:(o+1)*in], g, act)
					grads[1][o] += g
					if h.Hidden > 0 {
						f32.Axpy(dHid, g, h.W2[o*in:(o+1)*in])
					}
				}
				if h.Hidden > 0 {
					for j, a := range hid {
						if a <= 0 {
							continue
						}
						f32.Axpy(grads[2][j*dims:(j+1)*dims], dHid[j], xin)
						grads[3][j] += dHid[j]
					}
				}
			}
			// Adam, with decoupled weight decay on the weights.
			step++
			const b1, b2 = 0.9, 0.999
			c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
			scale := 1 / float64(len(batch))
			for pi, p := range params {
				decay := pi == 0 || pi == 2
				for i := range p {
					g := float64(grads[pi][i]) * scale
					m1[pi][i] = float32(b1*float64(m1[pi][i]) + (1-b1)*g)
					m2[pi][i] = float32(b2*float64(m2[pi][i]) + (1-b2)*g*g)
					upd := cfg.LR * (float64(m1[pi][i]) / c1) / (math.Sqrt(float64(m2[pi][i])/c2) + 1e-8)
					if decay {
						upd += cfg.LR * cfg.L2 * float64(p[i])
					}
					p[i] -= float32(upd)
				}
			}
		}
		if progress != nil {
			progress(ep+1, total/float64(len(order)))
		}
	}
	return h
}
