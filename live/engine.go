// Package live runs the segmenter on events and ratings as they arrive from
// agents, sensors and terminals, and cuts each contact's clip from the
// recorder's segments as soon as the contact closes. The rules are the
// offline ones (package segmenter), applied to a sliding window.
package live

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"contactd/clip"
	"contactd/contact"
	"contactd/likely"
	"contactd/metrics"
	"contactd/recorder"
	"contactd/segmenter"
	"contactd/storage"
)

// Engine owns the live contact state of every station.
type Engine struct {
	Site      string
	Segmenter segmenter.Config
	Rules     contact.SetRules
	Archive   *storage.Archive
	Metrics   *metrics.Pipeline // optional
	Log       *slog.Logger
	// Recorder returns a station's recorder, nil if it has none yet.
	Recorder func(station string) *recorder.Recorder
	// JournalDir keeps every accepted event and rating on disk until its
	// contact is done, so a restart (even after SIGKILL) loses nothing.
	JournalDir string
	// Employee, if set, names the employee on shift at a station at a time.
	Employee func(station string, at time.Time) string
	// Voice, if set, returns what the voice path heard in [from, to) at a
	// station; it may wait a few seconds for the path to catch up.
	Voice func(station string, from, to time.Time) *contact.Voice
	// Face, if set, returns what the face path saw in [from, to).
	Face func(station string, from, to time.Time) *contact.Face
	// Rooms, if set, are the consulting rooms: contacts from appointments.
	Rooms *Rooms
	// Checked, if set, names the stations whose sensor is checked against
	// their voices (presence: both): the voices' events come through Heard.
	Checked func(station string) bool
	// StuckAfter is how long a sensor's contact may go on after the last
	// patient's voice before it is flagged sensor_stuck (0: never).
	StuckAfter time.Duration
	Tick       time.Duration
	Now        func() time.Time

	mu       sync.Mutex
	stations map[string]*station

	lenMu  sync.Mutex
	recent map[string][]*contact.Contact // each station's recent contacts: what is usual there
	wake   chan struct{}

	// unindexed are stored contacts whose index update failed (the store
	// unreachable); they are tried again until it succeeds. Owned by run.
	unindexed   []*storage.Sidecar
	indexFailed time.Time

	terminate chan struct{}
	done      chan struct{}
}

type station struct {
	id      string
	events  []contact.Event
	ratings []contact.Rating
	saved   map[string]*saved // contacts already in the store, by id
	retry   map[string]*retry // contacts whose storing failed: when to try again
	orphans map[string]bool   // orphan ratings already stored
	// heard is when the server received each event (by its time, in ns):
	// an agent back from an outage delivers contacts long past, and their
	// rating window runs from when they were heard.
	heard map[int64]time.Time
	// voices are the presence events the voices made at a checked station
	// (not journaled: a restart forgets them and checks from then on).
	voices []contact.Event
	// sensed are the spans of the sensor's contacts already stored, and
	// missed the voices' contacts already handled, both for the last hours.
	sensed  []span
	missed  map[string]bool
	journal *os.File
	room    *roomState // consulting rooms only
}

type span struct{ from, to time.Time }

// retry backs off a contact whose cut or store failed, so a broken segment
// or a full disk is not retried four times a second.
type retry struct {
	n  int
	at time.Time
}

// saved is what was stored for a contact, to see when a late rating changes it.
type saved struct {
	c     contact.Contact
	media storage.MediaInfo
}

// journalEntry is one line of a station's journal.
type journalEntry struct {
	Event  *contact.Event  `json:"event,omitempty"`
	Rating *contact.Rating `json:"rating,omitempty"`
}

// Initialize replays the journals and starts the loop.
func (e *Engine) Initialize() error {
	if e.Log == nil {
		e.Log = slog.Default()
	}
	if e.Tick <= 0 {
		e.Tick = 250 * time.Millisecond
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	e.stations = map[string]*station{}
	e.wake = make(chan struct{}, 1)
	e.terminate = make(chan struct{})
	e.done = make(chan struct{})
	if err := os.MkdirAll(e.JournalDir, 0o750); err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(e.JournalDir, "*.jsonl"))
	for _, f := range files {
		id := filepath.Base(f[:len(f)-len(".jsonl")])
		if !contact.ValidStation(id) {
			continue
		}
		st, err := e.station(id)
		if err != nil {
			return err
		}
		n, err := replay(f, st)
		if err != nil {
			return fmt.Errorf("journal %s: %w", f, err)
		}
		for _, ev := range st.events {
			st.heard[ev.At.UnixNano()] = e.Now()
		}
		if n > 0 {
			e.Log.Info("journal replayed", "station", id, "entries", n)
		}
	}
	go e.run()
	return nil
}

func replay(path string, st *station) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), contact.MaxLineBytes+2)
	for sc.Scan() {
		var je journalEntry
		if json.Unmarshal(sc.Bytes(), &je) != nil {
			continue // a line torn by a crash
		}
		switch {
		case je.Event != nil:
			st.events = append(st.events, *je.Event)
		case je.Rating != nil:
			st.ratings = append(st.ratings, *je.Rating)
		}
		n++
	}
	return n, sc.Err()
}

func (e *Engine) employee(station string, at time.Time) string {
	if e.Employee == nil {
		return ""
	}
	return e.Employee(station, at)
}

// station returns the state of id, creating it. Callers hold e.mu or are in Initialize.
func (e *Engine) station(id string) (*station, error) {
	if st, ok := e.stations[id]; ok {
		return st, nil
	}
	f, err := os.OpenFile(filepath.Join(e.JournalDir, id+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	st := &station{id: id, saved: map[string]*saved{}, retry: map[string]*retry{}, orphans: map[string]bool{}, heard: map[int64]time.Time{}, missed: map[string]bool{}, journal: f}
	e.stations[id] = st
	if e.Metrics != nil {
		e.Metrics.InitStation(e.Site, id, e.employee(id, time.Now()))
	}
	return st, nil
}

// Event accepts a presence event. It is journaled before it is acknowledged.
// The same event delivered twice (an agent resending after a lost ack) is
// taken once.
func (e *Engine) Event(ev contact.Event) error {
	return e.accept(ev.Station, journalEntry{Event: &ev}, func(st *station) bool {
		if slices.ContainsFunc(st.events, func(x contact.Event) bool { return x.Type == ev.Type && x.At.Equal(ev.At) }) {
			return false
		}
		st.events = append(st.events, ev)
		st.heard[ev.At.UnixNano()] = e.Now()
		return true
	})
}

// Heard takes a presence event the voices made at a checked station: it
// makes no contact of its own but flags where the sensor disagrees.
func (e *Engine) Heard(ev contact.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.station(ev.Station)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(st.voices, func(x contact.Event) bool { return x.Type == ev.Type && x.At.Equal(ev.At) }) {
		st.voices = append(st.voices, ev)
	}
	return nil
}

// Rating accepts a press on a station's terminal, once.
func (e *Engine) Rating(r contact.Rating) error {
	return e.accept(r.Station, journalEntry{Rating: &r}, func(st *station) bool {
		if slices.ContainsFunc(st.ratings, func(x contact.Rating) bool { return x.Value == r.Value && x.At.Equal(r.At) }) {
			return false
		}
		st.ratings = append(st.ratings, r)
		return true
	})
}

func (e *Engine) accept(id string, je journalEntry, add func(*station) bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, err := e.station(id)
	if err != nil {
		return err
	}
	if !add(st) {
		return nil // a duplicate: already journaled
	}
	b, _ := json.Marshal(je)
	if _, err := st.journal.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := st.journal.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close finishes the clips of contacts that have closed (their leave came),
// then stops. Contacts still open stay in the journal for the next start.
func (e *Engine) Close() {
	select {
	case <-e.terminate:
	default:
		close(e.terminate)
	}
	<-e.done
}

func (e *Engine) run() {
	defer close(e.done)
	t := time.NewTicker(e.Tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-e.wake:
		case <-e.terminate:
			// A leave already received closes its contact now: no later
			// arrive can come to merge with it.
			e.process(e.Now().Add(e.Segmenter.MergeGap + time.Millisecond))
			e.mu.Lock()
			for _, st := range e.stations {
				st.journal.Close()
				if st.room != nil {
					st.room.file.Close()
				}
			}
			e.mu.Unlock()
			return
		}
		e.process(e.Now())
	}
}

// process applies the rules to every station as of now.
func (e *Engine) process(now time.Time) {
	e.mu.Lock()
	ids := make([]string, 0, len(e.stations))
	for id := range e.stations {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		e.processStation(id, now)
	}
	e.index(context.Background(), nil) // retry an index update that failed
}

func (e *Engine) processStation(id string, now time.Time) {
	if e.Rooms != nil && e.Rooms.Is(id) {
		e.processRoom(id, now)
		return
	}
	e.mu.Lock()
	st := e.stations[id]
	events, ratings := slices.Clone(st.events), slices.Clone(st.ratings)
	heard := maps.Clone(st.heard)
	voices := slices.Clone(st.voices)
	e.mu.Unlock()
	checked := e.Checked != nil && e.Checked(id)

	cfg := e.Segmenter
	contacts, passBys, ignored := segmenter.Contacts(cfg, events, time.Time{})
	join := segmenter.Join(cfg, e.Rules, contacts, ratings)
	final := func(c *contact.Contact) bool { return now.Sub(c.Leave) > cfg.MergeGap }
	// Done: its rating window has passed since its leave, and the server
	// heard that leave a while ago: an agent back from an outage sends a
	// contact's leave and then its rating, in one burst (resent every 5 s
	// if a message was not taken), so a contact long past by its own times
	// still waits for what follows it.
	done := func(c *contact.Contact) bool {
		return now.Sub(c.Leave) > cfg.RatingWindow+cfg.Debounce+2*time.Second &&
			now.Sub(settledFrom(c.Leave, events, heard)) > backlogGrace(cfg)
	}
	ctx := context.Background()
	var upserts []*storage.Sidecar
	for _, c := range contacts {
		if !final(c) {
			break // contacts are in order; the rest are still open
		}
		c.Site = e.Site
		c.Employee = e.employee(id, c.Arrive)
		prev, ok := st.saved[c.ID]
		if rt := st.retry[c.ID]; rt != nil && now.Before(rt.at) {
			continue
		}
		var sc *storage.Sidecar
		var err error
		if !ok {
			var kind contact.Flag
			if checked {
				kind = e.check(c, voices, now)
			}
			sc, err = e.cut(ctx, id, c)
			if err == nil && kind != "" {
				e.disagreement(id, c, kind)
			}
		} else {
			// Flags the cut added stay, in their order (changed compares them).
			for _, f := range prev.c.Flags {
				if f == contact.FlagNoMedia || f == contact.FlagNotHeard || f == contact.FlagSensorStuck {
					c.AddFlag(f)
				}
			}
			if !changed(&prev.c, c) {
				continue
			}
			c.Clip, c.ClipStart, c.ClipEnd, c.Voice, c.Face = prev.c.Clip, prev.c.ClipStart, prev.c.ClipEnd, prev.c.Voice, prev.c.Face
			c.Likely = prev.c.Likely
			sc, err = e.Archive.SaveSidecar(ctx, c, prev.media)
		}
		if err != nil {
			rt := st.retry[c.ID]
			if rt == nil {
				rt = &retry{}
				st.retry[c.ID] = rt
			}
			rt.n++
			wait := min(time.Second<<min(rt.n-1, 6), time.Minute)
			rt.at = now.Add(wait)
			e.Log.Error("storing contact", "station", id, "contact", c.ID, "attempt", rt.n, "retry_in", wait, "error", err)
			continue
		}
		delete(st.retry, c.ID)
		if !ok {
			st.sensed = append(st.sensed, span{c.Arrive, c.Leave})
		}
		st.saved[c.ID] = &saved{c: sc.Contact, media: sc.Media}
		upserts = append(upserts, sc)
		e.Log.Info("contact stored", "station", id, "contact", c.ID, "arrive", c.Arrive, "leave", c.Leave,
			"set", c.Set, "clip", c.Clip, "flags", c.Flags)
	}
	var held map[string]bool
	if checked {
		var missed []*storage.Sidecar
		missed, held = e.missedBySensor(ctx, st, contacts, voices, join.Orphans, now)
		upserts = append(upserts, missed...)
	}
	e.index(ctx, upserts)
	// A rating nobody can claim any more is an orphan: kept in the store.
	grace := cfg.Debounce + cfg.MergeGap + 2*time.Second
	for _, r := range join.Orphans {
		key := orphanKey(r)
		if now.Sub(r.At) < grace || st.orphans[key] || held[key] {
			continue
		}
		if err := e.Archive.SaveOrphan(ctx, e.Site, r); err != nil {
			e.Log.Error("storing orphan rating", "station", id, "error", err)
			continue
		}
		st.orphans[key] = true
		if e.Metrics != nil {
			e.Metrics.OrphanRatings.WithLabelValues(e.Site, id, e.employee(id, r.At)).Inc()
		}
		e.Log.Info("orphan rating", "station", id, "at", r.At, "value", r.Value, "scale", r.Scale)
	}

	// Contacts past their rating window are done: count them and forget
	// their events and ratings (and trim the journal).
	var boundary time.Time
	var finished []*contact.Contact
	for _, c := range contacts {
		if !done(c) || st.saved[c.ID] == nil {
			break
		}
		boundary = c.Leave
		finished = append(finished, c)
	}
	if boundary.IsZero() {
		return
	}
	if e.Metrics != nil {
		res := &segmenter.Result{Contacts: finished}
		for _, p := range passBys {
			if !p.Leave.After(boundary) {
				res.PassBys = append(res.PassBys, p)
			}
		}
		for _, l := range ignored {
			if !l.At.After(boundary) {
				res.IgnoredLeaves = append(res.IgnoredLeaves, l)
			}
		}
		for _, c := range finished {
			c.Site = e.Site
			c.Employee = e.employee(c.Station, c.Arrive)
		}
		e.Metrics.ObserveResult(e.Site, res)
	}
	claimed := map[time.Time]bool{} // ratings still joined to a contact not yet done
	for _, c := range contacts[len(finished):] {
		if c.Rating != nil {
			claimed[c.Rating.At] = true
		}
		for _, x := range c.ExtraRatings {
			claimed[x.At] = true
		}
	}
	// Only what this pass saw may go: a rating accepted while it was
	// cutting was joined to nothing yet.
	seenEvent := func(ev contact.Event) bool {
		return slices.ContainsFunc(events, func(x contact.Event) bool { return x.Type == ev.Type && x.At.Equal(ev.At) })
	}
	seenRating := func(r contact.Rating) bool {
		return slices.ContainsFunc(ratings, func(x contact.Rating) bool { return x.Value == r.Value && x.At.Equal(r.At) })
	}
	e.mu.Lock()
	st.events = slices.DeleteFunc(st.events, func(ev contact.Event) bool {
		if ev.At.After(boundary) || !seenEvent(ev) {
			return false
		}
		delete(st.heard, ev.At.UnixNano())
		return true
	})
	st.ratings = slices.DeleteFunc(st.ratings, func(r contact.Rating) bool {
		if r.At.After(boundary.Add(cfg.RatingWindow)) || claimed[r.At] || !seenRating(r) {
			return false
		}
		delete(st.orphans, orphanKey(r)) // a forgotten rating cannot come back as an orphan
		return true
	})
	for _, c := range finished {
		delete(st.saved, c.ID)
	}
	if err := e.compact(st); err != nil {
		e.Log.Error("compacting journal", "station", id, "error", err)
	}
	e.mu.Unlock()
}

// check compares a sensor's contact, about to be stored, with what the
// voices heard: no patient's voice in it (not_heard), or the contact going
// on for StuckAfter past the last one (sensor_stuck). It flags the contact
// and returns the kind ("" when they agree).
func (e *Engine) check(c *contact.Contact, voices []contact.Event, now time.Time) contact.Flag {
	heard, _, _ := segmenter.Contacts(e.Segmenter, voices, time.Time{})
	last, some := c.Arrive, false
	for _, h := range heard {
		end := h.Leave
		if end.After(now) {
			end = now // a conversation still going on is heard up to now
		}
		if h.Arrive.Before(c.Leave) && c.Arrive.Before(end) {
			some = true
			if end.After(last) {
				last = end
			}
		}
	}
	var kind contact.Flag
	switch {
	case e.StuckAfter > 0 && c.Leave.Sub(last) > e.StuckAfter:
		kind = contact.FlagSensorStuck
	case !some:
		kind = contact.FlagNotHeard
	default:
		return ""
	}
	c.AddFlag(kind)
	return kind
}

func orphanKey(r contact.Rating) string { return r.At.Format(time.RFC3339Nano) + fmt.Sprint(r.Value) }

// missedBySensor stores, as contacts of their own, the conversations the
// voices heard that overlap no contact of the sensor's (flag
// sensor_missed): the patients a quality officer would otherwise never see.
// A rating no sensor contact claims (orphans) joins such a conversation by
// the usual rule, so the contact waits for its rating window; until then
// the ratings it may claim are held (returned by key) rather than stored
// as orphans.
func (e *Engine) missedBySensor(ctx context.Context, st *station, sensor []*contact.Contact, voices []contact.Event, orphans []contact.Rating, now time.Time) ([]*storage.Sidecar, map[string]bool) {
	cfg := e.Segmenter
	heard, _, _ := segmenter.Contacts(cfg, voices, time.Time{})
	var out []*storage.Sidecar
	held := map[string]bool{}
	var free []contact.Rating // orphans not yet claimed by a missed contact
	for _, r := range orphans {
		if !st.orphans[orphanKey(r)] {
			r.Station = st.id
			free = append(free, r)
		}
	}
	for _, h := range heard {
		if st.missed[h.ID] || h.HasFlag(contact.FlagLeaveMissing) || now.Sub(h.Leave) <= cfg.MergeGap+cfg.Debounce {
			continue // handled, or the conversation not over yet
		}
		overlaps := func(from, to time.Time) bool { return h.Arrive.Before(to) && from.Before(h.Leave) }
		covered := slices.ContainsFunc(sensor, func(c *contact.Contact) bool { return overlaps(c.Arrive, c.Leave) }) ||
			slices.ContainsFunc(st.sensed, func(s span) bool { return overlaps(s.from, s.to) })
		if covered {
			st.missed[h.ID] = true // they agree
			continue
		}
		mine := func(r contact.Rating) bool {
			return !r.At.Before(h.Arrive) && !r.At.After(h.Leave.Add(cfg.RatingWindow))
		}
		if now.Sub(h.Leave) <= cfg.RatingWindow+cfg.Debounce+2*time.Second {
			for _, r := range free {
				if mine(r) {
					held[orphanKey(r)] = true
				}
			}
			continue // its rating may still come
		}
		h.Site, h.Employee = e.Site, e.employee(st.id, h.Arrive)
		h.AddFlag(contact.FlagSensorMissed)
		var candidates []contact.Rating
		for _, r := range free {
			if mine(r) {
				candidates = append(candidates, r)
			}
		}
		segmenter.Join(cfg, e.Rules, []*contact.Contact{h}, candidates)
		sc, err := e.cut(ctx, st.id, h)
		if err != nil {
			e.Log.Error("storing a contact the sensor missed", "station", st.id, "contact", h.ID, "error", err)
			continue // tried again next pass
		}
		st.missed[h.ID] = true
		// Its ratings are taken: no orphan of them.
		for _, r := range candidates {
			st.orphans[orphanKey(r)] = true
		}
		e.disagreement(st.id, h, contact.FlagSensorMissed)
		out = append(out, sc)
	}
	// What is older than the longest contact and its settling is done with.
	horizon := now.Add(-2 * (cfg.MaxContact + cfg.RatingWindow))
	e.mu.Lock()
	st.voices = slices.DeleteFunc(st.voices, func(ev contact.Event) bool { return ev.At.Before(horizon) })
	e.mu.Unlock()
	st.sensed = slices.DeleteFunc(st.sensed, func(s span) bool { return s.to.Before(horizon) })
	for _, h := range heard {
		if h.Leave.Before(horizon) {
			delete(st.missed, h.ID)
		}
	}
	return out, held
}

// disagreement counts and logs a contact the sensor and the voices disagree on.
func (e *Engine) disagreement(station string, c *contact.Contact, kind contact.Flag) {
	if e.Metrics != nil {
		e.Metrics.Disagreements.WithLabelValues(e.Site, station, e.employee(station, c.Arrive), string(kind)).Inc()
	}
	e.Log.Warn("the presence sensor and the voices disagree", "station", station, "kind", kind, "contact", c.ID,
		"arrive", c.Arrive, "leave", c.Leave)
}

// backlogGrace is how long after the server heard a contact's leave it
// keeps the contact open for the messages that follow it in a backlog.
func backlogGrace(cfg segmenter.Config) time.Duration {
	return cfg.Debounce + cfg.MergeGap + 5*time.Second
}

// settledFrom is the latest of a contact's leave and the times the server
// heard the events up to it.
func settledFrom(leave time.Time, events []contact.Event, heard map[int64]time.Time) time.Time {
	from := leave
	for _, ev := range events {
		if h, ok := heard[ev.At.UnixNano()]; ok && !ev.At.After(leave) && h.After(from) {
			from = h
		}
	}
	return from
}

// index adds stored contacts to the index, with any whose earlier update
// failed; on failure they wait for the next try (at most every 5 s), so a
// contact stored while the index could not be read is not left out of it.
func (e *Engine) index(ctx context.Context, scs []*storage.Sidecar) {
	if len(scs) == 0 && (len(e.unindexed) == 0 || time.Since(e.indexFailed) < 5*time.Second) {
		return
	}
	all := append(e.unindexed, scs...)
	// The newest version of each contact (a late rating rewrites it).
	seen := map[string]bool{}
	var batch []*storage.Sidecar
	for i := len(all) - 1; i >= 0; i-- {
		if !seen[all[i].ID] {
			seen[all[i].ID] = true
			batch = append(batch, all[i])
		}
	}
	slices.Reverse(batch)
	if err := e.Archive.Upsert(ctx, batch); err != nil {
		if len(e.unindexed) == 0 {
			e.Log.Error("updating index: contacts wait to be indexed", "contacts", len(batch), "error", err)
		}
		e.unindexed, e.indexFailed = batch, time.Now()
		return
	}
	if len(e.unindexed) > 0 {
		e.Log.Info("index updated after earlier failures", "contacts", len(batch))
	}
	e.unindexed = nil
}

// changed reports whether the facts a late rating can change differ.
func changed(a, b *contact.Contact) bool {
	return a.Set != b.Set || !slices.Equal(a.Flags, b.Flags) ||
		(a.Rating == nil) != (b.Rating == nil) || a.Rating != nil && (a.Rating.Value != b.Rating.Value || !a.Rating.At.Equal(b.Rating.At)) ||
		len(a.ExtraRatings) != len(b.ExtraRatings) || !a.Leave.Equal(b.Leave)
}

// compact rewrites a station's journal with what is still pending. Caller holds e.mu.
func (e *Engine) compact(st *station) error {
	path := st.journal.Name()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range st.events {
		b, _ := json.Marshal(journalEntry{Event: &st.events[i]})
		w.Write(append(b, '\n'))
	}
	for i := range st.ratings {
		b, _ := json.Marshal(journalEntry{Rating: &st.ratings[i]})
		w.Write(append(b, '\n'))
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	st.journal.Close()
	st.journal, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o640)
	return err
}

// cut waits for the media up to the clip end, cuts the clip out of the
// station's segments and stores it with its sidecar.
func (e *Engine) cut(ctx context.Context, id string, c *contact.Contact) (*storage.Sidecar, error) {
	cfg := e.Segmenter
	c.ClipStart, c.ClipEnd = c.Arrive.Add(-cfg.PreRoll), c.Leave.Add(cfg.PostRoll)
	if e.Voice != nil {
		c.Voice = e.Voice(id, c.Arrive, c.Leave)
	}
	if e.Face != nil {
		c.Face = e.Face(id, c.Arrive, c.Leave)
	}
	var rec *recorder.Recorder
	if e.Recorder != nil {
		rec = e.Recorder(id)
	}
	var segs []recorder.Segment
	if rec != nil {
		rec.Flush(c.ClipEnd, 2*time.Second)
		segs = rec.Segments(c.ClipStart, c.ClipEnd)
	}
	if len(segs) == 0 {
		c.AddFlag(contact.FlagNoMedia)
		c.Likely = likely.Score(c, e.usual(id, c), likely.DefaultWeights)
		return e.Archive.SaveContact(ctx, c, "", storage.MediaInfo{})
	}
	t0 := time.Now()
	zero := segs[0].Start
	var srcs []clip.Source
	for _, s := range segs {
		srcs = append(srcs, clip.Source{Path: s.Path, Offset: s.Start.Sub(zero)})
	}
	// The container follows from the streams of all the segments (CutSources
	// picks it), so the temporary file's name carries no extension.
	tmp, err := os.CreateTemp("", "contactd-clip-*")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	span, err := clip.CutSources(srcs, c.ClipStart.Sub(zero), c.ClipEnd.Sub(zero), tmp.Name())
	if err != nil {
		return nil, err
	}
	c.ClipStart, c.ClipEnd = zero.Add(span.Start), zero.Add(span.End)
	if e.Rooms != nil && e.Rooms.Converse != nil && e.Rooms.Is(id) {
		c.Conversation = e.Rooms.Converse(c, tmp.Name())
	}
	c.Likely = likely.Score(c, e.usual(id, c), likely.DefaultWeights)
	info := clip.Info{Streams: span.Streams}
	format, ext := info.Container()
	c.Clip = e.Archive.ClipKey(c, ext)
	sc, err := e.Archive.SaveContact(ctx, c, tmp.Name(), storage.MediaInfo{Container: format, Codecs: info.Codecs()})
	if err == nil && e.Metrics != nil {
		e.Metrics.ClipCut.WithLabelValues(e.Site, id).Observe(time.Since(t0).Seconds())
	}
	return sc, err
}

// Covered reports whether media at wall time t of a station belongs to a
// contact as far as the events received say: from an arrive less the
// pre-roll to its leave plus the post-roll and the merge gap (an arrive in
// the gap makes one contact whose clip spans it), or open when no leave
// has come. Controlled recording writes only such media.
func (e *Engine) Covered(id string, t time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.stations[id]
	if st == nil {
		return false
	}
	cfg := e.Segmenter
	var open *time.Time
	for i := range st.events {
		ev := &st.events[i]
		switch ev.Type {
		case contact.Arrive:
			if open == nil {
				open = &ev.At
			}
		case contact.Leave:
			if open != nil {
				if !t.Before(open.Add(-cfg.PreRoll)) && !t.After(ev.At.Add(cfg.PostRoll+cfg.MergeGap)) {
					return true
				}
				open = nil
			}
		}
	}
	if open != nil && !t.Before(open.Add(-cfg.PreRoll)) && !t.After(open.Add(cfg.MaxContact+cfg.PostRoll)) {
		return true
	}
	return false
}

// KeepAfter is the oldest wall time any pending contact may still need
// (segments older than it may go when their retention is over).
func (e *Engine) KeepAfter() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.Now()
	keep := now
	for id, st := range e.stations {
		if e.Rooms != nil && e.Rooms.Is(id) {
			if t := e.roomKeepAfter(id, st, now); t.Before(keep) {
				keep = t
			}
		}
		for _, ev := range st.events {
			if t := ev.At.Add(-e.Segmenter.PreRoll); t.Before(keep) {
				keep = t
			}
		}
	}
	return keep
}

// usualContacts is how many recent contacts make a station's usual.
const usualContacts = 50

// usual returns what is usual at a station before this contact, then
// counts this contact in.
func (e *Engine) usual(station string, c *contact.Contact) likely.Usual {
	e.lenMu.Lock()
	defer e.lenMu.Unlock()
	if e.recent == nil {
		e.recent = map[string][]*contact.Contact{}
	}
	cs := e.recent[station]
	u := likely.UsualOf(cs)
	if len(cs) == usualContacts {
		cs = cs[1:]
	}
	// Only what the usual reads: the times and the employee's voice.
	k := &contact.Contact{Arrive: c.Arrive, Leave: c.Leave}
	if c.Voice != nil && c.Voice.Employee != nil {
		k.Voice = &contact.Voice{Employee: c.Voice.Employee}
	}
	e.recent[station] = append(cs, k)
	return u
}
