package face

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randomImage(w, h, c int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := &Image{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)}
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	return m
}

// networkInput is what the network's own preprocessing makes of m before
// normalising: the centred square resized to 112×112.
func networkInput(m *Image) *tensor {
	sq, _, _ := padToSquare(m.tensor(), true)
	return resizeBilinear(sq, 112, 112)
}

func maxDiff(t *testing.T, a, b *tensor) float64 {
	t.Helper()
	if len(a.d) != len(b.d) {
		t.Fatalf("sizes %d and %d", len(a.d), len(b.d))
	}
	d := 0.0
	for i := range a.d {
		d = max(d, math.Abs(float64(a.d[i]-b.d[i])))
	}
	return d
}

// TestJitterIdentity: with no change drawn, a crop reads exactly as the
// network's own resizing reads it (so tuning on jittered crops trains on
// the inputs the live path gives), and a mirror draw reads as the mirror
// image does.
func TestJitterIdentity(t *testing.T) {
	for _, m := range []*Image{randomImage(48, 48, 1, 1), randomImage(150, 150, 3, 2), randomImage(30, 30, 1, 3)} {
		id := jitterDraw{scale: 1, contrast: 1}
		if d := maxDiff(t, id.render(m), networkInput(m)); d > 1e-3 {
			t.Errorf("%d×%d×%d: identity jitter differs from the network's input by %g", m.W, m.H, m.C, d)
		}
		fl := jitterDraw{scale: 1, contrast: 1, flip: true}
		if d := maxDiff(t, fl.render(m), networkInput(m.Mirror())); d > 1e-3 {
			t.Errorf("%d×%d×%d: mirror jitter differs from the mirror image's input by %g", m.W, m.H, m.C, d)
		}
	}
}

// brightest is the output pixel where a bright spot lands.
func brightest(x *tensor) (int, int) {
	by, bx, bv := 0, 0, float32(-1)
	for y := 0; y < x.h; y++ {
		for xx := 0; xx < x.w; xx++ {
			if v := x.d[(y*x.w+xx)*3]; v > bv {
				by, bx, bv = y, xx, v
			}
		}
	}
	return by, bx
}

// TestJitterGeometry follows one bright pixel through moves, a quarter
// turn and a scaling, and checks contrast keeps the mean.
func TestJitterGeometry(t *testing.T) {
	m := &Image{W: 48, H: 48, C: 1, Pix: make([]uint8, 48*48)}
	m.Pix[12*48+36] = 255 // row 12, column 36: up and to the right of the centre
	at := func(d jitterDraw) (int, int) { return brightest(d.render(m)) }
	y0, x0 := at(jitterDraw{scale: 1, contrast: 1})
	if abs(y0-28) > 1 || abs(x0-84) > 1 {
		t.Fatalf("unjittered spot at %d,%d, want about 28,84", y0, x0)
	}
	// Moving by a tenth of the side moves the spot 11.2 output pixels.
	y, x := at(jitterDraw{scale: 1, contrast: 1, dy: 0.1, dx: -0.1})
	if abs(y-(y0+11)) > 1 || abs(x-(x0-11)) > 1 {
		t.Errorf("moved spot at %d,%d, want about %d,%d", y, x, y0+11, x0-11)
	}
	// A quarter turn (counter-clockwise on screen for positive theta, whose
	// inverse is what render samples): the spot 28 up and 28 right of the
	// centre goes 28 up and 28 left.
	y, x = at(jitterDraw{theta: math.Pi / 2, scale: 1, contrast: 1})
	if !(abs(y-28) <= 1 && abs(x-28) <= 1) && !(abs(y-84) <= 1 && abs(x-84) <= 1) {
		t.Errorf("turned spot at %d,%d, want about 28,28 or 84,84", y, x)
	}
	// Scaling by 1.25 about the centre moves it out by a quarter.
	y, x = at(jitterDraw{scale: 1.25, contrast: 1})
	if abs(y-(56-35)) > 1 || abs(x-(56+35)) > 1 {
		t.Errorf("scaled spot at %d,%d, want about %d,%d", y, x, 56-35, 56+35)
	}
	// Contrast about the mean keeps the mean; brightness adds to it.
	g := randomImage(48, 48, 1, 9)
	mean := func(x *tensor) float64 {
		s := 0.0
		for _, v := range x.d {
			s += float64(v)
		}
		return s / float64(len(x.d))
	}
	base := mean(jitterDraw{scale: 1, contrast: 1}.render(g))
	soft := jitterDraw{scale: 1, contrast: 0.8}.render(g)
	if math.Abs(mean(soft)-base) > 0.5 {
		t.Errorf("contrast 0.8 moved the mean from %.2f to %.2f", base, mean(soft))
	}
	if b := mean(jitterDraw{scale: 1, contrast: 1, bright: 10}.render(g)); math.Abs(b-base-10) > 2 {
		t.Errorf("brightness +10: mean %.2f from %.2f", b, base)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
