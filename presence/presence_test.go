package presence

import (
	"testing"
	"time"

	"contactd/classifier/voice"
	"contactd/contact"
)

// script makes one reading a second from t0: e employee speech, p patient
// speech, . silence.
func script(t0 time.Time, s string) []voice.Reading {
	var rs []voice.Reading
	for i, c := range s {
		r := voice.Reading{Start: t0.Add(time.Duration(i) * time.Second)}
		switch c {
		case 'e':
			r.Speech, r.Who = 0.9, voice.Employee
		case 'p':
			r.Speech, r.Who = 0.9, voice.Patient
		case 'c': // chatter in the waiting area: a voice 20 dB under the employee's
			r.Speech, r.Who, r.Level = 0.9, voice.Patient, -45
		}
		if r.Level == 0 && r.Speech > 0 {
			r.Level = -25
		}
		rs = append(rs, r)
	}
	return rs
}

func TestEvents(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	cfg := DefaultConfig()
	for _, c := range []struct {
		name   string
		script string
		want   []contact.Event
	}{
		{"the employee alone on the phone makes no contact", "....eeee.eee..eeeee.ee........", nil},
		{"a conversation: from the greeting to the goodbye, plus linger",
			// greeting at 2, patient at 6, goodbye ends at 18 (second 17's end).
			"..eee.pp.ee.pp.eee..........",
			[]contact.Event{{Type: contact.Arrive, At: at(2).Add(-cfg.Lead)}, {Type: contact.Leave, At: at(18).Add(cfg.Linger)}}},
		{"a patient silent for a while (the employee talking on) stays",
			"..ee.pp.eee.eee.ee.pp.ee..........",
			[]contact.Event{{Type: contact.Arrive, At: at(2).Add(-cfg.Lead)}, {Type: contact.Leave, At: at(24).Add(cfg.Linger)}}},
		{"a silence longer than the gap after the patient's last words ends it; the next patient is a new contact",
			"..ee.pp.ee...................ee.ppp.ee.........",
			[]contact.Event{{Type: contact.Arrive, At: at(2).Add(-cfg.Lead)}, {Type: contact.Leave, At: at(10).Add(cfg.Linger)},
				{Type: contact.Arrive, At: at(29).Add(-cfg.Lead)}, {Type: contact.Leave, At: at(38).Add(cfg.Linger)}}},
		{"the patient's voice again within rejoin after such a silence: one contact",
			"..ee.pp.ee.........ee.ppp.ee..............",
			[]contact.Event{{Type: contact.Arrive, At: at(2).Add(-cfg.Lead)}, {Type: contact.Leave, At: at(28).Add(cfg.Linger)}}},
		{"the employee talking on alone for long: the patient left after their last words",
			"..pp.ee" + "eeeeeeeeeeeeeeeeeeeeeeeeeeeeee" + "....",
			[]contact.Event{{Type: contact.Arrive, At: at(2).Add(-cfg.Lead)}, {Type: contact.Leave, At: at(4).Add(cfg.Linger)}}},
		{"chatter across the room is nobody at the desk", "..ee..cccc.ccc...ccccc.....ee....cc", nil},
		{"still there at the end: closed at the last words", "..eppe",
			[]contact.Event{{Type: contact.Arrive, At: at(2).Add(-cfg.Lead)}, {Type: contact.Leave, At: at(6).Add(cfg.Linger)}}},
	} {
		got := Events(cfg, "desk-1", script(t0, c.script))
		if len(got) != len(c.want) {
			t.Errorf("%s: %d events %+v, want %d", c.name, len(got), got, len(c.want))
			continue
		}
		for i, e := range got {
			w := c.want[i]
			if e.Type != w.Type || !e.At.Equal(w.At) || e.Source != Source || e.Station != "desk-1" {
				t.Errorf("%s: event %d %s at %v (source %q), want %s at %v", c.name, i, e.Type, e.At.Sub(t0), e.Source, w.Type, w.At.Sub(t0))
			}
		}
	}
}

func TestEvaluate(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sp := func(a, b int) Span {
		return Span{t0.Add(time.Duration(a) * time.Second), t0.Add(time.Duration(b) * time.Second)}
	}
	truth := []Span{sp(0, 60), sp(100, 160), sp(200, 220)}
	// The first found 2 s late and 4 s early (IoU 54/60); the second split
	// in two halves (IoU 0.5 and 0.45: one matches); one extra; the third
	// missed.
	found := []Span{sp(2, 56), sp(100, 130), sp(131, 158), sp(300, 310)}
	rep := Evaluate(found, truth, 0.5)
	if rep.Matched != 2 || rep.Found != 4 || rep.Truth != 3 || len(rep.Missed) != 1 || len(rep.Extra) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Precision != 0.5 || rep.Recall != 2.0/3 {
		t.Errorf("precision %v recall %v", rep.Precision, rep.Recall)
	}
	// Boundary errors: (2+4)/2 = 3 and (0+30)/2 = 15: mean 9.
	if rep.MeanBoundaryError != 9 {
		t.Errorf("mean boundary error %v, want 9", rep.MeanBoundaryError)
	}
	if v := IoU(sp(0, 10), sp(5, 15)); v != 5.0/15 {
		t.Errorf("IoU %v", v)
	}
	if IoU(sp(0, 10), sp(10, 20)) != 0 {
		t.Error("touching ranges overlap")
	}
}
