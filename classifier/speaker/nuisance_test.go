package speaker

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Speakers differ along random directions; each speaker's recordings also
// move, far more, along two directions all speakers share (the way they
// say things). The subspace must find those two, and after projecting them
// out a recording must be nearer its own speaker than another.
func TestTrainNuisance(t *testing.T) {
	const d, nSpk, nRec = 40, 12, 30
	r := rand.New(rand.NewPCG(3, 4))
	unit := func() []float64 {
		v := make([]float64, d)
		for i := range v {
			v[i] = r.NormFloat64()
		}
		n := math.Sqrt(dot(v, v))
		for i := range v {
			v[i] /= n
		}
		return v
	}
	nuis := [][]float64{unit(), unit()}
	orthonormalise(nuis)
	rec := func(centre []float64) []float64 {
		v := append([]float64(nil), centre...)
		a, b := 3*r.NormFloat64(), 2*r.NormFloat64()
		for i := range v {
			v[i] += a*nuis[0][i] + b*nuis[1][i] + 0.05*r.NormFloat64()
		}
		return v
	}
	var groups [][][]float64
	for s := 0; s < nSpk; s++ {
		c := unit()
		var g [][]float64
		for k := 0; k < nRec; k++ {
			g = append(g, rec(c))
		}
		groups = append(groups, g)
	}
	groups = append(groups, [][]float64{unit()}) // one recording: no scatter, skipped
	nz, err := TrainNuisance(groups, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	for j, v := range nuis {
		var in float64
		for _, b := range nz.Basis {
			in += dot(v, b) * dot(v, b)
		}
		if in < 0.99 {
			t.Errorf("true nuisance direction %d: only %.3f of it in the learnt subspace", j, in)
		}
	}
	for j, b := range nz.Basis {
		if n := dot(b, b); math.Abs(n-1) > 1e-9 {
			t.Errorf("basis row %d has squared norm %g", j, n)
		}
	}
	// Fresh speakers, never seen in training.
	right, rawRight := 0, 0
	const trials = 200
	for k := 0; k < trials; k++ {
		a, b := unit(), unit()
		x, ya, yb := rec(a), rec(a), rec(b)
		if Cosine(nz.Project(x), nz.Project(ya)) > Cosine(nz.Project(x), nz.Project(yb)) {
			right++
		}
		if Cosine(x, ya) > Cosine(x, yb) {
			rawRight++
		}
	}
	if right < trials*97/100 || right <= rawRight {
		t.Errorf("same speaker nearer in %d of %d after projection, %d before", right, trials, rawRight)
	}
	if _, err := TrainNuisance(groups[:1], 40, 1); err == nil {
		t.Error("more directions than centred vectors allow: no error")
	}
	if _, err := TrainNuisance([][][]float64{{{1, 2}, {3}}}, 1, 1); err == nil {
		t.Error("supervectors of different lengths: no error")
	}
}

func TestParseNuisance(t *testing.T) {
	for _, c := range []string{`{`, `{"version":2,"basis":[[1,0]]}`, `{"version":1,"basis":[]}`, `{"version":1,"basis":[[1,0,0]]}`} {
		if _, err := ParseNuisance([]byte(c), "n.json", 2); err == nil {
			t.Errorf("%s: no error", c)
		}
	}
	n, err := ParseNuisance([]byte(`{"version":1,"basis":[[1,0]]}`), "n.json", 2)
	if err != nil {
		t.Fatal(err)
	}
	if p := n.Project([]float64{3, 4}); p[0] != 0 || p[1] != 4 {
		t.Errorf("projection of (3, 4) off (1, 0): %v", p)
	}
}
