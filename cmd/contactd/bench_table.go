package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// benchRow is one line of the table `contactd bench all` prints: a figure
// of contactd's beside the baseline measured in the same run.
type benchRow struct {
	What     string // what is measured, with its unit
	Ours     string
	Baseline string // the baseline's figure and name ("" when there is none)
	Ratio    string // ours against the baseline, said which way
	Target   string
	Met      string // "yes", "NO" or "" (no target)
}

// row records a line for the table when `bench all` collects them.
func (a *app) row(r benchRow) {
	if a.rows != nil {
		*a.rows = append(*a.rows, r)
	}
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

// printTable writes the rows as one Markdown table.
func printTable(w io.Writer, rows []benchRow) {
	fmt.Fprintln(w, "| measured | contactd | baseline (same run) | ratio | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	cell := func(s string) string {
		if s == "" {
			return "—"
		}
		return strings.ReplaceAll(s, "|", "\\|")
	}
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", cell(r.What), cell(r.Ours), cell(r.Baseline), cell(r.Ratio), cell(r.Target), cell(r.Met))
	}
}
