package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"contactd/classifier/audio"
	"contactd/classifier/emotion"
	"contactd/classifier/features"
	"contactd/classifier/vad"
)

func (a *app) emotionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "emotion", Short: "Voice emotion: train, evaluate, analyze a recording"}
	cmd.AddCommand(a.emotionTrainCmd(), a.emotionEvalCmd(), a.emotionAnalyzeCmd())
	return cmd
}

func (a *app) vadModel() (*vad.Model, error) {
	return vad.LoadInstalled(a.cfg.Emotion.VADModel)
}

func (a *app) voiceModel(path string) (*emotion.Model, error) {
	if path == "" {
		path = a.cfg.Emotion.VoiceModel
	}
	if path == "" {
		return emotion.Default()
	}
	return emotion.Load(path)
}

// loadCorpora reads the labels of each corpus and featurises every
// recording, with a progress bar on a terminal.
func (a *app) loadCorpora(ctx context.Context, dirs []string, windows bool, speeds, levels []float64) ([]emotion.Item, [][]float64, [][][]float64, [][][]float64, error) {
	if len(dirs) == 0 {
		return nil, nil, nil, nil, usageError{errors.New("--corpus DIR is required (a directory with labels.csv)")}
	}
	var items []emotion.Item
	for _, d := range dirs {
		it, err := emotion.LoadCorpus(d)
		if err != nil {
			return nil, nil, nil, nil, usageError{fmt.Errorf("--corpus: %w", err)}
		}
		items = append(items, it...)
	}
	vm, err := a.vadModel()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	fz := &emotion.Featurizer{VAD: vm, Speeds: speeds, Levels: levels}
	bar := a.bar(len(items), "features")
	var done atomic.Int64
	vecs, wins, pert, skipped, err := fz.Featurize(ctx, items, windows, func() { bar.Set(int(done.Add(1))) })
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for i := range items {
		if err, ok := skipped[i]; ok {
			a.log.Warn("recording skipped", "file", items[i].Path, "error", err)
		}
	}
	if len(skipped) == len(items) {
		return nil, nil, nil, nil, errors.New("no recording could be used")
	}
	return items, vecs, wins, pert, nil
}

// foldOf groups speakers into cross-validation folds: a corpus with ten or
// more speakers is split into five folds of consecutive speakers (natural
// order: RAVDESS actors 1–4, 5–8, …); a smaller one gives a fold per speaker.
func foldOf(items []emotion.Item) func(string) string {
	byCorpus := map[string][]string{}
	seen := map[string]bool{}
	for _, it := range items {
		if it.Speaker == "" || seen[it.Speaker] {
			continue
		}
		seen[it.Speaker] = true
		c, _, _ := strings.Cut(it.Speaker, "/")
		byCorpus[c] = append(byCorpus[c], it.Speaker)
	}
	fold := map[string]string{}
	for c, spk := range byCorpus {
		slices.SortFunc(spk, naturalCompare)
		for i, s := range spk {
			if len(spk) >= 10 {
				fold[s] = fmt.Sprintf("%s-fold%d", c, i*5/len(spk)+1)
			} else {
				fold[s] = s
			}
		}
	}
	return func(s string) string { return fold[s] }
}

// naturalCompare orders "x/2" before "x/10".
func naturalCompare(a, b string) int {
	pa, na := splitNum(a)
	pb, nb := splitNum(b)
	if pa != pb {
		return strings.Compare(pa, pb)
	}
	if na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}

func (a *app) emotionTrainCmd() *cobra.Command {
	var corpora []string
	var out string
	var cv bool
	var seed uint64
	cfg := emotion.DefaultTrainConfig
	cmd := &cobra.Command{
		Use:   "train --corpus DIR [--corpus DIR…] --out FILE",
		Short: "Train the voice emotion model (seeded, reproducible); --cv first reports speaker-independent cross-validation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" && !cv {
				return usageError{errors.New("--out FILE is required (or --cv alone to only cross-validate)")}
			}
			for _, s := range cfg.StrangerSpeeds {
				if !(s >= 0.5 && s <= 2) {
					return usageError{fmt.Errorf("--stranger-speeds %g: want factors from 0.5 to 2 (e.g. 0.9,1.1)", s)}
				}
			}
			for _, l := range cfg.StrangerLevels {
				if !(l >= -50 && l <= -3) {
					return usageError{fmt.Errorf("--stranger-levels %g: want speech levels from -50 to -3 dBFS (e.g. -36,-26,-16)", l)}
				}
			}
			items, vecs, wins, pert, err := a.loadCorpora(cmd.Context(), corpora, true, cfg.StrangerSpeeds, cfg.StrangerLevels)
			if err != nil {
				return err
			}
			cfg.Seed = seed
			if cv {
				folds, err := emotion.CrossValidate(items, vecs, wins, pert, cfg, foldOf(items), func(f string) {
					a.log.Info("cross-validation", "testing", f)
				})
				if err != nil {
					return err
				}
				printFolds(a.stdout, folds)
			}
			if out == "" {
				return nil
			}
			var names []string
			for _, d := range corpora {
				names = append(names, filepath.Base(filepath.Clean(d)))
			}
			m, err := emotion.Fit(items, vecs, wins, pert, cfg, names)
			if err != nil {
				return err
			}
			if err := m.Save(out); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "model: %s (%d recordings from %s, %d networks)\n", out, m.Samples, strings.Join(names, ", "), len(m.Nets))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&corpora, "corpus", nil, "corpus directory with labels.csv (repeatable)")
	cmd.Flags().StringVar(&out, "out", "", "model file to write")
	cmd.Flags().BoolVar(&cv, "cv", false, "report speaker-independent cross-validation per fold first")
	cmd.Flags().Uint64Var(&seed, "seed", emotion.DefaultTrainConfig.Seed, "random seed (the same seed and data give the same model)")
	cmd.Flags().IntVar(&cfg.Hidden, "hidden", cfg.Hidden, "hidden units (0: logistic regression)")
	cmd.Flags().IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "training epochs")
	cmd.Flags().Float64Var(&cfg.InputDropout, "dropout", cfg.InputDropout, "input dropout")
	cmd.Flags().Float64Var(&cfg.L2, "l2", cfg.L2, "L2 weight decay")
	cmd.Flags().Float64SliceVar(&cfg.StrangerSpeeds, "stranger-speeds", cfg.StrangerSpeeds,
		"speed perturbations (e.g. 0.9,1.1) whose copies of each recording are added to the strangers' training")
	cmd.Flags().Float64SliceVar(&cfg.StrangerLevels, "stranger-levels", cfg.StrangerLevels,
		"speech levels in dBFS (e.g. -36,-26,-16) whose copies of each recording are added to the strangers' training")
	return cmd
}

// printFolds prints each fold read with every speaker's own baseline and,
// in the last three columns, read as strangers (against the population
// alone, as a patient is read).
func printFolds(w io.Writer, folds []emotion.Fold) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "fold\tspeakers\tn\tUA4\tWA4\tarousal\tvalence\tneutral\thappy\tsad\tangry\tstranger UA4\tarousal\tvalence")
	row := func(name, speakers string, s, st emotion.Scores) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t%.3f\t%.3f\n", name, speakers, s.N,
			s.UA4, s.WA4, s.ArousalAcc, s.ValenceAcc, s.PerClass["neutral"], s.PerClass["happy"], s.PerClass["sad"], s.PerClass["angry"],
			st.UA4, st.ArousalAcc, st.ValenceAcc)
	}
	byCorpus := map[string][2][]emotion.Scores{}
	var corpora []string
	for _, f := range folds {
		row(f.Name, strings.Join(f.Speakers, " "), f.Scores, f.Stranger)
		c, _, _ := strings.Cut(f.Speakers[0], "/")
		if _, ok := byCorpus[c]; !ok {
			corpora = append(corpora, c)
		}
		b := byCorpus[c]
		b[0], b[1] = append(b[0], f.Scores), append(b[1], f.Stranger)
		byCorpus[c] = b
	}
	for _, c := range corpora {
		row(c+" pooled", "all", emotion.Pool(byCorpus[c][0]), emotion.Pool(byCorpus[c][1]))
	}
	tw.Flush()
}

func (a *app) emotionEvalCmd() *cobra.Command {
	var corpus, model string
	var asJSON, stranger bool
	cmd := &cobra.Command{
		Use:   "eval --corpus DIR [--model FILE] [--stranger] [--json]",
		Short: "Score the voice emotion model on a labelled corpus (labels.csv: file, emotion[, speaker|actor])",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := a.voiceModel(model)
			if err != nil {
				return err
			}
			if corpus == "" {
				return usageError{errors.New("--corpus DIR is required (a directory with labels.csv)")}
			}
			items, vecs, wins, _, err := a.loadCorpora(cmd.Context(), []string{corpus}, stranger, nil, nil)
			if err != nil {
				return err
			}
			s := m.Evaluate(items, vecs)
			if stranger {
				s = m.EvaluateStranger(items, vecs, wins)
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				return enc.Encode(s)
			}
			printScores(a.stdout, s)
			return nil
		},
	}
	cmd.Flags().StringVar(&corpus, "corpus", "", "corpus directory with labels.csv")
	cmd.Flags().StringVar(&model, "model", "", "model file (default: emotion.voice_model, else the built-in model)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object: n, ua4, wa4, arousal_acc, valence_acc, per_class, confusion")
	cmd.Flags().BoolVar(&stranger, "stranger", false, "read every recording as a patient's: no speaker baseline, the mean of its live 2 s windows")
	return cmd
}

func printScores(w io.Writer, s emotion.Scores) {
	fmt.Fprintf(w, "recordings: %d (4-class: %d, arousal: %d, valence: %d)\n", s.N, s.N4, s.NArousal, s.NValence)
	fmt.Fprintf(w, "4-class unweighted accuracy (UA): %.3f\n", s.UA4)
	fmt.Fprintf(w, "4-class weighted accuracy (WA):   %.3f\n", s.WA4)
	fmt.Fprintf(w, "arousal (high/low) accuracy:      %.3f\n", s.ArousalAcc)
	fmt.Fprintf(w, "valence (positive/negative):      %.3f\n", s.ValenceAcc)
	fmt.Fprintln(w, "recall per class:")
	for _, c := range emotion.Classes {
		if r, ok := s.PerClass[c]; ok {
			fmt.Fprintf(w, "  %-8s %.3f\n", c, r)
		}
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "confusion (rows: true, columns: predicted):")
	fmt.Fprintln(tw, "\t"+strings.Join(emotion.Classes, "\t")+"\t")
	for i, c := range emotion.Classes {
		row := []string{c}
		for j := range emotion.Classes {
			row = append(row, strconv.Itoa(s.Confusion[i][j]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
}

func (a *app) emotionAnalyzeCmd() *cobra.Command {
	var model string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "analyze FILE",
		Short: "Per-second and per-segment voice emotion of a recording (any format FFmpeg reads)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := a.voiceModel(model)
			if err != nil {
				return err
			}
			vm, err := a.vadModel()
			if err != nil {
				return err
			}
			x, err := audio.DecodeFile(args[0], features.Rate)
			if err != nil {
				return usageError{err}
			}
			tl := m.Analyze(features.NewExtractor(), vm.NewDetector(), x)
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(tl)
			}
			tw := tabwriter.NewWriter(a.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "second\tspeech\temotion\tneutral\thappy\tsad\tangry\tarousal\tvalence\tconfidence\n")
			for _, s := range tl.Seconds {
				if s.Prediction == nil {
					fmt.Fprintf(tw, "%.0f\t%.2f\t-\n", s.Start, s.Speech)
					continue
				}
				p := s.Prediction
				fmt.Fprintf(tw, "%.0f\t%.2f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%+.2f\t%+.2f\t%.2f\n", s.Start, s.Speech, p.Emotion,
					p.Probs["neutral"], p.Probs["happy"], p.Probs["sad"], p.Probs["angry"], p.Arousal, p.Valence, p.Confidence)
			}
			tw.Flush()
			fmt.Fprintf(a.stdout, "\nspeech segments (baseline: %s):\n", tl.Baseline)
			for _, s := range tl.Segments {
				fmt.Fprintf(a.stdout, "  %6.2f–%6.2f s  %-8s arousal %+.2f  valence %+.2f  confidence %.2f\n", s.Start, s.End,
					s.Emotion, s.Arousal, s.Valence, s.Confidence)
			}
			if len(tl.Segments) == 0 {
				fmt.Fprintln(a.stdout, "  none: no speech found")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model file (default: emotion.voice_model, else the built-in model)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "JSON: {seconds: [...], segments: [...], baseline}")
	return cmd
}
