// Package appointments reads a consulting room's schedule — CSV and
// iCalendar exports of a clinic information system — and keeps it: the
// presence source of rooms, where contacts follow appointments rather than
// a sensor at a desk.
package appointments

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"contactd/contact"
)

// Appointment is one booked consultation.
type Appointment struct {
	ID     string    `json:"id"`
	Room   string    `json:"room"`   // the room's station id
	Doctor string    `json:"doctor"` // the employee id of the doctor
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Cancelled appointments are kept (an import may cancel one) but hold no contact.
	Cancelled bool `json:"cancelled,omitempty"`
}

// MaxLength bounds one appointment.
const MaxLength = 12 * time.Hour

// Check names what is wrong with a; known says whether a room and a doctor
// are configured (nil: anything goes).
func (a *Appointment) Check(known func(room, doctor string) (bool, bool)) (field, msg string) {
	switch {
	case a.ID == "" || len(a.ID) > 128:
		return "id", "must be 1–128 characters"
	case !contact.ValidStation(a.Room):
		return "room", fmt.Sprintf("%q is not a station id", a.Room)
	case !contact.ValidStation(a.Doctor):
		return "doctor", fmt.Sprintf("%q is not an employee id", a.Doctor)
	case a.Start.IsZero():
		return "start", "missing"
	case !a.End.After(a.Start):
		return "end", "must be after start"
	case a.End.Sub(a.Start) > MaxLength:
		return "end", fmt.Sprintf("the appointment lasts %v, over %v", a.End.Sub(a.Start), MaxLength)
	}
	if known != nil {
		room, doctor := known(a.Room, a.Doctor)
		if !room {
			return "room", fmt.Sprintf("%q is not a configured station", a.Room)
		}
		if !doctor {
			return "doctor", fmt.Sprintf("%q is not a configured employee", a.Doctor)
		}
	}
	return "", ""
}

// parseTime reads RFC 3339, or a local "YYYY-MM-DD HH:MM[:SS]" in loc.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, or YYYY-MM-DD HH:MM in the site's timezone)", s)
}

// ParseCSV reads a schedule with a header naming at least id, room,
// doctor, start and end (any order, any case; status "cancelled" optional).
// Good rows are returned; each bad one is an error naming file, line and
// field. err is for a reader that fails.
func ParseCSV(r io.Reader, file string, loc *time.Location, known func(room, doctor string) (bool, bool)) ([]Appointment, []*contact.InputError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, []*contact.InputError{{File: file, Line: 1, Msg: "empty: want a header with id, room, doctor, start, end"}}, nil
	}
	if err != nil {
		return nil, []*contact.InputError{{File: file, Line: 1, Msg: err.Error()}}, nil
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range []string{"id", "room", "doctor", "start", "end"} {
		if _, ok := col[need]; !ok {
			return nil, []*contact.InputError{{File: file, Line: 1, Field: need, Msg: fmt.Sprintf("the header %q lacks this column", strings.Join(header, ","))}}, nil
		}
	}
	var out []Appointment
	var bad []*contact.InputError
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, bad, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad = append(bad, &contact.InputError{File: file, Line: pe.Line, Msg: pe.Err.Error()})
				continue
			}
			return out, bad, err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		line, _ := cr.FieldPos(0)
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		a := Appointment{ID: get("id"), Room: get("room"), Doctor: get("doctor"),
			Cancelled: strings.EqualFold(get("status"), "cancelled") || strings.EqualFold(get("status"), "canceled")}
		var terr error
		if a.Start, terr = parseTime(get("start"), loc); terr != nil {
			bad = append(bad, &contact.InputError{File: file, Line: line, Field: "start", Msg: terr.Error()})
			continue
		}
		if a.End, terr = parseTime(get("end"), loc); terr != nil {
			bad = append(bad, &contact.InputError{File: file, Line: line, Field: "end", Msg: terr.Error()})
			continue
		}
		if f, msg := a.Check(known); f != "" {
			bad = append(bad, &contact.InputError{File: file, Line: line, Field: f, Msg: msg})
			continue
		}
		out = append(out, a)
	}
}

// ParseICS reads the VEVENTs of an iCalendar file (RFC 5545): UID is the
// id, LOCATION the room, X-CONTACTD-DOCTOR (or the organizer's CN) the
// doctor, DTSTART/DTEND the times (UTC, with TZID, or floating in loc);
// STATUS:CANCELLED marks a cancellation. Lines are unfolded first.
func ParseICS(r io.Reader, file string, loc *time.Location, known func(room, doctor string) (bool, bool)) ([]Appointment, []*contact.InputError, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	type logical struct {
		line int
		text string
	}
	var lines []logical
	for n := 1; sc.Scan(); n++ {
		t := strings.TrimRight(sc.Text(), "\r")
		if (strings.HasPrefix(t, " ") || strings.HasPrefix(t, "\t")) && len(lines) > 0 {
			lines[len(lines)-1].text += t[1:]
			continue
		}
		lines = append(lines, logical{n, t})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []Appointment
	var bad []*contact.InputError
	var cur *Appointment
	start := 0
	fail := func(line int, field, msg string) {
		bad = append(bad, &contact.InputError{File: file, Line: line, Field: field, Msg: msg})
		cur = nil
	}
	for _, l := range lines {
		name, value, ok := strings.Cut(l.text, ":")
		if !ok {
			continue
		}
		params := strings.Split(name, ";")
		prop := strings.ToUpper(params[0])
		switch {
		case prop == "BEGIN" && strings.EqualFold(value, "VEVENT"):
			cur, start = &Appointment{}, l.line
		case cur == nil:
		case prop == "END" && strings.EqualFold(value, "VEVENT"):
			if f, msg := cur.Check(known); f != "" {
				fail(start, f, msg)
				continue
			}
			out = append(out, *cur)
			cur = nil
		case prop == "UID":
			cur.ID = strings.TrimSpace(value)
		case prop == "LOCATION":
			cur.Room = unescape(value)
		case prop == "X-CONTACTD-DOCTOR":
			cur.Doctor = unescape(value)
		case prop == "ORGANIZER" && cur.Doctor == "":
			for _, p := range params[1:] {
				if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "CN") {
					cur.Doctor = strings.Trim(v, `"`)
				}
			}
		case prop == "STATUS":
			cur.Cancelled = strings.EqualFold(strings.TrimSpace(value), "CANCELLED")
		case prop == "DTSTART" || prop == "DTEND":
			t, err := icsTime(value, params[1:], loc)
			if err != nil {
				fail(l.line, strings.ToLower(prop), err.Error())
				continue
			}
			if prop == "DTSTART" {
				cur.Start = t
			} else {
				cur.End = t
			}
		}
	}
	if cur != nil {
		bad = append(bad, &contact.InputError{File: file, Line: start, Msg: "VEVENT without END:VEVENT"})
	}
	return out, bad, nil
}

func unescape(s string) string {
	return strings.NewReplacer(`\,`, ",", `\;`, ";", `\n`, " ", `\N`, " ", `\\`, `\`).Replace(strings.TrimSpace(s))
}

// icsTime reads a DATE-TIME value: 20261125T090000Z (UTC), with a TZID
// parameter, or floating (the site's timezone).
func icsTime(v string, params []string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, p := range params {
		if k, val, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "TZID") {
			l, err := time.LoadLocation(strings.Trim(val, `"`))
			if err != nil {
				return time.Time{}, fmt.Errorf("TZID %q is not a known timezone", val)
			}
			loc = l
		}
		if k, val, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "VALUE") && strings.EqualFold(val, "DATE") {
			return time.Time{}, fmt.Errorf("%q is a whole day, not a time", v)
		}
	}
	if t, err := time.Parse("20060102T150405Z", v); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("20060102T150405", v, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an iCalendar date-time (YYYYMMDDTHHMMSS[Z])", v)
}

// Book keeps the schedule: every import appended to a JSON Lines file, the
// latest version of each appointment (by id) in memory.
type Book struct {
	mu   sync.Mutex
	f    *os.File
	byID map[string]Appointment
}

// Open reads the book at path (creating it); a line that does not parse is
// skipped and reported through warn with its number.
func Open(path string, warn func(line int, err error)) (*Book, error) {
	b := &Book{byID: map[string]Appointment{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			var a Appointment
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.ID == "" {
				if warn != nil {
					warn(n, err)
				}
				continue
			}
			b.byID[a.ID] = a
		}
		f.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	b.f = f
	return b, nil
}

// Put adds or replaces appointments (by id), on disk before it returns.
func (b *Book) Put(as []Appointment) error {
	var buf []byte
	for _, a := range as {
		line, err := json.Marshal(a)
		if err != nil {
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.f.Write(buf); err != nil {
		return err
	}
	if err := b.f.Sync(); err != nil {
		return err
	}
	for _, a := range as {
		b.byID[a.ID] = a
	}
	return nil
}

// In returns the appointments of a room ("" for every room) overlapping
// [from, to), by start.
func (b *Book) In(room string, from, to time.Time) []Appointment {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Appointment
	for _, a := range b.byID {
		if (room == "" || a.Room == room) && a.Start.Before(to) && a.End.After(from) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y Appointment) int {
		if c := x.Start.Compare(y.Start); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

// Close closes the file.
func (b *Book) Close() error { return b.f.Close() }
