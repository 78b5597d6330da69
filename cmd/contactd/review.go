package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"contactd/review"
)

func (a *app) reviewCmd() *cobra.Command {
	root := &cobra.Command{Use: "review", Short: "What quality officers decided: their labels as a training corpus, the access log"}
	var out, store string
	corpus := &cobra.Command{
		Use:   "corpus --out DIR",
		Short: "Write the reviewers' emotion labels as a corpus for `contactd emotion train --corpus DIR`",
		Long: `For every contact a reviewer labelled (the emotion heard from the employee and from
the patient), cuts the seconds that side spoke from the clip into DIR/{contact}-{side}.wav
(16 kHz mono) and lists them in DIR/labels.csv (file, emotion, speaker, contact,
labelled_by). Reviews are read from {state_dir}/reviews.jsonl, clips from the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required")}
			}
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			j, err := review.Open(filepath.Join(a.cfg.StateDir, "reviews.jsonl"), a.log)
			if err != nil {
				return err
			}
			defer j.Close()
			var bar progress
			st, err := review.WriteCorpus(cmd.Context(), arc, j.All(), out, func(done, total int) {
				if bar == nil {
					bar = a.bar(total, "labelled contacts")
				}
				bar.Set(done)
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d recordings, %.0f s of speech in %s\n", st.Recordings, st.Seconds, out)
			for _, s := range st.Skipped {
				fmt.Fprintln(w, "skipped:", s)
			}
			return nil
		},
	}
	corpus.Flags().StringVar(&out, "out", "", "corpus directory to write")
	corpus.Flags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	audit := &cobra.Command{
		Use:   "audit",
		Short: "Print the clip access log and check its hash chain (exit 1 if it was altered)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lg, err := review.OpenAudit(filepath.Join(a.cfg.StateDir, "audit.jsonl"))
			if err != nil {
				return err
			}
			defer lg.Close()
			entries, chainErr := lg.Read()
			w := cmd.OutOrStdout()
			for _, e := range entries {
				fmt.Fprintf(w, "%s  %-12s %-10s %-9s %s\n", e.At.Format("2006-01-02 15:04:05Z07:00"), e.User, e.Role, e.Action, e.Contact)
			}
			if chainErr != nil {
				return chainErr
			}
			fmt.Fprintf(w, "%d entries; the hash chain is intact\n", len(entries))
			return nil
		},
	}
	root.AddCommand(corpus, audit)
	return root
}
