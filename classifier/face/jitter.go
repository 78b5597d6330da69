package face

import (
	"math"
	"math/rand/v2"
)

// Jitter is how much a training crop may change each time fine-tuning
// sees it: a random similarity transform (turn, size, move), a mirror
// image half the time, and contrast and brightness. FER2013's crops are
// tight 48-pixel faces aligned only roughly, so small moves and turns are
// what a different crop of the same face looks like.
type Jitter struct {
	Rotate   float64 // degrees, each way
	Scale    float64 // relative size, each way (0.1: 0.9–1.1)
	Move     float64 // share of the side, each way
	Contrast float64 // relative contrast, each way
	Bright   float64 // grey levels, each way
	Flip     bool    // mirror image half the time
}

// DefaultJitter is what `face tune --images` draws with.
var DefaultJitter = Jitter{Rotate: 10, Scale: 0.1, Move: 0.08, Contrast: 0.2, Bright: 16, Flip: true}

// draw picks one transform.
func (j Jitter) draw(rng *rand.Rand) jitterDraw {
	u := func(a float64) float64 { return (2*rng.Float64() - 1) * a }
	return jitterDraw{
		theta:    u(j.Rotate) * math.Pi / 180,
		scale:    1 + u(j.Scale),
		dy:       u(j.Move),
		dx:       u(j.Move),
		contrast: 1 + u(j.Contrast),
		bright:   u(j.Bright),
		flip:     j.Flip && rng.IntN(2) == 1,
	}
}

type jitterDraw struct {
	theta, scale, dy, dx, contrast, bright float64
	flip                                   bool
}

// render draws m at the network's 112×112 input through d: the crop's
// centred square (as the network pads it), turned by theta about its
// centre, scaled and moved, sampled bilinearly with the edge pixels
// repeated outside it. With the identity it samples exactly where the
// network's own resizing does, so an unjittered crop reads the same.
func (d jitterDraw) render(m *Image) *tensor { return d.renderAt(m, 112) }

// renderAt is render at size × size.
func (d jitterDraw) renderAt(m *Image, size int) *tensor {
	side := float64(max(m.W, m.H))
	// The centred square's offset in the image (padToSquare, centred).
	offY, offX := 0.0, 0.0
	if diff := m.W - m.H; diff > 0 {
		offY = float64(diff - int(math.Round(float64(diff)*0.5)))
	} else if diff < 0 {
		offX = float64(-diff - int(math.Round(float64(-diff)*0.5)))
	}
	k := side / float64(size)
	c := side / 2
	cos, sin := math.Cos(d.theta)/d.scale, math.Sin(d.theta)/d.scale
	ty, tx := d.dy*side, d.dx*side
	out := scratchTensor(size, size, 3)
	sample := func(y, x float64, ch int) float64 {
		y = min(max(y, 0), float64(m.H-1))
		x = min(max(x, 0), float64(m.W-1))
		y0, x0 := int(y), int(x)
		y1, x1 := min(y0+1, m.H-1), min(x0+1, m.W-1)
		fy, fx := y-float64(y0), x-float64(x0)
		px := func(yy, xx int) float64 {
			if m.C == 1 {
				return float64(m.Pix[yy*m.W+xx])
			}
			return float64(m.Pix[(yy*m.W+xx)*3+ch])
		}
		top := px(y0, x0)*(1-fx) + px(y0, x1)*fx
		bot := px(y1, x0)*(1-fx) + px(y1, x1)*fx
		return top*(1-fy) + bot*fy
	}
	sum := 0.0
	for oy := 0; oy < size; oy++ {
		for ox := 0; ox < size; ox++ {
			// Output position in the square's coordinates (as the resize
			// maps it), then the inverse transform about the centre.
			py, px := float64(oy)*k-c, float64(ox)*k-c
			sy := c + cos*py + sin*px - ty
			sx := c - sin*py + cos*px - tx
			sy -= offY
			sx -= offX
			if d.flip {
				sx = float64(m.W-1) - sx
			}
			o := (oy*size + ox) * 3
			if m.C == 1 {
				v := sample(sy, sx, 0)
				out.d[o], out.d[o+1], out.d[o+2] = float32(v), float32(v), float32(v)
				sum += v
				continue
			}
			for ch := 0; ch < 3; ch++ {
				v := sample(sy, sx, ch)
				out.d[o+ch] = float32(v)
				sum += v / 3
			}
		}
	}
	if d.contrast != 1 || d.bright != 0 {
		mean := sum / float64(size*size)
		for i, v := range out.d {
			out.d[i] = float32(min(255, max(0, mean+(float64(v)-mean)*d.contrast+d.bright)))
		}
	}
	return out
}
