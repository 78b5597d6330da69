package daygen

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"contactd/contact"
)

// Utterance is one recording of a speaker for a consulting day: 16 kHz
// mono, with the emotion it was spoken in.
type Utterance struct {
	PCM     []float32
	Emotion string
	// Text tells recordings of different sentences apart (RAVDESS: 1 or 2).
	Text int
}

// Kind is what happens in one appointment slot of a consulting day.
type Kind int

const (
	Normal     Kind = iota
	NoShow          // the patient does not come; the doctor speaks alone once (a phone call)
	Overrun         // the consultation runs past the slot's end
	BackToBack      // the patient comes in as soon as the previous one leaves
)

// ConsultSlot is one slot of a consulting day and what really happened in it.
type ConsultSlot struct {
	ID         string
	Kind       Kind
	Start, End time.Time // as booked
	Door       bool      // a door sensor reported the patient in and out
	// The truth, for slots that held a consultation.
	Arrive, Leave  time.Time // first and last speech (or the door)
	DoctorSpeech   float64   // seconds of each speaker's audio placed
	PatientSpeech  float64
	Turns          int
	Interruptions  int // turns started while the other was still speaking
	PatientTrend   string
	PatientEmotion [2]string // at the start, at the end
	Script         []ScriptTurn
	// Placed is every recording placed in the slot, to measure the talk
	// of each speaker on their own audio.
	Placed []Placed
}

// Placed is one recording placed in the day.
type Placed struct {
	Doctor bool
	At     time.Time
	PCM    []float32 // as mixed in, before the room's noise
}

// ScriptTurn is one turn as placed in the recording.
type ScriptTurn struct {
	Doctor     bool
	Start, End time.Time
}

// ConsultDay is a generated consulting-room recording with its schedule.
type ConsultDay struct {
	Start  time.Time
	Audio  []float32 // 16 kHz mono
	Slots  []ConsultSlot
	Events []contact.Event // the door sensor's
	// Mics is the day as a room with two microphones hears it (when
	// ConsultOptions.Mics is set): [0] the doctor's, [1] the room's.
	Mics [2][]float32
}

// MicLayout places two microphones in the room: each voice reaches each
// microphone at a gain (dB, relative to the one-microphone mix's level)
// after a delay, with a few early reflections off the desk and walls.
type MicLayout struct {
	// Gain[mic][0] is the doctor's gain at the microphone, [mic][1] the
	// patient's; Delay likewise.
	Gain  [2][2]float64
	Delay [2][2]time.Duration
	// Reflections per path (0: none), arriving 2–40 ms after the sound.
	Reflections int
}

// LapelMic is a doctor's lapel (or headset) microphone beside the room's:
// the doctor 10 dB over the room microphone's level, the patient 8 dB under it.
var LapelMic = MicLayout{
	Gain:        [2][2]float64{{10, -8}, {0, 0}},
	Delay:       [2][2]time.Duration{{300 * time.Microsecond, 5 * time.Millisecond}, {4 * time.Millisecond, 3 * time.Millisecond}},
	Reflections: 12,
}

// ConsultOptions describe the day.
type ConsultOptions struct {
	Start    time.Time
	Room     string
	Doctor   []Utterance   // the doctor's recordings (not the enrolment ones)
	Patients [][]Utterance // one speaker per slot, cycled
	Kinds    []Kind        // one per slot
	Doors    []bool        // per slot: a door sensor reports the patient (default: every other slot)
	Slot     time.Duration // booked length; default 2 min
	Lead     time.Duration // quiet before the first slot (default 20 s)
	Tail     time.Duration // quiet after the last slot (default 2 min)
	Seed     uint64
	// Mics also renders the day on two microphones (ConsultDay.Mics). It
	// draws from its own random source: the one-microphone day is the same
	// with or without it.
	Mics *MicLayout
}

// patient moods by trend: the emotions the patient speaks in at the start and at the end.
var trends = []struct {
	name       string
	start, end []string
}{
	{"improving", []string{"angry", "sad", "fearful"}, []string{"happy", "calm"}},
	{"worsening", []string{"happy", "calm"}, []string{"angry", "sad"}},
	{"steady", []string{"neutral", "calm"}, []string{"neutral", "calm"}},
}

// GenerateConsultDay mixes a day of consultations: slots of o.Slot booked
// back to back, each a conversation of doctor and patient turns (pauses of
// 0.4–1.2 s, a quarter of the changes an interruption that overlaps the
// previous speaker by 0.6–1.0 s), quiet room noise in between.
func GenerateConsultDay(o ConsultOptions) (*ConsultDay, error) {
	if len(o.Doctor) < 4 || len(o.Patients) == 0 {
		return nil, fmt.Errorf("a consulting day needs at least 4 doctor recordings and one patient")
	}
	if o.Slot == 0 {
		o.Slot = 2 * time.Minute
	}
	r := rand.New(rand.NewPCG(o.Seed, 9))
	d := &ConsultDay{Start: o.Start}
	sec := func(t float64) int { return int(t * Rate) }
	if o.Lead == 0 {
		o.Lead = 20 * time.Second
	}
	if o.Tail == 0 {
		o.Tail = 2 * time.Minute
	}
	lead := o.Lead.Seconds()
	total := lead + float64(len(o.Kinds))*o.Slot.Seconds() + o.Tail.Seconds()
	mix := make([]float64, sec(total))
	at := func(off float64) time.Time { return o.Start.Add(time.Duration(off * float64(time.Second))) }
	place := func(u []float32, off float64, gain float64) {
		i0 := sec(off)
		if need := i0 + len(u) + sec(o.Tail.Seconds()); need > len(mix) {
			mix = append(mix, make([]float64, need-len(mix))...) // an overrun goes past the last slot
		}
		for i, v := range u {
			mix[i0+i] += float64(v) * gain
		}
	}
	pick := func(pool []Utterance, emotions []string) Utterance {
		var c []Utterance
		for _, u := range pool {
			for _, e := range emotions {
				if u.Emotion == e {
					c = append(c, u)
				}
			}
		}
		if len(c) == 0 {
			c = pool
		}
		return c[r.IntN(len(c))]
	}
	docGain := 1.0
	prevEnd := 0.0 // end of the previous consultation's speech, from the day start
	for i, k := range o.Kinds {
		slotStart := lead + float64(i)*o.Slot.Seconds()
		s := ConsultSlot{ID: fmt.Sprintf("A-%03d", i+1), Kind: k, Start: at(slotStart), End: at(slotStart + o.Slot.Seconds()), Door: i%2 == 0}
		if i < len(o.Doors) {
			s.Door = o.Doors[i]
		}
		if k == NoShow {
			// The doctor on the phone: speech of one person only.
			// After the previous consultation, if that overran.
			u := Level(TrimBelow(pick(o.Doctor, []string{"neutral", "calm"}).PCM, ScriptTrimDB), SpeechDB)
			call := max(slotStart+30, prevEnd+30)
			place(u, call, docGain)
			s.Placed = append(s.Placed, Placed{Doctor: true, At: at(call), PCM: u})
			s.Door = false
			d.Slots = append(d.Slots, s)
			prevEnd = max(prevEnd, call+float64(len(u))/Rate)
			continue
		}
		pool := o.Patients[i%len(o.Patients)]
		tr := trends[r.IntN(len(trends))]
		s.PatientTrend = tr.name
		s.PatientEmotion = [2]string{tr.start[0], tr.end[0]}
		patGain := math.Pow(10, (r.Float64()*6-3)/20)
		t := slotStart + 5 + r.Float64()*20 // the patient comes in a little after the booked time
		// Never while the previous patient is still inside: a doctor running
		// late makes the next patient wait.
		t = max(t, prevEnd+8) // (no draw: days where nobody waits stay as they were)
		if k == BackToBack {
			t = max(prevEnd+6+r.Float64()*4, slotStart-20) // straight after the previous one left
		}
		nTurns := 10 + r.IntN(6)
		if k == Overrun {
			t = max(slotStart+50, t) // late, and long
			nTurns = 42 + r.IntN(4)
		}
		door := t - 2
		s.Arrive = at(t)
		who := 0 // the doctor greets first
		prevTurnEnd := 0.0
		var ownEnd [2]float64 // when each last finished a turn
		for turn := 0; turn < nTurns; turn++ {
			start := t
			if turn > 0 {
				if r.Float64() < 0.25 {
					// An interruption: start while the other still speaks —
					// but not over one's own last turn (an interruption of an
					// interruption shorter than both overlaps): then it is an
					// ordinary change after a pause.
					f := r.Float64()
					start = prevTurnEnd - (0.6 + 0.4*f)
					if start < ownEnd[who]+0.4 {
						start = prevTurnEnd + 0.4 + 0.8*f
					} else {
						s.Interruptions++
					}
				} else {
					start = prevTurnEnd + 0.4 + 0.8*r.Float64()
				}
			}
			n := 1 + r.IntN(3)
			end := start
			for j := 0; j < n; j++ {
				var u Utterance
				gain := docGain
				if who == 0 {
					u = pick(o.Doctor, []string{"neutral", "calm", "happy"})
				} else {
					em := tr.start
					if turn >= nTurns/2 {
						em = tr.end
					}
					u = pick(pool, em)
					gain = patGain
				}
				x := Level(TrimBelow(u.PCM, ScriptTrimDB), SpeechDB)
				for i := range x {
					x[i] *= float32(gain)
				}
				place(x, end, 1)
				s.Placed = append(s.Placed, Placed{Doctor: who == 0, At: at(end), PCM: x})
				dur := float64(len(x)) / Rate
				if who == 0 {
					s.DoctorSpeech += dur
				} else {
					s.PatientSpeech += dur
				}
				end += dur + 0.08 // words within a turn follow closely
			}
			end -= 0.08
			s.Script = append(s.Script, ScriptTurn{Doctor: who == 0, Start: at(start), End: at(end)})
			prevTurnEnd = end
			ownEnd[who] = end
			s.Turns++
			who = 1 - who
		}
		s.Leave = at(prevTurnEnd)
		prevEnd = prevTurnEnd
		if s.Door {
			d.Events = append(d.Events,
				contact.Event{Station: o.Room, Type: contact.Arrive, At: at(door), Source: "door"},
				contact.Event{Station: o.Room, Type: contact.Leave, At: at(prevTurnEnd + 3), Source: "door"})
			s.Arrive, s.Leave = at(door), at(prevTurnEnd+3)
		}
		d.Slots = append(d.Slots, s)
	}
	d.Audio = make([]float32, len(mix))
	for i, v := range mix {
		d.Audio[i] = float32(v)
	}
	AddRoomNoise(d.Audio, o.Seed)
	if o.Mics != nil {
		d.renderMics(*o.Mics, len(d.Audio), o.Seed)
	}
	return d, nil
}

// renderMics mixes every placed recording into both microphones along
// its path: delay, gain and early reflections (random delays, decaying
// gains and signs, drawn once per path), then each microphone's own noise.
func (d *ConsultDay) renderMics(l MicLayout, n int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 13))
	type tap struct {
		at int
		g  float64
	}
	for mic := range 2 {
		var paths [2][]tap
		for src := range 2 {
			g := math.Pow(10, l.Gain[mic][src]/20)
			p := []tap{{int(l.Delay[mic][src].Seconds() * Rate), g}}
			for range l.Reflections {
				ms := 2 + 38*r.Float64()
				sign := 1.0
				if r.IntN(2) == 0 {
					sign = -1
				}
				p = append(p, tap{p[0].at + int(ms*Rate/1000), sign * g * 0.6 * math.Exp(-ms/15) * (0.5 + r.Float64())})
			}
			paths[src] = p
		}
		mix := make([]float64, n)
		for _, s := range d.Slots {
			for _, pl := range s.Placed {
				src := 1
				if pl.Doctor {
					src = 0
				}
				i0 := int(pl.At.Sub(d.Start).Seconds() * Rate)
				for _, tp := range paths[src] {
					for i, v := range pl.PCM {
						if j := i0 + tp.at + i; j >= 0 && j < n {
							mix[j] += float64(v) * tp.g
						}
					}
				}
			}
		}
		d.Mics[mic] = make([]float32, n)
		for i, v := range mix {
			d.Mics[mic][i] = float32(v)
		}
		AddRoomNoise(d.Mics[mic], seed+uint64(100+mic))
	}
}

// SpeechDB is the level speech reaches the room's microphone at, dBFS RMS
// (patients vary by ±3 dB around it).
const SpeechDB = -26

// Level scales a copy of x to an RMS of db dBFS.
func Level(x []float32, db float64) []float32 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	if e == 0 {
		return slices.Clone(x)
	}
	g := math.Pow(10, db/20) / math.Sqrt(e/float64(len(x)))
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(float64(v) * g)
	}
	return out
}

// RoomNoiseDB is the level of the room's noise floor, dBFS.
const RoomNoiseDB = -60

// AddRoomNoise adds the room's noise floor to x (what its microphone hears
// in silence): enrolment recordings made in the room carry it too.
func AddRoomNoise(x []float32, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 11))
	noise := math.Pow(10, RoomNoiseDB/20.0)
	for i, v := range x {
		x[i] = float32(max(-1, min(1, float64(v)+noise*r.NormFloat64())))
	}
}

// Trim cuts the leading and trailing quiet of a recording: what is more
// than 35 dB under its loudest 10 ms, keeping 20 ms around the speech.
func Trim(x []float32) []float32 { return TrimBelow(x, 35) }

// ScriptTrimDB is how far under its loudest 10 ms a consultation's
// utterance is cut. Tighter than Trim: a script counts a turn from the
// first word, and 35 dB under the top keeps up to a second of breath
// (−45…−50 dBFS) before it, which a listener does not hear as speaking
// and which would make a scripted interruption start over the other's
// words before the voice does.
const ScriptTrimDB = 30

// TrimBelow cuts the leading and trailing part of x that is more than under dB
// under its loudest 10 ms, keeping 20 ms around the rest.
func TrimBelow(x []float32, under float64) []float32 {
	const hop = Rate / 100
	var db []float64
	top := math.Inf(-1)
	for i := 0; i+hop <= len(x); i += hop {
		var e float64
		for _, v := range x[i : i+hop] {
			e += float64(v) * float64(v)
		}
		v := 10 * math.Log10(e/hop+1e-12)
		db = append(db, v)
		top = math.Max(top, v)
	}
	first, last := -1, -1
	for i, v := range db {
		if v > top-under {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil
	}
	a, b := max(first-2, 0)*hop, min((last+3)*hop, len(x))
	return x[a:b]
}

// RAVDESSActor reads one RAVDESS actor's recordings (labels.csv order) at
// 16 kHz with their emotions.
func RAVDESSActor(ctx context.Context, dir string, actor int) ([]Utterance, error) {
	labels := filepath.Join(dir, "labels.csv")
	f, err := os.Open(labels)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", labels, err)
	}
	var out []Utterance
	for _, row := range rows[1:] {
		if len(row) < 4 || row[1] != strconv.Itoa(actor) {
			continue
		}
		pcm, err := decode(ctx, filepath.Join(dir, row[0]))
		if err != nil {
			return nil, err
		}
		x := make([]float32, len(pcm))
		for i, v := range pcm {
			x[i] = float32(v) / 32768
		}
		text := 0
		if len(row) > 5 {
			text, _ = strconv.Atoi(row[5])
		}
		out = append(out, Utterance{PCM: x, Emotion: row[3], Text: text})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no recordings of actor %d", labels, actor)
	}
	return out, nil
}
