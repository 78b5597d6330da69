package live

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"contactd/appointments"
	"contactd/consult"
	"contactd/contact"
	"contactd/segmenter"
	"contactd/storage"
)

// Rooms makes the engine's consulting rooms: their contacts follow the
// appointments (consult.Contacts), not the desk rules.
type Rooms struct {
	// Is says whether a station is a consulting room.
	Is func(station string) bool
	// Appointments returns a room's bookings that overlap [from, to).
	Appointments func(room string, from, to time.Time) []appointments.Appointment
	Consult      consult.Config
	// Speech returns who spoke when at a station in [from, to).
	Speech func(station string, from, to time.Time) []contact.Say
	// Converse measures a consultation from its cut clip (a media file
	// starting at c.ClipStart); nil when it cannot (no enrolled voice).
	Converse func(c *contact.Contact, clip string) *contact.Conversation
	// NoShow is told of each appointment nobody came to, once.
	NoShow func(a appointments.Appointment)
}

// roomLag is how far the voice path may run behind the audio.
const roomLag = 5 * time.Second

// roomWindow is how far back a room's pending bookings are looked for.
const roomWindow = 24 * time.Hour

// roomState is what a room has already settled: appointment ids (stored
// or counted as no-shows) and unscheduled contacts, kept in
// {journal}/{room}.done so that a restart does not count them again.
type roomState struct {
	done map[string]bool
	file *os.File
}

func (e *Engine) room(st *station) (*roomState, error) {
	if st.room != nil {
		return st.room, nil
	}
	path := filepath.Join(e.JournalDir, st.id+".done")
	rs := &roomState{done: map[string]bool{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, err := strconv.Unquote(sc.Text()); err == nil {
				rs.done[k] = true
			}
		}
		f.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	rs.file = f
	st.room = rs
	return rs, nil
}

func (rs *roomState) settle(key string) error {
	rs.done[key] = true
	if _, err := rs.file.WriteString(strconv.Quote(key) + "\n"); err != nil {
		return err
	}
	return rs.file.Sync()
}

// processRoom settles a room's bookings whose latest possible end
// (booked end + max_overrun) has passed, and unscheduled consultations
// over for as long.
func (e *Engine) processRoom(id string, now time.Time) {
	r := e.Rooms
	cfg := r.Consult
	e.mu.Lock()
	st := e.stations[id]
	events, ratings := slices.Clone(st.events), slices.Clone(st.ratings)
	heard := maps.Clone(st.heard)
	rs, err := e.room(st)
	e.mu.Unlock()
	if err != nil {
		e.Log.Error("room state", "station", id, "error", err)
		return
	}
	from := now.Add(-roomWindow)
	appts := r.Appointments(id, from, now)
	// A consultation is over once Gap has passed without speech (or its
	// door or button closed it) and the voice path has caught up; it is
	// stored once the exit terminal's rating window has passed too. A
	// booking nobody began by its end is a no-show.
	settle := max(cfg.Gap+roomLag, e.Segmenter.RatingWindow+e.Segmenter.Debounce+2*time.Second)
	pending := false
	for _, a := range appts {
		if !rs.done[a.ID] && now.Sub(a.End) > cfg.Gap+roomLag {
			pending = true
		}
	}
	if !pending && len(events) == 0 && len(ratings) == 0 {
		return
	}
	var speech []contact.Say
	if r.Speech != nil {
		speech = r.Speech(id, from, now)
	}
	res := consult.Contacts(cfg, consult.Input{Room: id, Appointments: appts, Events: events, Speech: speech})
	segmenter.Join(e.Segmenter, e.Rules, res.Contacts, ratings)
	ctx := context.Background()
	var upserts []*storage.Sidecar
	for _, c := range res.Contacts {
		key := "contact " + c.ID
		if c.Appointment != nil {
			key = c.Appointment.ID
		}
		if now.Sub(c.Leave) <= settle || now.Sub(settledFrom(c.Leave, events, heard)) <= backlogGrace(e.Segmenter) {
			continue // an exit rating may still come (or still be on its way from an agent's backlog)
		}
		if rs.done[key] {
			continue
		}
		c.Site = e.Site
		if c.Employee == "" {
			c.Employee = e.employee(id, c.Arrive)
		}
		sc, err := e.cut(ctx, id, c)
		if err != nil {
			e.Log.Error("storing consultation", "station", id, "contact", c.ID, "error", err)
			continue
		}
		upserts = append(upserts, sc)
		if e.Metrics != nil {
			e.Metrics.ObserveResult(e.Site, &segmenter.Result{Contacts: []*contact.Contact{c}})
		}
		if err := rs.settle(key); err != nil {
			e.Log.Error("room state", "station", id, "error", err)
		}
		appt := ""
		if c.Appointment != nil {
			appt = c.Appointment.ID
		}
		e.Log.Info("consultation stored", "station", id, "contact", c.ID, "appointment", appt, "doctor", c.Employee,
			"arrive", c.Arrive, "leave", c.Leave, "set", c.Set, "flags", c.Flags)
	}
	for _, a := range res.NoShows {
		if rs.done[a.ID] || now.Sub(a.End) <= cfg.Gap+roomLag {
			continue
		}
		if r.NoShow != nil {
			r.NoShow(a)
		}
		if err := rs.settle(a.ID); err != nil {
			e.Log.Error("room state", "station", id, "error", err)
		}
		e.Log.Info("no-show", "station", id, "appointment", a.ID, "doctor", a.Doctor, "start", a.Start)
	}
	e.index(ctx, upserts)
	// Events and ratings older than the window are of settled bookings.
	e.mu.Lock()
	st.events = slices.DeleteFunc(st.events, func(ev contact.Event) bool {
		if !ev.At.Before(from) {
			return false
		}
		delete(st.heard, ev.At.UnixNano())
		return true
	})
	st.ratings = slices.DeleteFunc(st.ratings, func(x contact.Rating) bool { return x.At.Before(from) })
	e.mu.Unlock()
}

// roomKeepAfter is the oldest time a room's unsettled bookings may need.
func (e *Engine) roomKeepAfter(id string, st *station, now time.Time) time.Time {
	keep := now
	for _, a := range e.Rooms.Appointments(id, now.Add(-roomWindow), now) {
		if st.room != nil && st.room.done[a.ID] {
			continue
		}
		if t := a.Start.Add(-e.Rooms.Consult.Early - e.Segmenter.PreRoll); t.Before(keep) {
			keep = t
		}
	}
	return keep
}
