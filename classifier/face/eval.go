package face

import (
	"slices"
	"sort"
)

// Report is an evaluation of 7-class expression predictions.
type Report struct {
	N        int                `json:"n"`
	Accuracy float64            `json:"accuracy"`
	PerClass map[string]float64 `json:"per_class"` // recall per label
	// Confusion[i][j] counts crops of Labels[i] predicted as Labels[j].
	Confusion [][]int  `json:"confusion"`
	Labels    []string `json:"labels"`
	HappyAUC  float64  `json:"happy_auc"`
}

// Evaluate scores probability rows (in Labels order) against true labels.
func Evaluate(probs [][]float64, truth []string) Report {
	r := Report{N: len(truth), PerClass: map[string]float64{}, Labels: slices.Clone(Labels)}
	r.Confusion = make([][]int, len(Labels))
	for i := range r.Confusion {
		r.Confusion[i] = make([]int, len(Labels))
	}
	correct := 0
	var happy []float64
	var isHappy []bool
	for k, p := range probs {
		t := slices.Index(Labels, truth[k])
		best := 0
		for j := range p {
			if p[j] > p[best] {
				best = j
			}
		}
		r.Confusion[t][best]++
		if t == best {
			correct++
		}
		happy = append(happy, p[1])
		isHappy = append(isHappy, t == 1)
	}
	if r.N > 0 {
		r.Accuracy = float64(correct) / float64(r.N)
	}
	for i, l := range Labels {
		n := 0
		for _, c := range r.Confusion[i] {
			n += c
		}
		if n > 0 {
			r.PerClass[l] = float64(r.Confusion[i][i]) / float64(n)
		}
	}
	r.HappyAUC = AUC(happy, isHappy)
	return r
}

// AUC is the area under the ROC curve of scores for the positives: the
// chance a random positive outscores a random negative (ties count half).
func AUC(scores []float64, positive []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// Mann–Whitney U from average ranks.
	var rankSum float64
	npos := 0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if positive[idx[k]] {
				rankSum += avg
				npos++
			}
		}
		i = j
	}
	nneg := len(scores) - npos
	if npos == 0 || nneg == 0 {
		return 0
	}
	return (rankSum - float64(npos)*float64(npos+1)/2) / (float64(npos) * float64(nneg))
}
