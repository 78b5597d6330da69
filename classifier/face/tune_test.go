package face

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTuneGradients checks the backward pass against finite differences of
// the loss, for weights of every layer of the block and the classifier.
func TestTuneGradients(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	tu := tunedFrom(net)
	rng := rand.New(rand.NewPCG(1, 2))
	x := newTensor(14, 14, 128)
	for i := range x.d {
		x.d[i] = float32(rng.Float64() * 2)
	}
	ps := tu.params()
	g := make([][]float32, len(ps))
	for i, p := range ps {
		g[i] = make([]float32, len(p))
	}
	tu.step(x, 3, g)
	loss := func() float64 {
		l, _ := tu.logits(tu.block(x))
		p := make([]float64, len(l))
		for i, v := range l {
			p[i] = float64(v)
		}
		return -math.Log(softmax(p)[3])
	}
	checked := 0
	for pi, p := range ps {
		for k := 0; k < 3; k++ {
			// The parameter with the largest gradient, and two random ones.
			i := rng.IntN(len(p))
			if k == 0 {
				for j := range g[pi] {
					if math.Abs(float64(g[pi][j])) > math.Abs(float64(g[pi][i])) {
						i = j
					}
				}
			}
			old := p[i]
			const eps = 1e-2
			p[i] = old + eps
			up := loss()
			p[i] = old - eps
			down := loss()
			p[i] = old
			num := (up - down) / (2 * eps)
			ana := float64(g[pi][i])
			if math.Abs(num-ana) > 0.05*math.Max(math.Abs(num), math.Abs(ana))+2e-3 {
				t.Errorf("%s[%d]: analytic %.5f, numeric %.5f", tunedNames[pi], i, ana, num)
			}
			checked++
		}
	}
	t.Logf("%d gradients checked", checked)
}
