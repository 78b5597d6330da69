// Package consult is the consulting room: contacts made from the
// appointment schedule (refined by a door sensor, the doctor's start/stop
// button or the voices heard), and the doctor–patient communication of
// each consultation measured from who spoke when.
package consult

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"contactd/contact"
)

// Who spoke (the voice path's names).
const (
	Doctor  = "employee"
	Patient = "patient"
)

// Config holds the room rules.
type Config struct {
	// A consultation may begin up to Early before its booked start and end
	// up to MaxOverrun after its booked end.
	Early      time.Duration `yaml:"early"`
	MaxOverrun time.Duration `yaml:"max_overrun"`
	// Without a door or button, Gap of silence ends a consultation, and
	// one with less than MinPatient of patient speech is a no-show.
	Gap        time.Duration `yaml:"gap"`
	MinPatient time.Duration `yaml:"min_patient"`
	// ChangePause: a conversation that runs over into the next booking
	// without a door is split at a pause at least this long (one patient
	// leaving, the next coming in).
	ChangePause time.Duration `yaml:"change_pause"`
	// Overrun is how far past the booked end a consultation may go before
	// it is flagged.
	Overrun time.Duration `yaml:"overrun"`
	// A change of speaker without a pause is an interruption when the
	// newcomer then speaks at least InterruptHold.
	InterruptHold time.Duration `yaml:"interrupt_hold"`
	// TrendDelta: the change of the patient's mean valence (−1..1) between
	// the first and the last third of their speech that counts as improving
	// or worsening.
	TrendDelta float64 `yaml:"trend_delta"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{Early: 15 * time.Minute, MaxOverrun: 30 * time.Minute, Gap: 20 * time.Second,
		MinPatient: 3 * time.Second, ChangePause: 4 * time.Second, Overrun: time.Minute, InterruptHold: time.Second, TrendDelta: 0.15}
}

// Validate names the first rule that makes no sense.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"early", c.Early}, {"max_overrun", c.MaxOverrun}, {"gap", c.Gap}, {"min_patient", c.MinPatient},
		{"change_pause", c.ChangePause}, {"overrun", c.Overrun}, {"interrupt_hold", c.InterruptHold}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("consult.%s: %v is negative", d.name, d.v))
		}
	}
	if c.Gap <= c.ChangePause {
		errs = append(errs, fmt.Errorf("consult.gap: %v must be longer than change_pause %v", c.Gap, c.ChangePause))
	}
	if c.TrendDelta <= 0 || c.TrendDelta > 2 {
		errs = append(errs, fmt.Errorf("consult.trend_delta: %v is not in (0, 2]", c.TrendDelta))
	}
	return errors.Join(errs...)
}

// turn is a run of one speaker's says.
type turn struct {
	who        string
	start, end time.Time
	overlap    bool // began with no pause after the other's speech
}

// backchannel reports whether says[i] begins and ends inside one say of
// the other speaker. One microphone never hears this (it hears one voice
// at a time); two do.
func backchannel(says []contact.Say, i int) bool {
	s := says[i]
	for _, o := range says {
		if o.Who != s.Who && o.Start.Before(s.Start) && o.End.After(s.End) {
			return true
		}
	}
	return false
}

// Measure computes the communication metrics of the says (sorted by start)
// of one consultation that began at start.
func Measure(cfg Config, says []contact.Say, start time.Time) *contact.Conversation {
	c := &contact.Conversation{PatientFirstSay: -1, PatientTrend: "unknown", Timeline: says}
	var syl = map[string]int{}
	var turns []turn
	var lastEnd time.Time
	for i, s := range says {
		d := s.End.Sub(s.Start).Seconds()
		switch s.Who {
		case Doctor:
			c.DoctorSeconds += d
		case Patient:
			c.PatientSeconds += d
		}
		syl[s.Who] += s.Syllables
		if i > 0 {
			c.LongestSilence = math.Max(c.LongestSilence, s.Start.Sub(lastEnd).Seconds())
		}
		if s.End.After(lastEnd) {
			lastEnd = s.End
		}
		if n := len(turns); n > 0 && turns[n-1].who == s.Who {
			turns[n-1].end = s.End
			continue
		}
		if backchannel(says, i) {
			// Said wholly while the other speaks on ("yes", "mm"): it
			// neither takes the floor nor cuts the other short.
			c.Overlaps++
			continue
		}
		turns = append(turns, turn{who: s.Who, start: s.Start, end: s.End, overlap: i > 0 && s.Overlap})
	}
	if tot := c.DoctorSeconds + c.PatientSeconds; tot > 0 {
		c.DoctorShare = c.DoctorSeconds / tot
	}
	if c.DoctorSeconds > 0 {
		c.DoctorRate = float64(syl[Doctor]) / c.DoctorSeconds
	}
	if c.PatientSeconds > 0 {
		c.PatientRate = float64(syl[Patient]) / c.PatientSeconds
	}
	c.Turns = len(turns)
	interrupted := make([]bool, len(turns)) // turn i was cut short by turn i+1
	for i, t := range turns {
		switch t.who {
		case Doctor:
			c.DoctorTurns++
			c.LongestMonologue = math.Max(c.LongestMonologue, t.end.Sub(t.start).Seconds())
		case Patient:
			c.PatientTurns++
		}
		if i == 0 || !t.overlap {
			continue
		}
		c.Overlaps++
		if t.end.Sub(t.start) >= cfg.InterruptHold {
			interrupted[i-1] = true
			if t.who == Doctor {
				c.DoctorInterruptions++
			} else {
				c.PatientInterruptions++
			}
		}
	}
	for i, t := range turns {
		if t.who != Patient {
			continue
		}
		if c.PatientOpening == 0 {
			c.PatientOpening = t.end.Sub(t.start).Seconds()
		}
		if !interrupted[i] {
			c.PatientFirstSay = math.Max(0, t.start.Sub(start).Seconds())
			break
		}
	}
	c.PatientTrend, c.PatientValenceStart, c.PatientValenceEnd = trend(cfg, says)
	return c
}

// trend compares the duration-weighted valence of the patient's first and
// last third of classified speech.
func trend(cfg Config, says []contact.Say) (string, float64, float64) {
	var ps []contact.Say
	var total float64
	for _, s := range says {
		if s.Who == Patient && s.Emotion != "" {
			ps = append(ps, s)
			total += s.End.Sub(s.Start).Seconds()
		}
	}
	if len(ps) < 3 {
		return "unknown", 0, 0
	}
	third := total / 3
	mean := func(seq []contact.Say) float64 {
		var w, v, acc float64
		for _, s := range seq {
			d := s.End.Sub(s.Start).Seconds()
			take := math.Min(d, third-acc)
			if take <= 0 {
				break
			}
			w += take
			v += take * s.Valence
			acc += take
		}
		return v / w
	}
	first := mean(ps)
	rev := slices.Clone(ps)
	slices.Reverse(rev)
	last := mean(rev)
	switch {
	case last-first >= cfg.TrendDelta:
		return "improving", first, last
	case first-last >= cfg.TrendDelta:
		return "worsening", first, last
	}
	return "steady", first, last
}
