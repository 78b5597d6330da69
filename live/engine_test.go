package live

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"contactd/contact"
	"contactd/segmenter"
	"contactd/storage"
)

// newTestEngine runs an engine over a directory store, no recorder (every
// contact is stored without media), with its loop started.
func newTestEngine(t *testing.T, voice func(station string, from, to time.Time) *contact.Voice, opts ...func(*Engine)) (*Engine, *storage.Archive) {
	t.Helper()
	st, err := storage.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &storage.Archive{Store: st}
	e := &Engine{
		Site: "s1", Segmenter: segmenter.DefaultConfig(), Rules: contact.DefaultSetRules(), Archive: a,
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		JournalDir: t.TempDir(), Voice: voice,
	}
	for _, o := range opts {
		o(e)
	}
	if err := e.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, a
}

// backlog is what an agent's outbox holds after being cut off: contacts
// long past, each an arrive, a leave and the rating pressed after it.
type backlogContact struct {
	arrive, leave contact.Event
	rating        contact.Rating
}

func backlog(n int, start time.Time) []backlogContact {
	var out []backlogContact
	for k := range n {
		at := start.Round(time.Millisecond).Add(time.Duration(k) * 90 * time.Second)
		out = append(out, backlogContact{
			arrive: contact.Event{Station: "desk-1", Type: contact.Arrive, At: at},
			leave:  contact.Event{Station: "desk-1", Type: contact.Leave, At: at.Add(40 * time.Second)},
			rating: contact.Rating{Station: "desk-1", Value: 1 + k%5, Scale: contact.Scale5pt, At: at.Add(45 * time.Second)},
		})
	}
	return out
}

// ratingsStored polls the index until n contacts are in it and returns
// their ratings by arrive time (0: none).
func ratingsStored(t *testing.T, a *storage.Archive, n int, within time.Duration) map[int64]int {
	t.Helper()
	deadline := time.Now().Add(within)
	var got map[int64]int
	for time.Now().Before(deadline) {
		ix, err := a.LoadIndex(context.Background())
		if err == nil && len(ix.Contacts) >= n {
			got = map[int64]int{}
			for _, c := range ix.Contacts {
				got[c.Arrive.UnixNano()] = 0
				if c.Rating != nil {
					got[c.Arrive.UnixNano()] = c.Rating.Value
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return got
}

// TestBacklogKeepsRatingHeardAfterCut: an agent back after an outage sends
// its contacts' arrive and leave, and the server cuts the contact (long
// closed by its own timestamps) before the rating, sent next, is heard.
// The rating still joins its contact: the rating window runs from when the
// server heard the leave, not from the leave's own time.
func TestBacklogKeepsRatingHeardAfterCut(t *testing.T) {
	e, a := newTestEngine(t, nil)
	bl := backlog(3, time.Now().Add(-20*time.Minute))
	for i, c := range bl {
		for _, ev := range []contact.Event{c.arrive, c.leave} {
			if err := e.Event(ev); err != nil {
				t.Fatal(err)
			}
		}
		// Let the engine cut the contact before the rating arrives.
		ratingsStored(t, a, i+1, 1500*time.Millisecond)
		if err := e.Rating(c.rating); err != nil {
			t.Fatal(err)
		}
	}
	got := ratingsStored(t, a, len(bl), 2*time.Second)
	for _, c := range bl {
		if got[c.arrive.At.UnixNano()] != c.rating.Value {
			t.Errorf("contact arriving %s: rating %d stored, want %d (all: %v)", c.arrive.At.Format(time.TimeOnly), got[c.arrive.At.UnixNano()], c.rating.Value, got)
		}
	}
}

// TestRatingHeardDuringCutIsKept: a rating accepted while the engine is
// cutting its contact (here: while the voice path is asked for the
// contact's readings) is not trimmed by that pass, which did not see it.
func TestRatingHeardDuringCutIsKept(t *testing.T) {
	inCut, release := make(chan struct{}, 10), make(chan struct{})
	e, a := newTestEngine(t, func(string, time.Time, time.Time) *contact.Voice {
		inCut <- struct{}{}
		<-release
		return nil
	})
	bl := backlog(1, time.Now().Add(-20*time.Minute))
	c := bl[0]
	for _, ev := range []contact.Event{c.arrive, c.leave} {
		if err := e.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-inCut:
	case <-time.After(5 * time.Second):
		t.Fatal("the engine never cut the contact")
	}
	if err := e.Rating(c.rating); err != nil {
		t.Fatal(err)
	}
	close(release)
	got := ratingsStored(t, a, 1, 2*time.Second)
	if got[c.arrive.At.UnixNano()] != c.rating.Value {
		t.Errorf("rating %d stored, want %d", got[c.arrive.At.UnixNano()], c.rating.Value)
	}
}

// TestSensorCheckedAgainstVoices: at a station with presence: both the
// sensor decides the contacts and the voices flag where it disagrees: a
// contact nobody spoke in (not_heard), one that went on long after the
// last patient's voice (sensor_stuck), and a conversation the sensor
// missed, which becomes a contact of its own (sensor_missed).
func TestSensorCheckedAgainstVoices(t *testing.T) {
	base := time.Now().Add(-time.Hour).Round(time.Second)
	// The engine's clock stands before the day until every input is in:
	// otherwise a pass between the voices and the sensor's events would see
	// the one without the other (live, both come as the day goes).
	var ready atomic.Bool
	e, a := newTestEngine(t, nil, func(e *Engine) {
		e.Checked = func(string) bool { return true }
		e.StuckAfter = 5 * time.Minute
		e.Now = func() time.Time {
			if ready.Load() {
				return time.Now()
			}
			return base.Add(-time.Minute)
		}
	})
	at := func(m, s int) time.Time { return base.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second) }
	ev := func(typ contact.EventType, t time.Time) contact.Event {
		return contact.Event{Station: "desk-1", Type: typ, At: t, Source: "auto"}
	}
	// The voices first: they come from the live voice path, ahead of the cut.
	for _, v := range [][2]time.Time{{at(0, 5), at(0, 50)}, {at(6, 0), at(6, 40)}, {at(10, 5), at(11, 0)}} {
		for _, x := range []contact.Event{ev(contact.Arrive, v[0]), ev(contact.Leave, v[1])} {
			if err := e.Heard(x); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range [][2]time.Time{{at(0, 0), at(1, 0)}, {at(3, 0), at(4, 0)}, {at(10, 0), at(20, 0)}} {
		for _, x := range []contact.Event{{Station: "desk-1", Type: contact.Arrive, At: s[0]}, {Station: "desk-1", Type: contact.Leave, At: s[1]}} {
			if err := e.Event(x); err != nil {
				t.Fatal(err)
			}
		}
	}
	ready.Store(true)
	want := map[int64][]contact.Flag{
		at(0, 0).UnixNano():  nil,
		at(3, 0).UnixNano():  {contact.FlagNotHeard},
		at(6, 0).UnixNano():  {contact.FlagSensorMissed},
		at(10, 0).UnixNano(): {contact.FlagSensorStuck},
	}
	got := map[int64][]contact.Flag{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(got) < len(want); time.Sleep(50 * time.Millisecond) {
		ix, err := a.LoadIndex(context.Background())
		if err != nil {
			continue
		}
		got = map[int64][]contact.Flag{}
		for _, c := range ix.Contacts {
			var fs []contact.Flag
			for _, f := range c.Flags {
				if f == contact.FlagNotHeard || f == contact.FlagSensorMissed || f == contact.FlagSensorStuck {
					fs = append(fs, f)
				}
			}
			got[c.Arrive.UnixNano()] = fs
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d contacts stored, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		if fs, ok := got[k]; !ok || !slices.Equal(fs, w) {
			t.Errorf("contact arriving %s: disagreement flags %v, want %v", time.Unix(0, k).Format(time.TimeOnly), fs, w)
		}
	}
}

// TestRatingJoinsContactTheSensorMissed: a rating pressed after a
// conversation the sensor missed (presence: both) joins that contact by the
// usual rule, instead of being stored as an orphan; a rating near no
// conversation is still an orphan.
func TestRatingJoinsContactTheSensorMissed(t *testing.T) {
	e, a := newTestEngine(t, nil, func(e *Engine) {
		e.Checked = func(string) bool { return true }
		e.Segmenter.RatingWindow = 4 * time.Second
		e.Tick = 100 * time.Millisecond
	})
	now := time.Now().Round(time.Millisecond)
	lone := contact.Rating{Station: "desk-1", Value: 4, Scale: contact.Scale5pt, At: now.Add(-40 * time.Second)}
	if err := e.Rating(lone); err != nil {
		t.Fatal(err)
	}
	for _, x := range []contact.Event{
		{Station: "desk-1", Type: contact.Arrive, At: now.Add(-15 * time.Second), Source: "auto"},
		{Station: "desk-1", Type: contact.Leave, At: now.Add(-time.Second), Source: "auto"},
	} {
		if err := e.Heard(x); err != nil {
			t.Fatal(err)
		}
	}
	// The patient presses "bad" on the way out.
	press := contact.Rating{Station: "desk-1", Value: 0, Scale: contact.Scale5pt, At: now.Add(time.Second)}
	if err := e.Rating(press); err != nil {
		t.Fatal(err)
	}
	orphans := func() []string {
		var keys []string
		for k, err := range a.Store.List(context.Background(), "orphans/") {
			if err == nil {
				keys = append(keys, k)
			}
		}
		return keys
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ix, err := a.LoadIndex(context.Background())
		if err != nil || len(ix.Contacts) == 0 {
			continue
		}
		if len(ix.Contacts) != 1 {
			t.Fatalf("%d contacts, want the one conversation", len(ix.Contacts))
		}
		c := ix.Contacts[0]
		if !slices.Contains(c.Flags, contact.FlagSensorMissed) {
			t.Errorf("contact flags %v, want sensor_missed", c.Flags)
		}
		if c.Rating == nil || c.Rating.Value != 0 || c.Set != contact.Negative {
			t.Errorf("the missed contact: rating %+v, set %q; want the press after it (0), negative", c.Rating, c.Set)
		}
		keys := orphans()
		if len(keys) != 1 || !strings.Contains(keys[0], "-4.json") {
			t.Errorf("orphans %v, want only the lone rating (value 4)", keys)
		}
		return
	}
	t.Fatalf("the conversation the sensor missed was not stored; orphans %v", orphans())
}

// TestOrphansForgotten: an orphan rating is stored once, and forgotten with
// the station's other old ratings once a later contact is done, so a desk
// whose patients press at random does not grow the engine's memory. (A
// contact is done some seconds after its events were heard.)
func TestOrphansForgotten(t *testing.T) {
	e, a := newTestEngine(t, nil, func(e *Engine) {
		e.Segmenter.RatingWindow = 2 * time.Second
		e.Tick = 100 * time.Millisecond
	})
	now := time.Now().Round(time.Millisecond)
	for i := range 5 {
		r := contact.Rating{Station: "desk-1", Value: i % 5, Scale: contact.Scale5pt, At: now.Add(time.Duration(-100+10*i) * time.Second)}
		if err := e.Rating(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range []contact.Event{
		{Station: "desk-1", Type: contact.Arrive, At: now.Add(-20 * time.Second)},
		{Station: "desk-1", Type: contact.Leave, At: now.Add(-10 * time.Second)},
	} {
		if err := e.Event(x); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		n := 0
		for _, err := range a.Store.List(context.Background(), "orphans/") {
			if err == nil {
				n++
			}
		}
		e.mu.Lock()
		st := e.stations["desk-1"]
		left, ratings := len(st.orphans), len(st.ratings)
		e.mu.Unlock()
		if n == 5 && left == 0 && ratings == 0 {
			return
		}
		if time.Now().Add(100 * time.Millisecond).After(deadline) {
			t.Fatalf("%d orphans stored (want 5); the engine still holds %d orphan keys and %d ratings", n, left, ratings)
		}
	}
}
