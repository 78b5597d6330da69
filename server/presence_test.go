package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/config"
	"contactd/contact"
	"contactd/internal/testenv"
	"contactd/storage"
)

// deskDay is a desk's audio: silence, a conversation of anna (RAVDESS
// actor 17, enrolled) with a patient (actor 18), silence, anna on the
// phone alone, silence.
type deskDay struct {
	x                              []float32
	convStart, convEnd, phoneStart time.Duration
	phoneEnd                       time.Duration
	state                          string // the server's state dir, anna enrolled
}

func newDeskDay(t *testing.T) *deskDay {
	ds := filepath.Join(testenv.Datasets(t), "ravdess")
	files := func(actor string) []string {
		f, _ := filepath.Glob(filepath.Join(ds, "03-01-*-"+actor+".ogg"))
		sort.Strings(f)
		return f
	}
	emp, pat := files("17"), files("18")
	decode := func(f string) []float32 {
		x, err := audio.DecodeFile(f, features.Rate)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	d := &deskDay{state: t.TempDir()}
	enrolEmployee(t, d.state, "anna", emp[:20])
	sec := func(s float64) { d.x = append(d.x, make([]float32, int(s*features.Rate))...) }
	now := func() time.Duration { return time.Duration(len(d.x)) * time.Second / features.Rate }
	sec(5)
	d.convStart = now()
	for i := 0; i < 5; i++ {
		d.x = append(d.x, decode(emp[20+i])...)
		sec(0.7)
		d.x = append(d.x, decode(pat[20+i])...)
		sec(0.7)
	}
	d.x = append(d.x, decode(emp[25])...) // the goodbye
	d.convEnd = now()
	sec(40)
	d.phoneStart = now()
	for i := 26; i < 30; i++ { // on the phone: nobody at the desk
		d.x = append(d.x, decode(emp[i])...)
		sec(0.7)
	}
	d.phoneEnd = now()
	sec(20)
	return d
}

func (d *deskDay) length() time.Duration {
	return time.Duration(len(d.x)) * time.Second / features.Rate
}

// TestLivePresenceFromVoices: a desk without a sensor (presence: auto).
// The conversation becomes one stored contact, from its first words (less
// the lead) to its last (plus the linger); the phone call none.
func TestLivePresenceFromVoices(t *testing.T) {
	d := newDeskDay(t)
	x, state, convStart, convEnd := d.x, d.state, d.convStart, d.convEnd
	now := d.length
	ts := startServer(t, state, t.TempDir(), func(c *config.Config) {
		c.Stations[0].Employee = "anna"
		c.Stations[0].Presence = "auto"
	})
	// Heard as an agent's spool is heard after a reconnect, far enough in
	// the past that the contact is settled (its rating window over).
	start := time.Now().Add(-now() - 2*time.Minute).UTC().Truncate(time.Second)
	if n := ts.srv.voice.Replay("desk-1", x, start); n == 0 {
		t.Fatal("no readings")
	}
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ix, err := ts.srv.Archive.LoadIndex(context.Background())
		if err != nil || len(ix.Contacts) == 0 {
			continue
		}
		got = got[:0]
		for _, e := range ix.Contacts {
			got = append(got, e.Arrive.Sub(start).String()+"–"+e.Leave.Sub(start).String())
		}
		if len(ix.Contacts) != 1 {
			break
		}
		e := ix.Contacts[0]
		cfg := ts.srv.Config.Presence
		wantA, wantL := start.Add(convStart-cfg.Lead), start.Add(convEnd+cfg.Linger)
		if e.Arrive.Sub(wantA).Abs() > 1500*time.Millisecond || e.Leave.Sub(wantL).Abs() > 1500*time.Millisecond {
			t.Errorf("contact %v–%v, want about %v–%v", e.Arrive.Sub(start), e.Leave.Sub(start), wantA.Sub(start), wantL.Sub(start))
		}
		if e.Employee != "anna" || e.Likely == nil {
			t.Errorf("contact: employee %q, likely-negative %+v", e.Employee, e.Likely)
		}
		return
	}
	t.Fatalf("want one contact (the conversation, not the phone call), got %v", got)
}

// TestLiveSensorCheckedByVoices: at a desk with presence: both, a sensor
// that saw nobody during the conversation and "someone" during the
// employee's phone call: the conversation becomes a contact flagged
// sensor_missed, the sensor's contact is stored flagged not_heard.
func TestLiveSensorCheckedByVoices(t *testing.T) {
	d := newDeskDay(t)
	ts := startServer(t, d.state, t.TempDir(), func(c *config.Config) {
		c.Stations[0].Employee = "anna"
		c.Stations[0].Presence = "both"
	})
	start := time.Now().Add(-d.length() - 2*time.Minute).UTC().Truncate(time.Second)
	if n := ts.srv.voice.Replay("desk-1", d.x, start); n == 0 {
		t.Fatal("no readings")
	}
	for _, ev := range []contact.Event{
		{Station: "desk-1", Type: contact.Arrive, At: start.Add(d.phoneStart)},
		{Station: "desk-1", Type: contact.Leave, At: start.Add(d.phoneEnd)},
	} {
		if err := ts.srv.engine.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ix, err := ts.srv.Archive.LoadIndex(context.Background())
		if err != nil || len(ix.Contacts) < 2 {
			continue
		}
		got = got[:0]
		flags := map[contact.Flag]storage.Entry{}
		for _, e := range ix.Contacts {
			got = append(got, fmt.Sprintf("%v–%v %v", e.Arrive.Sub(start), e.Leave.Sub(start), e.Flags))
			for _, f := range e.Flags {
				flags[f] = e
			}
		}
		missed, ok1 := flags[contact.FlagSensorMissed]
		sensed, ok2 := flags[contact.FlagNotHeard]
		if len(ix.Contacts) != 2 || !ok1 || !ok2 {
			break
		}
		if missed.Arrive.After(start.Add(d.convStart)) || missed.Leave.Before(start.Add(d.convEnd)) {
			t.Errorf("the missed contact %v–%v does not cover the conversation %v–%v", missed.Arrive.Sub(start), missed.Leave.Sub(start), d.convStart, d.convEnd)
		}
		if !sensed.Arrive.Equal(start.Add(d.phoneStart)) {
			t.Errorf("the sensor's contact arrives at %v, want %v (the sensor decides)", sensed.Arrive.Sub(start), d.phoneStart)
		}
		resp, err := http.Get(ts.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := string(b)
		for _, kind := range []string{"sensor_missed", "not_heard"} {
			n := 0
			for _, line := range strings.Split(m, "\n") {
				if strings.HasPrefix(line, "contactd_presence_disagreements_total{") && strings.Contains(line, `kind="`+kind+`"`) && strings.HasSuffix(line, " 1") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("contactd_presence_disagreements_total{kind=%q}: %d series at 1, want 1", kind, n)
			}
		}
		return
	}
	t.Fatalf("want the missed conversation and the sensor's unheard contact, got %v", got)
}
