package face

import (
	"math"
	"math/rand/v2"
)

// Scene is a composed camera frame with the faces placed in it.
type Scene struct {
	Image *Image
	Faces []Box
}

// Compose places faces (grey or colour crops) at random positions and
// scales into a w × h frame over a smooth, textured background, without
// overlaps: frames with known faces for measuring a detector.
func Compose(rng *rand.Rand, w, h int, faces []*Image, minSize, maxSize int) Scene {
	img := &Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	// Background: a colour gradient, a few soft blobs (furniture, a wall), noise.
	var base [2][3]float64
	for i := range base {
		for c := range base[i] {
			base[i][c] = 40 + 180*rng.Float64()
		}
	}
	type blob struct{ x, y, r, c0, c1, c2 float64 }
	blobs := make([]blob, 3+rng.IntN(4))
	for i := range blobs {
		blobs[i] = blob{rng.Float64() * float64(w), rng.Float64() * float64(h), 40 + rng.Float64()*160, rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			f := float64(y) / float64(h)
			var px [3]float64
			for c := 0; c < 3; c++ {
				px[c] = base[0][c]*(1-f) + base[1][c]*f
			}
			for _, b := range blobs {
				d := math.Hypot(float64(x)-b.x, float64(y)-b.y)
				if a := 1 - d/b.r; a > 0 {
					a = min(1, a*2)
					px[0], px[1], px[2] = px[0]*(1-a)+b.c0*a, px[1]*(1-a)+b.c1*a, px[2]*(1-a)+b.c2*a
				}
			}
			i := (y*w + x) * 3
			for c := 0; c < 3; c++ {
				img.Pix[i+c] = uint8(max(0, min(255, px[c]+rng.NormFloat64()*4)))
			}
		}
	}
	sc := Scene{Image: img}
	for _, f := range faces {
		for try := 0; try < 50; try++ {
			s := minSize + rng.IntN(maxSize-minSize+1)
			b := Box{X: float64(rng.IntN(w - s)), Y: float64(rng.IntN(h - s)), W: float64(s), H: float64(s)}
			free := true
			for _, o := range sc.Faces {
				if b.IoU(o) > 0 || overlaps(b, o) {
					free = false
				}
			}
			if !free {
				continue
			}
			paste(img, f, b)
			sc.Faces = append(sc.Faces, b)
			break
		}
	}
	return sc
}

func overlaps(a, b Box) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// paste scales a crop bilinearly into a box of the frame.
func paste(dst *Image, src *Image, b Box) {
	t := resizeBilinear(src.tensor(), int(b.H), int(b.W))
	for y := 0; y < t.h; y++ {
		for x := 0; x < t.w; x++ {
			i := ((int(b.Y)+y)*dst.W + int(b.X) + x) * 3
			for c := 0; c < 3; c++ {
				dst.Pix[i+c] = uint8(max(0, min(255, t.d[(y*t.w+x)*3+c]+0.5)))
			}
		}
	}
}
