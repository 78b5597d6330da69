// Package likely scores how likely a contact is to have left the patient
// dissatisfied, from what was heard (and, in rooms, how the conversation
// went), so that the contacts nobody rated can be reviewed worst first.
//
// The score is a sum of points, one term per sign, each small and named so
// that a quality officer can see why a contact ranks high: the patient's
// negative emotion and its trend, raised voices, interruptions, the
// employee's own tension and a contact much longer than the station's
// usual. The points go through a logistic function to a 0–1 score. The
// weights are few and round, chosen on generated days and checked on
// others, not fitted to any one clinic; `contactd likely eval` measures how
// well the score ranks a store's rated contacts.
package likely

import (
	"math"
	"slices"
	"time"

	"contactd/contact"
)

// Version of the scoring rule stored with each score. 2: the patient's
// anger and valence readings and their "hot" seconds no longer count (a
// stranger's voice tells those least reliably: happy is read as angry);
// the patient heard as pleased takes points off. 3: being heard as
// pleased weighs most, speech heard as angry or sad half of what it did
// (chosen on three generated days, measured on three others: README).
const Version = 3

// The signs (reason codes), in the order they are documented.
const (
	PatientNegative  = "patient_negative"  // share of the patient's speech read as angry or sad
	PatientPleased   = "patient_pleased"   // share of the patient's speech read as happy: takes points off
	PatientWorsening = "patient_worsening" // the patient's valence fell from the first to the last third
	PatientValence   = "patient_valence"   // rooms: the patient's valence at the end below neutral
	RaisedVoices     = "raised_voices"     // the employee's seconds of high arousal and negative valence, above their usual
	Interruptions    = "interruptions"     // interruptions per minute (consulting rooms)
	EmployeeTense    = "employee_tense"    // share of the employee's speech read as angry or sad
	LongContact      = "long_contact"      // the contact against the station's usual length
)

// Weights are the points each sign gives at its full value.
type Weights struct {
	PatientNegative, PatientWorsening, PatientValence       float64
	RaisedVoices, Interruptions, EmployeeTense, LongContact float64
	// PatientPleased is the points a patient heard as happy throughout
	// takes off: the sign against dissatisfaction.
	PatientPleased float64
	// Bias moves the logistic's midpoint: points equal to Bias score 0.5.
	Bias float64
}

// DefaultWeights: the patient's own voice counts most — speech read as
// angry or sad for, speech read as happy against — then how it moved; the
// employee's raised voice and tension and a long contact are weaker signs
// on their own. What a stranger's voice tells least reliably (their anger
// apart from their sadness, their valence, their "hot" seconds: happy is
// often read as angry) does not count; the employee, read against their
// own baseline, is told more reliably. Of a stranger's readings, speech
// heard as happy is the most reliable, so it weighs most: a patient
// heard as pleased throughout takes 4 points off, one heard as angry or
// sad throughout adds 1. The patient's weights were chosen on three
// generated days (seeds 31–33) and measured on three others (README); the
// employee's and the length's, which those days do not script, are set
// by what they mean.
var DefaultWeights = Weights{PatientNegative: 1, PatientPleased: 4, PatientWorsening: 1, PatientValence: 1.5,
	RaisedVoices: 1.5, Interruptions: 1, EmployeeTense: 1, LongContact: 0.5, Bias: 0.5}

// Usual is what is usual at a station, from its recent contacts: the
// median contact length and, for the employee's voice, the median share of
// their speech read as angry or sad and of their hot seconds (high arousal,
// negative valence). A voice has a character of its own: the employee's
// tension counts only above their usual.
type Usual struct {
	Median time.Duration
	N      int
	// EmployeeNegative, EmployeeHot: medians over the contacts where the
	// employee spoke (EmployeeN of them).
	EmployeeNegative, EmployeeHot float64
	EmployeeN                     int
}

// MinUsual contacts make a usual length worth comparing with.
const MinUsual = 5

// UsualOf is what is usual over contacts.
func UsualOf(cs []*contact.Contact) Usual {
	var u Usual
	var ds []time.Duration
	var neg, hot []float64
	for _, c := range cs {
		ds = append(ds, c.Duration())
		if c.Voice != nil && c.Voice.Employee != nil && c.Voice.Employee.SpeechSeconds > 0 {
			neg = append(neg, c.Voice.Employee.NegativeShare)
			hot = append(hot, hotShare(c.Voice.Employee))
		}
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		u.Median, u.N = ds[len(ds)/2], len(ds)
	}
	if len(neg) > 0 {
		slices.Sort(neg)
		slices.Sort(hot)
		u.EmployeeNegative, u.EmployeeHot, u.EmployeeN = neg[len(neg)/2], hot[len(hot)/2], len(neg)
	}
	return u
}

// hotShare is the share of a side's speech in seconds of high arousal and
// negative valence: a raised, displeased voice.
func hotShare(s *contact.VoiceSide) float64 {
	var hot, all float64
	for _, sec := range s.Timeline {
		all += sec.Speech
		if sec.Arousal > 0.5 && sec.Valence < 0 {
			hot += sec.Speech
		}
	}
	if all == 0 {
		return 0
	}
	return hot / all
}

// employeeSide is the employee's speech; nil without attribution.
func employeeSide(v *contact.Voice) *contact.VoiceSide {
	if v == nil {
		return nil
	}
	return v.Employee
}

// patientSide is the patient's speech: attributed, or without an enrolled
// employee everything heard (the employee's steady voice then dilutes it).
func patientSide(v *contact.Voice) *contact.VoiceSide {
	if v == nil {
		return nil
	}
	if v.Patient != nil {
		return v.Patient
	}
	return v.Unattributed
}

// Score rates one contact; nil when nothing was heard or measured.
func Score(c *contact.Contact, usual Usual, w Weights) *contact.Likely {
	var rs []contact.Reason
	add := func(code string, value, points float64) {
		if points != 0 {
			rs = append(rs, contact.Reason{Code: code, Value: round(value), Points: round(points)})
		}
	}
	heard := false
	if p := patientSide(c.Voice); p != nil && p.SpeechSeconds > 0 {
		heard = true
		happy := p.EmotionSeconds["happy"] / p.SpeechSeconds
		add(PatientNegative, p.NegativeShare, w.PatientNegative*p.NegativeShare)
		add(PatientPleased, happy, -w.PatientPleased*happy)
		if d, ok := trend(p.Timeline); ok {
			add(PatientWorsening, d, w.PatientWorsening*min(1, max(0, -d)))
		}
	}
	if e := employeeSide(c.Voice); e != nil && e.SpeechSeconds > 0 && usual.EmployeeN >= MinUsual {
		// The employee against their usual at the station: raised (hot
		// seconds) and tense (angry or sad).
		d := hotShare(e) - usual.EmployeeHot
		add(RaisedVoices, d, w.RaisedVoices*max(0, d))
		d = e.NegativeShare - usual.EmployeeNegative
		add(EmployeeTense, d, w.EmployeeTense*max(0, d))
	}
	if cv := c.Conversation; cv != nil {
		heard = true
		if d := c.Duration().Minutes(); d > 0 {
			per := float64(cv.DoctorInterruptions+cv.PatientInterruptions) / d
			add(Interruptions, per, w.Interruptions*min(1, per/2))
		}
		if c.Voice == nil {
			// A room's conversation carries the patient's valence trend.
			switch cv.PatientTrend {
			case "worsening":
				add(PatientWorsening, cv.PatientValenceEnd-cv.PatientValenceStart, w.PatientWorsening)
			}
			add(PatientValence, cv.PatientValenceEnd, w.PatientValence*max(0, -cv.PatientValenceEnd))
		}
	}
	if !heard {
		return nil
	}
	if usual.N >= MinUsual && usual.Median > 0 && c.Duration() > 0 {
		r := math.Log2(c.Duration().Seconds() / usual.Median.Seconds())
		add(LongContact, r, w.LongContact*min(2, max(0, r)))
	}
	points := 0.0
	for _, r := range rs {
		points += r.Points
	}
	// Strongest first: a sign that took points off comes after those that
	// added, and shows only when fewer than three added any.
	slices.SortStableFunc(rs, func(a, b contact.Reason) int {
		switch {
		case a.Points > b.Points:
			return -1
		case a.Points < b.Points:
			return 1
		}
		return 0
	})
	if len(rs) > 3 {
		rs = rs[:3] // the top reasons; the score has all the points
	}
	if rs == nil {
		rs = []contact.Reason{}
	}
	return &contact.Likely{Version: Version, Score: round(1 / (1 + math.Exp(-(points - w.Bias)))), Points: round(points), Reasons: rs}
}

// trend is the patient's mean valence over the last third of their
// speech seconds minus the first third's; false under 6 seconds.
func trend(tl []contact.VoiceSecond) (float64, bool) {
	var secs []contact.VoiceSecond
	for _, s := range tl {
		if s.Speech >= 0.3 {
			secs = append(secs, s)
		}
	}
	if len(secs) < 6 {
		return 0, false
	}
	third := len(secs) / 3
	mean := func(ss []contact.VoiceSecond) float64 {
		v := 0.0
		for _, s := range ss {
			v += s.Valence
		}
		return v / float64(len(ss))
	}
	return mean(secs[len(secs)-third:]) - mean(secs[:third]), true
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// AUC is the area under the ROC curve of scores for telling the positives
// (true) from the rest: the chance that a random positive scores above a
// random negative, ties counting half. NaN without both kinds.
func AUC(scores []float64, positive []bool) float64 {
	type pt struct {
		s float64
		p bool
	}
	pts := make([]pt, len(scores))
	np := 0
	for i := range scores {
		pts[i] = pt{scores[i], positive[i]}
		if positive[i] {
			np++
		}
	}
	nn := len(pts) - np
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	slices.SortFunc(pts, func(a, b pt) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	// Rank sum of the positives (midranks for ties), Mann–Whitney U.
	var rankSum float64
	for i := 0; i < len(pts); {
		j := i
		for j < len(pts) && pts[j].s == pts[i].s {
			j++
		}
		mid := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if pts[k].p {
				rankSum += mid
			}
		}
		i = j
	}
	return (rankSum - float64(np)*float64(np+1)/2) / (float64(np) * float64(nn))
}

// Rated is one rated contact's score and whether its rating was negative.
type Rated struct {
	Likely   *contact.Likely
	Negative bool
}

// Report is how well the score ranked rated contacts (`likely eval`).
type Report struct {
	// N rated contacts with a score, Negatives of them rated negative;
	// Unscored rated contacts had nothing heard.
	N, Negatives, Unscored int
	// AUC of the score for telling negative ratings from the others.
	AUC float64
	// MeanScore of the negatives and of the others.
	MeanNegative, MeanOther float64
	// Reasons: how often each sign was among the top reasons, for the
	// negatives and for the others.
	Reasons map[string][2]int
}

// Evaluate measures the score on rated contacts.
func Evaluate(rs []Rated) Report {
	rep := Report{Reasons: map[string][2]int{}}
	var scores []float64
	var neg []bool
	for _, r := range rs {
		if r.Likely == nil {
			rep.Unscored++
			continue
		}
		scores = append(scores, r.Likely.Score)
		neg = append(neg, r.Negative)
		k := 1
		if r.Negative {
			rep.Negatives++
			rep.MeanNegative += r.Likely.Score
			k = 0
		} else {
			rep.MeanOther += r.Likely.Score
		}
		for _, why := range r.Likely.Reasons {
			c := rep.Reasons[why.Code]
			c[k]++
			rep.Reasons[why.Code] = c
		}
	}
	rep.N = len(scores)
	if rep.Negatives > 0 {
		rep.MeanNegative /= float64(rep.Negatives)
	}
	if o := rep.N - rep.Negatives; o > 0 {
		rep.MeanOther /= float64(o)
	}
	rep.AUC = AUC(scores, neg)
	return rep
}
