package emotion

// Scores are the evaluation figures of the eval command.
type Scores struct {
	N          int                `json:"n"`
	UA4        float64            `json:"ua4"`
	WA4        float64            `json:"wa4"`
	ArousalAcc float64            `json:"arousal_acc"`
	ValenceAcc float64            `json:"valence_acc"`
	PerClass   map[string]float64 `json:"per_class"`
	Confusion  [4][4]int          `json:"confusion"` // [true][predicted]
	N4         int                `json:"n4"`
	NArousal   int                `json:"n_arousal"`
	NValence   int                `json:"n_valence"`
}

// Score compares predictions with labels.
func Score(labels []Label, preds []Output) Scores {
	s := Scores{N: len(labels), PerClass: map[string]float64{}}
	var aOK, vOK int
	for i, l := range labels {
		p := preds[i]
		if l.Class >= 0 {
			best := 0
			for k := range p.Probs {
				if p.Probs[k] > p.Probs[best] {
					best = k
				}
			}
			s.Confusion[l.Class][best]++
			s.N4++
		}
		if l.Arousal >= 0 {
			s.NArousal++
			if (p.Arousal >= 0.5) == (l.Arousal == 1) {
				aOK++
			}
		}
		if l.Valence >= 0 {
			s.NValence++
			if (p.Valence >= 0.5) == (l.Valence == 1) {
				vOK++
			}
		}
	}
	s.finish(float64(aOK), float64(vOK))
	return s
}

// finish derives the accuracies from the confusion matrix and the counts
// of correct arousal and valence decisions.
func (s *Scores) finish(aOK, vOK float64) {
	s.PerClass = map[string]float64{}
	s.UA4, s.WA4, s.ArousalAcc, s.ValenceAcc = 0, 0, 0, 0
	correct, k := 0, 0
	for c, name := range Classes {
		tot := 0
		for _, v := range s.Confusion[c] {
			tot += v
		}
		correct += s.Confusion[c][c]
		if tot > 0 {
			r := float64(s.Confusion[c][c]) / float64(tot)
			s.PerClass[name] = r
			s.UA4 += r
			k++
		}
	}
	if k > 0 {
		s.UA4 /= float64(k)
	}
	if s.N4 > 0 {
		s.WA4 = float64(correct) / float64(s.N4)
	}
	if s.NArousal > 0 {
		s.ArousalAcc = aOK / float64(s.NArousal)
	}
	if s.NValence > 0 {
		s.ValenceAcc = vOK / float64(s.NValence)
	}
}

// Pool combines the scores of disjoint test sets (cross-validation folds)
// as if they had been scored together.
func Pool(parts []Scores) Scores {
	var s Scores
	var aOK, vOK float64
	for _, p := range parts {
		s.N += p.N
		s.N4 += p.N4
		s.NArousal += p.NArousal
		s.NValence += p.NValence
		aOK += p.ArousalAcc * float64(p.NArousal)
		vOK += p.ValenceAcc * float64(p.NValence)
		for i := range p.Confusion {
			for j := range p.Confusion[i] {
				s.Confusion[i][j] += p.Confusion[i][j]
			}
		}
	}
	s.finish(aOK, vOK)
	return s
}
