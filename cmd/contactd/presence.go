package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/contact"
	"contactd/pipeline"
	"contactd/presence"
	"contactd/segmenter"
)

func (a *app) presenceCmd() *cobra.Command {
	root := &cobra.Command{Use: "presence", Short: "Presence without a sensor (voices, camera): how well it finds a station's contacts"}
	var media, station, expected, employee, voicesDir, startS, from string
	var asJSON bool
	eval := &cobra.Command{
		Use:   "eval --media FILE --station ID --expected FILE [--from voices|video|voices+video] [--employee ID] [--voices DIR] [--json]",
		Short: "Precision, recall (IoU ≥ 0.5) and boundary error of the contacts the voices find, against the true ones",
		Long: `Hears the recording as the live voice path does, finds presence from the voices
(the presence settings), applies the segmenter's rules and compares the contacts with the
true ones in FILE: a JSON object whose "contacts" list has "arrive" and "leave" (RFC 3339;
"left", if there, is when the patient really left),
as contactd testdata day writes in expected.json, or as a person marks a recorded day.
A found contact matches a true one when their intersection over union is at least 0.5,
one to one; the boundary error is the mean of |Δarrive| and |Δleave| over the matches.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if media == "" || station == "" || expected == "" {
				return usageError{errors.New("--media, --station and --expected are required")}
			}
			b, err := os.ReadFile(expected)
			if err != nil {
				return usageError{err}
			}
			var truth struct {
				Start    time.Time `json:"start"`
				Contacts []struct {
					presence.Span
					Left time.Time `json:"left"` // when the patient really left, if not Leave
				} `json:"contacts"`
			}
			if err := json.Unmarshal(b, &truth); err != nil {
				return usageError{fmt.Errorf("%s: %w", expected, err)}
			}
			var spansTrue []presence.Span
			for _, c := range truth.Contacts {
				s := c.Span
				if !c.Left.IsZero() {
					s.Leave = c.Left
				}
				spansTrue = append(spansTrue, s)
			}
			for i, c := range spansTrue {
				if c.Arrive.IsZero() || !c.Leave.After(c.Arrive) {
					return usageError{fmt.Errorf("%s: contacts[%d]: needs arrive before leave", expected, i)}
				}
			}
			start := truth.Start
			if startS != "" {
				if start, err = time.Parse(time.RFC3339Nano, startS); err != nil {
					return usageError{fmt.Errorf("--start %q: not an RFC 3339 time", startS)}
				}
			}
			if start.IsZero() {
				return usageError{errors.New("--start is required (the expected file names no start)")}
			}
			if from != "voices" && from != "video" && from != "voices+video" {
				return usageError{fmt.Errorf("--from %q: want voices, video or voices+video", from)}
			}
			var evs []contact.Event
			if from != "video" {
				if evs, err = a.presenceFromVoices(cmd.Context(), media, station, employee, voicesDir, start); err != nil {
					return err
				}
			}
			if from != "voices" {
				seen, err := pipeline.VideoEvents(cmd.Context(), media, station, start, a.cfg.VideoFor(station))
				if err != nil {
					return err
				}
				a.log.Info("presence from the camera", "events", len(seen))
				if evs == nil {
					evs = seen
				} else {
					evs = presence.Union(station, evs, seen)
				}
			}
			cs, _, _ := segmenter.Contacts(a.cfg.Segmenter, evs, time.Time{})
			var found []presence.Span
			for _, c := range cs {
				found = append(found, presence.Span{Arrive: c.Arrive, Leave: c.Leave})
			}
			rep := presence.Evaluate(found, spansTrue, 0.5)
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"found": rep.Found, "truth": rep.Truth, "matched": rep.Matched,
					"precision": rep.Precision, "recall": rep.Recall, "mean_boundary_error_s": rep.MeanBoundaryError,
					"arrive_bias_s": rep.ArriveBias, "leave_bias_s": rep.LeaveBias,
					"missed": spans(rep.Missed), "extra": spans(rep.Extra), "matches": rep.Matches})
			}
			fmt.Fprintf(w, "true contacts %d, found %d, matched %d (IoU ≥ 0.5)\n", rep.Truth, rep.Found, rep.Matched)
			fmt.Fprintf(w, "precision %.3f  recall %.3f  mean boundary error %.2f s (arrive %+.2f s, leave %+.2f s on average)\n",
				rep.Precision, rep.Recall, rep.MeanBoundaryError, rep.ArriveBias, rep.LeaveBias)
			for _, s := range rep.Missed {
				fmt.Fprintf(w, "missed  %s – %s\n", s.Arrive.Format(time.TimeOnly), s.Leave.Format(time.TimeOnly))
			}
			for _, s := range rep.Extra {
				fmt.Fprintf(w, "extra   %s – %s\n", s.Arrive.Format(time.TimeOnly), s.Leave.Format(time.TimeOnly))
			}
			return nil
		},
	}
	f := eval.Flags()
	f.StringVar(&media, "media", "", "the station's recording")
	f.StringVar(&station, "station", "", "station id")
	f.StringVar(&expected, "expected", "", "the true contacts (expected.json)")
	f.StringVar(&startS, "start", "", "wall-clock time of the recording's start (default: the expected file's start)")
	f.StringVar(&employee, "employee", "", "the employee at the station (default: the station's in the configuration)")
	f.StringVar(&voicesDir, "voices", "", "where enrolled voices are, {employee}.json (default: {state_dir}/voices)")
	f.StringVar(&from, "from", "voices", "presence from the voices, the camera's patient zone (presence.video) or both (someone is there while either says so)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	root.AddCommand(eval)
	return root
}

// presenceFromVoices hears a recording and finds presence from its voices.
func (a *app) presenceFromVoices(ctx context.Context, media, station, employee, voicesDir string, start time.Time) ([]contact.Event, error) {
	h, err := a.hearing(station, employee, voicesDir)
	if err != nil {
		return nil, err
	}
	x, err := audio.DecodeFile(media, features.Rate)
	if err != nil {
		return nil, err
	}
	a.log.Info("hearing the recording", "file", media, "seconds", len(x)/features.Rate)
	rs, err := h.Listen(ctx, x, start)
	if err != nil {
		return nil, err
	}
	return presence.Events(a.cfg.Presence, station, rs), nil
}

func spans(ss []presence.Span) []map[string]time.Time {
	out := []map[string]time.Time{}
	for _, s := range ss {
		out = append(out, map[string]time.Time{"arrive": s.Arrive, "leave": s.Leave})
	}
	return out
}
