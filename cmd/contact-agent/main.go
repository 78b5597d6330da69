// Command contact-agent runs at a reception desk or in a consulting room: it
// captures the microphone (and optionally a camera), streams to contactd over
// WHIP, takes presence events from sensors and ratings from the terminal, and
// keeps everything in a local spool while the server cannot be reached.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"contactd/capture"
	"contactd/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfgPath string
	var cfg *config.Agent
	var log *slog.Logger
	load := func() error {
		var err error
		if cfg, err = config.LoadAgent(cfgPath, os.Environ()); err != nil {
			return err
		}
		var lvl slog.Level
		_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
		opts := &slog.HandlerOptions{Level: lvl}
		if cfg.Log.Format == "json" {
			log = slog.New(slog.NewJSONHandler(stderr, opts))
		} else {
			log = slog.New(slog.NewTextHandler(stderr, opts))
		}
		slog.SetDefault(log)
		return nil
	}
	root := &cobra.Command{
		Use:           "contact-agent",
		Short:         "Capture agent: microphone and camera to contactd over WHIP, with store-and-forward",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&cfgPath, "config", os.Getenv(config.AgentEnvPrefix+"CONFIG_FILE"), "YAML configuration file")

	runCmd := &cobra.Command{
		Use:   "run",
		Short: "Capture and publish until stopped",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := load(); err != nil {
				return err
			}
			mic := &capture.Microphone{Device: cfg.Audio.Device, Channels: cfg.Audio.Channels}
			if err := mic.Open(); err != nil {
				return err
			}
			defer mic.Close()
			client, err := cfg.HTTPClient()
			if err != nil {
				return err
			}
			a := &capture.Agent{Config: cfg, Log: log, Client: client}
			if len(cfg.WebRTC.Interfaces) > 0 {
				allowed := cfg.WebRTC.Interfaces
				a.InterfaceFilter = func(n string) bool {
					for _, x := range allowed {
						if x == n {
							return true
						}
					}
					return false
				}
			}
			a.IncludeLoopback = cfg.WebRTC.IncludeLoopback
			return a.Run(cmd.Context(), mic)
		},
	}
	devices := &cobra.Command{
		Use:   "devices",
		Short: "List the audio input devices (use the name or index as audio.device)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ds, err := capture.Devices()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "INDEX\tNAME\tHOST API\tCHANNELS\tRATE\tDEFAULT")
			for _, d := range ds {
				def := ""
				if d.Default {
					def = "yes"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%.0f\t%s\n", d.Index, d.Name, d.HostAPI, d.InChannels, d.SampleRate, def)
			}
			return tw.Flush()
		},
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Test the microphone and the connection to the server, and say what is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := load(); err != nil {
				return err
			}
			return checkAll(cmd.Context(), cfg, stdout)
		},
	}
	root.AddCommand(runCmd, devices, check)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "contact-agent:", err)
		return 1
	}
	return 0
}

// checkAll reads a second from the microphone and asks the server whether it
// knows the station and its token, in words an installer understands.
func checkAll(ctx context.Context, cfg *config.Agent, w io.Writer) error {
	var problems []string
	mic := &capture.Microphone{Device: cfg.Audio.Device, Channels: cfg.Audio.Channels}
	if err := mic.Open(); err != nil {
		problems = append(problems, "microphone: "+err.Error())
	} else {
		var peak float64
		mctx, cancel := context.WithTimeout(ctx, time.Second)
		mic.Run(mctx, func(pcm []int16, _ time.Time) {
			for _, v := range pcm {
				peak = math.Max(peak, math.Abs(float64(v)))
			}
		})
		cancel()
		mic.Close()
		db := 20 * math.Log10(math.Max(peak, 1)/32768)
		fmt.Fprintf(w, "microphone %q: ok, peak level %.0f dBFS over 1 s\n", cfg.Audio.Device, db)
		if db < -60 {
			problems = append(problems, "microphone: it records silence; is it muted or unplugged?")
		}
	}
	client, err := cfg.HTTPClient()
	if err != nil {
		return err
	}
	client.Timeout = 5 * time.Second
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Server+"/api/v1/events", strings.NewReader(""))
	req.Header.Set("Authorization", "Bearer "+cfg.Token)
	resp, err := client.Do(req)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("server %s: cannot be reached (%v); the agent will spool until it can", cfg.Server, err))
	case resp.StatusCode == http.StatusUnauthorized:
		problems = append(problems, fmt.Sprintf("server %s: refused the token; check that station %s has this token in its configuration", cfg.Server, cfg.Station))
	case resp.StatusCode/100 != 2:
		problems = append(problems, fmt.Sprintf("server %s: answered %s", cfg.Server, resp.Status))
	default:
		fmt.Fprintf(w, "server %s: reachable, token accepted\n", cfg.Server)
	}
	if resp != nil {
		resp.Body.Close()
	}
	if err == nil && resp.StatusCode/100 == 2 {
		sreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Server+"/api/v1/stations", nil)
		sreq.Header.Set("Authorization", "Bearer "+cfg.Token)
		sresp, err := client.Do(sreq)
		if err == nil {
			var body struct {
				Stations []struct{ ID string } `json:"stations"`
			}
			json.NewDecoder(sresp.Body).Decode(&body)
			sresp.Body.Close()
			known := false
			for _, s := range body.Stations {
				known = known || s.ID == cfg.Station
			}
			if !known {
				problems = append(problems, fmt.Sprintf("server: station %s is not configured there", cfg.Station))
			}
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(w, "PROBLEM:", p)
		}
		return errors.New("check found problems")
	}
	fmt.Fprintln(w, "all good")
	return nil
}
