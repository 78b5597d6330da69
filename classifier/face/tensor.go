package face

import (
	"math"

	"contactd/classifier/internal/f32"
)

// tensor is an image-shaped activation, height × width × channels, channels
// innermost (as tfjs keeps them).
type tensor struct {
	h, w, c int
	d       []float32
}

func newTensor(h, w, c int) *tensor { return &tensor{h, w, c, make([]float32, h*w*c)} }

// scratchTensor is a zeroed tensor from the scratch pools (release it).
func scratchTensor(h, w, c int) *tensor { return &tensor{h, w, c, getBuf(h * w * c)} }

func (t *tensor) at(y, x int) []float32 { i := (y*t.w + x) * t.c; return t.d[i : i+t.c] }

// samePad is TensorFlow's "same" padding: the output is ceil(in/stride) and
// the padding before is half the total, rounded down.
func samePad(in, k, stride int) (out, before int) {
	out = (in + stride - 1) / stride
	total := max((out-1)*stride+k-in, 0)
	return out, total / 2
}

// conv is a full convolution, computed as a pointwise product of each
// output pixel's input patch (im2col) with the filters.
type conv struct {
	k, in, out int
	outP       int       // out rounded up to 32, the kernel's width
	w          []float32 // [k*k*in][outP]: HWIO with zero columns added
	bias       []float32 // [outP]
}

func roundUp32(n int) int { return (n + 31) / 32 * 32 }

func newConv(filters []float32, k, in, out int, bias []float32) *conv {
	c := &conv{k: k, in: in, out: out, outP: roundUp32(out)}
	c.w = make([]float32, k*k*in*c.outP)
	for i := 0; i < k*k*in; i++ {
		copy(c.w[i*c.outP:], filters[i*out:(i+1)*out])
	}
	c.bias = make([]float32, c.outP)
	copy(c.bias, bias)
	return c
}

// apply runs the convolution with "same" or "valid" padding.
func (c *conv) apply(x *tensor, stride int, same bool) *tensor {
	patches, oh, ow := c.im2col(x, stride, same)
	y := c.fromPatches(patches, oh, ow)
	putBuf(patches)
	return y
}

// im2col lays out each output pixel's input patch as a row (from the
// scratch pools: put it back when done).
func (c *conv) im2col(x *tensor, stride int, same bool) (patches []float32, oh, ow int) {
	var pt, pl int
	if same {
		oh, pt = samePad(x.h, c.k, stride)
		ow, pl = samePad(x.w, c.k, stride)
	} else {
		oh, ow = (x.h-c.k)/stride+1, (x.w-c.k)/stride+1
	}
	n := c.k * c.k * c.in
	patches = getBuf(oh * ow * n) // zeros outside the image
	row := c.k * c.in
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			p := (oy*ow + ox) * n
			ix0 := ox*stride - pl
			for ky := 0; ky < c.k; ky++ {
				iy := oy*stride + ky - pt
				if iy < 0 || iy >= x.h {
					p += row
					continue
				}
				if ix0 >= 0 && ix0+c.k <= x.w { // the patch's row is inside: one copy
					copy(patches[p:p+row], x.d[(iy*x.w+ix0)*c.in:])
					p += row
					continue
				}
				for kx := 0; kx < c.k; kx++ {
					if ix := ix0 + kx; ix >= 0 && ix < x.w {
						copy(patches[p:p+c.in], x.at(iy, ix))
					}
					p += c.in
				}
			}
		}
	}
	return patches, oh, ow
}

// fromPatches is the convolution's output for patches from im2col.
func (c *conv) fromPatches(patches []float32, oh, ow int) *tensor {
	y := pointwise(patches, oh*ow, c.k*c.k*c.in, c.w, c.bias, c.outP)
	if c.outP != c.out {
		for i := 0; i < oh*ow; i++ {
			copy(y[i*c.out:(i+1)*c.out], y[i*c.outP:i*c.outP+c.out])
		}
		y = y[:oh*ow*c.out]
	}
	return &tensor{oh, ow, c.out, y}
}

// pointwise returns bias + x·w for n rows of x (each in long), w in × out.
func pointwise(x []float32, n, in int, w, bias []float32, out int) []float32 {
	y := getBuf(n * out)
	for i := 0; i < n; i++ {
		copy(y[i*out:(i+1)*out], bias)
	}
	p := 0
	for ; p+1 < n; p += 2 {
		f32.PointwisePair(y[p*out:(p+1)*out], y[(p+1)*out:(p+2)*out], x[p*in:(p+1)*in], x[(p+1)*in:(p+2)*in], w, in, out)
	}
	if p < n { // an odd last row: pair it with a scratch copy
		spare := make([]float32, out)
		f32.PointwisePair(y[p*out:(p+1)*out], spare, x[p*in:(p+1)*in], x[p*in:(p+1)*in], w, in, out)
	}
	return y
}

// sepConv is a depthwise 3×3 convolution followed by a pointwise one and a bias.
type sepConv struct {
	in, out int
	dw      []float32 // [9][in]
	pw      []float32 // [in][out]
	bias    []float32
}

// apply runs it with "same" padding.
func (s *sepConv) apply(x *tensor, stride int) *tensor {
	dw, oh, ow := s.depthwise(x, stride)
	y := pointwise(dw, oh*ow, s.in, s.pw, s.bias, s.out)
	putBuf(dw)
	return &tensor{oh, ow, s.out, y}
}

// depthwise runs the 3×3 depthwise part ("same" padding), one tap along
// a whole output row at a time.
func (s *sepConv) depthwise(x *tensor, stride int) ([]float32, int, int) {
	oh, pt := samePad(x.h, 3, stride)
	ow, pl := samePad(x.w, 3, stride)
	c := s.in
	dw := getBuf(oh * ow * c)
	for oy := 0; oy < oh; oy++ {
		for ky := 0; ky < 3; ky++ {
			iy := oy*stride + ky - pt
			if iy < 0 || iy >= x.h {
				continue
			}
			for kx := 0; kx < 3; kx++ {
				// Output columns whose input column ox*stride+kx-pl is inside the image.
				lo := 0
				for lo < ow && lo*stride+kx-pl < 0 {
					lo++
				}
				hi := ow
				for hi > lo && (hi-1)*stride+kx-pl >= x.w {
					hi--
				}
				if hi <= lo {
					continue
				}
				ix := lo*stride + kx - pl
				k := (ky*3 + kx) * c
				f32.DepthwiseRow(dw[(oy*ow+lo)*c:], x.d[(iy*x.w+ix)*c:], s.dw[k:k+c], hi-lo, c, stride*c)
			}
		}
	}
	return dw, oh, ow
}

func newSepConv(ws map[string]weight, prefix string, in, out int) (*sepConv, error) {
	dw, err := take(ws, prefix+"/depthwise_filter", 3, 3, in, 1)
	if err != nil {
		return nil, err
	}
	pw, err := take(ws, prefix+"/pointwise_filter", 1, 1, in, out)
	if err != nil {
		return nil, err
	}
	b, err := take(ws, prefix+"/bias", out)
	if err != nil {
		return nil, err
	}
	return &sepConv{in: in, out: out, dw: dw, pw: pw, bias: b}, nil
}

// maxPool2 is a 2×2 max pool with "same" padding.
func maxPool2(x *tensor, stride int) *tensor {
	oh, pt := samePad(x.h, 2, stride)
	ow, pl := samePad(x.w, 2, stride)
	y := scratchTensor(oh, ow, x.c)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			out := y.at(oy, ox)
			for i := range out {
				out[i] = float32(math.Inf(-1))
			}
			for ky := 0; ky < 2; ky++ {
				iy := oy*stride + ky - pt
				if iy < 0 || iy >= x.h {
					continue
				}
				for kx := 0; kx < 2; kx++ {
					ix := ox*stride + kx - pl
					if ix < 0 || ix >= x.w {
						continue
					}
					for i, v := range x.at(iy, ix) {
						out[i] = max(out[i], v)
					}
				}
			}
		}
	}
	return y
}

// leaky is a leaky ReLU with slope 0.1 below zero.
func leaky(x *tensor) *tensor {
	for i, v := range x.d {
		if v < 0 {
			x.d[i] = 0.1 * v
		}
	}
	return x
}

func relu(x *tensor) *tensor {
	for i, v := range x.d {
		x.d[i] = max(v, 0)
	}
	return x
}

// resizeBilinear scales to h × w as tf.image.resizeBilinear does without
// aligned corners or half-pixel centres: source = destination × in/out.
func resizeBilinear(x *tensor, h, w int) *tensor {
	if x.h == h && x.w == w {
		return x
	}
	y := scratchTensor(h, w, x.c)
	sy, sx := float64(x.h)/float64(h), float64(x.w)/float64(w)
	for oy := 0; oy < h; oy++ {
		fy := float64(oy) * sy
		y0 := int(fy)
		y1 := min(y0+1, x.h-1)
		dy := float32(fy - float64(y0))
		for ox := 0; ox < w; ox++ {
			fx := float64(ox) * sx
			x0 := int(fx)
			x1 := min(x0+1, x.w-1)
			dx := float32(fx - float64(x0))
			a, b, c, d := x.at(y0, x0), x.at(y0, x1), x.at(y1, x0), x.at(y1, x1)
			out := y.at(oy, ox)
			for i := range out {
				top := a[i] + (b[i]-a[i])*dx
				bot := c[i] + (d[i]-c[i])*dx
				out[i] = top + (bot-top)*dy
			}
		}
	}
	return y
}

// padToSquare pads with zeros to a square: at the end (bottom or right), or
// centred with the odd pixel before, as face-api's padToSquare does.
func padToSquare(x *tensor, centre bool) (*tensor, int, int) {
	if x.h == x.w {
		return x, 0, 0
	}
	diff := x.h - x.w
	if diff < 0 {
		diff = -diff
	}
	after := diff
	if centre {
		after = int(math.Round(float64(diff) * 0.5))
	}
	before := diff - after
	n := max(x.h, x.w)
	y := scratchTensor(n, n, x.c)
	offY, offX := 0, 0
	if x.h < x.w {
		offY = before
	} else {
		offX = before
	}
	for r := 0; r < x.h; r++ {
		copy(y.d[((r+offY)*n+offX)*x.c:], x.d[r*x.w*x.c:(r+1)*x.w*x.c])
	}
	return y, offY, offX
}
