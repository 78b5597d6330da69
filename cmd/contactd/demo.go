package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"contactd/demo"
)

func (a *app) demoCmd() *cobra.Command {
	o := demo.Options{}
	var seconds time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a demo clinic: the server with two desks streaming real speech live, users of every role",
		Long: `Runs contactd serve on local disk with two reception desks whose agents stream
emotional speech (RAVDESS actors as employees and patients) over WebRTC, with
presence events and ratings, in a loop. Within a minute the review page lists
clips, the monitor shows live tiles (one employee with an early warning) and the
mirror moves. Every user's password is printed. Ctrl-C stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			o.Log = a.log
			o.Progress = func(msg string) { fmt.Fprintln(out, "demo:", msg) }
			o.Ready = func(url string) {
				fmt.Fprintf(out, "\ncontactd demo at %s — the first contacts close within a minute.\n", url)
				fmt.Fprintf(out, "Log in with password %q as:\n", demo.Password)
				for _, u := range demo.Users {
					fmt.Fprintf(out, "  %-7s %-10s %s/login\n", u.Name, u.Role, url)
				}
				fmt.Fprintln(out, "The past 20 days of the monitor's history are simulated; everything from now on is heard live.")
			}
			ctx := cmd.Context()
			if seconds > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, seconds)
				defer cancel()
			}
			return demo.Run(ctx, o)
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&o.Dir, "dir", "demo/live", "state, store and generated media of the demo")
	cmd.Flags().StringVar(&o.Datasets, "datasets", "../shared/datasets", "directory holding the ravdess/ corpus")
	cmd.Flags().DurationVar(&seconds, "for", 0, "stop after this long (0: until interrupted)")
	return cmd
}
