// Package face reads faces from the desk camera in pure Go: the tiny face
// detector and the expression network of @vladmandic/face-api (weights from
// its npm package, installed by scripts/setup.sh), reimplemented layer by
// layer from their published architecture.
package face

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // FER-style corpora ship JPEG and PNG crops
	_ "image/png"
	"io"
)

// Image is 8-bit pixels, grey (C=1) or RGB (C=3), row by row.
type Image struct {
	W, H, C int
	Pix     []uint8
}

// tensor is the image as RGB floats 0–255; grey repeats in each channel.
func (m *Image) tensor() *tensor {
	t := scratchTensor(m.H, m.W, 3)
	for i := 0; i < m.W*m.H; i++ {
		for c := 0; c < 3; c++ {
			if m.C == 1 {
				t.d[i*3+c] = float32(m.Pix[i])
			} else {
				t.d[i*3+c] = float32(m.Pix[i*3+c])
			}
		}
	}
	return t
}

// MaxPixels bounds an image Decode accepts (a 4K frame has 8.3 million).
const MaxPixels = 16 << 20

// Decode reads a JPEG or PNG; grey images stay grey.
func Decode(r io.Reader) (*Image, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxPixels {
		return nil, fmt.Errorf("image of %d×%d pixels: at most %d", cfg.Width, cfg.Height, MaxPixels)
	}
	src, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return FromImage(src), nil
}

// FromImage converts a decoded image.
func FromImage(src image.Image) *Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if g, ok := src.(*image.Gray); ok {
		m := &Image{W: w, H: h, C: 1, Pix: make([]uint8, w*h)}
		for y := 0; y < h; y++ {
			copy(m.Pix[y*w:(y+1)*w], g.Pix[y*g.Stride:y*g.Stride+w])
		}
		return m
	}
	m := &Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA)
			i := (y*w + x) * 3
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = c.R, c.G, c.B
		}
	}
	return m
}

// Crop returns the part of an image inside a box (clamped to the image).
func (m *Image) Crop(b Box) (*Image, error) {
	x0, y0 := max(0, int(b.X)), max(0, int(b.Y))
	x1, y1 := min(m.W, int(b.X+b.W+0.5)), min(m.H, int(b.Y+b.H+0.5))
	if x1-x0 < 4 || y1-y0 < 4 {
		return nil, fmt.Errorf("box %+v is outside the %d×%d image or too small", b, m.W, m.H)
	}
	out := &Image{W: x1 - x0, H: y1 - y0, C: m.C, Pix: make([]uint8, (x1-x0)*(y1-y0)*m.C)}
	for y := y0; y < y1; y++ {
		copy(out.Pix[(y-y0)*out.W*m.C:], m.Pix[(y*m.W+x0)*m.C:(y*m.W+x1)*m.C])
	}
	return out, nil
}

// Resize scales an image bilinearly (as the networks' own resizing does).
func (m *Image) Resize(w, h int) *Image {
	t := resizeBilinear(m.tensor(), h, w)
	out := &Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	for i, v := range t.d {
		out.Pix[i] = uint8(max(0, min(255, v+0.5)))
	}
	return out
}
