package face

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTuneGradients checks the backward pass against finite differences of
// the loss, for weights of every layer of the tuned blocks and the
// classifier: the last block alone, and the last two.
func TestTuneGradients(t *testing.T) {
	net, err := LoadExpressionNet(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int{3, 2} {
		checkGradients(t, net, from)
	}
}

func checkGradients(t *testing.T, net *ExpressionNet, from int) {
	tu := tunedFrom(net, from)
	rng := rand.New(rand.NewPCG(1, 2))
	x := newTensor(14, 14, 128)
	if from == 2 {
		x = newTensor(28, 28, 64)
	}
	scale := 2.0
	if from == 2 {
		scale = 0.5 // two blocks amplify: keep the loss in its smooth range
	}
	for i := range x.d {
		x.d[i] = float32(rng.Float64() * scale)
	}
	ps := tu.params()
	g := make([][]float32, len(ps))
	for i, p := range ps {
		g[i] = make([]float32, len(p))
	}
	tu.step(x, 3, g)
	loss := func() float64 {
		l, _ := tu.logits(tu.forward(x))
		p := make([]float64, len(l))
		for i, v := range l {
			p[i] = float64(v)
		}
		return -math.Log(softmax(p)[3])
	}
	checked := 0
	names := tu.names()
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
			eps := float32(1e-2)
			if from == 2 {
				eps = 1e-3 // more ReLU kinks downstream: a smaller step crosses fewer
			}
			p[i] = old + eps
			up := loss()
			p[i] = old - eps
			down := loss()
			p[i] = old
			num := (up - down) / (2 * float64(eps))
			ana := float64(g[pi][i])
			if math.Abs(num-ana) > 0.05*math.Max(math.Abs(num), math.Abs(ana))+2e-3 {
				t.Errorf("from %d, %s[%d]: analytic %.5f, numeric %.5f", from, names[pi], i, ana, num)
			}
			checked++
		}
	}
	t.Logf("from block %d: %d gradients checked", from, checked)
}
