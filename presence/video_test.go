package presence

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"contactd/contact"
)

// scene is a 64×48 grey frame: a textured background with noise, lit by
// light (added), with a block of someone (dark) over [x0,x1)×[y0,y1) when
// person is set.
func scene(r *rand.Rand, light int, person bool, x0, y0, x1, y1 int) []byte {
	const w, h = 64, 48
	g := make([]byte, w*h)
	for y := range h {
		for x := range w {
			v := 90 + (x*3+y*2)%40 + light + r.IntN(9) - 4
			if person && x >= x0 && x < x1 && y >= y0 && y < y1 {
				v = 35 + r.IntN(9) - 4
			}
			g[y*w+x] = byte(max(0, min(255, v)))
		}
	}
	return g
}

func TestVideoDetector(t *testing.T) {
	cfg := DefaultVideoConfig()
	cfg.Zone = Zone{X: 0.5, Y: 0.25, W: 0.5, H: 0.75} // the right half, below the top quarter
	d := NewVideoDetector(cfg, "desk-1")
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var evs []contact.Event
	frame := 0
	push := func(g []byte) {
		evs = append(evs, d.Push(t0.Add(time.Duration(frame)*200*time.Millisecond), g, 64, 48)...)
		frame++
	}
	// 10 s empty, with the light rising slowly (the sun through a window).
	for i := range 50 {
		push(scene(r, i/5, false, 0, 0, 0, 0))
	}
	// A hand through the zone for 3 frames: under the inertia, no contact.
	for range 3 {
		push(scene(r, 10, true, 40, 20, 60, 40))
	}
	for range 10 {
		push(scene(r, 10, false, 0, 0, 0, 0))
	}
	if len(evs) != 0 {
		t.Fatalf("light drift and a hand passing made events: %+v", evs)
	}
	// A patient steps in at frame 63 and stands still for 60 s, then leaves.
	arrive := t0.Add(time.Duration(frame) * 200 * time.Millisecond)
	for range 300 {
		push(scene(r, 10, true, 36, 14, 64, 48))
	}
	leave := t0.Add(time.Duration(frame) * 200 * time.Millisecond)
	for range 20 {
		push(scene(r, 10, false, 0, 0, 0, 0))
	}
	// Someone in the other half of the frame (the waiting area) is no one.
	for range 40 {
		push(scene(r, 10, true, 0, 0, 28, 48))
	}
	if len(evs) != 2 || evs[0].Type != contact.Arrive || evs[1].Type != contact.Leave {
		t.Fatalf("events %+v, want one arrive and one leave", evs)
	}
	if !evs[0].At.Equal(arrive) || !evs[1].At.Equal(leave) {
		t.Errorf("arrive %s leave %s, want %s and %s (the first frame of each change)", evs[0].At, evs[1].At, arrive, leave)
	}
	if evs[0].Source != Source || evs[0].Station != "desk-1" {
		t.Errorf("event %+v: want source %q at desk-1", evs[0], Source)
	}
	// Still present at the end of a recording: Flush closes it.
	for range 10 {
		push(scene(r, 10, true, 36, 14, 64, 48))
	}
	if fl := d.Flush(t0.Add(time.Hour)); len(fl) != 1 || fl[0].Type != contact.Leave {
		t.Errorf("flush: %+v", fl)
	}
	// No zone: off.
	if e := NewVideoDetector(DefaultVideoConfig(), "x").Push(t0, scene(r, 0, true, 0, 0, 64, 48), 64, 48); e != nil {
		t.Errorf("no zone configured, yet %+v", e)
	}
}

func TestVideoConfigValidate(t *testing.T) {
	c := DefaultVideoConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.Zone = Zone{X: 0.8, Y: 0, W: 0.5, H: 1}
	c.Inertia = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("a zone past the frame's edge and no inertia passed")
	}
	for _, want := range []string{"presence.video.zone", "presence.video.inertia"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestUnion(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ev := func(typ contact.EventType, s int) contact.Event {
		return contact.Event{Station: "d", Type: typ, At: t0.Add(time.Duration(s) * time.Second), Source: Source}
	}
	voices := []contact.Event{ev(contact.Arrive, 10), ev(contact.Leave, 40), ev(contact.Arrive, 100), ev(contact.Leave, 120)}
	camera := []contact.Event{ev(contact.Arrive, 5), ev(contact.Leave, 30), ev(contact.Arrive, 200), ev(contact.Leave, 260)}
	got := Union("d", voices, camera)
	want := []int{5, 40, 100, 120, 200, 260}
	if len(got) != len(want) {
		t.Fatalf("union %+v", got)
	}
	for i, e := range got {
		if !e.At.Equal(t0.Add(time.Duration(want[i])*time.Second)) || (i%2 == 0) != (e.Type == contact.Arrive) {
			t.Errorf("event %d: %+v, want %s at %d s", i, e, []string{"arrive", "leave"}[i%2], want[i])
		}
	}
}

func TestLiveUnion(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ev := func(typ contact.EventType, s int) contact.Event {
		return contact.Event{Station: "d", Type: typ, At: t0.Add(time.Duration(s) * time.Second), Source: Source}
	}
	u := &LiveUnion{Station: "d"}
	var got []contact.Event
	push := func(src int, e contact.Event) { got = append(got, u.Push(src, e)...) }
	push(FromVideo, ev(contact.Arrive, 5))    // the camera sees the patient step up
	push(FromVoices, ev(contact.Arrive, 3))   // the voices' arrive, dated back: already told
	push(FromVideo, ev(contact.Leave, 40))    // out of the zone, still talking
	push(FromVoices, ev(contact.Leave, 46))   // the voices end later: the union's leave
	push(FromVoices, ev(contact.Leave, 50))   // a stray leave: nothing
	push(FromVoices, ev(contact.Arrive, 100)) // a patient the camera does not see
	push(FromVoices, ev(contact.Leave, 120))
	want := []struct {
		typ contact.EventType
		at  int
	}{{contact.Arrive, 5}, {contact.Leave, 46}, {contact.Arrive, 100}, {contact.Leave, 120}}
	if len(got) != len(want) {
		t.Fatalf("union told %+v", got)
	}
	for i, w := range want {
		if got[i].Type != w.typ || !got[i].At.Equal(t0.Add(time.Duration(w.at)*time.Second)) || got[i].Station != "d" {
			t.Errorf("event %d: %+v, want %s at %d s", i, got[i], w.typ, w.at)
		}
	}
}
