package contact

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// MaxLineBytes bounds one JSON Lines record; longer lines are rejected, not buffered.
const MaxLineBytes = 64 << 10

// stationRE keeps station ids safe to use as path and object-key segments.
var stationRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidStation reports whether id may name a station.
func ValidStation(id string) bool { return stationRE.MatchString(id) }

// ParseEvents reads presence events as JSON Lines. Every valid line is
// returned; every invalid one becomes an InputError naming file, line and
// field, and reading goes on. A read error of r itself is returned last.
func ParseEvents(r io.Reader, file string) ([]Event, []*InputError, error) {
	var out []Event
	errs, err := eachLine(r, file, func(line int, f fields) *InputError {
		var e Event
		var ie *InputError
		if e.Station, ie = f.station(); ie != nil {
			return ie
		}
		t, ie := f.str("type", true)
		if ie != nil {
			return ie
		}
		switch EventType(t) {
		case Arrive, Leave:
			e.Type = EventType(t)
		default:
			return f.fail("type", fmt.Sprintf("must be %q or %q, got %q", Arrive, Leave, t))
		}
		if e.At, ie = f.time("at"); ie != nil {
			return ie
		}
		if e.Source, ie = f.str("source", false); ie != nil {
			return ie
		}
		if e.Source == "" {
			e.Source = "sensor"
		}
		out = append(out, e)
		return nil
	})
	return out, errs, err
}

// ParseRatings reads terminal presses as JSON Lines, like ParseEvents.
func ParseRatings(r io.Reader, file string) ([]Rating, []*InputError, error) {
	var out []Rating
	errs, err := eachLine(r, file, func(line int, f fields) *InputError {
		var rt Rating
		var ie *InputError
		if rt.Station, ie = f.station(); ie != nil {
			return ie
		}
		s, ie := f.str("scale", true)
		if ie != nil {
			return ie
		}
		rt.Scale = Scale(s)
		max, ok := rt.Scale.Max()
		if !ok {
			return f.fail("scale", fmt.Sprintf("unknown scale %q (want one of 2pt, 3pt, 4pt, 5pt, nps)", s))
		}
		if rt.Value, ie = f.integer("value"); ie != nil {
			return ie
		}
		if rt.Value < 0 || rt.Value > max {
			return f.fail("value", fmt.Sprintf("%d is outside 0..%d of scale %s", rt.Value, max, s))
		}
		if rt.At, ie = f.time("at"); ie != nil {
			return ie
		}
		out = append(out, rt)
		return nil
	})
	return out, errs, err
}

type fields struct {
	file string
	line int
	m    map[string]json.RawMessage
}

func (f fields) fail(field, msg string) *InputError {
	return &InputError{File: f.file, Line: f.line, Field: field, Msg: msg}
}

func (f fields) str(name string, required bool) (string, *InputError) {
	raw, ok := f.m[name]
	if !ok || string(raw) == "null" {
		if required {
			return "", f.fail(name, "missing")
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", f.fail(name, "must be a string")
	}
	if required && s == "" {
		return "", f.fail(name, "must not be empty")
	}
	return s, nil
}

func (f fields) station() (string, *InputError) {
	s, ie := f.str("station", true)
	if ie != nil {
		return "", ie
	}
	if !ValidStation(s) {
		return "", f.fail("station", fmt.Sprintf("%q is not a station id (letters, digits, '.', '_', '-'; at most 64)", s))
	}
	return s, nil
}

func (f fields) time(name string) (time.Time, *InputError) {
	s, ie := f.str(name, true)
	if ie != nil {
		return time.Time{}, ie
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, f.fail(name, fmt.Sprintf("%q is not an RFC 3339 time", s))
	}
	return t, nil
}

func (f fields) integer(name string) (int, *InputError) {
	raw, ok := f.m[name]
	if !ok || string(raw) == "null" {
		return 0, f.fail(name, "missing")
	}
	var n json.Number
	// json.Number also takes a quoted number; a terminal sending "3" is wrong.
	if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return 0, f.fail(name, "must be a number")
	}
	v, err := n.Int64()
	if err != nil || v < -1<<31 || v > 1<<31-1 {
		return 0, f.fail(name, fmt.Sprintf("%s is not a whole number", n))
	}
	return int(v), nil
}

// eachLine splits r into lines, decodes each non-blank one as a JSON object
// and hands it to fn. Errors are collected, never fatal.
func eachLine(r io.Reader, file string, fn func(int, fields) *InputError) ([]*InputError, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var errs []*InputError
	for line := 1; ; line++ {
		b, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return errs, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		eof := errors.Is(err, io.EOF)
		if tooLong {
			errs = append(errs, &InputError{File: file, Line: line, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)})
		} else if b = bytes.TrimSpace(b); len(b) > 0 {
			m := map[string]json.RawMessage{}
			dec := json.NewDecoder(bytes.NewReader(b))
			if derr := dec.Decode(&m); derr != nil {
				errs = append(errs, &InputError{File: file, Line: line, Msg: "not a JSON object: " + derr.Error()})
			} else if dec.More() {
				errs = append(errs, &InputError{File: file, Line: line, Msg: "more than one JSON value on the line"})
			} else if ie := fn(line, fields{file: file, line: line, m: m}); ie != nil {
				errs = append(errs, ie)
			}
		}
		if eof {
			return errs, nil
		}
	}
}

// readLine returns one line without its newline. A line over MaxLineBytes is
// consumed and reported as tooLong.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLineBytes+1 {
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil || errors.Is(err, io.EOF) {
			if tooLong {
				return nil, true, err
			}
			return bytes.TrimSuffix(buf, []byte("\n")), false, err
		}
		return nil, false, err
	}
}

// Message is one message on an agent's "events" data channel: a presence
// event or a rating, for the agent's own station.
type Message struct {
	Event  *Event
	Rating *Rating
}

// ParseMessage parses a data-channel message. The station may be left out
// (it is the session's); if given it must be the session's station.
func ParseMessage(b []byte, station string) (Message, *InputError) {
	if len(b) > MaxLineBytes {
		return Message{}, &InputError{File: "data channel", Msg: fmt.Sprintf("message longer than %d bytes", MaxLineBytes)}
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, &InputError{File: "data channel", Msg: "not a JSON object: " + err.Error()}
	}
	if raw, ok := m["station"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil || s != station {
			return Message{}, &InputError{File: "data channel", Field: "station", Msg: fmt.Sprintf("must be this session's station %q", station)}
		}
	}
	st, _ := json.Marshal(station)
	m["station"] = st
	line, _ := json.Marshal(m)
	line = append(line, '\n')
	if _, isRating := m["value"]; isRating {
		rs, errs, _ := ParseRatings(bytes.NewReader(line), "data channel")
		if len(errs) > 0 {
			errs[0].Line = 0
			return Message{}, errs[0]
		}
		return Message{Rating: &rs[0]}, nil
	}
	evs, errs, _ := ParseEvents(bytes.NewReader(line), "data channel")
	if len(errs) > 0 {
		errs[0].Line = 0
		return Message{}, errs[0]
	}
	if evs[0].Source == "sensor" {
		if _, given := m["source"]; !given {
			evs[0].Source = "agent"
		}
	}
	return Message{Event: &evs[0]}, nil
}
