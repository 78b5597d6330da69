package face

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestHeadGradients checks the detector head's backward pass against
// finite differences of its loss on a random scene with two faces.
func TestHeadGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 4
	f := newTensor(n, n, headIn)
	for i := range f.d {
		if rng.IntN(3) > 0 {
			f.d[i] = float32(rng.Float64() * 0.3)
		}
	}
	s := headSample{n: n, feat: pack(f).d, faces: [][4]float64{{1.4, 2.6, 1.8, 2.0}, {3.2, 0.7, 0.9, 1.1}}}
	const hidden = 8
	h := &DetectorHead{W: make([]float32, headIn*headOut), B: make([]float32, headOut), Hidden: hidden,
		U: make([]float32, hidden*headIn), C: make([]float32, hidden), V: make([]float32, headOut*hidden)}
	for _, p := range [][]float32{h.W, h.U, h.V} {
		for i := range p {
			p[i] = float32(rng.NormFloat64() * 0.05)
		}
	}
	for _, p := range [][]float32{h.B, h.C} {
		for i := range p {
			p[i] = float32(rng.NormFloat64() * 0.5)
		}
	}
	g := h.zeroGrads()
	headGrad(h, &s, 0.7, g)
	loss := func() float64 { return headGrad(h, &s, 0.7, h.zeroGrads()) }
	names := []string{"w", "b", "u", "c", "v"}
	checked := 0
	for pi, p := range h.params() {
		for k := 0; k < 25; k++ {
			i := rng.IntN(len(p))
			old := p[i]
			const eps = 2e-3
			p[i] = old + eps
			up := loss()
			p[i] = old - eps
			down := loss()
			p[i] = old
			num, ana := (up-down)/(2*eps), float64(g[pi][i])
			if math.Abs(num-ana) > 0.03*math.Max(math.Abs(num), math.Abs(ana))+2e-3 {
				t.Errorf("%s[%d]: analytic %.5f, numeric %.5f", names[pi], i, ana, num)
			}
			if ana != 0 {
				checked++
			}
		}
	}
	if checked < 60 {
		t.Errorf("only %d non-zero gradients checked", checked)
	}
}

func TestParseDetectorHeadErrors(t *testing.T) {
	good := &DetectorHead{W: make([]float32, headIn*headOut), B: make([]float32, headOut), Threshold: 0.5, Scales: []int{224, 416}}
	b, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseDetectorHead(b, "h.json")
	if err != nil || h.Threshold != 0.5 || len(h.Scales) != 2 || len(h.W) != headIn*headOut {
		t.Fatalf("round trip: %+v, %v", h, err)
	}
	for _, c := range []struct{ body, want string }{
		{`not json`, "not a detector head"},
		{strings.Replace(string(b), `"threshold":0.5`, `"threshold":1.5`, 1), "threshold 1.5"},
		{strings.Replace(string(b), `"scales":[224,416]`, `"scales":[225]`, 1), "scale 225"},
		{`{"w":"AAAA","b":"","threshold":0.5}`, "w"},
	} {
		_, err := ParseDetectorHead([]byte(c.body), "h.json")
		if err == nil || !strings.Contains(err.Error(), "h.json") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.40q: error %v, want one naming h.json and %q", c.body, err, c.want)
		}
	}
}

// FuzzParseDetectorHead: any head file gives a head or an error naming it.
func FuzzParseDetectorHead(f *testing.F) {
	good, _ := json.Marshal(&DetectorHead{W: make([]float32, headIn*headOut), B: make([]float32, headOut), Threshold: 0.4, Scales: []int{416}})
	f.Add(good)
	f.Add([]byte(`{"w":"","b":"","threshold":0.5,"scales":[32]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseDetectorHead(b, "h.json")
		if err != nil {
			if !strings.Contains(err.Error(), "h.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(h.W) != headIn*headOut || len(h.B) != headOut || h.Threshold <= 0 || h.Threshold >= 1 {
			t.Fatalf("accepted a head of %d/%d weights, threshold %g", len(h.W), len(h.B), h.Threshold)
		}
	})
}
