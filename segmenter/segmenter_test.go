package segmenter

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"contactd/contact"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func ev(typ string, sec float64) contact.Event {
	return contact.Event{Station: "desk-1", Type: contact.EventType(typ), At: at(sec)}
}

func rt(value int, sec float64) contact.Rating {
	return contact.Rating{Station: "desk-1", Value: value, Scale: contact.Scale4pt, At: at(sec)}
}

// span renders a contact as "arrive-leave[flags]" in seconds from t0.
func span(c *contact.Contact) string {
	s := fmt.Sprintf("%g-%g", c.Arrive.Sub(t0).Seconds(), c.Leave.Sub(t0).Seconds())
	if len(c.Flags) > 0 {
		var fs []string
		for _, f := range c.Flags {
			fs = append(fs, string(f))
		}
		s += "[" + strings.Join(fs, ",") + "]"
	}
	return s
}

func TestPresenceRules(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name     string
		events   []contact.Event
		until    float64 // 0: unbounded
		want     []string
		passBys  int
		ignoreds int
	}{
		{"arrive and leave make a contact",
			[]contact.Event{ev("arrive", 10), ev("leave", 70)}, 0, []string{"10-70"}, 0, 0},
		{"two separate contacts",
			[]contact.Event{ev("arrive", 10), ev("leave", 70), ev("arrive", 100), ev("leave", 160)}, 0,
			[]string{"10-70", "100-160"}, 0, 0},
		{"flapping sensor within merge gap is one contact",
			[]contact.Event{ev("arrive", 10), ev("leave", 30), ev("arrive", 32), ev("leave", 40), ev("arrive", 42.9), ev("leave", 70)}, 0,
			[]string{"10-70"}, 0, 0},
		{"gap exactly merge_gap still merges",
			[]contact.Event{ev("arrive", 10), ev("leave", 30), ev("arrive", 33), ev("leave", 70)}, 0,
			[]string{"10-70"}, 0, 0},
		{"gap just over merge_gap splits",
			[]contact.Event{ev("arrive", 10), ev("leave", 30), ev("arrive", 33.5), ev("leave", 70)}, 0,
			[]string{"10-30", "33.5-70"}, 0, 0},
		{"leave and arrive at the same instant is a flap",
			[]contact.Event{ev("arrive", 10), ev("arrive", 30), ev("leave", 30), ev("leave", 70)}, 0,
			[]string{"10-70"}, 0, 0},
		{"shorter than min_contact is a pass-by",
			[]contact.Event{ev("arrive", 10), ev("leave", 14.9), ev("arrive", 100), ev("leave", 160)}, 0,
			[]string{"100-160"}, 1, 0},
		{"exactly min_contact is a contact",
			[]contact.Event{ev("arrive", 10), ev("leave", 15)}, 0, []string{"10-15"}, 0, 0},
		{"two pass-bys merged by a flap make a contact",
			[]contact.Event{ev("arrive", 10), ev("leave", 13), ev("arrive", 14), ev("leave", 17)}, 0,
			[]string{"10-17"}, 0, 0},
		{"missing leave closed at next arrive",
			[]contact.Event{ev("arrive", 10), ev("arrive", 100), ev("leave", 160)}, 0,
			[]string{"10-100[leave_missing]", "100-160"}, 0, 0},
		{"missing leave closed at max_contact",
			[]contact.Event{ev("arrive", 10), ev("arrive", 4000), ev("leave", 4060)}, 0,
			[]string{"10-1810[leave_missing]", "4000-4060"}, 0, 0},
		{"missing leave at end of data closed at max_contact",
			[]contact.Event{ev("arrive", 10)}, 0, []string{"10-1810[leave_missing]"}, 0, 0},
		{"missing leave at end of recording closed there",
			[]contact.Event{ev("arrive", 10)}, 600, []string{"10-600[leave_missing]"}, 0, 0},
		{"leave with no open contact is ignored and counted",
			[]contact.Event{ev("leave", 5), ev("arrive", 10), ev("leave", 70), ev("leave", 80)}, 0,
			[]string{"10-70"}, 0, 2},
		{"out-of-order events are sorted",
			[]contact.Event{ev("leave", 160), ev("arrive", 100), ev("leave", 70), ev("arrive", 10)}, 0,
			[]string{"10-70", "100-160"}, 0, 0},
		{"no events, no contacts", nil, 0, nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var until time.Time
			if tc.until > 0 {
				until = at(tc.until)
			}
			cs, pbs, ign := Contacts(cfg, tc.events, until)
			var got []string
			for _, c := range cs {
				got = append(got, span(c))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("contacts = %v, want %v", got, tc.want)
			}
			if len(pbs) != tc.passBys {
				t.Errorf("pass-bys = %d, want %d", len(pbs), tc.passBys)
			}
			if len(ign) != tc.ignoreds {
				t.Errorf("ignored leaves = %d, want %d", len(ign), tc.ignoreds)
			}
		})
	}
}

func TestThresholdsAreConfigurable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MergeGap = 10 * time.Second
	cfg.MinContact = 30 * time.Second
	cs, pbs, _ := Contacts(cfg, []contact.Event{ev("arrive", 0), ev("leave", 20), ev("arrive", 28), ev("leave", 40),
		ev("arrive", 100), ev("leave", 120)}, time.Time{})
	if len(cs) != 1 || span(cs[0]) != "0-40" || len(pbs) != 1 {
		t.Fatalf("got %d contacts (%v), %d pass-bys", len(cs), cs, len(pbs))
	}
	cfg.MaxContact = time.Minute
	cs, _, _ = Contacts(cfg, []contact.Event{ev("arrive", 0)}, time.Time{})
	if span(cs[0]) != "0-60[leave_missing]" {
		t.Fatalf("max_contact: got %s", span(cs[0]))
	}
}

func TestClipRangeClampedToRecording(t *testing.T) {
	cfg := DefaultConfig()
	res := Run(cfg, contact.DefaultSetRules(), Input{
		Events: []contact.Event{ev("arrive", 1), ev("leave", 30), ev("arrive", 100), ev("leave", 130), ev("arrive", 300), ev("leave", 399)},
		From:   at(0), Until: at(400),
	})
	want := [][2]float64{{0, 33}, {97, 133}, {297, 400}}
	if len(res.Contacts) != len(want) {
		t.Fatalf("got %d contacts", len(res.Contacts))
	}
	for i, c := range res.Contacts {
		got := [2]float64{c.ClipStart.Sub(t0).Seconds(), c.ClipEnd.Sub(t0).Seconds()}
		if got != want[i] {
			t.Errorf("contact %d clip = %v, want %v", i, got, want[i])
		}
	}
}

func TestRatingJoin(t *testing.T) {
	// Contacts: A 10-70, B 200-260, C 270-330 (C starts 10 s after B ended).
	events := []contact.Event{ev("arrive", 10), ev("leave", 70), ev("arrive", 200), ev("leave", 260), ev("arrive", 270), ev("leave", 330)}
	tests := []struct {
		name      string
		ratings   []contact.Rating
		want      []string // per contact: "value" or "-" ; misuse adds "!"
		sets      []contact.Set
		orphans   int
		debounced int
		repeats   int
	}{
		{"pressed while open", []contact.Rating{rt(3, 50)}, []string{"3", "-", "-"},
			[]contact.Set{contact.Positive, contact.Unrated, contact.Unrated}, 0, 0, 0},
		{"pressed after leave within window", []contact.Rating{rt(0, 129)}, []string{"0", "-", "-"},
			[]contact.Set{contact.Negative, contact.Unrated, contact.Unrated}, 0, 0, 0},
		{"pressed exactly at window end", []contact.Rating{rt(1, 130)}, []string{"1", "-", "-"}, nil, 0, 0, 0},
		{"pressed after window is an orphan", []contact.Rating{rt(1, 131)}, []string{"-", "-", "-"}, nil, 1, 0, 0},
		{"pressed before any contact is an orphan", []contact.Rating{rt(2, 5)}, []string{"-", "-", "-"}, nil, 1, 0, 0},
		{"most recently ended wins", []contact.Rating{rt(2, 275)}, []string{"-", "-", "2"}, nil, 0, 0, 0},
		{"debounce collapses to the last press", []contact.Rating{rt(0, 80), rt(1, 81), rt(3, 82.5)}, []string{"3", "-", "-"}, nil, 0, 2, 0},
		{"presses just over debounce are separate: misuse", []contact.Rating{rt(3, 80), rt(0, 82.1)}, []string{"3!", "-", "-"}, nil, 0, 0, 0},
		{"same value again after debounce is a repeat, not misuse", []contact.Rating{rt(3, 80), rt(3, 90)}, []string{"3", "-", "-"}, nil, 0, 0, 1},
		{"each contact its rating", []contact.Rating{rt(3, 75), rt(0, 262), rt(2, 335)}, []string{"3", "0", "2"},
			[]contact.Set{contact.Positive, contact.Negative, contact.Positive}, 0, 0, 0},
		{"unsorted ratings", []contact.Rating{rt(2, 335), rt(3, 75)}, []string{"3", "-", "2"}, nil, 0, 0, 0},
		{"other station's press does not join", []contact.Rating{{Station: "desk-2", Value: 3, Scale: contact.Scale4pt, At: at(50)}},
			[]string{"-", "-", "-"}, nil, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Run(DefaultConfig(), contact.DefaultSetRules(), Input{Events: events, Ratings: tc.ratings})
			var got []string
			for _, c := range res.Contacts {
				s := "-"
				if c.Rating != nil {
					s = fmt.Sprint(c.Rating.Value)
				}
				if c.HasFlag(contact.FlagMisuse) {
					s += "!"
					if len(c.ExtraRatings) == 0 {
						t.Error("misuse without the extra rating kept")
					}
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ratings = %v, want %v", got, tc.want)
			}
			if tc.sets != nil {
				for i, c := range res.Contacts {
					if c.Set != tc.sets[i] {
						t.Errorf("contact %d set = %s, want %s", i, c.Set, tc.sets[i])
					}
				}
			}
			if len(res.Orphans) != tc.orphans || len(res.Debounced) != tc.debounced || len(res.Repeats) != tc.repeats {
				t.Errorf("orphans/debounced/repeats = %d/%d/%d, want %d/%d/%d", len(res.Orphans), len(res.Debounced),
					len(res.Repeats), tc.orphans, tc.debounced, tc.repeats)
			}
			// Nothing pressed is lost: every press is attached, extra, orphan, debounced or repeat.
			n := len(res.Orphans) + len(res.Debounced) + len(res.Repeats)
			for _, c := range res.Contacts {
				if c.Rating != nil {
					n++
				}
				n += len(c.ExtraRatings)
			}
			if n != len(tc.ratings) {
				t.Errorf("accounted presses = %d, want %d", n, len(tc.ratings))
			}
		})
	}
}

func TestPassByTakesNoRating(t *testing.T) {
	res := Run(DefaultConfig(), contact.DefaultSetRules(), Input{
		Events:  []contact.Event{ev("arrive", 10), ev("leave", 12)},
		Ratings: []contact.Rating{rt(0, 13)},
	})
	if len(res.Contacts) != 0 || len(res.PassBys) != 1 || len(res.Orphans) != 1 {
		t.Fatalf("contacts %d, pass-bys %d, orphans %d", len(res.Contacts), len(res.PassBys), len(res.Orphans))
	}
}

func TestSetsPerScale(t *testing.T) {
	rules := contact.DefaultSetRules()
	cases := []struct {
		scale contact.Scale
		value int
		want  contact.Set
	}{
		{contact.Scale2pt, 0, contact.Negative}, {contact.Scale2pt, 1, contact.Positive},
		{contact.Scale3pt, 1, contact.Neutral},
		{contact.Scale4pt, 1, contact.Negative}, {contact.Scale4pt, 2, contact.Positive},
		{contact.Scale5pt, 2, contact.Neutral}, {contact.Scale5pt, 3, contact.Positive},
		{contact.ScaleNPS, 6, contact.Negative}, {contact.ScaleNPS, 7, contact.Neutral}, {contact.ScaleNPS, 9, contact.Positive},
	}
	for _, c := range cases {
		if got := rules.SetOf(&contact.Press{Scale: c.scale, Value: c.value}); got != c.want {
			t.Errorf("%s %d: set %s, want %s", c.scale, c.value, got, c.want)
		}
	}
	if err := rules.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := contact.DefaultSetRules()
	r := bad[contact.Scale4pt]
	r.Positive = []int{3}
	bad[contact.Scale4pt] = r
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "scales.4pt: value 2") {
		t.Fatalf("a value in no set must be rejected, got %v", err)
	}
}

func TestIndices(t *testing.T) {
	events := []contact.Event{ev("arrive", 0), ev("leave", 60), ev("arrive", 200), ev("leave", 260), ev("arrive", 400), ev("leave", 460),
		ev("arrive", 600), ev("leave", 660), ev("arrive", 700), ev("leave", 702)}
	ratings := []contact.Rating{rt(3, 61), rt(0, 261), rt(2, 461)}
	res := Run(DefaultConfig(), contact.DefaultSetRules(), Input{Events: events, Ratings: ratings})
	s := Summarize(contact.DefaultSetRules(), res)
	// 4 served (the 2 s presence is a pass-by), one top box (3), one bottom box (0).
	if s.Overall.Served != 4 || s.Overall.Support != 0.25 || s.Overall.Dissatisfaction != 0.25 || s.PassBys != 1 {
		t.Fatalf("summary %+v", s)
	}
	if s.Sets[contact.Positive] != 2 || s.Sets[contact.Negative] != 1 || s.Sets[contact.Unrated] != 1 {
		t.Fatalf("sets %v", s.Sets)
	}
}

func TestIDStableAndDistinct(t *testing.T) {
	a, b := ID("desk-1", at(10)), ID("desk-1", at(10))
	if a != b {
		t.Fatal("same input, different id")
	}
	if ID("desk-2", at(10)) == a || ID("desk-1", at(11)) == a {
		t.Fatal("different contacts share an id")
	}
	if !(ID("desk-1", at(10)) < ID("desk-1", at(3600))) {
		t.Fatal("ids do not sort by arrive")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.MergeGap = -time.Second
	c.MaxContact = time.Second
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "merge_gap") || !strings.Contains(err.Error(), "max_contact") {
		t.Fatalf("got %v", err)
	}
}
