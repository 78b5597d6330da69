package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"contactd/appointments"
	"contactd/auth"
	"contactd/contact"
)

// MaxSchedule bounds one schedule upload.
const MaxSchedule = 4 << 20

// postAppointments imports a schedule (text/csv or text/calendar) from a
// clinic information system or an admin: every valid appointment is kept
// (a later import of the same id replaces it), the rest are listed by line
// and field.
func (s *Server) postAppointments(w http.ResponseWriter, r *http.Request, by string) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	parse := appointments.ParseCSV
	switch ct {
	case "text/csv":
	case "text/calendar":
		parse = appointments.ParseICS
	default:
		http.Error(w, fmt.Sprintf("Content-Type %q: want text/csv or text/calendar", ct), http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSchedule))
	if err != nil {
		http.Error(w, fmt.Sprintf("body over %d bytes", MaxSchedule), http.StatusRequestEntityTooLarge)
		return
	}
	rooms := map[string]bool{}
	for _, st := range s.Config.Stations {
		rooms[st.ID] = true
	}
	employees := s.Config.Employees()
	known := func(room, doctor string) (bool, bool) { return rooms[room], slices.Contains(employees, doctor) }
	as, bad, err := parse(bytes.NewReader(body), "body", s.Config.Location(), known)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.schedule.Put(as); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.Log.Info("appointments imported", "by", by, "accepted", len(as), "rejected", len(bad))
	type rejection struct {
		Line  int    `json:"line"`
		Field string `json:"field,omitempty"`
		Error string `json:"error"`
	}
	rej := []rejection{}
	for _, b := range bad {
		rej = append(rej, rejection{b.Line, b.Field, b.Msg})
	}
	status := http.StatusAccepted
	if len(as) == 0 && len(bad) > 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"accepted": len(as), "rejected": rej})
}

// getAppointments lists a room's (or every room's) appointments
// overlapping ?from=&to= (RFC 3339 or a date; default: today).
func (s *Server) getAppointments(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	q := r.URL.Query()
	room := q.Get("room")
	if room != "" && !contact.ValidStation(room) {
		http.Error(w, fmt.Sprintf("query parameter room: %q is not a station id", room), http.StatusBadRequest)
		return
	}
	loc := s.Config.Location()
	now := time.Now().In(loc)
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	to := from.AddDate(0, 0, 1)
	for _, p := range []struct {
		name string
		dst  *time.Time
		end  bool
	}{{"from", &from, false}, {"to", &to, true}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			*p.dst = t
			continue
		}
		d, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			http.Error(w, fmt.Sprintf("query parameter %s: %q is neither an RFC 3339 time nor a date", p.name, v), http.StatusBadRequest)
			return
		}
		if p.end {
			d = d.AddDate(0, 0, 1)
		}
		*p.dst = d
	}
	out := s.schedule.In(room, from, to)
	if out == nil {
		out = []appointments.Appointment{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"appointments": out})
}
