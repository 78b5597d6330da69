// Package contact holds the types every stage shares: presence events, ratings,
// contacts and the sets a rating puts a contact in. It has no dependencies on
// the rest of contactd so that any package may import it.
package contact

import (
	"fmt"
	"time"
)

// EventType is what a presence sensor saw.
type EventType string

const (
	Arrive EventType = "arrive"
	Leave  EventType = "leave"
)

// Event is one presence event of one station.
type Event struct {
	Station string    `json:"station"`
	Type    EventType `json:"type"`
	At      time.Time `json:"at"`
	// Source says who produced the event: "sensor" (default), "auto", "agent", ...
	Source string `json:"source,omitempty"`
}

// Scale names the kind of button terminal a rating came from.
type Scale string

const (
	Scale2pt Scale = "2pt"
	Scale3pt Scale = "3pt"
	Scale4pt Scale = "4pt"
	Scale5pt Scale = "5pt"
	ScaleNPS Scale = "nps"
)

// Scales lists every scale contactd knows, in a stable order.
var Scales = []Scale{Scale2pt, Scale3pt, Scale4pt, Scale5pt, ScaleNPS}

// Max is the largest value of the scale (the smallest is always 0).
func (s Scale) Max() (int, bool) {
	switch s {
	case Scale2pt:
		return 1, true
	case Scale3pt:
		return 2, true
	case Scale4pt:
		return 3, true
	case Scale5pt:
		return 4, true
	case ScaleNPS:
		return 10, true
	}
	return 0, false
}

// Rating is one press on a station's terminal.
type Rating struct {
	Station string    `json:"station,omitempty"`
	Value   int       `json:"value"`
	Scale   Scale     `json:"scale"`
	At      time.Time `json:"at"`
}

// Press is a rating as attached to a contact: the station is the contact's.
type Press struct {
	Value int       `json:"value"`
	Scale Scale     `json:"scale"`
	At    time.Time `json:"at"`
}

// Press drops the station, which the owning contact already carries.
func (r Rating) Press() Press { return Press{Value: r.Value, Scale: r.Scale, At: r.At} }

// Set is the bucket a contact lands in by its rating.
type Set string

const (
	Positive Set = "positive"
	Negative Set = "negative"
	Neutral  Set = "neutral"
	Unrated  Set = "unrated"
)

// Sets lists every set in the order summaries print them.
var Sets = []Set{Negative, Neutral, Positive, Unrated}

// Flag marks something a reviewer should know about a contact.
type Flag string

const (
	// FlagLeaveMissing: no leave event closed the contact; it was closed at the
	// next arrive, at max_contact or at the end of the recording.
	FlagLeaveMissing Flag = "leave_missing"
	// FlagMisuse: a second, different rating was pressed for the same contact
	// after the debounce window.
	FlagMisuse Flag = "misuse"
	// FlagNoMedia: the contact lies outside the recording; no clip was cut.
	FlagNoMedia Flag = "no_media"
	// FlagOverrun: a consultation that ended after its appointment's end.
	FlagOverrun Flag = "overrun"
	// FlagUnscheduled: a consultation in a room with no appointment for it.
	FlagUnscheduled Flag = "unscheduled"
	// FlagSensorMissed: the voices heard a conversation with a patient where
	// the presence sensor saw nobody; the contact was made from the voices.
	FlagSensorMissed Flag = "sensor_missed"
	// FlagNotHeard: the sensor saw a patient but no patient's voice was heard.
	FlagNotHeard Flag = "not_heard"
	// FlagSensorStuck: the sensor kept the contact open long after the last
	// patient's voice (presence.stuck_after): a sensor stuck on, or a patient
	// who sat in silence.
	FlagSensorStuck Flag = "sensor_stuck"
)

// Contact is one patient contact: a time range at a station plus its facts.
type Contact struct {
	ID        string    `json:"id"`
	Site      string    `json:"site,omitempty"`
	Station   string    `json:"station"`
	Employee  string    `json:"employee,omitempty"`
	Arrive    time.Time `json:"arrive"`
	Leave     time.Time `json:"leave"`
	ClipStart time.Time `json:"clip_start"`
	ClipEnd   time.Time `json:"clip_end"`
	Flags     []Flag    `json:"flags"`
	Rating    *Press    `json:"rating"`
	// ExtraRatings are further different presses joined to an already rated
	// contact (see FlagMisuse). Kept so nothing pressed is lost.
	ExtraRatings []Press `json:"extra_ratings,omitempty"`
	Set          Set     `json:"set"`
	Clip         string  `json:"clip"`
	// Voice is the contact's emotion timeline (live capture only).
	Voice *Voice `json:"voice,omitempty"`
	// Face is what the desk camera saw of the employee's face (live capture
	// with video only).
	Face *Face `json:"face,omitempty"`
	// Appointment is the booked consultation a room's contact belongs to.
	Appointment *Appointment `json:"appointment,omitempty"`
	// Conversation is how the doctor and the patient talked (rooms).
	Conversation *Conversation `json:"conversation,omitempty"`
	// Likely is how likely the patient left dissatisfied, from what was
	// heard: a score with its top reasons (nil when nothing was heard).
	Likely *Likely `json:"likely_negative,omitempty"`
}

// Likely is a contact's dissatisfaction score.
type Likely struct {
	Version int `json:"version"`
	// Score in [0, 1]: the logistic of Points.
	Score   float64  `json:"score"`
	Points  float64  `json:"points"`
	Reasons []Reason `json:"reasons"`
}

// Reason is one sign that raised a dissatisfaction score.
type Reason struct {
	Code   string  `json:"code"`
	Value  float64 `json:"value"`  // what was measured
	Points float64 `json:"points"` // what it added
}

// Appointment is the booking a consulting-room contact was made from.
type Appointment struct {
	ID    string    `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Conversation is the doctor–patient communication of one consultation,
// from voice activity and speaker attribution. Seconds are of speech;
// durations of turns include their short pauses.
type Conversation struct {
	DoctorSeconds  float64 `json:"doctor_seconds"`
	PatientSeconds float64 `json:"patient_seconds"`
	// DoctorShare is the doctor's share of all speech (0..1).
	DoctorShare  float64 `json:"doctor_share"`
	Turns        int     `json:"turns"`
	DoctorTurns  int     `json:"doctor_turns"`
	PatientTurns int     `json:"patient_turns"`
	// Overlaps are changes of speaker with no pause between them;
	// interruptions those after which the newcomer kept the floor.
	Overlaps int `json:"overlaps"`
	// DoctorInterruptions: the doctor cut in on the patient; PatientInterruptions the reverse.
	DoctorInterruptions  int `json:"doctor_interruptions"`
	PatientInterruptions int `json:"patient_interruptions"`
	// LongestMonologue is the doctor's longest turn, in seconds.
	LongestMonologue float64 `json:"longest_monologue"`
	LongestSilence   float64 `json:"longest_silence"`
	// Speech rates in syllables per second of speech.
	DoctorRate  float64 `json:"doctor_rate"`
	PatientRate float64 `json:"patient_rate"`
	// PatientFirstSay: seconds from the start until the patient began the
	// first turn nobody cut short (-1: none); PatientOpening: how long the
	// patient's first turn lasted.
	PatientFirstSay float64 `json:"patient_first_say"`
	PatientOpening  float64 `json:"patient_opening"`
	// PatientTrend compares the patient's voice valence over the first and
	// the last third of their speech: improving, steady, worsening, unknown.
	PatientTrend        string  `json:"patient_trend"`
	PatientValenceStart float64 `json:"patient_valence_start"`
	PatientValenceEnd   float64 `json:"patient_valence_end"`
	// Microphones the voices were told apart on: 2 (the doctor's lapel
	// and the room's) or 1, whose turn and interruption counts are
	// estimates (see the README's figures for both).
	Microphones int `json:"microphones,omitempty"`
	// MicSeparation (dB, two microphones): how far apart the two voices'
	// level differences between the microphones lay; under
	// turns.SureSeparation the counts are estimates too.
	MicSeparation float64 `json:"mic_separation_db,omitempty"`
	Timeline      []Say   `json:"timeline"`
}

// Say is one stretch of one speaker's speech in a consultation.
type Say struct {
	Who   string    `json:"who"` // employee or patient
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Overlap: it began with no pause after the other speaker's speech.
	Overlap   bool    `json:"overlap,omitempty"`
	Syllables int     `json:"syllables"`
	Emotion   string  `json:"emotion,omitempty"`
	Valence   float64 `json:"valence,omitempty"`
}

// Face is the employee's facial expression through a contact: a summary and
// the looks at the camera (a few a second).
type Face struct {
	// Samples is how many looks there were; Seen how many found a face.
	Samples int `json:"samples"`
	Seen    int `json:"seen"`
	// SmileShare is the share of looks with a face whose smile
	// probability was over one half; MeanHappy the mean probability.
	SmileShare float64 `json:"smile_share"`
	MeanHappy  float64 `json:"mean_happy"`
	// ExpressionShare: share of the looks with a face by expression.
	ExpressionShare map[string]float64 `json:"expression_share"`
	MeanValence     float64            `json:"mean_valence"`
	Timeline        []FaceSample       `json:"timeline"`
}

// FaceSample is one look at the employee's face.
type FaceSample struct {
	At         time.Time `json:"at"`
	Face       bool      `json:"face"`
	Expression string    `json:"expression,omitempty"`
	Happy      float64   `json:"happy"`
	Valence    float64   `json:"valence"`
}

// Duration is the time between arrive and leave.
func (c *Contact) Duration() time.Duration { return c.Leave.Sub(c.Arrive) }

// HasFlag reports whether f is set.
func (c *Contact) HasFlag(f Flag) bool {
	for _, g := range c.Flags {
		if g == f {
			return true
		}
	}
	return false
}

// AddFlag sets f once.
func (c *Contact) AddFlag(f Flag) {
	if !c.HasFlag(f) {
		c.Flags = append(c.Flags, f)
	}
}

// InputError names one rejected piece of outside input: where it was and what
// was wrong with it.
type InputError struct {
	File  string
	Line  int
	Field string // empty when the whole line is at fault
	Msg   string
}

func (e *InputError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: field %q: %s", loc, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Voice is what the voice path heard during a contact: the employee's and
// the patient's speech second by second, each with a summary. Without an
// enrolled employee voice the speech cannot be told apart and is all under
// Unattributed.
type Voice struct {
	Employee     *VoiceSide `json:"employee,omitempty"`
	Patient      *VoiceSide `json:"patient,omitempty"`
	Unattributed *VoiceSide `json:"unattributed,omitempty"`
}

// VoiceSide is one speaker's speech in a contact.
type VoiceSide struct {
	SpeechSeconds float64 `json:"speech_seconds"`
	// EmotionSeconds: seconds of speech by emotion class.
	EmotionSeconds map[string]float64 `json:"emotion_seconds"`
	MeanArousal    float64            `json:"mean_arousal"`
	MeanValence    float64            `json:"mean_valence"`
	// NegativeShare is the share of classified speech that is sad or angry.
	NegativeShare float64       `json:"negative_share"`
	Timeline      []VoiceSecond `json:"timeline"`
}

// VoiceSecond is one second of one speaker's speech.
type VoiceSecond struct {
	At         time.Time `json:"at"`
	Speech     float64   `json:"speech"`
	Emotion    string    `json:"emotion"`
	Arousal    float64   `json:"arousal"`
	Valence    float64   `json:"valence"`
	Confidence float64   `json:"confidence"`
}
