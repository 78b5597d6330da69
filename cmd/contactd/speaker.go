package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"contactd/classifier/audio"
	"contactd/classifier/emotion"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
)

func (a *app) speakerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "speaker", Short: "Speaker attribution: employee or someone else"}
	cmd.AddCommand(a.speakerUBMCmd(), a.speakerNAPCmd(), a.speakerEnrollCmd(), a.speakerEvalCmd())
	return cmd
}

// speechFrames decodes a file and returns its speech frames' cepstra.
func speechFrames(ext *features.Extractor, det *vad.Detector, path string) ([][]float64, error) {
	x, err := audio.DecodeFile(path, features.Rate)
	if err != nil {
		return nil, err
	}
	return speaker.SpeechFrames(ext, det, x), nil
}

func (a *app) speakerUBMCmd() *cobra.Command {
	var corpora []string
	var out string
	var perSpeaker int
	cmd := &cobra.Command{
		Use:   "ubm --corpus DIR [--corpus DIR…] --out FILE",
		Short: "Train the background model (many speakers' voices) that employees are enrolled against",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || len(corpora) == 0 {
				return usageError{errors.New("--corpus DIR and --out FILE are required")}
			}
			frames, err := a.corpusFrames(corpora, nil, perSpeaker)
			if err != nil {
				return err
			}
			bg, err := speaker.TrainBackground(frames, 1)
			if err != nil {
				return err
			}
			if err := bg.Save(out); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "background model: %s (%d frames, %d components)\n", out, len(frames), speaker.UBMComponents)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&corpora, "corpus", nil, "corpus directory with labels.csv (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	cmd.Flags().IntVar(&perSpeaker, "per-speaker", 20, "recordings taken from each speaker")
	return cmd
}

// corpusFrames gathers speech frames from up to perSpeaker recordings of
// each speaker of the corpora, skipping the speakers in exclude.
func (a *app) corpusFrames(corpora []string, exclude map[string]bool, perSpeaker int) ([][]float64, error) {
	vm, err := a.vadModel()
	if err != nil {
		return nil, err
	}
	ext, det := features.NewExtractor(), vm.NewDetector()
	var frames [][]float64
	for _, c := range corpora {
		items, err := emotion.LoadCorpus(c)
		if err != nil {
			return nil, usageError{fmt.Errorf("--corpus: %w", err)}
		}
		taken := map[string]int{}
		for _, it := range items {
			if exclude[it.Speaker] || taken[it.Speaker] >= perSpeaker {
				continue
			}
			taken[it.Speaker]++
			fr, err := speechFrames(ext, det, it.Path)
			if err != nil {
				a.log.Warn("recording skipped", "file", it.Path, "error", err)
				continue
			}
			// Every fourth frame: neighbours are nearly alike, and EM's cost
			// grows with the frames.
			for i := 0; i < len(fr); i += 4 {
				frames = append(frames, fr[i])
			}
		}
	}
	return frames, nil
}

func (a *app) speakerNAPCmd() *cobra.Command {
	var corpora, exclude []string
	var out, ubm string
	var perSpeaker, directions int
	cmd := &cobra.Command{
		Use:   "nap --corpus DIR [--corpus DIR…] --out FILE",
		Short: "Learn how one speaker's recordings vary (the subspace projected out before telling doctor from patient)",
		Long: `Learns the directions in which one speaker's recordings move from one to the
next (loud or soft, calm or angry) from many speakers' recordings: each recording's
supervector against the background model, centred on its speaker's mean. The
consulting-room segmentation projects them out when it looks for the stretches
surest to be the doctor's and the patient's. Speakers need several recordings each,
said in different ways; --exclude-speaker leaves speakers out (corpus/speaker, as in
labels.csv) so that they can be evaluated on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || len(corpora) == 0 {
				return usageError{errors.New("--corpus DIR and --out FILE are required")}
			}
			if directions < 1 {
				return usageError{fmt.Errorf("--directions %d: at least 1", directions)}
			}
			bg, err := a.background(ubm)
			if err != nil {
				return err
			}
			vm, err := a.vadModel()
			if err != nil {
				return err
			}
			skip := map[string]bool{}
			for _, e := range exclude {
				skip[e] = true
			}
			var items []emotion.Item
			for _, c := range corpora {
				it, err := emotion.LoadCorpus(c)
				if err != nil {
					return usageError{fmt.Errorf("--corpus: %w", err)}
				}
				taken := map[string]int{}
				for _, x := range it {
					if x.Speaker == "" {
						return usageError{fmt.Errorf("--corpus %s: labels.csv has no speaker or actor column", c)}
					}
					if skip[x.Speaker] || taken[x.Speaker] >= perSpeaker {
						continue
					}
					taken[x.Speaker]++
					items = append(items, x)
				}
			}
			ext, det := features.NewExtractor(), vm.NewDetector()
			bar := a.bar(len(items), "recordings")
			bySpeaker := map[string][][][]float64{}
			var order []string
			for i, it := range items {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				fr, err := speechFrames(ext, det, it.Path)
				bar.Set(i + 1)
				if err != nil {
					a.log.Warn("recording skipped", "file", it.Path, "error", err)
					continue
				}
				if _, ok := bySpeaker[it.Speaker]; !ok {
					order = append(order, it.Speaker)
				}
				bySpeaker[it.Speaker] = append(bySpeaker[it.Speaker], fr)
			}
			var groups [][][]float64
			for _, sp := range order {
				groups = append(groups, bg.RecordingVectors(bySpeaker[sp]))
			}
			nz, err := speaker.TrainNuisance(groups, directions, 1)
			if err != nil {
				return err
			}
			if err := nz.Save(out); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "nuisance subspace: %s (%d directions from %d speakers, %d recordings)\n", out, directions, len(order), len(items))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&corpora, "corpus", nil, "corpus directory with labels.csv and a speaker column (repeatable)")
	cmd.Flags().StringArrayVar(&exclude, "exclude-speaker", nil, "leave out this speaker (corpus/speaker; repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	cmd.Flags().StringVar(&ubm, "ubm", "", "background model (default: built in)")
	cmd.Flags().IntVar(&perSpeaker, "per-speaker", 60, "recordings taken from each speaker")
	cmd.Flags().IntVar(&directions, "directions", speaker.NuisanceDirections, "directions of the subspace")
	return cmd
}

func (a *app) speakerEnrollCmd() *cobra.Command {
	var name, out, ubm string
	cmd := &cobra.Command{
		Use:   "enroll --name EMPLOYEE --out FILE RECORDING…",
		Short: "Enrol an employee from about 30 s of their speech (any audio files FFmpeg reads)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" || out == "" {
				return usageError{errors.New("--name and --out are required")}
			}
			bg, err := a.background(ubm)
			if err != nil {
				return err
			}
			vm, err := a.vadModel()
			if err != nil {
				return err
			}
			ext, det := features.NewExtractor(), vm.NewDetector()
			var frames [][]float64
			for _, p := range args {
				fr, err := speechFrames(ext, det, p)
				if err != nil {
					return usageError{err}
				}
				frames = append(frames, fr...)
			}
			v, err := bg.Enroll(name, frames)
			if err != nil {
				return usageError{err}
			}
			b, _ := json.Marshal(v)
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "enrolled %s from %.1f s of speech: %s\n", name, v.Seconds, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "employee id (as in stations[].employee)")
	cmd.Flags().StringVar(&out, "out", "", "voice file to write")
	cmd.Flags().StringVar(&ubm, "ubm", "", "background model (default: built in)")
	return cmd
}

func (a *app) background(path string) (*speaker.Background, error) {
	if path == "" {
		return speaker.DefaultBackground()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return speaker.ParseBackground(b, path)
}

func (a *app) speakerEvalCmd() *cobra.Command {
	var corpus string
	var turns int
	cmd := &cobra.Command{
		Use:   "eval --corpus DIR",
		Short: "Attribution accuracy on dialogues mixed from pairs of a corpus's speakers (background trained on the other half of them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if corpus == "" {
				return usageError{errors.New("--corpus DIR is required")}
			}
			items, err := emotion.LoadCorpus(corpus)
			if err != nil {
				return usageError{fmt.Errorf("--corpus: %w", err)}
			}
			bySpk := map[string][]string{}
			var speakers []string
			for _, it := range items {
				if it.Speaker == "" {
					return usageError{errors.New("--corpus: labels.csv needs a speaker or actor column")}
				}
				if _, ok := bySpk[it.Speaker]; !ok {
					speakers = append(speakers, it.Speaker)
				}
				bySpk[it.Speaker] = append(bySpk[it.Speaker], it.Path)
			}
			if len(speakers) < 4 {
				return usageError{errors.New("--corpus: at least four speakers are needed")}
			}
			slices.SortFunc(speakers, naturalCompare)
			vm, err := a.vadModel()
			if err != nil {
				return err
			}
			half := len(speakers) / 2
			halves := [][]string{speakers[:half], speakers[half:]}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "employee\tother\tenrolled s\tsegments\tcorrect\tspeech correct")
			var segs, segOK, frames, frOK int
			for h, group := range halves {
				// The background never heard the speakers it is tested on.
				exclude := map[string]bool{}
				for _, s := range group {
					exclude[s] = true
				}
				a.log.Info("training the background model", "half", h+1)
				bgFrames, err := a.corpusFrames([]string{corpus}, exclude, 20)
				if err != nil {
					return err
				}
				bg, err := speaker.TrainBackground(bgFrames, 1)
				if err != nil {
					return err
				}
				decode := func(paths []string) ([][]float32, error) {
					var out [][]float32
					for _, p := range paths {
						x, err := audio.DecodeFile(p, features.Rate)
						if err != nil {
							return nil, err
						}
						out = append(out, x)
					}
					return out, nil
				}
				for i := range group {
					emp, oth := group[i], group[(i+1)%len(group)]
					e, o := bySpk[emp], bySpk[oth]
					// Enrol on the employee's first recordings, test on the rest.
					nEnrol := min(len(e)/3, 20)
					enrol, err := decode(e[:nEnrol])
					if err != nil {
						return err
					}
					et, err := decode(e[nEnrol:min(len(e), nEnrol+turns)])
					if err != nil {
						return err
					}
					ot, err := decode(o[nEnrol:min(len(o), nEnrol+turns)])
					if err != nil {
						return err
					}
					r, err := speaker.EvalDialogue(bg, vm, emp, oth, enrol, et, ot, uint64(i+1))
					if err != nil {
						return err
					}
					fmt.Fprintf(tw, "%s\t%s\t%.1f\t%d\t%d\t%.3f\n", emp, oth, r.EnrolSeconds, r.Segments, r.SegmentsCorrect,
						float64(r.FramesCorrect)/float64(max(r.Frames, 1)))
					segs += r.Segments
					segOK += r.SegmentsCorrect
					frames += r.Frames
					frOK += r.FramesCorrect
				}
			}
			tw.Flush()
			fmt.Fprintf(a.stdout, "segments attributed correctly: %d/%d = %.3f; speech time attributed correctly: %.3f\n",
				segOK, segs, float64(segOK)/float64(max(segs, 1)), float64(frOK)/float64(max(frames, 1)))
			return nil
		},
	}
	cmd.Flags().StringVar(&corpus, "corpus", "", "corpus directory with labels.csv and a speaker or actor column")
	cmd.Flags().IntVar(&turns, "turns", 20, "turns of each speaker in a dialogue")
	return cmd
}
