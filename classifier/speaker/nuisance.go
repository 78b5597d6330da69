package speaker

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
)

// Nuisance is a subspace of supervector directions along which one
// speaker's recordings move from one to the next: how a sentence was said
// (loud or soft, calm or angry) rather than who said it. Projecting it out
// before comparing supervectors is nuisance attribute projection
// (Solomonoff, Campbell & Boardman, Interspeech 2005). The subspace is the
// leading eigenvectors of the within-speaker scatter of supervectors of
// many speakers, each centred on that speaker's own mean: it needs no
// speaker that will later be compared, only that how people vary their
// voice is shared.
type Nuisance struct {
	Version int         `json:"version"`
	Basis   [][]float64 `json:"basis"` // orthonormal rows, each of the supervector's length
}

// NuisanceDirections is the size of the built-in subspace: chosen on
// generated conversations of half of the RAVDESS actors (see the README).
const NuisanceDirections = 20

//go:embed nuisance.json
var defaultNuisance []byte

// DefaultNuisance is the subspace built into the binary ("contactd speaker
// nap" on RAVDESS and TESS, against the built-in background model).
func DefaultNuisance() (*Nuisance, error) {
	return ParseNuisance(defaultNuisance, "built-in nuisance subspace", UBMComponents*Dims)
}

// RecordingVectors are the supervectors of recordings (their speech
// frames) against the background, as TrainNuisance takes them for one
// speaker; recordings of under half a second of speech are left out.
func (b *Background) RecordingVectors(recs [][][]float64) [][]float64 {
	var out [][]float64
	for _, fr := range recs {
		if len(fr) >= 50 {
			out = append(out, b.GMM.Supervector(fr, Relevance))
		}
	}
	return out
}

// TrainNuisance finds the k leading directions of within-speaker scatter
// of the supervectors (one slice per speaker, at least two vectors each
// for a speaker to count).
func TrainNuisance(speakers [][][]float64, k int, seed uint64) (*Nuisance, error) {
	if k < 1 {
		return nil, errors.New("speaker: the nuisance subspace needs at least one direction")
	}
	d := -1
	var centred [][]float64
	for si, vs := range speakers {
		if len(vs) < 2 {
			continue
		}
		mean := make([]float64, len(vs[0]))
		for _, v := range vs {
			if d == -1 {
				d = len(v)
			}
			if len(v) != d {
				return nil, fmt.Errorf("speaker: speaker %d has a supervector of %d values, others %d", si, len(v), d)
			}
			for i, x := range v {
				mean[i] += x
			}
		}
		for i := range mean {
			mean[i] /= float64(len(vs))
		}
		for _, v := range vs {
			c := make([]float64, d)
			for i, x := range v {
				c[i] = x - mean[i]
			}
			centred = append(centred, c)
		}
	}
	if len(centred) <= k || d < k {
		return nil, fmt.Errorf("speaker: %d centred supervectors for %d nuisance directions", len(centred), k)
	}
	// Subspace iteration on the scatter, applied as Xᵀ(X q) so the d×d
	// matrix is never formed: each round costs 2·n·d·k.
	r := rand.New(rand.NewPCG(seed, 23))
	q := make([][]float64, k)
	for j := range q {
		q[j] = make([]float64, d)
		for i := range q[j] {
			q[j][i] = r.NormFloat64()
		}
	}
	orthonormalise(q)
	proj := make([]float64, len(centred))
	for it := 0; it < 60; it++ {
		for j := range q {
			for n, x := range centred {
				proj[n] = dot(x, q[j])
			}
			z := make([]float64, d)
			for n, x := range centred {
				p := proj[n]
				for i, v := range x {
					z[i] += p * v
				}
			}
			q[j] = z
		}
		orthonormalise(q)
	}
	return &Nuisance{Version: 1, Basis: q}, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// orthonormalise runs modified Gram–Schmidt over the rows in order.
func orthonormalise(q [][]float64) {
	for j := range q {
		for l := 0; l < j; l++ {
			p := dot(q[j], q[l])
			for i := range q[j] {
				q[j][i] -= p * q[l][i]
			}
		}
		n := math.Sqrt(dot(q[j], q[j]))
		if n == 0 {
			n = 1
		}
		for i := range q[j] {
			q[j][i] /= n
		}
	}
}

// Project returns v with the nuisance directions removed.
func (n *Nuisance) Project(v []float64) []float64 {
	out := append([]float64(nil), v...)
	for _, b := range n.Basis {
		p := dot(v, b)
		for i := range out {
			out[i] -= p * b[i]
		}
	}
	return out
}

// Save writes the subspace.
func (n *Nuisance) Save(path string) error {
	j, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return os.WriteFile(path, j, 0o644)
}

// ParseNuisance decodes and checks a nuisance subspace for supervectors
// of dims values.
func ParseNuisance(b []byte, name string, dims int) (*Nuisance, error) {
	var n Nuisance
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n.Version != 1 || len(n.Basis) == 0 {
		return nil, fmt.Errorf("%s: not a nuisance subspace of this version", name)
	}
	for i, row := range n.Basis {
		if len(row) != dims {
			return nil, fmt.Errorf("%s: basis row %d has %d values, want %d", name, i, len(row), dims)
		}
		for _, x := range row {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("%s: basis row %d is not finite", name, i)
			}
		}
	}
	return &n, nil
}

// Cosine is the cosine of the angle between two vectors (0 if either is
// zero).
func Cosine(a, b []float64) float64 {
	na, nb := math.Sqrt(dot(a, a)), math.Sqrt(dot(b, b))
	if na == 0 || nb == 0 {
		return 0
	}
	return dot(a, b) / (na * nb)
}
