package segmenter

import (
	"slices"

	"contactd/contact"
)

// Indices are the two service indices over served contacts (pass-bys excluded).
type Indices struct {
	// Support is the Customer Support Index: top-box ratings / served contacts.
	Support float64 `json:"support"`
	// Dissatisfaction is bottom-box ratings / served contacts.
	Dissatisfaction float64 `json:"dissatisfaction"`
	Served          int     `json:"served"`
	TopBox          int     `json:"top_box"`
	BottomBox       int     `json:"bottom_box"`
}

// Summary counts a Result the way the analyze report prints it.
type Summary struct {
	Sets          map[contact.Set]int  `json:"sets"`
	Flags         map[contact.Flag]int `json:"flags"`
	PassBys       int                  `json:"pass_bys"`
	Orphans       int                  `json:"orphan_ratings"`
	IgnoredLeaves int                  `json:"ignored_leaves"`
	Debounced     int                  `json:"debounced_ratings"`
	Repeats       int                  `json:"repeated_ratings"`
	Overall       Indices              `json:"indices"`
	Stations      map[string]Indices   `json:"stations"`
}

// ComputeIndices counts top and bottom boxes over contacts.
func ComputeIndices(rules contact.SetRules, contacts []*contact.Contact) Indices {
	var ix Indices
	for _, c := range contacts {
		ix.Served++
		if rules.TopBox(c.Rating) {
			ix.TopBox++
		}
		if rules.BottomBox(c.Rating) {
			ix.BottomBox++
		}
	}
	if ix.Served > 0 {
		ix.Support = float64(ix.TopBox) / float64(ix.Served)
		ix.Dissatisfaction = float64(ix.BottomBox) / float64(ix.Served)
	}
	return ix
}

// Summarize counts sets, flags and indices, overall and per station.
func Summarize(rules contact.SetRules, r *Result) Summary {
	s := Summary{
		Sets:          map[contact.Set]int{},
		Flags:         map[contact.Flag]int{},
		PassBys:       len(r.PassBys),
		Orphans:       len(r.Orphans),
		IgnoredLeaves: len(r.IgnoredLeaves),
		Debounced:     len(r.Debounced),
		Repeats:       len(r.Repeats),
		Stations:      map[string]Indices{},
	}
	byStation := map[string][]*contact.Contact{}
	for _, c := range r.Contacts {
		s.Sets[c.Set]++
		for _, f := range c.Flags {
			s.Flags[f]++
		}
		byStation[c.Station] = append(byStation[c.Station], c)
	}
	for st, cs := range byStation {
		s.Stations[st] = ComputeIndices(rules, cs)
	}
	s.Overall = ComputeIndices(rules, r.Contacts)
	return s
}

// StationNames returns the stations of a summary in order.
func (s Summary) StationNames() []string {
	out := make([]string, 0, len(s.Stations))
	for k := range s.Stations {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
