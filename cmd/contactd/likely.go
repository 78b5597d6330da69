package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"contactd/contact"
	"contactd/likely"
)

func (a *app) likelyCmd() *cobra.Command {
	root := &cobra.Command{Use: "likely", Short: "The likely-negative score of contacts: how well it ranks the rated ones"}
	var store, station, employee string
	var asJSON bool
	eval := &cobra.Command{
		Use:   "eval [--store DIR|s3://bucket/prefix] [--station ID] [--employee ID] [--json]",
		Short: "ROC AUC of the likely-negative score for the store's rated contacts (negative rating vs the rest)",
		Long: `Reads the contact index and, for every rated contact with a score, asks how well the
score tells the contacts rated negative from those rated neutral or positive: the ROC AUC
(0.5 is chance, 1 a perfect ranking), the mean score of each group and how often each
reason was among the top ones. Unrated contacts are what the score is for; they are not
counted here.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			arc, err := a.openArchive(cmd.Context(), store)
			if err != nil {
				return err
			}
			ix, err := arc.LoadIndex(cmd.Context())
			if err != nil {
				return fmt.Errorf("reading the contact index (contactd index rebuild makes it): %w", err)
			}
			var rs []likely.Rated
			for _, e := range ix.Contacts {
				if e.Set == contact.Unrated || station != "" && e.Station != station || employee != "" && e.Employee != employee {
					continue
				}
				rs = append(rs, likely.Rated{Likely: e.Likely, Negative: e.Set == contact.Negative})
			}
			rep := likely.Evaluate(rs)
			w := cmd.OutOrStdout()
			if asJSON {
				out := map[string]any{"n": rep.N, "negatives": rep.Negatives, "unscored": rep.Unscored,
					"mean_score_negative": rep.MeanNegative, "mean_score_other": rep.MeanOther, "reasons": rep.Reasons}
				if !math.IsNaN(rep.AUC) {
					out["auc"] = rep.AUC
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			fmt.Fprintf(w, "rated contacts with a score: %d (%d negative); without one (nothing heard): %d\n", rep.N, rep.Negatives, rep.Unscored)
			if math.IsNaN(rep.AUC) {
				fmt.Fprintln(w, "ROC AUC: needs rated contacts of both kinds")
				return nil
			}
			fmt.Fprintf(w, "ROC AUC (negative rating vs the rest): %.3f\n", rep.AUC)
			fmt.Fprintf(w, "mean score: negative %.3f, others %.3f\n\n", rep.MeanNegative, rep.MeanOther)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "top reason\tnegatives\tothers")
			codes := make([]string, 0, len(rep.Reasons))
			for c := range rep.Reasons {
				codes = append(codes, c)
			}
			slices.Sort(codes)
			for _, c := range codes {
				fmt.Fprintf(tw, "%s\t%d\t%d\n", c, rep.Reasons[c][0], rep.Reasons[c][1])
			}
			return tw.Flush()
		},
	}
	eval.Flags().StringVar(&store, "store", "", "directory or s3://bucket/prefix (default: config store)")
	eval.Flags().StringVar(&station, "station", "", "only this station's contacts")
	eval.Flags().StringVar(&employee, "employee", "", "only this employee's contacts")
	eval.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	root.AddCommand(eval)
	return root
}
