// Package pipeline runs the contact pipeline over one station's recording:
// events and ratings → segmenter → clips cut by stream copy → store.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"contactd/appointments"
	"contactd/clip"
	"contactd/contact"
	"contactd/metrics"
	"contactd/presence"
	"contactd/segmenter"
	"contactd/storage"
)

// Options is one offline analysis.
type Options struct {
	Media   string    // recording of one station, any container FFmpeg reads
	Start   time.Time // wall-clock time of the recording's first sample; zero: the container's creation_time
	Station string
	Site    string

	EventsFile, RatingsFile string // JSON Lines; either may be empty

	Segmenter segmenter.Config
	Rules     contact.SetRules
	Archive   *storage.Archive
	Metrics   *metrics.Pipeline // optional
	Log       *slog.Logger      // optional
	// Progress, if set, is called after each clip with the clips done and total.
	Progress func(done, total int)
	// Room, if set, analyses a consulting room: contacts from its appointments.
	Room *Room
	// Hearing, if set, runs the voice path over the recording: voice
	// timelines and likely-negative scores for the contacts.
	Hearing *Hearing
	// AutoPresence, if set (with Hearing), finds presence from the voices:
	// without a sensor's events its events make the contacts; with them the
	// sensor wins and the two are compared (Report.Disagreements).
	AutoPresence *presence.Config
	// AutoFrom is where AutoPresence looks: "voices" (the default, "" too),
	// "video" (the camera's patient zone, presence.video) or
	// "voices+video" (someone is there while either says so).
	AutoFrom string
}

// Disagreement is a contact that sensor and voices do not agree on.
type Disagreement struct {
	// Kind: "sensor_missed" (the voices heard a conversation with a
	// patient where the sensor saw nobody) or "not_heard" (the sensor saw
	// a contact in which no patient's voice was heard: a silent patient,
	// or a sensor stuck on).
	Kind   string    `json:"kind"`
	Arrive time.Time `json:"arrive"`
	Leave  time.Time `json:"leave"`
}

// Report is what an analysis produced; its JSON is the `analyze --json` contract.
type Report struct {
	Contacts      []*contact.Contact `json:"contacts"`
	PassBys       int                `json:"pass_bys"`
	OrphanRatings []contact.Press    `json:"orphan_ratings"`
	Indices       Indices            `json:"indices"`
	Summary       segmenter.Summary  `json:"summary"`
	Rejected      []string           `json:"rejected_input"`
	OtherStation  int                `json:"other_station_lines"`
	Recording     RecordingInfo      `json:"recording"`
	// AutoEvents are the presence events found from the voices.
	AutoEvents    int            `json:"auto_events,omitempty"`
	Disagreements []Disagreement `json:"disagreements,omitempty"`
	// NoShows are the room's appointments nobody came to (rooms only).
	NoShows  []appointments.Appointment `json:"no_shows,omitempty"`
	Warnings []string                   `json:"warnings,omitempty"`
	rejected []*contact.InputError
}

// Indices are the two service indices over the analysed contacts.
type Indices struct {
	Support         float64 `json:"support"`
	Dissatisfaction float64 `json:"dissatisfaction"`
}

// RecordingInfo describes the input recording.
type RecordingInfo struct {
	File     string    `json:"file"`
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration_s"`
	Codecs   []string  `json:"codecs"`
}

// RejectedInput lists the malformed input lines (file, line, field).
func (r *Report) RejectedInput() []*contact.InputError { return r.rejected }

// Analyze runs the whole pipeline. Malformed input lines are reported in the
// Report and do not stop the rest; any other failure is returned.
func Analyze(ctx context.Context, o Options) (*Report, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !contact.ValidStation(o.Station) {
		return nil, fmt.Errorf("station %q is not a station id", o.Station)
	}
	cut, err := clip.Open(o.Media)
	if err != nil {
		return nil, err
	}
	defer cut.Close()
	info := cut.Info()
	start := o.Start
	if start.IsZero() {
		if info.CreationTime.IsZero() {
			return nil, fmt.Errorf("%s: no creation_time in the container: give --start", o.Media)
		}
		start = info.CreationTime
	}
	rep := &Report{Recording: RecordingInfo{File: o.Media, Start: start, Duration: info.Duration.Seconds(), Codecs: info.Codecs()}}

	in := segmenter.Input{From: start, Until: start.Add(info.Duration)}
	if o.EventsFile != "" {
		evs, bad, err := readFile(o.EventsFile, contact.ParseEvents)
		if err != nil {
			return nil, err
		}
		rep.rejected = append(rep.rejected, bad...)
		for _, e := range evs {
			if e.Station != o.Station {
				rep.OtherStation++
				continue
			}
			in.Events = append(in.Events, e)
		}
	}
	if o.RatingsFile != "" {
		rs, bad, err := readFile(o.RatingsFile, contact.ParseRatings)
		if err != nil {
			return nil, err
		}
		rep.rejected = append(rep.rejected, bad...)
		for _, r := range rs {
			if r.Station != o.Station {
				rep.OtherStation++
				continue
			}
			in.Ratings = append(in.Ratings, r)
		}
	}
	for _, e := range rep.rejected {
		rep.Rejected = append(rep.Rejected, e.Error())
		log.Warn("input line rejected", "file", e.File, "line", e.Line, "field", e.Field, "error", e.Msg)
	}

	var x []float32 // the audio, when the voices are heard
	if o.Hearing != nil {
		if x, err = decode(o.Media); err != nil {
			return nil, err
		}
	}
	if o.AutoPresence != nil {
		var auto []contact.Event
		if o.AutoFrom != "video" {
			if o.Hearing == nil {
				return nil, errors.New("presence from the voices needs the voice path (Hearing)")
			}
			rs, err := o.Hearing.Listen(ctx, x, start)
			if err != nil {
				return nil, err
			}
			auto = presence.Events(*o.AutoPresence, o.Station, rs)
		}
		if o.AutoFrom == "video" || o.AutoFrom == "voices+video" {
			seen, err := VideoEvents(ctx, o.Media, o.Station, start, o.AutoPresence.Video)
			if err != nil {
				return nil, err
			}
			if o.AutoFrom == "video" {
				auto = seen
			} else {
				auto = presence.Union(o.Station, auto, seen)
			}
		}
		rep.AutoEvents = len(auto)
		if len(in.Events) == 0 {
			in.Events = auto
		} else {
			rep.Disagreements = disagree(o.Segmenter, in.Events, auto)
			for _, d := range rep.Disagreements {
				log.Warn("sensor and voices disagree", "kind", d.Kind, "arrive", d.Arrive, "leave", d.Leave)
			}
		}
	}

	var res *segmenter.Result
	if o.Room != nil {
		if res, err = o.Room.contacts(ctx, o, start, in, rep); err != nil {
			return nil, err
		}
	} else {
		res = segmenter.Run(o.Segmenter, o.Rules, in)
	}
	for _, c := range res.Contacts {
		c.Site = o.Site
	}
	if o.Hearing != nil {
		if err := o.Hearing.hear(ctx, x, start, res.Contacts); err != nil {
			return nil, err
		}
	}
	score(res.Contacts)

	work, err := os.MkdirTemp("", "contactd-clips-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	format, ext := info.Container()
	var saved []*storage.Sidecar
	for i, c := range res.Contacts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		sc, err := saveContact(ctx, o.Archive, cut, c, start, work, format, ext, info.Codecs())
		if err != nil {
			return nil, fmt.Errorf("contact %s (%s–%s): %w", c.ID, c.Arrive.Format(time.RFC3339), c.Leave.Format(time.RFC3339), err)
		}
		saved = append(saved, sc)
		if o.Metrics != nil {
			o.Metrics.ClipCut.WithLabelValues(o.Site, o.Station).Observe(time.Since(t0).Seconds())
		}
		if o.Progress != nil {
			o.Progress(i+1, len(res.Contacts))
		}
	}
	for _, r := range res.Orphans {
		if err := o.Archive.SaveOrphan(ctx, o.Site, r); err != nil {
			return nil, err
		}
		log.Info("orphan rating", "station", r.Station, "at", r.At, "value", r.Value, "scale", r.Scale)
	}
	if err := o.Archive.Upsert(ctx, saved); err != nil {
		return nil, fmt.Errorf("updating index: %w", err)
	}
	if o.Metrics != nil {
		o.Metrics.ObserveResult(o.Site, res)
		for _, a := range rep.NoShows {
			o.Metrics.Consult.NoShows.WithLabelValues(o.Site, a.Room, a.Doctor).Inc()
		}
		for range rep.rejected {
			o.Metrics.RejectedInput.WithLabelValues(o.Site, "line").Inc()
		}
	}

	rep.Contacts = res.Contacts
	if rep.Contacts == nil {
		rep.Contacts = []*contact.Contact{}
	}
	rep.PassBys = len(res.PassBys)
	rep.OrphanRatings = []contact.Press{}
	for _, r := range res.Orphans {
		rep.OrphanRatings = append(rep.OrphanRatings, r.Press())
	}
	rep.Summary = segmenter.Summarize(o.Rules, res)
	rep.Indices = Indices{Support: rep.Summary.Overall.Support, Dissatisfaction: rep.Summary.Overall.Dissatisfaction}
	if rep.Rejected == nil {
		rep.Rejected = []string{}
	}
	log.Info("analysis done", "station", o.Station, "contacts", len(rep.Contacts), "pass_bys", rep.PassBys,
		"orphans", len(rep.OrphanRatings), "rejected_lines", len(rep.rejected), "store", o.Archive.Store.String())
	return rep, nil
}

// saveContact cuts one contact's clip and stores it with its sidecar; the
// contact's clip range becomes the range really cut (keyframe rule).
func saveContact(ctx context.Context, a *storage.Archive, cut *clip.Cutter, c *contact.Contact, start time.Time,
	work, format, ext string, codecs []string) (*storage.Sidecar, error) {
	media := storage.MediaInfo{Container: format, Codecs: codecs}
	if !c.ClipEnd.After(c.ClipStart) {
		c.AddFlag(contact.FlagNoMedia)
		return a.SaveContact(ctx, c, "", media)
	}
	tmp := filepath.Join(work, c.ID+"."+ext)
	span, err := cut.Cut(c.ClipStart.Sub(start), c.ClipEnd.Sub(start), tmp)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	c.ClipStart, c.ClipEnd = start.Add(span.Start), start.Add(span.End)
	c.Clip = a.ClipKey(c, ext)
	return a.SaveContact(ctx, c, tmp, media)
}

func readFile[T any](path string, parse func(io.Reader, string) ([]T, []*contact.InputError, error)) ([]T, []*contact.InputError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	out, bad, err := parse(f, path)
	if err != nil {
		return nil, nil, err
	}
	return out, bad, nil
}

// ErrRejected is returned (wrapped) by callers that want a non-zero exit
// when some input lines were rejected.
var ErrRejected = errors.New("some input lines were rejected")

// disagree compares the sensor's contacts with the ones the voices make:
// each that overlaps none of the other kind is a disagreement.
func disagree(cfg segmenter.Config, sensor, auto []contact.Event) []Disagreement {
	sc, _, _ := segmenter.Contacts(cfg, sensor, time.Time{})
	ac, _, _ := segmenter.Contacts(cfg, auto, time.Time{})
	overlaps := func(c *contact.Contact, others []*contact.Contact) bool {
		for _, o := range others {
			if c.Arrive.Before(o.Leave) && o.Arrive.Before(c.Leave) {
				return true
			}
		}
		return false
	}
	var out []Disagreement
	for _, c := range ac {
		if !overlaps(c, sc) {
			out = append(out, Disagreement{Kind: "sensor_missed", Arrive: c.Arrive, Leave: c.Leave})
		}
	}
	for _, c := range sc {
		if !overlaps(c, ac) {
			out = append(out, Disagreement{Kind: "not_heard", Arrive: c.Arrive, Leave: c.Leave})
		}
	}
	slices.SortFunc(out, func(a, b Disagreement) int { return a.Arrive.Compare(b.Arrive) })
	return out
}
