package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"contactd/config"
	"contactd/contact"
	"contactd/daygen"
	"contactd/server"
	"contactd/storage"
)

func (a *app) serveCmd() *cobra.Command {
	var listen, store string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the clinic server: WHIP ingest, live contacts, events/ratings API, metrics",
		Long: `Runs the clinic server. Stations (config "stations") stream over WHIP to
POST /whip/{station}; sensors and terminals post to /api/v1/events and /api/v1/ratings.
Contacts are cut as they close. SIGTERM finishes the clips of contacts whose leave
has come and exits; a second SIGTERM exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = a.cfg.Listen
			}
			if store == "" {
				store = a.cfg.Store
			}
			// An s3:// store goes behind the durable upload queue: a MinIO
			// outage delays clips, it does not lose them.
			st, err := storage.OpenQueued(cmd.Context(), store, a.cfg.S3, filepath.Join(a.cfg.StateDir, "upload-queue"), a.cfg.Node, a.log)
			if err != nil {
				return err
			}
			if st, err = a.seal(st); err != nil {
				return err
			}
			if q, ok := st.(*storage.Queue); ok {
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := q.Drain(ctx); err != nil {
						a.log.Warn("stopping with uploads pending: they go at the next start", "error", err)
					}
					q.Close()
				}()
			}
			arc := &storage.Archive{Store: st, Location: a.cfg.Location(), Node: a.cfg.Node}
			srv := &server.Server{Config: a.cfg, Archive: arc, Log: a.log}
			if err := srv.Initialize(); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				srv.Close()
				return err
			}
			a.log.Info("serving", "addr", ln.Addr().String(), "store", arc.Store.String(), "stations", len(a.cfg.Stations))
			go func() { // a second SIGTERM or interrupt exits at once
				<-cmd.Context().Done()
				sig := make(chan os.Signal, 1)
				signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
				<-sig
				a.log.Warn("second signal: exiting without finishing clips")
				os.Exit(exitFailure)
			}()
			return srv.Serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default: config listen)")
	cmd.Flags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	return cmd
}

func (a *app) indexCmd() *cobra.Command {
	var store string
	cmd := &cobra.Command{Use: "index", Short: "Rebuild or query the contact index"}
	cmd.PersistentFlags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Rebuild the contact index from the sidecars in the store alone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			ix, bad, err := arc.Rebuild(cmd.Context(), nil)
			if err != nil {
				return err
			}
			for _, b := range bad {
				a.log.Warn("sidecar skipped", "error", b)
			}
			fmt.Fprintf(a.stdout, "indexed %d contacts from %s (%d sidecars skipped)\n", len(ix.Contacts), arc.Store, len(bad))
			if len(bad) > 0 {
				return &exitError{code: exitRejected, err: fmt.Errorf("%d sidecar(s) could not be read", len(bad))}
			}
			return nil
		},
	}
	var set, station, from, to string
	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--set negative] [--station ID] [--from RFC3339] [--to RFC3339]",
		Short: "List indexed contacts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			f := storage.Filter{Set: contact.Set(set), Station: station}
			for _, p := range []struct {
				flag, s string
				dst     *time.Time
			}{{"--from", from, &f.From}, {"--to", to, &f.To}} {
				if p.s == "" {
					continue
				}
				if *p.dst, err = time.Parse(time.RFC3339Nano, p.s); err != nil {
					return usageError{fmt.Errorf("%s %q: not an RFC 3339 time", p.flag, p.s)}
				}
			}
			ix, err := arc.LoadIndex(cmd.Context())
			if err != nil {
				return err
			}
			es := ix.Query(f)
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(es)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ARRIVE\tSTATION\tSET\tRATING\tFLAGS\tCLIP")
			for _, e := range es {
				r := "-"
				if e.Rating != nil {
					r = fmt.Sprintf("%d/%s", e.Rating.Value, e.Rating.Scale)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", e.Arrive.Format(time.RFC3339), e.Station, e.Set, r, e.Flags, e.Clip)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&set, "set", "", "positive, negative, neutral or unrated")
	list.Flags().StringVar(&station, "station", "", "station id")
	list.Flags().StringVar(&from, "from", "", "arrive at or after (RFC 3339)")
	list.Flags().StringVar(&to, "to", "", "arrive before (RFC 3339)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(rebuild, list)
	return cmd
}

func (a *app) testdataCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "testdata", Short: "Generate test data"}
	var o daygen.Options
	var startS string
	day := &cobra.Command{
		Use:   "day --out DIR [--length 2h] [--video]",
		Short: "Build a reception day: recording, events, ratings and the expected contacts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Out == "" {
				return usageError{errors.New("--out is required")}
			}
			if startS != "" {
				t, err := time.Parse(time.RFC3339, startS)
				if err != nil {
					return usageError{fmt.Errorf("--start %q: not an RFC 3339 time", startS)}
				}
				o.Start = t
			}
			stage := ""
			var bar progress
			o.Progress = func(s string, done, total int) {
				if s != stage {
					stage = s
					bar = a.bar(total, s)
					a.log.Info("testdata day", "stage", s)
				}
				_ = bar.Set(done)
			}
			if o.Datasets == "" {
				if len(o.Actors) > 0 {
					return usageError{fmt.Errorf("--actors %v: no RAVDESS corpus found (shared/datasets/ravdess beside the checkout); give --datasets DIR", o.Actors)}
				}
				a.log.Warn("testdata day: no RAVDESS corpus found (shared/datasets/ravdess beside the checkout; --datasets DIR): the patients are espeak-ng voices, their moods only in their words")
			}
			f, err := daygen.Generate(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "recording %s\nevents    %s\nratings   %s\nexpected  %s\nstart     %s\npatients  %s\n",
				f.Recording, f.Events, f.Ratings, f.Expected, f.Start.Format(time.RFC3339), f.Patients)
			return nil
		},
	}
	fl := day.Flags()
	fl.StringVar(&o.Out, "out", "", "output directory")
	fl.DurationVar(&o.Length, "length", 2*time.Hour, "recording length")
	fl.StringVar(&startS, "start", "2026-03-02T08:00:00Z", "wall-clock start (RFC 3339)")
	fl.StringVar(&o.Station, "station", "desk-1", "station id")
	fl.Uint64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same day")
	fl.BoolVar(&o.Video, "video", false, "add a camera track")
	fl.StringVar(&o.Datasets, "datasets", defaultDatasets(), "directory with ravdess/ for real patient voices (default: shared/datasets beside the checkout if there; without it the patients are espeak-ng voices)")
	fl.BoolVar(&o.Chatter, "chatter", false, "add the waiting area's voices (20 dB under the desk's) in bursts")
	fl.IntSliceVar(&o.Actors, "actors", nil, "take the patients from these RAVDESS actors only, e.g. 11,12,13 (voices a model under test never heard)")
	cmd.AddCommand(day)
	return cmd
}

// defaultDatasets finds the shared corpora beside the checkout, if any:
// shared/datasets in the working directory or any directory above it (the
// checkout's root, or a package directory inside it, as tests run).
func defaultDatasets() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", "datasets")
		if _, err := os.Stat(filepath.Join(p, "ravdess", "labels.csv")); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check the configuration or list its environment variables"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Load and validate the configuration (defaults → --config file → environment)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(a.stdout, "configuration ok: site %s, store %s\n", a.cfg.Site, a.cfg.Store)
			return nil
		},
	}, &cobra.Command{
		Use:   "env",
		Short: "List every CONTACTD_* environment variable and the setting it overrides",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, e := range config.EnvVars() {
				fmt.Fprintf(a.stdout, "%s\t%s\n", e[0], e[1])
			}
			return nil
		},
	})
	return cmd
}
