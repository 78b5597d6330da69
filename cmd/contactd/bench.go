package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"contactd/clip"
	"contactd/contact"
	"contactd/daygen"
	"contactd/pipeline"
	"contactd/segmenter"
)

func (a *app) benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Benchmarks against named baselines"}
	cmd.AddCommand(a.benchCutCmd(), a.benchAllCmd(), a.benchLiveCmd(), a.benchIngestCmd(), a.benchPublishersCmd(), a.benchBareCmd(), a.benchVADCmd(), a.benchVoiceCmd(), a.benchFaceCmd())
	return cmd
}

func (a *app) benchCutCmd() *cobra.Command {
	var day string
	var rounds int
	cut := &cobra.Command{
		Use:   "cut --day DIR",
		Short: "Cut every clip of a generated day; compare with one `ffmpeg -ss -to -c copy` per clip",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := os.ReadFile(filepath.Join(day, "day.json"))
			if err != nil {
				return usageError{fmt.Errorf("--day: %w (make one with 'contactd testdata day')", err)}
			}
			var f daygen.Files
			if err := json.Unmarshal(b, &f); err != nil {
				return err
			}
			ranges, err := clipRanges(&f, a.cfg.Segmenter)
			if err != nil {
				return err
			}
			res, err := pipeline.BenchCut(cmd.Context(), f.Recording, ranges, rounds)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "clips %d, rounds %d (median)\n", res.Clips, res.Rounds)
			fmt.Fprintf(a.stdout, "contactd cutter (one open recording, stream copy): %8.3f s  %6.1f ms/clip\n",
				res.Ours.Seconds(), res.Ours.Seconds()*1000/float64(res.Clips))
			fmt.Fprintf(a.stdout, "ffmpeg -ss -to -c copy, one process per clip:      %8.3f s  %6.1f ms/clip\n",
				res.FFmpeg.Seconds(), res.FFmpeg.Seconds()*1000/float64(res.Clips))
			fmt.Fprintf(a.stdout, "ratio: %.1fx faster\n", res.Ratio())
			a.row(benchRow{What: fmt.Sprintf("clip cutting, %d clips of a 2-hour day with video, per clip (median of %d rounds)", res.Clips, res.Rounds),
				Ours: fmt.Sprintf("%.1f ms", res.Ours.Seconds()*1000/float64(res.Clips)), Baseline: fmt.Sprintf("%.1f ms: one `ffmpeg -c copy` process per clip", res.FFmpeg.Seconds()*1000/float64(res.Clips)),
				Ratio: fmt.Sprintf("%.1f× faster", res.Ratio()), Target: "≥ 5× faster", Met: met(res.Ratio() >= 5)})
			return nil
		},
	}
	cut.Flags().StringVar(&day, "day", "", "directory made by 'contactd testdata day'")
	cut.Flags().IntVar(&rounds, "rounds", 3, "repetitions; the median is reported")
	return cut
}

// clipRanges runs the segmenter over a day and returns its clip ranges.
func clipRanges(f *daygen.Files, cfg segmenter.Config) ([]pipeline.Range, error) {
	info, err := clip.Probe(f.Recording)
	if err != nil {
		return nil, err
	}
	ev, err := os.Open(f.Events)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	events, _, err := contact.ParseEvents(ev, f.Events)
	if err != nil {
		return nil, err
	}
	res := segmenter.Run(cfg, contact.DefaultSetRules(), segmenter.Input{Events: events, From: f.Start, Until: f.Start.Add(info.Duration)})
	var out []pipeline.Range
	for _, c := range res.Contacts {
		out = append(out, pipeline.Range{From: c.ClipStart.Sub(f.Start), To: c.ClipEnd.Sub(f.Start)})
	}
	return out, nil
}
