package likely

import (
	"math"
	"testing"
	"time"

	"contactd/contact"
)

func TestAUC(t *testing.T) {
	for _, c := range []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		// Pairs (pos, neg): (0.35,0.1) (0.35,0.4)✗ (0.8,0.1) (0.8,0.4): 3 of 4.
		{"three of four pairs", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		{"perfect", []float64{0.1, 0.2, 0.9}, []bool{false, false, true}, 1},
		{"reversed", []float64{0.9, 0.2, 0.1}, []bool{false, true, true}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, true, false}, 0.5},
		// One tie between the positive 0.5 and the negative 0.5 counts half: (1 + 0.5) / 2.
		{"a tie", []float64{0.5, 0.5, 0.2}, []bool{true, false, false}, 0.75},
	} {
		if got := AUC(c.scores, c.pos); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: AUC %v, want %v", c.name, got, c.want)
		}
	}
	if !math.IsNaN(AUC([]float64{1, 2}, []bool{true, true})) {
		t.Error("AUC with one kind only must be NaN")
	}
}

// side is a patient (or employee) who spoke secs seconds, each second of
// the given emotion, valence and arousal.
func side(start time.Time, emo []string, val, aro []float64) *contact.VoiceSide {
	s := &contact.VoiceSide{EmotionSeconds: map[string]float64{}}
	for i, e := range emo {
		s.Timeline = append(s.Timeline, contact.VoiceSecond{At: start.Add(time.Duration(i) * time.Second), Speech: 1, Emotion: e, Valence: val[i], Arousal: aro[i]})
		s.SpeechSeconds++
		s.EmotionSeconds[e]++
		s.MeanValence += val[i]
		s.MeanArousal += aro[i]
	}
	s.MeanValence /= s.SpeechSeconds
	s.MeanArousal /= s.SpeechSeconds
	s.NegativeShare = (s.EmotionSeconds["angry"] + s.EmotionSeconds["sad"]) / s.SpeechSeconds
	return s
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestScore(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	mk := func(p *contact.VoiceSide, d time.Duration) *contact.Contact {
		return &contact.Contact{Arrive: t0, Leave: t0.Add(d), Voice: &contact.Voice{Patient: p}}
	}
	angry := mk(side(t0, repeat("angry", 12), repeat(-0.6, 12), repeat(0.8, 12)), time.Minute)
	happy := mk(side(t0, repeat("happy", 12), repeat(0.6, 12), repeat(0.6, 12)), time.Minute)
	// Starts content, ends sad.
	emo := append(repeat("happy", 6), repeat("sad", 6)...)
	val := append(repeat(0.5, 6), repeat(-0.5, 6)...)
	worse := mk(side(t0, emo, val, repeat(0.0, 12)), time.Minute)

	u := Usual{}
	sa, sh, sw := Score(angry, u, DefaultWeights), Score(happy, u, DefaultWeights), Score(worse, u, DefaultWeights)
	if !(sa.Score > sw.Score && sw.Score > sh.Score) {
		t.Errorf("scores: angry %v, worsening %v, happy %v; want them in that order", sa.Score, sw.Score, sh.Score)
	}
	if sa.Reasons[0].Code != PatientNegative {
		t.Errorf("angry patient's top reason %+v", sa.Reasons)
	}
	for i := 1; i < len(sa.Reasons); i++ {
		if sa.Reasons[i].Points > sa.Reasons[i-1].Points {
			t.Errorf("reasons not in order of points: %+v", sa.Reasons)
		}
	}
	found := false
	for _, r := range sw.Reasons {
		found = found || r.Code == PatientWorsening && r.Value < -0.9
	}
	if !found {
		t.Errorf("worsening patient's reasons %+v lack %s ≈ -1", sw.Reasons, PatientWorsening)
	}
	// A pleased patient: nothing adds points, and being heard as happy
	// takes them off (the one reason, with negative points).
	if len(sh.Reasons) != 1 || sh.Reasons[0].Code != PatientPleased || sh.Reasons[0].Points >= 0 || sh.Points >= 0 {
		t.Errorf("happy patient: %+v", sh)
	}
	// A stranger's "hot" seconds and anger apart from sadness do not count
	// (rule version 2): an angry and a sad patient score alike.
	sad := mk(side(t0, repeat("sad", 12), repeat(-0.6, 12), repeat(-0.5, 12)), time.Minute)
	if ss := Score(sad, u, DefaultWeights); ss.Score != sa.Score {
		t.Errorf("sad %v and angry %v patients should score alike", ss.Score, sa.Score)
	}
	// The employee's voice counts above their usual only: a voice that
	// always reads tense is their character, not this contact's tension.
	tense := side(t0, repeat("angry", 10), repeat(-0.5, 10), repeat(0.8, 10))
	calmPatient := side(t0, repeat("neutral", 10), repeat(0.1, 10), repeat(0.0, 10))
	var days []*contact.Contact
	for range 6 {
		days = append(days, &contact.Contact{Arrive: t0, Leave: t0.Add(time.Minute), Voice: &contact.Voice{Employee: tense, Patient: calmPatient}})
	}
	if s := Score(days[0], UsualOf(days), DefaultWeights); s.Points != 0 {
		t.Errorf("an employee as tense as usual: %+v", s)
	}
	if s := Score(days[0], UsualOf(days[:4]), DefaultWeights); s.Points != 0 {
		t.Errorf("no usual yet (4 contacts): the employee's tension is not counted: %+v", s)
	}
	calm := side(t0, repeat("neutral", 10), repeat(0.2, 10), repeat(0.0, 10))
	for i := range days {
		days[i] = &contact.Contact{Arrive: t0, Leave: t0.Add(time.Minute), Voice: &contact.Voice{Employee: calm, Patient: calmPatient}}
	}
	odd := &contact.Contact{Arrive: t0, Leave: t0.Add(time.Minute), Voice: &contact.Voice{Employee: tense, Patient: calmPatient}}
	if s := Score(odd, UsualOf(days), DefaultWeights); s.Reasons[0].Code != RaisedVoices && s.Reasons[0].Code != EmployeeTense {
		t.Errorf("a usually calm employee tense: %+v", s)
	}
	if Score(&contact.Contact{Arrive: t0, Leave: t0.Add(time.Minute)}, u, DefaultWeights) != nil {
		t.Error("a contact where nothing was heard must have no score")
	}
	// Length counts only against a usual from enough contacts.
	long := mk(side(t0, repeat("neutral", 12), repeat(0.0, 12), repeat(0.0, 12)), 8*time.Minute)
	if s := Score(long, Usual{Median: 2 * time.Minute, N: 4}, DefaultWeights); len(s.Reasons) != 0 {
		t.Errorf("4 contacts made a usual length: %+v", s.Reasons)
	}
	var usual []*contact.Contact
	for range 9 {
		usual = append(usual, &contact.Contact{Arrive: t0, Leave: t0.Add(2 * time.Minute)})
	}
	s := Score(long, UsualOf(usual), DefaultWeights)
	if len(s.Reasons) != 1 || s.Reasons[0].Code != LongContact || s.Reasons[0].Value != 2 {
		t.Errorf("four times the usual length: %+v", s.Reasons)
	}
}

func TestEvaluate(t *testing.T) {
	l := func(s float64, code string) *contact.Likely {
		return &contact.Likely{Score: s, Reasons: []contact.Reason{{Code: code}}}
	}
	rep := Evaluate([]Rated{{l(0.9, "a"), true}, {l(0.2, "b"), false}, {l(0.6, "a"), false}, {nil, true}})
	if rep.N != 3 || rep.Negatives != 1 || rep.Unscored != 1 || rep.AUC != 1 {
		t.Errorf("report %+v", rep)
	}
	if math.Abs(rep.MeanNegative-0.9) > 1e-9 || math.Abs(rep.MeanOther-0.4) > 1e-9 {
		t.Errorf("means %v %v", rep.MeanNegative, rep.MeanOther)
	}
	if rep.Reasons["a"] != [2]int{1, 1} || rep.Reasons["b"] != [2]int{0, 1} {
		t.Errorf("reasons %v", rep.Reasons)
	}
}
