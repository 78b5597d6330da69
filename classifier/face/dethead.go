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

// DetectorHead is the detector's last layer (a 1×1 convolution from the
// backbone's 512 channels to 5 anchors × (x, y, w, h, score)), retrained in
// Go so that its boxes are face crops as expression corpora cut them and
// its score finds the tight grey crops the shipped head misses. The
// backbone stays as shipped.
type DetectorHead struct {
	W []float32 // [512][25], input-major like the network's filters
	B []float32 // [25]
	// Hidden adds a small non-linear correction to the linear layer:
	// V · leaky(U · f + C), Hidden units (0: none). The shipped head is
	// linear in the backbone's features; the correction is what lets the
	// retrained one take tight crops for faces without taking rectangles.
	Hidden int
	U      []float32 // [Hidden][512]
	C      []float32 // [Hidden]
	V      []float32 // [25][Hidden]
	// Threshold is the score threshold chosen for Scales (on scenes of
	// training faces, never of the faces it is measured on).
	Threshold float64
	Scales    []int
	Trained   string
}

const headIn, headOut = 512, 25

type detHeadFile struct {
	W         string  `json:"w"`
	B         string  `json:"b"`
	Hidden    int     `json:"hidden,omitempty"`
	U         string  `json:"u,omitempty"`
	C         string  `json:"c,omitempty"`
	V         string  `json:"v,omitempty"`
	Threshold float64 `json:"threshold"`
	Scales    []int   `json:"scales"`
	Trained   string  `json:"trained"`
}

// MarshalJSON writes the head (weights base64 little-endian float32).
func (h *DetectorHead) MarshalJSON() ([]byte, error) {
	f := detHeadFile{W: encodeF32(h.W), B: encodeF32(h.B), Threshold: h.Threshold, Scales: h.Scales, Trained: h.Trained, Hidden: h.Hidden}
	if h.Hidden > 0 {
		f.U, f.C, f.V = encodeF32(h.U), encodeF32(h.C), encodeF32(h.V)
	}
	return json.Marshal(f)
}

// ParseDetectorHead reads a head written by `contactd face dettrain`.
func ParseDetectorHead(b []byte, name string) (*DetectorHead, error) {
	var f detHeadFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: not a detector head: %w", name, err)
	}
	w, err := decodeF32(f.W, headIn*headOut, "w")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	bias, err := decodeF32(f.B, headOut, "b")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h := &DetectorHead{W: w, B: bias, Threshold: f.Threshold, Scales: f.Scales, Trained: f.Trained}
	if f.Hidden < 0 || f.Hidden > 1024 {
		return nil, fmt.Errorf("%s: hidden %d (want 0 to 1024)", name, f.Hidden)
	}
	if f.Hidden > 0 {
		h.Hidden = f.Hidden
		if h.U, err = decodeF32(f.U, f.Hidden*headIn, "u"); err == nil {
			if h.C, err = decodeF32(f.C, f.Hidden, "c"); err == nil {
				h.V, err = decodeF32(f.V, headOut*f.Hidden, "v")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if f.Threshold <= 0 || f.Threshold >= 1 {
		return nil, fmt.Errorf("%s: threshold %g (want between 0 and 1)", name, f.Threshold)
	}
	for _, s := range f.Scales {
		if s < 64 || s > 1024 || s%32 != 0 {
			return nil, fmt.Errorf("%s: scale %d (want a multiple of 32 from 64 to 1024)", name, s)
		}
	}
	return h, nil
}

// correct adds the head's non-linear correction to y, the linear layer's
// output (cells × outP) on the backbone's grid p.
func (h *DetectorHead) correct(p, y *tensor, outP int) {
	if h.Hidden == 0 {
		return
	}
	a := make([]float32, h.Hidden)
	for cell := 0; cell < p.h*p.w; cell++ {
		f := p.d[cell*headIn : (cell+1)*headIn]
		for j := range a {
			z := f32.Dot(h.U[j*headIn:(j+1)*headIn], f) + h.C[j]
			if z < 0 {
				z *= 0.1
			}
			a[j] = z
		}
		out := y.d[cell*outP:]
		for o := 0; o < headOut; o++ {
			out[o] += f32.Dot(h.V[o*h.Hidden:(o+1)*h.Hidden], a)
		}
	}
}

//go:embed detector_head.json
var builtinDetectorHead []byte

// shipped keeps the network's own head for "none".
func (d *Detector) shippedHead() *conv {
	if d.ownHead == nil {
		d.ownHead = d.head
	}
	return d.ownHead
}

// UseHead sets the detector's last layer from face.detector_head: "" for
// the built-in one (retrained on scenes of FER2013 training faces), "none"
// for the network's own (with its default threshold and the crop
// convention measured for it), or a file from `contactd face dettrain`. A
// retrained head brings its score threshold and the input sizes it was
// chosen with for scenes (Scales); a caller with one known face size (a
// desk camera) clears Scales and sets InputSize.
func (d *Detector) UseHead(path string) error {
	own := d.shippedHead()
	if path == "none" {
		d.head, d.Head = own, nil
		d.Scales, d.ScoreThreshold, d.BoxScale, d.BoxShift = nil, 0.5, CropScale, CropShift
		return nil
	}
	b, name := builtinDetectorHead, "built-in detector head"
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return err
		}
		name = path
	}
	h, err := ParseDetectorHead(b, name)
	if err != nil {
		return err
	}
	d.setHead(h)
	return nil
}

func (d *Detector) setHead(h *DetectorHead) {
	d.shippedHead()
	d.head, d.Head = newConv(h.W, 1, headIn, headOut, h.B), h
	d.ScoreThreshold, d.BoxScale, d.BoxShift = h.Threshold, 1, 0
	d.Scales = slices.Clone(h.Scales)
}

// headSample is one composed scene seen by the frozen backbone: its grid of
// features and the faces in grid cells.
type headSample struct {
	n     int
	feat  []uint16 // n×n×512, bfloat16
	faces [][4]float64
}

// HeadConfig sets the head's training.
type HeadConfig struct {
	Scenes   int   // composed scenes to train on
	Sizes    []int // input sizes the scenes are seen at (one drawn per scene)
	Epochs   int
	LR       float64
	NoObj    float64 // weight of the score loss away from faces
	Seed     uint64
	MinFace  int // face sizes in the 640×480 scenes
	MaxFace  int
	Decoys   bool // paste non-faces (upside-down, tile-shuffled faces, noise) too
	Hidden   int  // units of the non-linear correction (0: a linear head)
	Progress func(stage string, done, total int)
	// Epoch, if set, hears each epoch's mean loss a scene.
	Epoch func(ep int, loss float64)
}

// DefaultHeadConfig is what the built-in head was trained with.
var DefaultHeadConfig = HeadConfig{Scenes: 3000, Sizes: []int{224, 320, 416, 608}, Epochs: 24, LR: 1e-3, NoObj: 1, Seed: 11, MinFace: 40, MaxFace: 260, Decoys: true, Hidden: 64}

// decoys makes non-face patches with the hard edges of a pasted crop: a
// face upside down, a face cut in 4×4 tiles shuffled, and smooth noise. A
// head that fired on the rectangle instead of the face would fire on these.
func decoy(rng *rand.Rand, crops []*Image) *Image {
	src := crops[rng.IntN(len(crops))]
	switch rng.IntN(3) {
	case 0:
		out := &Image{W: src.W, H: src.H, C: src.C, Pix: make([]uint8, len(src.Pix))}
		row := src.W * src.C
		for y := 0; y < src.H; y++ {
			copy(out.Pix[y*row:(y+1)*row], src.Pix[(src.H-1-y)*row:(src.H-y)*row])
		}
		return out
	case 1:
		out := &Image{W: src.W, H: src.H, C: src.C, Pix: make([]uint8, len(src.Pix))}
		tw, th := src.W/4, src.H/4
		perm := rng.Perm(16)
		for t, s := range perm {
			ty, tx, sy, sx := t/4*th, t%4*tw, s/4*th, s%4*tw
			for y := 0; y < th; y++ {
				copy(out.Pix[((ty+y)*src.W+tx)*src.C:((ty+y)*src.W+tx+tw)*src.C], src.Pix[((sy+y)*src.W+sx)*src.C:((sy+y)*src.W+sx+tw)*src.C])
			}
		}
		return out
	default:
		const s = 48
		out := &Image{W: s, H: s, C: 1, Pix: make([]uint8, s*s)}
		base, amp := 40+rng.Float64()*160, 10+rng.Float64()*60
		fx, fy := rng.Float64()*0.4, rng.Float64()*0.4
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				v := base + amp*math.Sin(fx*float64(x)+fy*float64(y)) + rng.NormFloat64()*12
				out.Pix[y*s+x] = uint8(max(0, min(255, v)))
			}
		}
		return out
	}
}

// composeForHead is Compose with decoys pasted beside the faces.
func composeForHead(rng *rand.Rand, crops []*Image, cfg HeadConfig) Scene {
	n := 1 + rng.IntN(3)
	var faces []*Image
	for i := 0; i < n; i++ {
		faces = append(faces, crops[rng.IntN(len(crops))])
	}
	sc := Compose(rng, 640, 480, faces, cfg.MinFace, cfg.MaxFace)
	if !cfg.Decoys {
		return sc
	}
	taken := slices.Clone(sc.Faces)
	for k := rng.IntN(3); k > 0; k-- {
		dec := decoy(rng, crops)
		for try := 0; try < 30; try++ {
			s := cfg.MinFace + rng.IntN(cfg.MaxFace-cfg.MinFace+1)
			b := Box{X: float64(rng.IntN(640 - s)), Y: float64(rng.IntN(480 - s)), W: float64(s), H: float64(s)}
			free := true
			for _, o := range taken {
				if overlaps(b, o) {
					free = false
				}
			}
			if free {
				paste(sc.Image, dec, b)
				taken = append(taken, b)
				break
			}
		}
	}
	return sc
}

// features runs the backbone (everything but the head) on an image scaled
// into a square of side size; it returns the grid and the image's scale.
func (d *Detector) features(img *Image, size int) (*tensor, float64) {
	x := img.tensor()
	scale := float64(size) / float64(max(x.h, x.w))
	sq, _, _ := padToSquare(x, false)
	rs := resizeBilinear(sq, size, size)
	f := d.backbone(rs)
	if rs != sq {
		release(rs)
	}
	if sq != x {
		release(sq)
	}
	release(x)
	return f, scale
}

// TrainHead retrains the detector's head on scenes composed from crops
// (training faces), starting from the shipped head, with minibatch Adam on
// every core. The loss is Tiny-YOLOv2's (Redmon and Farhadi 2017): each
// face belongs to the anchor of its cell whose shape fits it best, whose
// offsets, log sizes and score (towards 1) are fitted; every other anchor's
// score goes towards 0 unless its box already overlaps a face by more than
// 0.6. The returned head has no threshold yet (see ChooseHeadThreshold).
func (d *Detector) TrainHead(ctx context.Context, crops []*Image, cfg HeadConfig) (*DetectorHead, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 17))
	scenes := make([]Scene, cfg.Scenes)
	sizes := make([]int, cfg.Scenes)
	for i := range scenes {
		scenes[i] = composeForHead(rng, crops, cfg)
		sizes[i] = cfg.Sizes[rng.IntN(len(cfg.Sizes))]
	}
	samples := make([]headSample, len(scenes))
	var done sync.WaitGroup
	next := make(chan int)
	var mu sync.Mutex
	count := 0
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		done.Add(1)
		go func() {
			defer done.Done()
			for i := range next {
				f, scale := d.features(scenes[i].Image, sizes[i])
				s := headSample{n: f.h, feat: pack(f).d}
				release(f)
				for _, b := range scenes[i].Faces {
					s.faces = append(s.faces, [4]float64{(b.X + b.W/2) * scale / 32, (b.Y + b.H/2) * scale / 32, b.W * scale / 32, b.H * scale / 32})
				}
				samples[i] = s
				mu.Lock()
				count++
				if cfg.Progress != nil {
					cfg.Progress("backbone", count, len(scenes))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range scenes {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	done.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	scenes = nil

	// Start from the shipped head: its filters, unpadded; the correction
	// starts at zero (V = 0) from random U.
	own := d.shippedHead()
	h := &DetectorHead{W: make([]float32, headIn*headOut), B: make([]float32, headOut), Hidden: cfg.Hidden}
	for i := 0; i < headIn; i++ {
		copy(h.W[i*headOut:(i+1)*headOut], own.w[i*own.outP:i*own.outP+headOut])
	}
	copy(h.B, own.bias[:headOut])
	if h.Hidden > 0 {
		h.U, h.C, h.V = make([]float32, h.Hidden*headIn), make([]float32, h.Hidden), make([]float32, headOut*h.Hidden)
		for i := range h.U {
			h.U[i] = float32(rng.NormFloat64() * math.Sqrt(2.0/headIn))
		}
	}
	ps := h.params()
	workers := runtime.GOMAXPROCS(0)
	grads := make([]headGrads, workers)
	for w := range grads {
		grads[w] = h.zeroGrads()
	}
	m1, m2 := h.zeroGrads(), h.zeroGrads()
	order := rng.Perm(len(samples))
	const batch = 16
	step := 0
	totalSteps := cfg.Epochs * ((len(order) + batch - 1) / batch)
	for ep := 1; ep <= cfg.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		epLoss := 0.0
		for b0 := 0; b0 < len(order); b0 += batch {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			bs := order[b0:min(b0+batch, len(order))]
			losses := make([]float64, workers)
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, g := range grads[w] {
						clear(g)
					}
					for k := w; k < len(bs); k += workers {
						losses[w] += headGrad(h, &samples[bs[k]], cfg.NoObj, grads[w])
					}
				}()
			}
			wg.Wait()
			for _, l := range losses {
				epLoss += l
			}
			for w := 1; w < workers; w++ {
				for i := range grads[0] {
					addTo(grads[0][i], grads[w][i])
				}
			}
			lr := cfg.LR * 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(totalSteps)))
			step++
			for i, p := range ps {
				adam(p, grads[0][i], m1[i], m2[i], lr, step, float32(len(bs)))
			}
		}
		if cfg.Epoch != nil {
			cfg.Epoch(ep, epLoss/float64(len(order)))
		}
	}
	h.Scales = slices.Clone(cfg.Sizes)
	h.Trained = fmt.Sprintf("%d scenes of %d faces (%d–%d px in 640×480, decoys %v) seen at %v, hidden %d, %d epochs, lr %g, no-object weight %g, seed %d",
		cfg.Scenes, len(crops), cfg.MinFace, cfg.MaxFace, cfg.Decoys, cfg.Sizes, cfg.Hidden, cfg.Epochs, cfg.LR, cfg.NoObj, cfg.Seed)
	return h, nil
}

// headGrads holds one gradient (or Adam moment) per parameter, in params order.
type headGrads [][]float32

func (h *DetectorHead) params() [][]float32 {
	ps := [][]float32{h.W, h.B}
	if h.Hidden > 0 {
		ps = append(ps, h.U, h.C, h.V)
	}
	return ps
}

func (h *DetectorHead) zeroGrads() headGrads {
	var g headGrads
	for _, p := range h.params() {
		g = append(g, make([]float32, len(p)))
	}
	return g
}

func adam(p, g, m1, m2 []float32, lr float64, step int, n float32) {
	const b1, b2 = 0.9, 0.999
	c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
	for i := range p {
		gr := float64(g[i] / n)
		m1[i] = float32(b1*float64(m1[i]) + (1-b1)*gr)
		m2[i] = float32(b2*float64(m2[i]) + (1-b2)*gr*gr)
		p[i] -= float32(lr * (float64(m1[i]) / c1) / (math.Sqrt(float64(m2[i])/c2) + 1e-8))
	}
}

// headGrad adds one scene's gradient of the head's loss to g (params
// order) and returns the loss.
func headGrad(h *DetectorHead, s *headSample, noObj float64, g headGrads) float64 {
	n := s.n
	// The anchor each face belongs to, by shape.
	type slot struct{ cell, anchor int }
	owner := map[slot][4]float64{}
	for _, f := range s.faces {
		col, row := int(f[0]), int(f[1])
		if col < 0 || row < 0 || col >= n || row >= n {
			continue
		}
		best, ba := -1.0, 0
		for a, anc := range detectorAnchors {
			inter := min(anc[0], f[2]) * min(anc[1], f[3])
			iou := inter / (anc[0]*anc[1] + f[2]*f[3] - inter)
			if iou > best {
				best, ba = iou, a
			}
		}
		owner[slot{row*n + col, ba}] = f
	}
	feat := make([]float32, headIn)
	e32 := make([]float32, headOut)
	e := make([]float64, headOut)
	de := make([]float64, headOut)
	de32 := make([]float32, headOut)
	z := make([]float32, h.Hidden)
	act := make([]float32, h.Hidden)
	dh := make([]float32, h.Hidden)
	loss := 0.0
	for cell := 0; cell < n*n; cell++ {
		row, col := cell/n, cell%n
		for i := range feat {
			feat[i] = math.Float32frombits(uint32(s.feat[cell*headIn+i]) << 16)
		}
		copy(e32, h.B)
		for i, v := range feat {
			if v != 0 {
				f32.Axpy(e32, v, h.W[i*headOut:(i+1)*headOut])
			}
		}
		for j := range z {
			z[j] = f32.Dot(h.U[j*headIn:(j+1)*headIn], feat) + h.C[j]
			act[j] = z[j]
			if z[j] < 0 {
				act[j] *= 0.1
			}
		}
		for o := range e {
			e[o] = float64(e32[o])
			if h.Hidden > 0 {
				e[o] += float64(f32.Dot(h.V[o*h.Hidden:(o+1)*h.Hidden], act))
			}
		}
		clear(de)
		for a, anc := range detectorAnchors {
			v := e[a*5 : a*5+5]
			d := de[a*5 : a*5+5]
			p := sigmoid(v[4])
			if f, ok := owner[slot{cell, a}]; ok {
				tx, ty := f[0]-float64(col), f[1]-float64(row)
				tw, th := math.Log(f[2]/anc[0]), math.Log(f[3]/anc[1])
				sx, sy := sigmoid(v[0]), sigmoid(v[1])
				// Small faces weigh more (their boxes are less forgiving).
				k := 2 - f[2]*f[3]/float64(n*n)
				loss += k * ((sx-tx)*(sx-tx) + (sy-ty)*(sy-ty) + (v[2]-tw)*(v[2]-tw) + (v[3]-th)*(v[3]-th))
				d[0] = 2 * k * (sx - tx) * sx * (1 - sx)
				d[1] = 2 * k * (sy - ty) * sy * (1 - sy)
				d[2] = 2 * k * (v[2] - tw)
				d[3] = 2 * k * (v[3] - th)
				loss -= math.Log(max(p, 1e-12))
				d[4] = p - 1
				continue
			}
			// Away from faces: towards 0, unless the box already fits a face.
			bx := Box{X: float64(col) + sigmoid(v[0]), Y: float64(row) + sigmoid(v[1]), W: math.Exp(min(v[2], 5)) * anc[0], H: math.Exp(min(v[3], 5)) * anc[1]}
			bx.X -= bx.W / 2
			bx.Y -= bx.H / 2
			fits := false
			for _, f := range s.faces {
				if bx.IoU(Box{X: f[0] - f[2]/2, Y: f[1] - f[3]/2, W: f[2], H: f[3]}) > 0.6 {
					fits = true
					break
				}
			}
			if !fits {
				loss -= noObj * math.Log(max(1-p, 1e-12))
				d[4] = noObj * p
			}
		}
		for o, v := range de {
			de32[o] = float32(v)
		}
		addTo(g[1], de32)
		for i, v := range feat {
			if v != 0 {
				f32.Axpy(g[0][i*headOut:(i+1)*headOut], v, de32)
			}
		}
		if h.Hidden == 0 {
			continue
		}
		clear(dh)
		for o, dv := range de32 {
			if dv != 0 {
				f32.Axpy(g[4][o*h.Hidden:(o+1)*h.Hidden], dv, act)
				f32.Axpy(dh, dv, h.V[o*h.Hidden:(o+1)*h.Hidden])
			}
		}
		for j, dj := range dh {
			if z[j] < 0 {
				dj *= 0.1
			}
			if dj != 0 {
				g[3][j] += dj
				f32.Axpy(g[2][j*headIn:(j+1)*headIn], dj, feat)
			}
		}
	}
	return loss
}

// ChooseHeadThreshold sets h's threshold to the lowest (most faces found)
// at which the detector, with h, makes at most maxFP false positives a
// frame on scenes composed from crops; it returns the report there.
func (d *Detector) ChooseHeadThreshold(h *DetectorHead, crops []*Image, frames int, maxFP float64, seed uint64) DetectorReport {
	ths := []float64{0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1}
	h.Threshold = 0.5
	d.setHead(h)
	reps := SweepDetector(d, crops, frames, 640, 480, 60, 220, seed, ths)
	best := reps[0]
	h.Threshold = ths[0]
	for i, r := range reps {
		if r.FPPerFrame > maxFP {
			break
		}
		best, h.Threshold = r, ths[i]
	}
	d.setHead(h)
	return best
}
