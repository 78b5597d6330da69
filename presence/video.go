package presence

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"contactd/contact"
)

// VideoConfig is presence from the camera: someone in the patient zone of
// the frame. A pixel of the zone is "someone" when its grey level differs
// from the empty scene's by more than Threshold; the zone is occupied when
// at least Fill of its pixels are. Like an NVR's motion zone, a change of
// state needs Inertia frames in a row, so a hand or a shadow passing
// through does not make a contact.
type VideoConfig struct {
	// Zone of the frame where a patient at the desk stands or sits, in
	// fractions of the frame's width and height; zero: video presence off.
	Zone Zone `yaml:"zone"`
	// Fill: share of the zone's pixels that must differ (0–1).
	Fill float64 `yaml:"fill"`
	// Threshold: grey-level difference (of 255) that counts as a change.
	Threshold float64 `yaml:"threshold"`
	// Inertia: frames in a row that it takes to change state.
	Inertia int `yaml:"inertia"`
	// FPS: frames a second looked at.
	FPS float64 `yaml:"fps"`
	// Learn: how fast the empty scene follows the zone where nobody is,
	// per frame (light through the day); the scene under a patient is not
	// learnt, so someone who stands still stays seen.
	Learn float64 `yaml:"learn"`
}

// Zone is a rectangle in fractions of the frame (0–1).
type Zone struct {
	X float64 `yaml:"x"`
	Y float64 `yaml:"y"`
	W float64 `yaml:"w"`
	H float64 `yaml:"h"`
}

// On tells whether a zone is configured.
func (z Zone) On() bool { return z.W > 0 && z.H > 0 }

// Inside tells whether a zone is a rectangle inside the frame.
func (z Zone) Inside() bool {
	return z.X >= 0 && z.Y >= 0 && z.W > 0 && z.H > 0 && z.X+z.W <= 1.0001 && z.Y+z.H <= 1.0001
}

// DefaultVideoConfig: no zone (off) until one is drawn for the camera.
func DefaultVideoConfig() VideoConfig {
	return VideoConfig{Fill: 0.4, Threshold: 30, Inertia: 5, FPS: 5, Learn: 0.02}
}

// Validate names every wrong setting.
func (c VideoConfig) Validate() error {
	var errs []error
	z := c.Zone
	if z != (Zone{}) && !z.Inside() {
		errs = append(errs, fmt.Errorf("presence.video.zone: %+v must lie inside the frame (x, y ≥ 0, w, h > 0, x+w ≤ 1, y+h ≤ 1)", z))
	}
	if c.Fill <= 0 || c.Fill > 1 {
		errs = append(errs, fmt.Errorf("presence.video.fill: %v must be in (0, 1]", c.Fill))
	}
	if c.Threshold <= 0 || c.Threshold >= 255 {
		errs = append(errs, fmt.Errorf("presence.video.threshold: %v must be in (0, 255)", c.Threshold))
	}
	if c.Inertia < 1 {
		errs = append(errs, fmt.Errorf("presence.video.inertia: %d must be at least 1 frame", c.Inertia))
	}
	if c.FPS <= 0 || c.FPS > 30 {
		errs = append(errs, fmt.Errorf("presence.video.fps: %v must be in (0, 30]", c.FPS))
	}
	if c.Learn <= 0 || c.Learn >= 1 {
		errs = append(errs, fmt.Errorf("presence.video.learn: %v must be in (0, 1)", c.Learn))
	}
	return errors.Join(errs...)
}

// VideoDetector turns one station's frames into arrive and leave events.
// It is not safe for concurrent use.
type VideoDetector struct {
	cfg     VideoConfig
	station string
	bg      []float64 // the empty scene over the zone, grey
	w, h    int       // frame size the background was made for
	present bool
	run     int       // frames in a row that disagree with present
	runAt   time.Time // the first of them
}

// NewVideoDetector starts a detector for a station.
func NewVideoDetector(cfg VideoConfig, station string) *VideoDetector {
	return &VideoDetector{cfg: cfg, station: station}
}

// Occupied tells whether the zone is taken now.
func (d *VideoDetector) Occupied() bool { return d.present }

// Push looks at one frame (grey, w×h, row by row) taken at t and returns
// the event it completes, if any. The first frame is taken as the empty
// scene; a change of frame size starts afresh.
func (d *VideoDetector) Push(t time.Time, grey []byte, w, h int) []contact.Event {
	if !d.cfg.Zone.On() || w <= 0 || h <= 0 || len(grey) < w*h {
		return nil
	}
	z := d.cfg.Zone
	x0, y0 := int(z.X*float64(w)), int(z.Y*float64(h))
	x1, y1 := min(w, int((z.X+z.W)*float64(w)+0.5)), min(h, int((z.Y+z.H)*float64(h)+0.5))
	if x1 <= x0 || y1 <= y0 {
		return nil
	}
	n := (x1 - x0) * (y1 - y0)
	if d.bg == nil || d.w != w || d.h != h {
		d.bg, d.w, d.h = make([]float64, 0, n), w, h
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				d.bg = append(d.bg, float64(grey[y*w+x]))
			}
		}
		return nil
	}
	changed, i := 0, 0
	fg := make([]bool, n)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			v := float64(grey[y*w+x])
			if dv := v - d.bg[i]; dv > d.cfg.Threshold || dv < -d.cfg.Threshold {
				changed++
				fg[i] = true
			}
			i++
		}
	}
	seen := float64(changed) >= d.cfg.Fill*float64(n)
	// Learn the empty scene where nobody is: everywhere while the zone is
	// empty, only off the changed pixels while someone is there.
	i = 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if !fg[i] || !seen && !d.present {
				d.bg[i] += d.cfg.Learn * (float64(grey[y*w+x]) - d.bg[i])
			}
			i++
		}
	}
	if seen == d.present {
		d.run = 0
		return nil
	}
	if d.run == 0 {
		d.runAt = t
	}
	d.run++
	if d.run < d.cfg.Inertia {
		return nil
	}
	d.present, d.run = seen, 0
	typ := contact.Leave
	if seen {
		typ = contact.Arrive
	}
	// The change happened at the first frame of the run.
	return []contact.Event{{Station: d.station, Type: typ, At: d.runAt, Source: Source}}
}

// Flush ends an open presence at t (the end of a recording).
func (d *VideoDetector) Flush(t time.Time) []contact.Event {
	if !d.present {
		return nil
	}
	d.present = false
	return []contact.Event{{Station: d.station, Type: contact.Leave, At: t, Source: Source}}
}

// Union combines two sources of one station's presence events (the
// voices' and the camera's) into one: someone is at the desk while either
// says so — the camera sees a silent patient, the voices one standing
// outside the zone.
func Union(station string, a, b []contact.Event) []contact.Event {
	spans := append(eventSpans(a), eventSpans(b)...)
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(x, y Span) int { return x.Arrive.Compare(y.Arrive) })
	var out []contact.Event
	cur := spans[0]
	flush := func() {
		out = append(out, contact.Event{Station: station, Type: contact.Arrive, At: cur.Arrive, Source: Source},
			contact.Event{Station: station, Type: contact.Leave, At: cur.Leave, Source: Source})
	}
	for _, s := range spans[1:] {
		if !s.Arrive.After(cur.Leave) {
			if s.Leave.After(cur.Leave) {
				cur.Leave = s.Leave
			}
			continue
		}
		flush()
		cur = s
	}
	flush()
	return out
}

// eventSpans pairs arrives with the leaves after them (events in time order).
func eventSpans(evs []contact.Event) []Span {
	var out []Span
	var open *time.Time
	for _, e := range evs {
		switch e.Type {
		case contact.Arrive:
			if open == nil {
				at := e.At
				open = &at
			}
		case contact.Leave:
			if open != nil {
				out = append(out, Span{Arrive: *open, Leave: e.At})
				open = nil
			}
		}
	}
	return out
}

// LiveUnion merges one station's two live presence streams (the voices'
// and the camera's) into one, as Union does offline: arrive when the first
// says someone is there, leave when neither does, dated at the later of
// their leaves. The voices tell an arrive dated back to the conversation's
// start and a leave some seconds late; what the union already told stays
// told (an earlier arrive heard later changes nothing). Not safe for
// concurrent use.
type LiveUnion struct {
	Station string
	on      [2]bool
	left    time.Time // the later leave of the sources while both are off
	present bool
}

// The two sources of a LiveUnion.
const (
	FromVoices = 0
	FromVideo  = 1
)

// Push takes one source's event and returns what the union tells.
func (u *LiveUnion) Push(src int, e contact.Event) []contact.Event {
	switch e.Type {
	case contact.Arrive:
		u.on[src] = true
		if u.present {
			return nil
		}
		u.present = true
		return []contact.Event{{Station: u.Station, Type: contact.Arrive, At: e.At, Source: Source}}
	case contact.Leave:
		if !u.on[src] {
			return nil
		}
		u.on[src] = false
		if e.At.After(u.left) {
			u.left = e.At
		}
		if u.on[1-src] || !u.present {
			return nil
		}
		u.present = false
		at := u.left
		u.left = time.Time{}
		return []contact.Event{{Station: u.Station, Type: contact.Leave, At: at, Source: Source}}
	}
	return nil
}
