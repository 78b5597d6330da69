package face

import "fmt"

// LoadHead reads a head file; "" is the built-in head (nil when none is
// built in: the network's own layer is used).
func LoadHead(path string) (*Head, error) {
	if path == "" {
		return nil, nil
	}
	return nil, fmt.Errorf("face head %s: not readable yet", path)
}

// Head is a classifier trained on the expression network's features.
type Head struct {
	Mean, Std []float32   `json:"-"`
	W         [][]float32 `json:"-"`
}

// Predict returns class probabilities for features.
func (h *Head) Predict(feat []float32) []float64 {
	logits := make([]float64, len(h.W))
	for o, row := range h.W {
		s := 0.0
		for i, v := range feat {
			s += float64(row[i]) * float64((v-h.Mean[i])/h.Std[i])
		}
		logits[o] = s
	}
	return softmax(logits)
}
