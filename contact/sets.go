package contact

import (
	"fmt"
	"slices"
)

// ScaleRule says which values of one scale fall in which set, and which
// values count as top box and bottom box for the indices.
type ScaleRule struct {
	Negative  []int `yaml:"negative" json:"negative"`
	Neutral   []int `yaml:"neutral" json:"neutral"`
	Positive  []int `yaml:"positive" json:"positive"`
	TopBox    []int `yaml:"top_box" json:"top_box"`
	BottomBox []int `yaml:"bottom_box" json:"bottom_box"`
}

// SetRules maps each scale to its rule.
type SetRules map[Scale]ScaleRule

func span(a, b int) []int {
	var s []int
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}

// DefaultSetRules are the mappings a clinic gets without configuration.
// Top box is the best answer (for NPS the promoters 9–10), bottom box the worst
// (for NPS the detractors 0–6), as customer-experience practice counts them.
func DefaultSetRules() SetRules {
	return SetRules{
		Scale2pt: {Negative: []int{0}, Positive: []int{1}, TopBox: []int{1}, BottomBox: []int{0}},
		Scale3pt: {Negative: []int{0}, Neutral: []int{1}, Positive: []int{2}, TopBox: []int{2}, BottomBox: []int{0}},
		Scale4pt: {Negative: span(0, 1), Positive: span(2, 3), TopBox: []int{3}, BottomBox: []int{0}},
		Scale5pt: {Negative: span(0, 1), Neutral: []int{2}, Positive: span(3, 4), TopBox: []int{4}, BottomBox: []int{0}},
		ScaleNPS: {Negative: span(0, 6), Neutral: span(7, 8), Positive: span(9, 10), TopBox: span(9, 10), BottomBox: span(0, 6)},
	}
}

// SetOf returns the set a press puts its contact in; nil means unrated.
func (r SetRules) SetOf(p *Press) Set {
	if p == nil {
		return Unrated
	}
	rule := r[p.Scale]
	switch {
	case slices.Contains(rule.Negative, p.Value):
		return Negative
	case slices.Contains(rule.Neutral, p.Value):
		return Neutral
	case slices.Contains(rule.Positive, p.Value):
		return Positive
	}
	return Unrated
}

// TopBox reports whether p is a top-box answer.
func (r SetRules) TopBox(p *Press) bool {
	return p != nil && slices.Contains(r[p.Scale].TopBox, p.Value)
}

// BottomBox reports whether p is a bottom-box answer.
func (r SetRules) BottomBox(p *Press) bool {
	return p != nil && slices.Contains(r[p.Scale].BottomBox, p.Value)
}

// Validate checks that every scale is covered and every value of it lies in
// exactly one set, and that the boxes name values of the scale.
func (r SetRules) Validate() error {
	for s := range r {
		if _, ok := s.Max(); !ok {
			return fmt.Errorf("scales: unknown scale %q", s)
		}
	}
	for _, s := range Scales {
		rule, ok := r[s]
		if !ok {
			return fmt.Errorf("scales.%s: missing", s)
		}
		max, _ := s.Max()
		for v := 0; v <= max; v++ {
			n := 0
			for _, set := range [][]int{rule.Negative, rule.Neutral, rule.Positive} {
				if slices.Contains(set, v) {
					n++
				}
			}
			if n != 1 {
				return fmt.Errorf("scales.%s: value %d is in %d sets, want exactly 1", s, v, n)
			}
		}
		for name, list := range map[string][]int{"negative": rule.Negative, "neutral": rule.Neutral,
			"positive": rule.Positive, "top_box": rule.TopBox, "bottom_box": rule.BottomBox} {
			for _, v := range list {
				if v < 0 || v > max {
					return fmt.Errorf("scales.%s.%s: %d is outside 0..%d", s, name, v, max)
				}
			}
		}
	}
	return nil
}
