// Package vad is a pure-Go forward pass of the Silero VAD v5 network at
// 16 kHz: a learned STFT (a strided convolution with 129 complex basis
// filters), four 1-D convolutions with ReLU, one LSTM cell and a sigmoid
// head. The weights come from the ONNX file the @ricky0123/vad-web npm
// package ships; only its tensors are read, the graph is fixed here.
//
// The network takes 512 new samples (32 ms) at a time with the 64 samples
// before them as context, and carries its LSTM state from chunk to chunk.
package vad

import (
	"fmt"
	"math"

	"contactd/classifier/internal/f32"
	"contactd/classifier/models"
	"contactd/classifier/onnx"
)

const (
	// Rate is the sample rate the network runs at.
	Rate = 16000
	// ChunkSize is the samples of new audio per step (32 ms).
	ChunkSize = 512
	// ContextSize is the samples of the previous chunk prepended to each step.
	ContextSize = 64

	nfft   = 256 // STFT filter length
	hop    = 128
	bins   = nfft/2 + 1
	padR   = 64 // reflect padding on the right of the input
	hidden = 128
	inLen  = ContextSize + ChunkSize
	frames = (inLen+padR-nfft)/hop + 1 // 4 STFT frames per step
)

// conv1d is a 1-D convolution layer, weights [out][in][k].
type conv1d struct {
	out, in, k, stride, pad int
	w, b                    []float32
}

// Model holds the 16 kHz weights. It is read-only and shared by detectors.
type Model struct {
	basis   []float32 // [2*bins][nfft]: real parts then imaginary parts
	enc     [4]conv1d
	wih     []float32 // [4*hidden][hidden], PyTorch gate order i, f, g, o
	whh     []float32
	bias    []float32 // b_ih + b_hh
	headW   []float32 // [hidden]
	headB   float32
	dftOnly bool // basis is a Hann-windowed DFT: use the FFT path
}

// Load reads the Silero VAD v5 weights from an ONNX file.
func Load(path string) (*Model, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	mod, err := FromONNX(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mod, nil
}

// FromONNX takes the 16 kHz branch's tensors out of a decoded model.
func FromONNX(m *onnx.Model) (*Model, error) {
	ts := m.Graph.Tensors()
	get := func(name string, dims ...int64) ([]float32, error) {
		// The 16 kHz weights sit in the "then" branch of the sample-rate If.
		t := ts["If_0_then_branch__Inline_0__"+name]
		if t == nil {
			return nil, fmt.Errorf("tensor %s not found: not a Silero VAD v5 model", name)
		}
		if len(t.Dims) != len(dims) {
			return nil, fmt.Errorf("tensor %s has dims %v, want %v", name, t.Dims, dims)
		}
		for i := range dims {
			if t.Dims[i] != dims[i] {
				return nil, fmt.Errorf("tensor %s has dims %v, want %v", name, t.Dims, dims)
			}
		}
		if len(t.Float) != t.Size() {
			return nil, fmt.Errorf("tensor %s is not float", name)
		}
		return t.Float, nil
	}
	mod := &Model{}
	var err error
	if mod.basis, err = get("stft.forward_basis_buffer", 2*bins, 1, nfft); err != nil {
		return nil, err
	}
	shapes := [4][3]int{{128, bins, 1}, {64, 128, 2}, {64, 64, 2}, {128, 64, 1}}
	for i, s := range shapes {
		c := conv1d{out: s[0], in: s[1], k: 3, stride: s[2], pad: 1}
		if c.w, err = get(fmt.Sprintf("encoder.%d.reparam_conv.weight", i), int64(s[0]), int64(s[1]), 3); err != nil {
			return nil, err
		}
		if c.b, err = get(fmt.Sprintf("encoder.%d.reparam_conv.bias", i), int64(s[0])); err != nil {
			return nil, err
		}
		mod.enc[i] = c
	}
	if mod.wih, err = get("decoder.rnn.weight_ih", 4*hidden, hidden); err != nil {
		return nil, err
	}
	if mod.whh, err = get("decoder.rnn.weight_hh", 4*hidden, hidden); err != nil {
		return nil, err
	}
	bih, err := get("decoder.rnn.bias_ih", 4*hidden)
	if err != nil {
		return nil, err
	}
	bhh, err := get("decoder.rnn.bias_hh", 4*hidden)
	if err != nil {
		return nil, err
	}
	mod.bias = make([]float32, 4*hidden)
	for i := range mod.bias {
		mod.bias[i] = bih[i] + bhh[i]
	}
	if mod.headW, err = get("decoder.decoder.2.weight", 1, hidden, 1); err != nil {
		return nil, err
	}
	hb, err := get("decoder.decoder.2.bias", 1)
	if err != nil {
		return nil, err
	}
	mod.headB = hb[0]
	mod.dftOnly = isHannDFT(mod.basis)
	return mod, nil
}

// isHannDFT reports whether the STFT basis is the periodic-Hann-windowed DFT
// (cos for the real part, -sin for the imaginary part), so that an FFT
// computes the same thing with far fewer operations.
func isHannDFT(basis []float32) bool {
	for k := 0; k < bins; k++ {
		for n := 0; n < nfft; n++ {
			w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/nfft)
			a := 2 * math.Pi * float64(k*n%nfft) / nfft
			if math.Abs(float64(basis[k*nfft+n])-w*math.Cos(a)) > 1e-5 ||
				math.Abs(float64(basis[(bins+k)*nfft+n])+w*math.Sin(a)) > 1e-5 {
				return false
			}
		}
	}
	return true
}

// Detector runs the network over a stream; it is not safe for concurrent use.
type Detector struct {
	m       *Model
	context [ContextSize]float32
	h, c    [hidden]float32
	// scratch
	x      [inLen + padR]float32
	mag    [bins * frames]float32 // [bin][frame]
	bufA   []float32
	bufB   []float32
	gates  [4 * hidden]float32
	patch  [bins * 3]float32
	fftBuf fftScratch
	quiet  int // consecutive gated chunks
	// NoGate runs the network on every chunk (to measure what the gate saves).
	NoGate bool
	// DisableFFT forces the matrix STFT (for testing the FFT path).
	DisableFFT bool
}

// NewDetector starts a stream with zero state.
func (m *Model) NewDetector() *Detector {
	return &Detector{m: m, bufA: make([]float32, 128*frames), bufB: make([]float32, 128*frames)}
}

// Reset clears the state, as at the start of a stream.
func (d *Detector) Reset() {
	d.quiet = 0
	d.context = [ContextSize]float32{}
	d.h = [hidden]float32{}
	d.c = [hidden]float32{}
}

// Step takes the next 512 samples (16 kHz, in [-1, 1]) and returns the
// probability that they hold speech.
func (d *Detector) Step(chunk []float32) float32 {
	if len(chunk) != ChunkSize {
		panic(fmt.Sprintf("vad: chunk of %d samples, want %d", len(chunk), ChunkSize))
	}
	x := d.x[:]
	copy(x, d.context[:])
	copy(x[ContextSize:], chunk)
	copy(d.context[:], chunk[ChunkSize-ContextSize:])
	// Reflect padding on the right: x[inLen+j] = x[inLen-2-j].
	for j := 0; j < padR; j++ {
		x[inLen+j] = x[inLen-2-j]
	}
	if d.m.dftOnly && !d.DisableFFT {
		d.stftFFT(x)
	} else {
		d.stftMatrix(x)
	}
	// Encoder.
	in, T := d.mag[:], frames
	bufs := [2][]float32{d.bufA, d.bufB}
	for i := range d.m.enc {
		out := bufs[i%2]
		T = d.m.enc[i].apply(in, T, out, d.patch[:])
		in = out
	}
	// in is [128][T] with T == 1: the LSTM input.
	m := d.m
	g := d.gates[:]
	copy(g, m.bias)
	xv := in[:hidden]
	for r := 0; r < 4*hidden; r++ {
		g[r] += f32.Dot(m.wih[r*hidden:(r+1)*hidden], xv) + f32.Dot(m.whh[r*hidden:(r+1)*hidden], d.h[:])
	}
	var p float32 = m.headB
	for j := 0; j < hidden; j++ {
		i := sigmoid(g[j])
		f := sigmoid(g[hidden+j])
		gg := float32(math.Tanh(float64(g[2*hidden+j])))
		o := sigmoid(g[3*hidden+j])
		d.c[j] = f*d.c[j] + i*gg
		d.h[j] = o * float32(math.Tanh(float64(d.c[j])))
		if d.h[j] > 0 {
			p += m.headW[j] * d.h[j]
		}
	}
	return sigmoid(p)
}

func (d *Detector) stftMatrix(x []float32) {
	b := d.m.basis
	for f := 0; f < frames; f++ {
		seg := x[f*hop : f*hop+nfft]
		for k := 0; k < bins; k++ {
			re := f32.Dot(b[k*nfft:(k+1)*nfft], seg)
			im := f32.Dot(b[(bins+k)*nfft:(bins+k+1)*nfft], seg)
			d.mag[k*frames+f] = float32(math.Sqrt(float64(re*re + im*im)))
		}
	}
}

// apply runs the convolution on in ([c.in][T]) into out ([c.out][T']) and
// applies ReLU; it returns T'. Each output column gathers its input patch
// in the weights' [in][k] order, so every output is one dot product.
func (c *conv1d) apply(in []float32, T int, out []float32, patch []float32) int {
	To := (T+2*c.pad-c.k)/c.stride + 1
	n := c.in * c.k
	patch = patch[:n]
	for t := 0; t < To; t++ {
		start := t*c.stride - c.pad
		for i := 0; i < c.in; i++ {
			row := in[i*T : (i+1)*T]
			for j := 0; j < c.k; j++ {
				var v float32
				if p := start + j; p >= 0 && p < T {
					v = row[p]
				}
				patch[i*c.k+j] = v
			}
		}
		for o := 0; o < c.out; o++ {
			s := c.b[o] + f32.Dot(c.w[o*n:(o+1)*n], patch)
			out[o*To+t] = max(s, 0)
		}
	}
	return To
}

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// LoadInstalled loads the model at path, or (path empty) the one the setup
// step installed (see models.Find).
func LoadInstalled(path string) (*Model, error) {
	p, err := models.Find(models.SileroVAD, path)
	if err != nil {
		return nil, err
	}
	return Load(p)
}
