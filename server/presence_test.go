package server

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/config"
	"contactd/internal/testenv"
)

// TestLivePresenceFromVoices: a desk without a sensor (presence: auto).
// Its employee (RAVDESS actor 17) is enrolled; the desk hears a
// conversation with a patient (actor 18), then the employee alone (a
// phone call). The conversation becomes one stored contact, from its
// first words (less the lead) to its last (plus the linger); the phone
// call none.
func TestLivePresenceFromVoices(t *testing.T) {
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
	state := t.TempDir()
	enrolEmployee(t, state, "anna", emp[:20])

	// The desk's day: silence, the conversation, silence, the phone call, silence.
	var x []float32
	sec := func(s float64) { x = append(x, make([]float32, int(s*features.Rate))...) }
	now := func() time.Duration { return time.Duration(len(x)) * time.Second / features.Rate }
	sec(5)
	convStart := now()
	for i := 0; i < 5; i++ {
		x = append(x, decode(emp[20+i])...)
		sec(0.7)
		x = append(x, decode(pat[20+i])...)
		sec(0.7)
	}
	x = append(x, decode(emp[25])...) // the goodbye
	convEnd := now()
	sec(40)
	for i := 26; i < 30; i++ { // on the phone: nobody at the desk
		x = append(x, decode(emp[i])...)
		sec(0.7)
	}
	sec(20)

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
