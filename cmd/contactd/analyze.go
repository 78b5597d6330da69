package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/spf13/cobra"

	"contactd/appointments"
	"contactd/classifier/speaker"
	"contactd/classifier/turns"
	"contactd/classifier/voice"
	"contactd/contact"
	"contactd/metrics"
	"contactd/pipeline"
)

func (a *app) analyzeCmd() *cobra.Command {
	var (
		media, startS, station, events, ratings, store, site, metricsFile string
		schedule, voicesDir, employee, presenceMode                       string
		asJSON, hear                                                      bool
	)
	cmd := &cobra.Command{
		Use:   "analyze --media FILE --station ID --events FILE --ratings FILE [--start RFC3339] [--store DIR|s3://bucket/prefix] [--json]",
		Short: "Cut a station's recording into per-contact clips, joined to ratings, into the store",
		Long: `Reads one station's recording (any container FFmpeg reads), its presence events and
terminal ratings (JSON Lines), applies the segmenter rules, cuts one clip per contact by
stream copy and stores clip + sidecar JSON in the store, then updates the contact index.

Exit status: 0 done; 3 done but some input lines were rejected (each is reported with
file, line and field); 1 failure; 2 bad usage or configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if media == "" || station == "" {
				return usageError{fmt.Errorf("--media and --station are required")}
			}
			var start time.Time
			if startS != "" {
				var err error
				if start, err = time.Parse(time.RFC3339Nano, startS); err != nil {
					return usageError{fmt.Errorf("--start %q: not an RFC 3339 time", startS)}
				}
			}
			if site == "" {
				site = a.cfg.Site
			}
			if !contact.ValidStation(site) {
				return usageError{fmt.Errorf("--site %q is not an id", site)}
			}
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			m := metrics.NewPipeline(reg)
			m.Rules = a.cfg.Scales
			m.EmployeeOf = func(station string, _ time.Time) string {
				for _, st := range a.cfg.Stations {
					if st.ID == station {
						return st.Employee
					}
				}
				return ""
			}
			opt := pipeline.Options{
				Media: media, Start: start, Station: station, Site: site,
				EventsFile: events, RatingsFile: ratings,
				Segmenter: a.cfg.Segmenter, Rules: a.cfg.Scales, Archive: arc, Metrics: m, Log: a.log,
			}
			if schedule != "" {
				if opt.Room, err = a.room(schedule, voicesDir, station); err != nil {
					return err
				}
			}
			switch presenceMode {
			case "":
			case "auto", "voices", "video", "voices+video":
				hear = hear || presenceMode != "video"
				cfg := a.cfg.Presence
				cfg.Video = a.cfg.VideoFor(opt.Station)
				opt.AutoPresence, opt.AutoFrom = &cfg, presenceMode
				if presenceMode == "auto" {
					opt.AutoFrom = "voices"
				}
			default:
				return usageError{fmt.Errorf("--presence %q: want auto (presence from the voices, also voices), video (the camera's patient zone) or voices+video", presenceMode)}
			}
			if hear {
				if opt.Hearing, err = a.hearing(station, employee, voicesDir); err != nil {
					return err
				}
			}
			if !asJSON {
				var bar progress
				opt.Progress = func(done, total int) {
					if bar == nil {
						bar = a.bar(total, "cutting clips")
					}
					_ = bar.Set(done)
				}
			}
			rep, err := pipeline.Analyze(cmd.Context(), opt)
			if err != nil {
				return err
			}
			if metricsFile != "" {
				if err := writeMetrics(reg, metricsFile); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printSummary(a.stdout, rep, arc.Store.String())
			}
			if n := len(rep.RejectedInput()); n > 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("%d input line(s) rejected; the rest was processed", n)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&media, "media", "", "recording of one station (audio, optionally video)")
	f.StringVar(&startS, "start", "", "wall-clock time of the recording's start (RFC 3339); default: the container's creation_time")
	f.StringVar(&station, "station", "", "station id, e.g. desk-1")
	f.StringVar(&events, "events", "", "presence events, JSON Lines")
	f.StringVar(&ratings, "ratings", "", "terminal ratings, JSON Lines")
	f.StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	f.StringVar(&site, "site", "", "site id (default: config site)")
	f.StringVar(&metricsFile, "metrics", "", "also write the run's Prometheus metrics to this file (textfile collector format)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of the summary table")
	f.StringVar(&schedule, "schedule", "", "the station is a consulting room: its appointments (CSV or iCalendar .ics); contacts follow them")
	f.StringVar(&voicesDir, "voices", "", "where enrolled voices are, {employee}.json (default: {state_dir}/voices)")
	f.BoolVar(&hear, "hear", false, "run the voice path over the recording: each contact gets its voice timeline and likely-negative score")
	f.StringVar(&presenceMode, "presence", "", "auto (or voices): presence from the voices (implies --hear); video: from the camera's patient zone (presence.video); voices+video: either; without --events its events make the contacts, with them the sensor wins and disagreements are reported")
	f.StringVar(&employee, "employee", "", "with --hear: the employee at the station, whose enrolled voice tells their speech from the patient's (default: the station's in the configuration)")
	return cmd
}

// room reads a consulting room's schedule and what its analysis needs. A
// station configured with doctor_mic is read as two microphones.
func (a *app) room(schedule, voicesDir, station string) (*pipeline.Room, error) {
	f, err := os.Open(schedule)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	parse := appointments.ParseCSV
	if strings.EqualFold(filepath.Ext(schedule), ".ics") {
		parse = appointments.ParseICS
	}
	appts, bad, err := parse(f, schedule, a.cfg.Location(), nil)
	if err != nil {
		return nil, usageError{err}
	}
	for _, e := range bad {
		a.log.Warn("appointment rejected", "file", e.File, "line", e.Line, "field", e.Field, "error", e.Msg)
	}
	m, err := a.voiceModels()
	if err != nil {
		return nil, err
	}
	if voicesDir == "" {
		voicesDir = filepath.Join(a.cfg.StateDir, "voices")
	}
	var two *pipeline.TwoMics
	for _, st := range a.cfg.Stations {
		if st.ID == station && st.DoctorChannel() >= 0 {
			two = &pipeline.TwoMics{DoctorChannel: st.DoctorChannel(), Turns: turns.DefaultTwoConfig}
		}
	}
	return &pipeline.Room{Appointments: appts, Consult: a.cfg.Consult, Turns: turns.DefaultConfig, Two: two,
		Models: turns.Models{VAD: m.VAD, Background: m.Background, Emotion: m.Emotion},
		Voice: func(doctor string) *speaker.Voice {
			b, err := os.ReadFile(filepath.Join(voicesDir, doctor+".json"))
			if err != nil {
				return nil
			}
			var v speaker.Voice
			if json.Unmarshal(b, &v) != nil || v.GMM == nil {
				a.log.Warn("not an enrolled voice", "file", filepath.Join(voicesDir, doctor+".json"))
				return nil
			}
			return &v
		}}, nil
}

func printSummary(w io.Writer, rep *pipeline.Report, store string) {
	s := rep.Summary
	fmt.Fprintf(w, "%s: %d contacts, %d pass-bys, %d orphan ratings → %s\n\n", rep.Recording.File, len(rep.Contacts), rep.PassBys,
		len(rep.OrphanRatings), store)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "set\tcontacts\t")
	for _, set := range contact.Sets {
		fmt.Fprintf(tw, "%s\t%d\t\n", set, s.Sets[set])
	}
	fmt.Fprintf(tw, "pass-bys\t%d\t\n", s.PassBys)
	fmt.Fprintf(tw, "orphan ratings\t%d\t\n", s.Orphans)
	fmt.Fprintf(tw, "ignored leaves\t%d\t\n", s.IgnoredLeaves)
	fmt.Fprintf(tw, "debounced presses\t%d\t\n", s.Debounced)
	for _, f := range []contact.Flag{contact.FlagLeaveMissing, contact.FlagMisuse, contact.FlagNoMedia} {
		fmt.Fprintf(tw, "flag %s\t%d\t\n", f, s.Flags[f])
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "station\tserved\tsupport index\tdissatisfaction index\t")
	for _, st := range s.StationNames() {
		ix := s.Stations[st]
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t\n", st, ix.Served, ix.Support, ix.Dissatisfaction)
	}
	fmt.Fprintf(tw, "all\t%d\t%.3f\t%.3f\t\n", s.Overall.Served, s.Overall.Support, s.Overall.Dissatisfaction)
	tw.Flush()
	if rep.NoShows != nil {
		printRoom(w, rep)
	}
	if len(rep.Rejected) > 0 {
		fmt.Fprintf(w, "\nrejected input lines:\n")
		for _, r := range rep.Rejected {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
}

// writeMetrics writes the registry in the text exposition format, atomically
// (node_exporter's textfile collector may read it at any moment).
func writeMetrics(reg *prometheus.Registry, path string) error {
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(f, mf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// printRoom lists a consulting room's consultations and no-shows.
func printRoom(w io.Writer, rep *pipeline.Report) {
	fmt.Fprintf(w, "\n%d no-show(s)", len(rep.NoShows))
	for _, a := range rep.NoShows {
		fmt.Fprintf(w, " %s", a.ID)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "appointment	doctor	minutes	doctor talk	turns	interruptions (dr/pt)	longest monologue s	patient first say s	patient trend	flags	")
	for _, c := range rep.Contacts {
		appt := "unscheduled"
		if c.Appointment != nil {
			appt = c.Appointment.ID
		}
		v := c.Conversation
		if v == nil {
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t—\t—\t—\t—\t—\t—\t%v\t\n", appt, c.Employee, c.Duration().Minutes(), c.Flags)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f%%\t%d\t%d/%d\t%.0f\t%.0f\t%s\t%v\t\n", appt, c.Employee, c.Duration().Minutes(),
			100*v.DoctorShare, v.Turns, v.DoctorInterruptions, v.PatientInterruptions, v.LongestMonologue, v.PatientFirstSay, v.PatientTrend, c.Flags)
	}
	tw.Flush()
	one := false
	for _, c := range rep.Contacts {
		if v := c.Conversation; v != nil && v.Microphones == 1 {
			one = true
		} else if v != nil && v.MicSeparation > 0 && v.MicSeparation < turns.SureSeparation && c.Appointment != nil {
			fmt.Fprintf(w, "warning: %s: the two microphones put the voices only %.0f dB apart (want %.0f: the doctor's microphone nearer the doctor); its counts are estimates\n",
				c.Appointment.ID, v.MicSeparation, turns.SureSeparation)
		}
	}
	if one {
		fmt.Fprintln(w, "note: turns and interruptions heard on one microphone are estimates; a room with the doctor's lapel microphone beside its own (stations[].doctor_mic) counts them within one")
	}
	for _, m := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", m)
	}
}

// hearing is what analyze --hear needs: the voice models and the station's
// employee's enrolled voice, if there is one.
func (a *app) hearing(station, employee, voicesDir string) (*pipeline.Hearing, error) {
	m, err := a.voiceModels()
	if err != nil {
		return nil, err
	}
	if employee == "" {
		for _, st := range a.cfg.Stations {
			if st.ID == station {
				employee = st.Employee
			}
		}
	}
	if voicesDir == "" {
		voicesDir = filepath.Join(a.cfg.StateDir, "voices")
	}
	h := &pipeline.Hearing{Models: m, RelativeScore: a.cfg.Presence.RelativeScore}
	if employee != "" {
		path := filepath.Join(voicesDir, employee+".json")
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			a.log.Warn("no enrolled voice: the employee's speech and the patient's are not told apart", "employee", employee, "file", path)
		case err != nil:
			return nil, err
		default:
			var v speaker.Voice
			if err := json.Unmarshal(b, &v); err != nil || v.GMM == nil {
				return nil, fmt.Errorf("%s: not an enrolled voice (contactd speaker enroll makes one)", path)
			}
			h.Employee = &v
		}
	}
	return h, nil
}

// voiceModels loads the voice path's models: the VAD, the background
// speaker model and the configured emotion model.
func (a *app) voiceModels() (*voice.Models, error) {
	vm, err := a.vadModel()
	if err != nil {
		return nil, err
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		return nil, err
	}
	em, err := a.voiceModel(a.cfg.Emotion.VoiceModel)
	if err != nil {
		return nil, err
	}
	return &voice.Models{VAD: vm, Emotion: em, Background: bg}, nil
}
