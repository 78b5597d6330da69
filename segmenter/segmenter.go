// Package segmenter turns a station's presence events into contacts (time
// ranges with facts) and joins the ratings pressed on its terminal to them.
// It is pure logic on wall-clock time: no media, no I/O.
package segmenter

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"contactd/contact"
)

// Config holds every threshold of the rules. Zero values are not defaults:
// start from DefaultConfig.
type Config struct {
	// A leave followed by an arrive within MergeGap is the same contact
	// (a flapping sensor, a patient turning away).
	MergeGap time.Duration `yaml:"merge_gap"`
	// Shorter contacts are pass-bys: counted, not contacts.
	MinContact time.Duration `yaml:"min_contact"`
	// A contact with no leave is closed this long after its arrive.
	MaxContact time.Duration `yaml:"max_contact"`
	// The clip starts PreRoll before the arrive and ends PostRoll after the leave.
	PreRoll  time.Duration `yaml:"pre_roll"`
	PostRoll time.Duration `yaml:"post_roll"`
	// A rating joins a contact open when pressed or ended at most this long before.
	RatingWindow time.Duration `yaml:"rating_window"`
	// Presses on one terminal within Debounce of each other collapse to the last.
	Debounce time.Duration `yaml:"debounce"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MergeGap:     3 * time.Second,
		MinContact:   5 * time.Second,
		MaxContact:   30 * time.Minute,
		PreRoll:      3 * time.Second,
		PostRoll:     3 * time.Second,
		RatingWindow: 60 * time.Second,
		Debounce:     2 * time.Second,
	}
}

// Validate reports the first threshold that makes no sense.
func (c Config) Validate() error {
	var errs []error
	nonNeg := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("segmenter.%s: %v is negative", name, d))
		}
	}
	nonNeg("merge_gap", c.MergeGap)
	nonNeg("min_contact", c.MinContact)
	nonNeg("pre_roll", c.PreRoll)
	nonNeg("post_roll", c.PostRoll)
	nonNeg("rating_window", c.RatingWindow)
	nonNeg("debounce", c.Debounce)
	if c.MaxContact <= c.MinContact {
		errs = append(errs, fmt.Errorf("segmenter.max_contact: %v must be longer than min_contact %v", c.MaxContact, c.MinContact))
	}
	return errors.Join(errs...)
}

// PassBy is a presence shorter than MinContact.
type PassBy struct {
	Station string    `json:"station"`
	Arrive  time.Time `json:"arrive"`
	Leave   time.Time `json:"leave"`
}

// Input is everything known about one or more stations over a span of time.
type Input struct {
	Events  []contact.Event
	Ratings []contact.Rating
	// From and Until bound the recording. Clips are clamped to them, and a
	// contact still open at Until is closed there. Zero means unbounded.
	From, Until time.Time
}

// Result is what the rules made of an Input.
type Result struct {
	Contacts []*contact.Contact // by station, then arrive
	PassBys  []PassBy
	// IgnoredLeaves are leaves that came with no open contact.
	IgnoredLeaves []contact.Event
	// Orphans are ratings that matched no contact: kept, never dropped.
	Orphans []contact.Rating
	// Debounced are presses replaced by a later press within the debounce.
	Debounced []contact.Rating
	// Repeats are presses of the same value for an already rated contact.
	Repeats []contact.Rating
}

// Run applies the presence rules and the rating join.
func Run(cfg Config, rules contact.SetRules, in Input) *Result {
	res := &Result{}
	byStation := map[string][]contact.Event{}
	for _, e := range in.Events {
		byStation[e.Station] = append(byStation[e.Station], e)
	}
	stations := make([]string, 0, len(byStation))
	for s := range byStation {
		stations = append(stations, s)
	}
	slices.Sort(stations)
	for _, s := range stations {
		cs, pbs, ign := Contacts(cfg, byStation[s], in.Until)
		res.Contacts = append(res.Contacts, cs...)
		res.PassBys = append(res.PassBys, pbs...)
		res.IgnoredLeaves = append(res.IgnoredLeaves, ign...)
	}
	for _, c := range res.Contacts {
		c.ClipStart = c.Arrive.Add(-cfg.PreRoll)
		c.ClipEnd = c.Leave.Add(cfg.PostRoll)
		if !in.From.IsZero() && c.ClipStart.Before(in.From) {
			c.ClipStart = in.From
		}
		if !in.Until.IsZero() && c.ClipEnd.After(in.Until) {
			c.ClipEnd = in.Until
		}
	}
	j := Join(cfg, rules, res.Contacts, in.Ratings)
	res.Orphans, res.Debounced, res.Repeats = j.Orphans, j.Debounced, j.Repeats
	return res
}

// eventOrder sorts by time; at the same instant a leave comes before an
// arrive, so that a sensor reporting both at once reads as a flap, not as an
// arrive with a missing leave.
func eventOrder(a, b contact.Event) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	rank := func(t contact.EventType) int {
		if t == contact.Leave {
			return 0
		}
		return 1
	}
	return cmp.Compare(rank(a.Type), rank(b.Type))
}

// Contacts applies the presence rules to the events of one station. Events
// may come in any order. A contact still open after the last event is closed
// at its max_contact, or at until when that is earlier.
func Contacts(cfg Config, events []contact.Event, until time.Time) (contacts []*contact.Contact, passBys []PassBy, ignored []contact.Event) {
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, eventOrder)

	var open *contact.Contact // current contact, nil if none
	var leaveAt time.Time     // pending leave of open; zero while the patient is there

	finish := func() {
		if open == nil {
			return
		}
		if !leaveAt.IsZero() {
			open.Leave = leaveAt
		}
		if open.Duration() < cfg.MinContact {
			passBys = append(passBys, PassBy{Station: open.Station, Arrive: open.Arrive, Leave: open.Leave})
		} else {
			open.ID = ID(open.Station, open.Arrive)
			open.Set = contact.Unrated
			contacts = append(contacts, open)
		}
		open, leaveAt = nil, time.Time{}
	}
	// expire closes what time has closed by t: a pending leave older than the
	// merge gap, or a contact open for longer than max_contact.
	expire := func(t time.Time) {
		if open == nil {
			return
		}
		if !leaveAt.IsZero() {
			if t.Sub(leaveAt) > cfg.MergeGap {
				finish()
			}
			return
		}
		if deadline := open.Arrive.Add(cfg.MaxContact); t.After(deadline) {
			open.Leave = deadline
			open.AddFlag(contact.FlagLeaveMissing)
			finish()
		}
	}

	for _, e := range evs {
		expire(e.At)
		switch e.Type {
		case contact.Arrive:
			switch {
			case open == nil:
				open = &contact.Contact{Station: e.Station, Arrive: e.At, Flags: []contact.Flag{}}
			case !leaveAt.IsZero():
				leaveAt = time.Time{} // within merge gap: the same contact goes on
			default:
				// A second arrive with no leave between: the first contact
				// ends here, its leave never came.
				open.Leave = e.At
				open.AddFlag(contact.FlagLeaveMissing)
				finish()
				open = &contact.Contact{Station: e.Station, Arrive: e.At, Flags: []contact.Flag{}}
			}
		case contact.Leave:
			if open == nil || !leaveAt.IsZero() {
				ignored = append(ignored, e)
				continue
			}
			leaveAt = e.At
		}
	}
	if open != nil && leaveAt.IsZero() {
		end := open.Arrive.Add(cfg.MaxContact)
		if !until.IsZero() && until.Before(end) && until.After(open.Arrive) {
			end = until
		}
		open.Leave = end
		open.AddFlag(contact.FlagLeaveMissing)
	}
	finish()
	return contacts, passBys, ignored
}

// ID derives a contact id from its station and arrive: time-sortable like a
// ULID, and the same on every run over the same input, so re-analysing a
// recording overwrites its clips instead of duplicating them.
func ID(station string, arrive time.Time) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s|%d", station, arrive.UnixNano()))
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(arrive))
	_ = id.SetEntropy(h[:10])
	return id.String()
}

// JoinResult lists what the rating join did not attach as a contact's rating.
type JoinResult struct {
	Orphans, Debounced, Repeats []contact.Rating
}

// Join attaches ratings to contacts and sets each contact's set. Contacts
// must carry their final arrive and leave.
func Join(cfg Config, rules contact.SetRules, contacts []*contact.Contact, ratings []contact.Rating) JoinResult {
	var res JoinResult
	byStation := map[string][]*contact.Contact{}
	for _, c := range contacts {
		byStation[c.Station] = append(byStation[c.Station], c)
	}
	rs := slices.Clone(ratings)
	slices.SortStableFunc(rs, func(a, b contact.Rating) int {
		if c := cmp.Compare(a.Station, b.Station); c != 0 {
			return c
		}
		return a.At.Compare(b.At)
	})
	for i, r := range rs {
		// A later press on the same terminal within the debounce replaces this one.
		if i+1 < len(rs) && rs[i+1].Station == r.Station && rs[i+1].At.Sub(r.At) <= cfg.Debounce {
			res.Debounced = append(res.Debounced, r)
			continue
		}
		var best *contact.Contact
		for _, c := range byStation[r.Station] {
			if c.Arrive.After(r.At) || r.At.After(c.Leave.Add(cfg.RatingWindow)) {
				continue
			}
			if best == nil || c.Leave.After(best.Leave) {
				best = c
			}
		}
		p := r.Press()
		switch {
		case best == nil:
			res.Orphans = append(res.Orphans, r)
		case best.Rating == nil:
			best.Rating = &p
		case best.Rating.Value == p.Value && best.Rating.Scale == p.Scale:
			res.Repeats = append(res.Repeats, r)
		default:
			best.ExtraRatings = append(best.ExtraRatings, p)
			best.AddFlag(contact.FlagMisuse)
		}
	}
	for _, c := range contacts {
		c.Set = rules.SetOf(c.Rating)
	}
	return res
}
