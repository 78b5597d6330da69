package face

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
)

// Detector is the tiny face detector: a Tiny-YOLOv2-style network of
// depthwise-separable convolutions over a square input (a multiple of 32),
// predicting on a grid of input/32 cells five anchor boxes each with an
// offset, a size and a face score.
type Detector struct {
	conv0 *conv
	sep   [5]*sepConv
	head  *conv
	// InputSize is the square the image is scaled into (default 416;
	// 320 or 224 are faster for a desk camera where the face is large).
	InputSize int
	// ScoreThreshold keeps boxes scoring above it (default 0.5).
	ScoreThreshold float64
	// IoUThreshold merges overlapping boxes (non-maximum suppression, 0.4).
	IoUThreshold float64
	// Scales, when set, runs the network at each of these input sizes and
	// merges the boxes: faces far from the camera are found at the large
	// sizes, close ones at the small (the network sees faces best when
	// they are about 60–120 px at its input).
	Scales []int
	// BoxScale and BoxShift map the network's box (the inner face, brow to
	// chin) to a face crop as expression corpora cut them (FER2013: the
	// whole head, tight): the box grows by BoxScale around its centre,
	// moved down by BoxShift of its height. 1 and 0 leave it as it is.
	BoxScale, BoxShift float64
	// Head is the retrained last layer in use (nil: the network's own).
	Head    *DetectorHead
	ownHead *conv
}

// SceneScales are the input sizes for frames whose faces may be small or
// large (a room camera); a desk camera, with the face filling much of the
// frame, needs only one small size.
var SceneScales = []int{224, 416, 608}

// Crop conventions measured by `contactd face calibrate` on scenes
// composed from FER2013's training faces (never its validation faces):
// the network's boxes are the size of FER2013's crops (median ratio 0.993)
// but sit 0.10 of their height lower (on the chin rather than the brow).
// SceneThreshold is the score threshold chosen there for SceneScales:
// recall 0.88 at 0.11 false positives a frame (lower thresholds find more
// faces but add more false ones than they find).
const (
	CropScale      = 1.0
	CropShift      = -0.10
	SceneThreshold = 0.3
)

// The detector's anchors (in grid cells) and the mean it subtracts, from the
// network's published configuration.
var (
	detectorAnchors = [5][2]float64{{1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061}, {4.266906, 5.178857}, {9.041765, 10.66308}}
	detectorMean    = [3]float32{117.001, 114.697, 97.404}
)

// Box is a detected face in image pixels.
type Box struct {
	X, Y, W, H float64
	Score      float64
}

// IoU is the intersection over union of two boxes.
func (b Box) IoU(o Box) float64 {
	ix := max(0, min(b.X+b.W, o.X+o.W)-max(b.X, o.X))
	iy := max(0, min(b.Y+b.H, o.Y+o.H)-max(b.Y, o.Y))
	inter := ix * iy
	u := b.W*b.H + o.W*o.H - inter
	if u <= 0 {
		return 0
	}
	return inter / u
}

// LoadDetector reads tiny_face_detector_model-weights_manifest.json from dir.
func LoadDetector(dir string) (*Detector, error) {
	path := filepath.Join(dir, "tiny_face_detector_model-weights_manifest.json")
	ws, err := loadManifest(path)
	if err != nil {
		return nil, err
	}
	d := &Detector{InputSize: 416, ScoreThreshold: 0.5, IoUThreshold: 0.4, BoxScale: 1}
	f, err := take(ws, "conv0/filters", 3, 3, 3, 16)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := take(ws, "conv0/bias", 16)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.conv0 = newConv(f, 3, 3, 16, b)
	chans := []int{16, 32, 64, 128, 256, 512}
	for i := range d.sep {
		if d.sep[i], err = newSepConv(ws, fmt.Sprintf("conv%d", i+1), chans[i], chans[i+1]); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if f, err = take(ws, "conv8/filters", 1, 1, 512, 25); err == nil {
		b, err = take(ws, "conv8/bias", 25)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.head = newConv(f, 1, 512, 25, b)
	return d, nil
}

// raw runs the network on an image already padded and scaled to a square
// of side size, and returns its grid output (size/32 × size/32 × 25).
func (d *Detector) raw(x *tensor) *tensor {
	p := d.backbone(x)
	y := d.head.apply(p, 1, true)
	if d.Head != nil {
		d.Head.correct(p, y, y.c)
	}
	release(p)
	return y
}

// backbone runs every layer but the head: the size/32 grid of 512 features.
func (d *Detector) backbone(x *tensor) *tensor {
	in := scratchTensor(x.h, x.w, 3)
	for i := 0; i < x.h*x.w; i++ {
		for c := 0; c < 3; c++ {
			in.d[i*3+c] = (x.d[i*3+c] - detectorMean[c]) / 255
		}
	}
	out := leaky(d.conv0.apply(in, 1, false))
	release(in)
	for _, s := range d.sep {
		p := maxPool2(out, 2)
		release(out)
		out = leaky(s.apply(p, 1))
		release(p)
	}
	p := maxPool2(out, 1)
	release(out)
	return p
}

// Detect finds faces in an image, best first, in its pixels.
func (d *Detector) Detect(img *Image) []Box {
	x := img.tensor()
	sizes := d.Scales
	if len(sizes) == 0 {
		sizes = []int{d.InputSize}
	}
	var all []Box
	for _, size := range sizes {
		all = append(all, d.detectAt(x, img, size)...)
	}
	release(x)
	if len(sizes) > 1 {
		all = mergeScales(all)
	}
	// A box mostly outside the picture is the network guessing at an edge.
	all = slices.DeleteFunc(all, func(b Box) bool {
		ix := max(0, min(b.X+b.W, float64(img.W))-max(b.X, 0))
		iy := max(0, min(b.Y+b.H, float64(img.H))-max(b.Y, 0))
		return ix*iy < 0.7*b.W*b.H
	})
	if d.BoxScale > 0 && (d.BoxScale != 1 || d.BoxShift != 0) {
		for i, b := range all {
			cx, cy := b.X+b.W/2, b.Y+b.H/2+d.BoxShift*b.H
			w, h := b.W*d.BoxScale, b.H*d.BoxScale
			all[i] = Box{X: cx - w/2, Y: cy - h/2, W: w, H: h, Score: b.Score}
		}
	}
	return all
}

// detectAt runs the network at one input size.
func (d *Detector) detectAt(x *tensor, img *Image, size int) []Box {
	if size <= 0 {
		size = 416
	}
	// Scale so the longer side is size, then pad at the bottom or right.
	scale := float64(size) / float64(max(x.h, x.w))
	sh, sw := int(math.Round(float64(x.h)*scale)), int(math.Round(float64(x.w)*scale))
	sq, _, _ := padToSquare(x, false)
	rs := resizeBilinear(sq, size, size)
	out := d.raw(rs)
	if rs != sq {
		release(rs)
	}
	if sq != x {
		release(sq)
	}
	boxes := d.decode(out, sh, sw)
	release(out)
	// Relative to the scaled image: back to the image's pixels.
	for i := range boxes {
		boxes[i].X *= float64(img.W)
		boxes[i].W *= float64(img.W)
		boxes[i].Y *= float64(img.H)
		boxes[i].H *= float64(img.H)
	}
	return boxes
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// decode turns the grid output into boxes relative to the scaled image
// (sh × sw inside the square), keeps those above the score threshold and
// suppresses overlaps.
func (d *Detector) decode(out *tensor, sh, sw int) []Box {
	n := out.h
	size := float64(max(sh, sw))
	cx, cy := size/float64(sw), size/float64(sh)
	var boxes []Box
	for row := 0; row < n; row++ {
		for col := 0; col < n; col++ {
			v := out.at(row, col)
			for a, anc := range detectorAnchors {
				e := v[a*5 : a*5+5]
				score := sigmoid(float64(e[4]))
				if score <= d.ScoreThreshold {
					continue
				}
				x := (float64(col) + sigmoid(float64(e[0]))) / float64(n) * cx
				y := (float64(row) + sigmoid(float64(e[1]))) / float64(n) * cy
				w := math.Exp(float64(e[2])) * anc[0] / float64(n) * cx
				h := math.Exp(float64(e[3])) * anc[1] / float64(n) * cy
				boxes = append(boxes, Box{X: x - w/2, Y: y - h/2, W: w, H: h, Score: score})
			}
		}
	}
	return nms(boxes, d.IoUThreshold)
}

// nms keeps the best-scoring boxes, dropping any that overlap a kept one by
// more than iou.
func nms(boxes []Box, iou float64) []Box {
	slices.SortStableFunc(boxes, func(a, b Box) int { return -cmpFloat(a.Score, b.Score) })
	var keep []Box
	for _, b := range boxes {
		ok := true
		for _, k := range keep {
			if b.IoU(k) > iou {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, b)
		}
	}
	return keep
}

// mergeScales keeps, of boxes found at several input sizes, the best of
// each face: one scale's box of a face is often smaller or larger than
// another's (their IoU low), but mostly inside it.
func mergeScales(boxes []Box) []Box {
	slices.SortStableFunc(boxes, func(a, b Box) int { return -cmpFloat(a.Score, b.Score) })
	var keep []Box
	for _, b := range boxes {
		ok := true
		for _, k := range keep {
			ix := max(0, min(b.X+b.W, k.X+k.W)-max(b.X, k.X))
			iy := max(0, min(b.Y+b.H, k.Y+k.H)-max(b.Y, k.Y))
			if ix*iy > 0.5*min(b.W*b.H, k.W*k.H) {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, b)
		}
	}
	return keep
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
