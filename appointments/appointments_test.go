package appointments

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var moscow, _ = time.LoadLocation("Europe/Moscow")

func known(room, doctor string) (bool, bool) {
	return room == "room-1" || room == "room-2", doctor == "ivanov" || doctor == "petrova"
}

func TestParseCSV(t *testing.T) {
	in := "\ufeffID,Room,Doctor,Start,End,Status\n" +
		"a1,room-1,ivanov,2026-11-25 09:00,2026-11-25 09:20,\n" +
		"a2,room-1,ivanov,2026-11-25T09:20:00Z,2026-11-25T09:40:00Z,booked\n" +
		"a3,room-2,petrova,2026-11-25 09:00,2026-11-25 08:50,\n" + // ends before it starts
		"a4,room-9,petrova,2026-11-25 10:00,2026-11-25 10:20,\n" + // unknown room
		"a5,room-2,sidorov,2026-11-25 10:00,2026-11-25 10:20,\n" + // unknown doctor
		"a6,room-2,petrova,tomorrow,2026-11-25 10:20,\n" +
		"a7,room-2,petrova,2026-11-25 11:00,2026-11-25 11:30,cancelled\n"
	as, bad, err := ParseCSV(strings.NewReader(in), "day.csv", moscow, known)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || as[0].ID != "a1" || !as[0].Start.Equal(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)) ||
		!as[1].End.Equal(time.Date(2026, 11, 25, 9, 40, 0, 0, time.UTC)) || !as[2].Cancelled {
		t.Errorf("accepted %+v", as)
	}
	want := []string{`day.csv:4: field "end"`, `day.csv:5: field "room"`, `day.csv:6: field "doctor"`, `day.csv:7: field "start"`}
	if len(bad) != len(want) {
		t.Fatalf("rejected %v", bad)
	}
	for i, w := range want {
		if !strings.HasPrefix(bad[i].Error(), w) {
			t.Errorf("rejection %d: %q, want it to start %q", i, bad[i].Error(), w)
		}
	}
	if _, bad, _ := ParseCSV(strings.NewReader("id,room,start,end\n"), "x.csv", moscow, nil); len(bad) != 1 || bad[0].Field != "doctor" {
		t.Errorf("missing column: %v", bad)
	}
}

func TestParseICS(t *testing.T) {
	in := strings.Join([]string{
		"BEGIN:VCALENDAR", "VERSION:2.0",
		"BEGIN:VEVENT", "UID:e1@cis", "DTSTART;TZID=Europe/Moscow:20261125T090000", "DTEND;TZID=Europe/Moscow:20261125T092000",
		"LOCATION:room-1", "X-CONTACTD-DOCTOR:ivanov", "END:VEVENT",
		"BEGIN:VEVENT", "UID:e2@cis", "DTSTART:20261125T062000Z", "DTEND:20261125T064000Z", "LOCATION:room-2",
		`ORGANIZER;CN="petrova":mailto:petrova@clinic.example`, "STATUS:CANCELLED", "END:VEVENT",
		"BEGIN:VEVENT", "UID:e3@cis", "DTSTART:2026112", " 5T100000", "DTEND:20261125T102000", "LOCATION:room-1",
		"X-CONTACTD-DOCTOR:ivanov", "END:VEVENT", // folded DTSTART, floating times
		"BEGIN:VEVENT", "UID:e4@cis", "DTSTART;VALUE=DATE:20261125", "DTEND:20261125T102000", "LOCATION:room-1", "END:VEVENT",
		"BEGIN:VEVENT", "UID:e5@cis", "DTSTART:20261125T110000Z", "DTEND:20261125T112000Z", "LOCATION:room-7",
		"X-CONTACTD-DOCTOR:ivanov", "END:VEVENT",
		"END:VCALENDAR", "",
	}, "\r\n")
	as, bad, err := ParseICS(strings.NewReader(in), "cis.ics", moscow, known)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || as[0].ID != "e1@cis" || !as[0].Start.Equal(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)) ||
		as[1].Doctor != "petrova" || !as[1].Cancelled || !as[2].Start.Equal(time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("accepted %+v", as)
	}
	if len(bad) != 2 || bad[0].Field != "dtstart" || !strings.Contains(bad[0].Msg, "whole day") || bad[1].Field != "room" {
		t.Errorf("rejected %v", bad)
	}
}

func TestBook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "appointments.jsonl")
	b, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2026, 11, 25, h, m, 0, 0, time.UTC) }
	b.Put([]Appointment{{ID: "a", Room: "room-1", Doctor: "ivanov", Start: at(9, 0), End: at(9, 20)},
		{ID: "b", Room: "room-1", Doctor: "ivanov", Start: at(9, 20), End: at(9, 40)},
		{ID: "c", Room: "room-2", Doctor: "petrova", Start: at(9, 0), End: at(9, 30)}})
	// A later import moves b.
	b.Put([]Appointment{{ID: "b", Room: "room-1", Doctor: "ivanov", Start: at(10, 0), End: at(10, 20)}})
	b.Close()
	b, _ = Open(path, nil)
	defer b.Close()
	got := b.In("room-1", at(9, 10), at(12, 0))
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || !got[1].Start.Equal(at(10, 0)) {
		t.Errorf("room-1: %+v", got)
	}
	if got := b.In("", at(9, 25), at(9, 26)); len(got) != 1 || got[0].ID != "c" {
		t.Errorf("all rooms at 9:25: %+v", got)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add("id,room,doctor,start,end\na,room-1,ivanov,2026-11-25 09:00,2026-11-25 09:20\n")
	f.Add("id,room,doctor,start,end\n\"a,room-1\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		as, bad, err := ParseCSV(strings.NewReader(s), "f.csv", moscow, known)
		if err != nil {
			return
		}
		for _, a := range as {
			if f, _ := a.Check(known); f != "" {
				t.Fatalf("accepted an invalid appointment %+v", a)
			}
		}
		for _, b := range bad {
			if b.File != "f.csv" || b.Line < 1 {
				t.Fatalf("rejection without a place: %+v", b)
			}
		}
	})
}

func FuzzParseICS(f *testing.F) {
	f.Add("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20261125T090000Z\r\nDTEND:20261125T092000Z\r\nLOCATION:room-1\r\nX-CONTACTD-DOCTOR:ivanov\r\nEND:VEVENT\r\n")
	f.Add("BEGIN:VEVENT\nDTSTART;TZID=Nowhere/City:20261125T090000\n")
	f.Add(" folded first line\n")
	f.Fuzz(func(t *testing.T, s string) {
		as, bad, err := ParseICS(strings.NewReader(s), "f.ics", moscow, known)
		if err != nil {
			return
		}
		for _, a := range as {
			if f, _ := a.Check(known); f != "" {
				t.Fatalf("accepted an invalid appointment %+v", a)
			}
		}
		for _, b := range bad {
			if b.File != "f.ics" || b.Line < 1 {
				t.Fatalf("rejection without a place: %+v", b)
			}
		}
	})
}
