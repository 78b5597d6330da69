package contact

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseEventsKeepsGoodLinesAndNamesBadOnes(t *testing.T) {
	in := `{"station":"desk-1","type":"arrive","at":"2026-03-02T09:00:00.250Z","source":"sensor"}

{"station":"desk-1","type":"leave","at":"2026-03-02T09:01:00Z"}
{"station":"desk-1","type":"sit","at":"2026-03-02T09:02:00Z"}
{"station":"desk-1","type":"arrive","at":"yesterday"}
{"type":"arrive","at":"2026-03-02T09:02:00Z"}
{"station":"../etc","type":"arrive","at":"2026-03-02T09:02:00Z"}
not json
{"station":"desk-1","type":"arrive","at":"2026-03-02T09:03:00+03:00"} {"x":1}
{"station":"desk-1","type":"arrive","at":"2026-03-02T09:04:00Z","source":7}
{"station":"desk-2","type":"arrive","at":"2026-03-02T09:05:00.5+03:00"}`
	evs, errs, err := ParseEvents(strings.NewReader(in), "events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3: %+v", len(evs), evs)
	}
	if evs[0].Source != "sensor" || evs[1].Source != "sensor" {
		t.Errorf("default source: %+v", evs[:2])
	}
	if want := time.Date(2026, 3, 2, 6, 5, 0, 5e8, time.UTC); !evs[2].At.Equal(want) {
		t.Errorf("offset time parsed as %v", evs[2].At)
	}
	want := []struct {
		line  int
		field string
	}{{4, "type"}, {5, "at"}, {6, "station"}, {7, "station"}, {8, ""}, {9, ""}, {10, "source"}}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if errs[i].Line != w.line || errs[i].Field != w.field || errs[i].File != "events.jsonl" {
			t.Errorf("error %d = %v, want line %d field %q", i, errs[i], w.line, w.field)
		}
	}
	if s := errs[0].Error(); !strings.Contains(s, `events.jsonl:4: field "type"`) {
		t.Errorf("message %q does not name file, line and field", s)
	}
}

func TestParseRatings(t *testing.T) {
	in := `{"station":"desk-1","value":3,"scale":"4pt","at":"2026-03-02T09:00:00Z"}
{"station":"desk-1","value":4,"scale":"4pt","at":"2026-03-02T09:00:00Z"}
{"station":"desk-1","value":2.5,"scale":"5pt","at":"2026-03-02T09:00:00Z"}
{"station":"desk-1","value":"3","scale":"5pt","at":"2026-03-02T09:00:00Z"}
{"station":"desk-1","value":3,"scale":"7pt","at":"2026-03-02T09:00:00Z"}
{"station":"desk-1","value":10,"scale":"nps","at":"2026-03-02T09:00:00Z"}
{"station":"desk-1","scale":"nps","at":"2026-03-02T09:00:00Z"}`
	rs, errs, err := ParseRatings(strings.NewReader(in), "r.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[1].Value != 10 || rs[1].Scale != ScaleNPS {
		t.Fatalf("ratings %+v", rs)
	}
	fields := []string{"value", "value", "value", "scale", "value"}
	if len(errs) != len(fields) {
		t.Fatalf("errors %v", errs)
	}
	for i, f := range fields {
		if errs[i].Field != f {
			t.Errorf("error %d: %v, want field %s", i, errs[i], f)
		}
	}
}

func TestParseLongLineRejectedNextKept(t *testing.T) {
	long := `{"station":"desk-1","type":"arrive","at":"2026-03-02T09:00:00Z","pad":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	in := long + "\n" + `{"station":"desk-1","type":"leave","at":"2026-03-02T09:01:00Z"}` + "\n"
	evs, errs, err := ParseEvents(strings.NewReader(in), "e")
	if err != nil || len(evs) != 1 || len(errs) != 1 || errs[0].Line != 1 {
		t.Fatalf("evs %v errs %v err %v", evs, errs, err)
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(`{"station":"desk-1","type":"arrive","at":"2026-03-02T09:00:00.250Z","source":"sensor"}`))
	f.Add([]byte("{\"station\":\"a\",\"type\":\"leave\",\"at\":\"2026-03-02T09:00:00Z\"}\n\n{}\n[1]\nnull"))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, errs, err := ParseEvents(bytes.NewReader(b), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(b, []byte("\n")) + 1
		if len(evs)+len(errs) > lines {
			t.Fatalf("%d events + %d errors from %d lines", len(evs), len(errs), lines)
		}
		for _, e := range evs {
			if !ValidStation(e.Station) || (e.Type != Arrive && e.Type != Leave) {
				t.Fatalf("invalid event accepted: %+v", e)
			}
		}
		for _, e := range errs {
			if e.Line < 1 || e.Line > lines || e.Error() == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}

func FuzzParseRatings(f *testing.F) {
	f.Add([]byte(`{"station":"desk-1","value":3,"scale":"4pt","at":"2026-03-02T09:00:00Z"}`))
	f.Add([]byte(`{"station":"desk-1","value":1e3,"scale":"nps","at":"2026-03-02T09:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, errs, err := ParseRatings(bytes.NewReader(b), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			max, ok := r.Scale.Max()
			if !ok || r.Value < 0 || r.Value > max || !ValidStation(r.Station) {
				t.Fatalf("invalid rating accepted: %+v", r)
			}
		}
		for _, e := range errs {
			if e.Line < 1 || e.Error() == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
	})
}

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage([]byte(`{"type":"arrive","at":"2026-03-02T09:00:00Z"}`), "desk-1")
	if err != nil || m.Event == nil || m.Event.Station != "desk-1" || m.Event.Source != "agent" {
		t.Fatalf("%+v %v", m, err)
	}
	m, err = ParseMessage([]byte(`{"value":2,"scale":"3pt","at":"2026-03-02T09:00:00Z"}`), "desk-1")
	if err != nil || m.Rating == nil || m.Rating.Value != 2 {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []struct{ msg, field string }{
		{`{"station":"desk-2","type":"arrive","at":"2026-03-02T09:00:00Z"}`, "station"},
		{`{"type":"arrive"}`, "at"},
		{`{"value":9,"scale":"3pt","at":"2026-03-02T09:00:00Z"}`, "value"},
		{`garbage`, ""},
	} {
		if _, err := ParseMessage([]byte(bad.msg), "desk-1"); err == nil || err.Field != bad.field {
			t.Errorf("%s: error %v, want field %q", bad.msg, err, bad.field)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"type":"arrive","at":"2026-03-02T09:00:00Z"}`))
	f.Add([]byte(`{"value":2,"scale":"3pt","at":"2026-03-02T09:00:00Z","station":"desk-1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b, "desk-1")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if (m.Event == nil) == (m.Rating == nil) {
			t.Fatalf("want exactly one of event and rating: %+v", m)
		}
		if m.Event != nil && m.Event.Station != "desk-1" || m.Rating != nil && m.Rating.Station != "desk-1" {
			t.Fatalf("station not the session's: %+v", m)
		}
	})
}
