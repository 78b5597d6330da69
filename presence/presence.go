// Package presence finds a patient's presence at a station without a
// sensor, from what the station's microphone hears: a conversation in
// which a voice other than the enrolled employee's takes part is a
// contact. Its events are marked source "auto" and go through the same
// segmenter rules as a sensor's.
//
// The rule, on the voice path's readings (one a second: how much speech,
// whose):
//   - arrive: a second with patient speech (a voice that is not the
//     employee's) of at least MinPatient; the contact starts where the
//     conversation it belongs to started — the employee's greeting usually
//     comes first — that is at the first of the speech seconds before it
//     with no pause of Gap between them;
//   - leave: no patient speech for LeaveSilence and the conversation
//     silent for Gap; the contact ends at the end of the conversation's
//     last speech (the employee's goodbye included), plus Linger. The
//     patient's voice again within Rejoin takes the leave back (a long
//     silence, not a departure), so a leave is told Rejoin late.
//
// The employee alone (on the phone, talking to a colleague out of the
// microphone's range) makes no contact; a patient who says nothing at all
// cannot be heard, which is what a sensor or the camera is for.
package presence

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"contactd/classifier/voice"
	"contactd/contact"
)

// Config holds the rule's settings.
type Config struct {
	// LeaveSilence without the patient's voice ends a contact.
	LeaveSilence time.Duration `yaml:"leave_silence"`
	// Gap: speech seconds closer than this belong to one conversation.
	Gap time.Duration `yaml:"gap"`
	// MinPatient seconds of patient speech in a second start a contact.
	MinPatient float64 `yaml:"min_patient"`
	// Lead: how long before the conversation's first words the patient is
	// taken to arrive (the walk up to the desk); Linger: how long after
	// the last words they are taken to leave.
	Lead   time.Duration `yaml:"lead"`
	Linger time.Duration `yaml:"linger"`
	// Rejoin: a patient's voice this soon after a leave takes the leave
	// back (a long silence, not a departure); the leave is told this much
	// later (0: at once).
	Rejoin time.Duration `yaml:"rejoin"`
	// RelativeScore: a second whose likeness to the employee's voice is
	// under this share of their usual is someone else's (0: off).
	RelativeScore float64 `yaml:"relative_score"`
	// LevelRange: speech more than this many dB under the employee's
	// usual level is someone across the room (the waiting area), not a
	// patient at the desk.
	LevelRange float64 `yaml:"level_range"`
	// StuckAfter: at a station whose sensor is checked against its voices
	// (presence: both), a sensor's contact going on this long after the
	// last patient's voice is flagged sensor_stuck (0: never).
	StuckAfter time.Duration `yaml:"stuck_after"`
	// Video: presence from the camera's patient zone (see VideoConfig).
	Video VideoConfig `yaml:"video"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{LeaveSilence: 8 * time.Second, Gap: 4 * time.Second, MinPatient: 0.3, Lead: 2 * time.Second, Linger: 3 * time.Second, LevelRange: 12, RelativeScore: 0.6, Rejoin: 10 * time.Second, StuckAfter: 5 * time.Minute,
		Video: DefaultVideoConfig()}
}

// Validate names every wrong setting.
func (c Config) Validate() error {
	var errs []error
	if c.LeaveSilence < 2*time.Second {
		errs = append(errs, fmt.Errorf("presence.leave_silence: %v is under 2s (a pause between two sentences would end the contact)", c.LeaveSilence))
	}
	if c.Gap <= 0 || c.Gap > c.LeaveSilence {
		errs = append(errs, fmt.Errorf("presence.gap: %v must be positive and at most leave_silence", c.Gap))
	}
	if c.MinPatient <= 0 || c.MinPatient > 1 {
		errs = append(errs, fmt.Errorf("presence.min_patient: %v is not in (0, 1] seconds", c.MinPatient))
	}
	if c.RelativeScore < 0 || c.RelativeScore >= 1 {
		errs = append(errs, fmt.Errorf("presence.relative_score: %v is not in [0, 1)", c.RelativeScore))
	}
	if c.Rejoin < 0 {
		errs = append(errs, fmt.Errorf("presence.rejoin: %v is negative", c.Rejoin))
	}
	if c.StuckAfter < 0 {
		errs = append(errs, fmt.Errorf("presence.stuck_after: %v is negative", c.StuckAfter))
	}
	if c.LevelRange <= 0 {
		errs = append(errs, fmt.Errorf("presence.level_range: %v dB must be positive", c.LevelRange))
	}
	if c.Linger < 0 || c.Lead < 0 {
		errs = append(errs, fmt.Errorf("presence.lead, presence.linger: %v, %v: neither may be negative", c.Lead, c.Linger))
	}
	if err := c.Video.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Source marks the events presence makes.
const Source = "auto"

// Detector turns one station's readings, in time order, into presence
// events. It is not safe for concurrent use.
type Detector struct {
	Config  Config
	Station string

	present     bool
	runStart    time.Time // first speech second of the current conversation
	lastSpeech  time.Time // end of the last speech second
	lastPatient time.Time // end of the last patient speech second
	// pending is a leave held back until pendingUntil (Rejoin).
	pending      *contact.Event
	pendingUntil time.Time
	// level is the employee's usual speech level (dBFS, a running mean);
	// zero until they are heard. score is the usual log-likelihood ratio
	// of their seconds against the background.
	level, levelN float64
	score, scoreN float64
}

// speech reports whether a reading holds speech worth a conversation.
func speech(r voice.Reading) bool { return r.Speech >= 0.2 && r.Who != "" }

// patient reports whether a reading holds the patient's voice. Without an
// enrolled employee every voice counts (the employee's too: such a
// station's presence is only as good as its silences between patients).
//
// A second the voice path gave the employee counts as another voice too
// when its score against the background is well under the employee's
// usual (under RelativeScore of it): the voice path decides each second
// alone against a fixed threshold, while over a day the employee's own
// seconds show how much like them they sound at this microphone.
func (d *Detector) patient(r voice.Reading) bool {
	if r.Speech < d.Config.MinPatient {
		return false
	}
	switch r.Who {
	case voice.Patient, voice.Unknown:
		return true
	case voice.Employee:
		return d.scoreN >= 30 && r.Speaker < d.Config.RelativeScore*d.score
	}
	return false
}

// Push takes the next reading and returns the events it completes.
func (d *Detector) Push(r voice.Reading) []contact.Event {
	var out []contact.Event
	if d.pending != nil && !r.Start.Before(d.pendingUntil) {
		out = append(out, *d.pending)
		d.pending = nil
	}
	if d.present && d.pending == nil {
		quiet := r.Start.Sub(d.lastPatient) >= d.Config.LeaveSilence
		switch {
		case quiet && r.Start.Sub(d.lastSpeech) >= d.Config.Gap:
			// The patient fell silent and the conversation is over: the
			// contact ends with its last words (the employee's goodbye).
			out = append(out, d.leave(d.lastSpeech, r.Start)...)
		case r.Start.Sub(d.lastPatient) >= 3*d.Config.LeaveSilence:
			// The employee talks on alone (the phone, a colleague): the
			// patient left after their last words.
			out = append(out, d.leave(d.lastPatient, r.Start)...)
		}
	}
	if !speech(r) {
		return out
	}
	if r.Who == voice.Employee && r.Level != 0 && !d.patient(r) {
		// Running means over the last ~100 seconds of their speech.
		d.levelN = min(d.levelN+1, 100)
		d.level += (r.Level - d.level) / d.levelN
		d.scoreN = min(d.scoreN+1, 100)
		d.score += (r.Speaker - d.score) / d.scoreN
	}
	if d.levelN > 0 && r.Level != 0 && r.Level < d.level-d.Config.LevelRange {
		return out // a voice across the room
	}
	end := r.Start.Add(time.Second)
	if d.lastSpeech.IsZero() || r.Start.Sub(d.lastSpeech) >= d.Config.Gap {
		d.runStart = r.Start
	}
	d.lastSpeech = end
	if d.patient(r) {
		if d.pending != nil {
			// The same patient again, soon after a silence: the leave was not one.
			d.pending, d.present = nil, true
		}
		if !d.present {
			d.present = true
			out = append(out, contact.Event{Station: d.Station, Type: contact.Arrive, At: d.runStart.Add(-d.Config.Lead), Source: Source})
		}
		d.lastPatient = end
	}
	return out
}

// leave ends the contact at last (+ linger); with Rejoin the event waits
// until Rejoin after now, in case the patient speaks again.
func (d *Detector) leave(last, now time.Time) []contact.Event {
	d.present = false
	ev := contact.Event{Station: d.Station, Type: contact.Leave, At: last.Add(d.Config.Linger), Source: Source}
	if d.Config.Rejoin <= 0 {
		return []contact.Event{ev}
	}
	d.pending, d.pendingUntil = &ev, now.Add(d.Config.Rejoin)
	return nil
}

// Flush ends an open contact at the end of the readings.
func (d *Detector) Flush() []contact.Event {
	if d.pending != nil {
		ev := *d.pending
		d.pending = nil
		return []contact.Event{ev}
	}
	if !d.present {
		return nil
	}
	d.present = false
	return []contact.Event{{Station: d.Station, Type: contact.Leave, At: d.lastSpeech.Add(d.Config.Linger), Source: Source}}
}

// Events runs a detector over a station's readings.
func Events(cfg Config, station string, rs []voice.Reading) []contact.Event {
	d := &Detector{Config: cfg, Station: station}
	var out []contact.Event
	for _, r := range rs {
		out = append(out, d.Push(r)...)
	}
	return append(out, d.Flush()...)
}

// Span is a contact's time range.
type Span struct {
	Arrive time.Time `json:"arrive"`
	Leave  time.Time `json:"leave"`
}

// Report compares found contacts with the true ones.
type Report struct {
	Found, Truth, Matched int
	Precision, Recall     float64
	// MeanBoundaryError is the mean of |Δarrive| and |Δleave| over the
	// matched contacts, in seconds; ArriveBias and LeaveBias the mean
	// signed errors (found − true: negative is early).
	MeanBoundaryError     float64
	ArriveBias, LeaveBias float64
	// Missed and Extra are the true contacts not found and the found ones
	// matching none; Matches the pairs, true first.
	Missed, Extra []Span
	Matches       [][2]Span
}

// IoU is the intersection over union of two time ranges.
func IoU(a, b Span) float64 {
	lo, hi := a.Arrive, a.Leave
	if b.Arrive.After(lo) {
		lo = b.Arrive
	}
	if b.Leave.Before(hi) {
		hi = b.Leave
	}
	inter := hi.Sub(lo)
	if inter <= 0 {
		return 0
	}
	ua, ub := a.Arrive, a.Leave
	if b.Arrive.Before(ua) {
		ua = b.Arrive
	}
	if b.Leave.After(ub) {
		ub = b.Leave
	}
	return inter.Seconds() / ub.Sub(ua).Seconds()
}

// Evaluate matches found contacts to true ones one to one, best IoU
// first, a match needing IoU ≥ minIoU.
func Evaluate(found, truth []Span, minIoU float64) Report {
	rep := Report{Found: len(found), Truth: len(truth)}
	type pair struct {
		f, t int
		iou  float64
	}
	var pairs []pair
	for i, f := range found {
		for j, t := range truth {
			if v := IoU(f, t); v >= minIoU {
				pairs = append(pairs, pair{i, j, v})
			}
		}
	}
	// Best first; greedy is exact enough when contacts do not overlap.
	slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(b.iou, a.iou) })
	usedF, usedT := map[int]bool{}, map[int]bool{}
	var errSum float64
	for _, p := range pairs {
		if usedF[p.f] || usedT[p.t] {
			continue
		}
		usedF[p.f], usedT[p.t] = true, true
		rep.Matched++
		f, t := found[p.f], truth[p.t]
		rep.Matches = append(rep.Matches, [2]Span{t, f})
		errSum += (f.Arrive.Sub(t.Arrive).Abs().Seconds() + f.Leave.Sub(t.Leave).Abs().Seconds()) / 2
		rep.ArriveBias += f.Arrive.Sub(t.Arrive).Seconds()
		rep.LeaveBias += f.Leave.Sub(t.Leave).Seconds()
	}
	for i, f := range found {
		if !usedF[i] {
			rep.Extra = append(rep.Extra, f)
		}
	}
	for j, t := range truth {
		if !usedT[j] {
			rep.Missed = append(rep.Missed, t)
		}
	}
	if rep.Found > 0 {
		rep.Precision = float64(rep.Matched) / float64(rep.Found)
	}
	if rep.Truth > 0 {
		rep.Recall = float64(rep.Matched) / float64(rep.Truth)
	}
	if rep.Matched > 0 {
		rep.MeanBoundaryError = errSum / float64(rep.Matched)
		rep.ArriveBias /= float64(rep.Matched)
		rep.LeaveBias /= float64(rep.Matched)
	}
	return rep
}
