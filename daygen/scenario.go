// Package daygen builds realistic "reception days" for tests and demos: a
// recording of one desk (administrator and patients talking, room noise,
// optional camera), the presence events and terminal presses a real desk
// would produce, sensor faults included, and the contacts a correct
// pipeline must find, derived from the scenario itself.
package daygen

import (
	"math/rand/v2"
	"slices"
	"time"

	"contactd/contact"
)

// Mood is how a patient leaves the desk.
type Mood int

const (
	Pleased Mood = iota
	Upset
	Indifferent
)

// Visit is one true contact in the scenario.
type Visit struct {
	Arrive, Leave time.Duration // offsets from the recording start
	Mood          Mood
	Flaps         [][2]time.Duration // leave/arrive pairs inside the visit (sensor flapping)
	NoLeave       bool               // the sensor never reported the leave
	Presses       []Press            // what was pressed on the terminal for this visit
	// Expected facts.
	WantLeave time.Duration
	WantFlags []contact.Flag
	WantValue int // -1: unrated
}

// Press is one button press at an offset.
type Press struct {
	At    time.Duration
	Value int
}

// Scenario is a whole day at one desk.
type Scenario struct {
	Length   time.Duration
	Visits   []Visit
	PassBys  [][2]time.Duration
	Strays   []time.Duration    // leave events with no one at the desk
	Orphans  []Press            // presses with no contact near them
	Phone    [][2]time.Duration // the administrator on the phone, nobody at the desk
	Scale    contact.Scale
	rand     *rand.Rand
	debounce int // presses collapsed by the debounce
}

func uniform(r *rand.Rand, a, b float64) time.Duration {
	return time.Duration((a + r.Float64()*(b-a)) * float64(time.Second))
}

// NewScenario draws a day of the given length. The same seed gives the same day.
// Gaps keep every rule unambiguous: a rating lands well inside its window,
// before the next patient arrives, and away from pass-bys.
func NewScenario(length time.Duration, seed uint64) *Scenario {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &Scenario{Length: length, Scale: contact.Scale4pt, rand: r}
	t := uniform(r, 15, 40)
	for {
		dur := uniform(r, 20, 150)
		if t+dur > length-20*time.Second {
			break
		}
		v := Visit{Arrive: t, Leave: t + dur, WantLeave: t + dur, WantValue: -1}
		switch x := r.Float64(); {
		case x < 0.6:
			v.Mood = Pleased
		case x < 0.9:
			v.Mood = Upset
		default:
			v.Mood = Indifferent
		}
		if r.Float64() < 0.25 && dur > 30*time.Second {
			m := v.Arrive + uniform(r, 8, dur.Seconds()-12)
			v.Flaps = append(v.Flaps, [2]time.Duration{m, m + uniform(r, 0.3, 2.5)})
		}
		prev := len(s.Visits) - 1
		// A missing leave needs the next event to be the next arrive.
		v.NoLeave = prev >= 0 && !s.Visits[prev].NoLeave && r.Float64() < 0.06
		s.Visits = append(s.Visits, v)

		gap := uniform(r, 60, 180)
		next := v.Leave + gap
		if !v.NoLeave {
			s.addPresses(&s.Visits[len(s.Visits)-1])
			// Extras in the gap, clear of the rating window and of both contacts.
			quiet := v.Leave + 50*time.Second
			if x := r.Float64(); x < 0.18 && next-quiet > 30*time.Second {
				a := quiet + uniform(r, 5, (next-quiet).Seconds()-15)
				s.PassBys = append(s.PassBys, [2]time.Duration{a, a + uniform(r, 1, 3.5)})
			} else if x < 0.24 {
				s.Strays = append(s.Strays, quiet+uniform(r, 1, 5))
			}
			if r.Float64() < 0.08 && gap > 90*time.Second {
				// Orphan: after the rating window, before the next arrive.
				at := v.Leave + uniform(r, 70, gap.Seconds()-10)
				s.Orphans = append(s.Orphans, Press{At: at, Value: r.IntN(4)})
			}
			if r.Float64() < 0.2 && gap > 80*time.Second {
				a := v.Leave + uniform(r, 45, gap.Seconds()-25)
				s.Phone = append(s.Phone, [2]time.Duration{a, a + uniform(r, 6, 15)})
			}
		}
		t = next
	}
	// The leave of a NoLeave visit is the next arrive (or the recording end).
	for i := range s.Visits {
		v := &s.Visits[i]
		if v.NoLeave {
			v.WantLeave = length
			if i+1 < len(s.Visits) {
				v.WantLeave = s.Visits[i+1].Arrive
			}
			v.WantFlags = append(v.WantFlags, contact.FlagLeaveMissing)
		}
	}
	return s
}

// addPresses decides what the patient pressed: maybe nothing, maybe a change
// of mind within the debounce, rarely a second different press (misuse).
func (s *Scenario) addPresses(v *Visit) {
	r := s.rand
	if r.Float64() < 0.22 {
		return // most unrated contacts are patients who just walk away
	}
	var value int
	switch v.Mood {
	case Pleased:
		value = 2 + r.IntN(2)
	case Upset:
		value = r.IntN(2)
	default:
		value = 1 + r.IntN(2)
	}
	at := v.Leave + uniform(r, 1, 25)
	if r.Float64() < 0.1 {
		at = v.Leave - uniform(r, 2, 6) // pressed on the way out
	}
	if r.Float64() < 0.12 { // change of mind within the debounce
		first := (value + 1 + r.IntN(3)) % 4
		v.Presses = append(v.Presses, Press{At: at - uniform(r, 0.3, 1.6), Value: first})
		s.debounce++
	}
	v.Presses = append(v.Presses, Press{At: at, Value: value})
	v.WantValue = value
	if r.Float64() < 0.05 { // someone presses again, differently
		other := (value + 2) % 4
		v.Presses = append(v.Presses, Press{At: at + uniform(r, 4, 18), Value: other})
		v.WantFlags = append(v.WantFlags, contact.FlagMisuse)
	}
}

// Events renders the sensor's view of the day: arrive/leave per visit, the
// flaps, the pass-bys and the stray leaves, in time order except for a few
// neighbours swapped (sensors deliver out of order).
func (s *Scenario) Events(station string, start time.Time) []contact.Event {
	var evs []contact.Event
	add := func(t contact.EventType, at time.Duration) {
		evs = append(evs, contact.Event{Station: station, Type: t, At: start.Add(at), Source: "sensor"})
	}
	for _, v := range s.Visits {
		add(contact.Arrive, v.Arrive)
		for _, f := range v.Flaps {
			add(contact.Leave, f[0])
			add(contact.Arrive, f[1])
		}
		if !v.NoLeave {
			add(contact.Leave, v.Leave)
		}
	}
	for _, p := range s.PassBys {
		add(contact.Arrive, p[0])
		add(contact.Leave, p[1])
	}
	for _, at := range s.Strays {
		add(contact.Leave, at)
	}
	slices.SortFunc(evs, func(a, b contact.Event) int { return a.At.Compare(b.At) })
	for i := 1; i < len(evs); i++ {
		if s.rand.Float64() < 0.05 {
			evs[i-1], evs[i] = evs[i], evs[i-1]
			i++
		}
	}
	return evs
}

// Ratings renders the terminal's presses in time order.
func (s *Scenario) Ratings(station string, start time.Time) []contact.Rating {
	var rs []contact.Rating
	add := func(p Press) {
		rs = append(rs, contact.Rating{Station: station, Value: p.Value, Scale: s.Scale, At: start.Add(p.At)})
	}
	for _, v := range s.Visits {
		for _, p := range v.Presses {
			add(p)
		}
	}
	for _, p := range s.Orphans {
		add(p)
	}
	slices.SortFunc(rs, func(a, b contact.Rating) int { return a.At.Compare(b.At) })
	return rs
}

// Expected is what a correct pipeline reports for the day.
type Expected struct {
	Station       string            `json:"station"`
	Start         time.Time         `json:"start"`
	Length        float64           `json:"length_s"`
	Contacts      []ExpectedContact `json:"contacts"`
	PassBys       int               `json:"pass_bys"`
	IgnoredLeaves int               `json:"ignored_leaves"`
	Debounced     int               `json:"debounced_ratings"`
	Orphans       []contact.Press   `json:"orphan_ratings"`
}

// ExpectedContact is one contact as the pipeline must report it.
type ExpectedContact struct {
	Arrive time.Time      `json:"arrive"`
	Leave  time.Time      `json:"leave"`
	Flags  []contact.Flag `json:"flags"`
	Rating *contact.Press `json:"rating"`
	Set    contact.Set    `json:"set"`
	// Mood is how the patient was scripted: pleased, upset (angry or sad
	// speech) or indifferent (neutral or calm speech).
	Mood string `json:"mood"`
	// Left is when the patient really left: Leave but for a sensor that
	// missed the leave (the contact then runs to the next arrive).
	Left time.Time `json:"left"`
}

// Expected derives the truth from the scenario (not from the segmenter).
func (s *Scenario) Expected(station string, start time.Time) *Expected {
	rules := contact.DefaultSetRules()
	e := &Expected{Station: station, Start: start, Length: s.Length.Seconds(), PassBys: len(s.PassBys),
		IgnoredLeaves: len(s.Strays), Debounced: s.debounce, Orphans: []contact.Press{}}
	for _, v := range s.Visits {
		c := ExpectedContact{Arrive: start.Add(v.Arrive), Leave: start.Add(v.WantLeave), Flags: v.WantFlags, Set: contact.Unrated,
			Mood: [...]string{"pleased", "upset", "indifferent"}[v.Mood], Left: start.Add(v.Leave)}
		if c.Flags == nil {
			c.Flags = []contact.Flag{}
		}
		if v.WantValue >= 0 {
			// The rating is the last press of the first debounce group.
			var at time.Duration
			for _, p := range v.Presses {
				if p.Value == v.WantValue {
					at = p.At
					break
				}
			}
			c.Rating = &contact.Press{Value: v.WantValue, Scale: s.Scale, At: start.Add(at)}
			c.Set = rules.SetOf(c.Rating)
		}
		e.Contacts = append(e.Contacts, c)
	}
	for _, p := range s.Orphans {
		e.Orphans = append(e.Orphans, contact.Press{Value: p.Value, Scale: s.Scale, At: start.Add(p.At)})
	}
	return e
}
