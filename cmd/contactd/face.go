package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"contactd/classifier/face"
)

func (a *app) faceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "face", Short: "Face expression: evaluate on a corpus, detect faces in an image"}
	cmd.AddCommand(a.faceEvalCmd(), a.faceDetectCmd(), a.faceTrainCmd(), a.faceTuneCmd(), a.faceCalibrateCmd(), a.faceDetTrainCmd(), a.faceJoinCmd())
	return cmd
}

func (a *app) faceJoinCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "join --out FILE TUNED.json TUNED.json...",
		Short: "Make one expression classifier of several `face tune` runs: their predictions averaged",
		Long: `The runs must tune the same blocks (--from); the shipped blocks before them run once a
view and are shared, so each extra member costs only its own blocks. The first file's mirror
setting holds for all. A run at its own input size (--input, all four blocks its own) goes
beside them instead: it shares nothing, reads the crop at its own size and counts as one model
in the average, as the first file's ensemble does. "builtin" names the built-in classifier.
Point face.head at the result.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError{fmt.Errorf("--out is required")}
			}
			dir, err := face.ModelDir(a.cfg.Face.ModelDir)
			if err != nil {
				return err
			}
			net, err := face.LoadExpressionNet(dir)
			if err != nil {
				return err
			}
			var ts []*face.Tuned
			for _, p := range args {
				if p == "builtin" {
					if err := net.UseHead(""); err != nil {
						return err
					}
					if net.Tuned == nil {
						return fmt.Errorf("builtin: no tuned classifier is built in")
					}
					ts = append(ts, net.Tuned)
					net.Tuned = nil
					continue
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return usageError{err}
				}
				t, err := face.ParseTuned(b, p, net)
				if err != nil {
					return err
				}
				ts = append(ts, t)
			}
			j, err := face.Join(ts...)
			if err != nil {
				return err
			}
			b, err := json.Marshal(j)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d members, blocks %d–3; %d networks of their own beside (%d bytes)\n", out, 1+len(j.Also), j.From, len(j.Beside), len(b))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write")
	return cmd
}

func (a *app) expressionNet() (*face.ExpressionNet, error) {
	dir, err := face.ModelDir(a.cfg.Face.ModelDir)
	if err != nil {
		return nil, err
	}
	n, err := face.LoadExpressionNet(dir)
	if err != nil {
		return nil, err
	}
	return n, n.UseHead(a.cfg.Face.Head)
}

func (a *app) faceEvalCmd() *cobra.Command {
	var tarPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "eval --tar FILE [--json]",
		Short: "7-class accuracy, per-class recall, confusion and happy-vs-rest AUC on a tar of labelled face crops",
		Long: `FILE is a tar whose entries are <label>/<image> (JPEG or PNG, any size, grey or colour),
labels angry, disgust, fear, happy, neutral, sad, surprise (or anger, sadness, disgusted,
fearful, surprised); other labels are excluded and counted. Each image is taken as a face
crop (no detection).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tarPath == "" {
				return usageError{fmt.Errorf("--tar FILE is required")}
			}
			f, err := os.Open(tarPath)
			if err != nil {
				return usageError{err}
			}
			defer f.Close()
			samples, skipped, err := face.ReadTar(f, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", tarPath, err)
			}
			if len(samples) == 0 {
				return fmt.Errorf("%s: no images under a known label (%d entries skipped)", tarPath, skipped)
			}
			net, err := a.expressionNet()
			if err != nil {
				return err
			}
			imgs := make([]*face.Image, len(samples))
			truth := make([]string, len(samples))
			for i, s := range samples {
				imgs[i], truth[i] = s.Image, s.Label
			}
			bar := a.bar(len(imgs), "faces")
			probs, err := net.ClassifyAll(cmd.Context(), imgs, func(d int) { bar.Set(d) })
			if err != nil {
				return err
			}
			rep := face.Evaluate(probs, truth)
			w := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(w).Encode(rep)
			}
			fmt.Fprintf(w, "n %d (skipped %d entries of other labels)\n7-class accuracy %.3f\nhappy-vs-rest AUC %.3f\n\n", rep.N, skipped, rep.Accuracy, rep.HappyAUC)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprint(tw, "true \\ predicted\t")
			for _, l := range rep.Labels {
				fmt.Fprintf(tw, "%s\t", l)
			}
			fmt.Fprint(tw, "recall\t\n")
			for i, l := range rep.Labels {
				fmt.Fprintf(tw, "%s\t", l)
				for _, c := range rep.Confusion[i] {
					fmt.Fprintf(tw, "%d\t", c)
				}
				fmt.Fprintf(tw, "%.3f\t\n", rep.PerClass[l])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&tarPath, "tar", "", "tar of <label>/<image> face crops")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {n, accuracy, per_class, confusion, happy_auc}")
	return cmd
}

func (a *app) faceDetectCmd() *cobra.Command {
	var size int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "detect IMAGE",
		Short: "Print the faces found in an image (JPEG or PNG): box in pixels and score, best first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return usageError{err}
			}
			defer f.Close()
			img, err := face.Decode(f)
			if err != nil {
				return fmt.Errorf("%s: not a JPEG or PNG image: %w", args[0], err)
			}
			dir, err := face.ModelDir(a.cfg.Face.ModelDir)
			if err != nil {
				return err
			}
			det, err := face.LoadDetector(dir)
			if err != nil {
				return err
			}
			if err := det.UseHead(a.cfg.Face.DetectorHead); err != nil {
				return err
			}
			if size != 0 && (size < 64 || size > 1024 || size%32 != 0) {
				return usageError{fmt.Errorf("--input-size %d: want a multiple of 32 from 64 to 1024", size)}
			}
			if size > 0 {
				det.Scales, det.InputSize = nil, size
			} else if len(det.Scales) == 0 {
				det.InputSize = 416
			}
			boxes := det.Detect(img)
			w := cmd.OutOrStdout()
			if asJSON {
				if boxes == nil {
					boxes = []face.Box{}
				}
				return json.NewEncoder(w).Encode(map[string]any{"width": img.W, "height": img.H, "faces": boxes})
			}
			fmt.Fprintf(w, "%s: %d×%d, %d face(s)\n", args[0], img.W, img.H, len(boxes))
			for _, b := range boxes {
				fmt.Fprintf(w, "x %4.0f  y %4.0f  w %4.0f  h %4.0f  score %.3f\n", b.X, b.Y, b.W, b.H, b.Score)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&size, "input-size", 0, "one input square for the detector (a multiple of 32: 224 fast, 608 small faces); 0: the sizes that go with face.detector_head (416 for none)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {width, height, faces:[{X,Y,W,H,Score}]}")
	return cmd
}

func (a *app) faceTrainCmd() *cobra.Command {
	var tarPath, out, validation, cache string
	cfg := face.DefaultTrainConfig
	var mirror bool
	cmd := &cobra.Command{
		Use:   "train --tar FILE --out HEAD.json",
		Short: "Train an expression head on the network's feature map (seeded, reproducible)",
		Long: `Trains a classifier on the expression network's last feature map, pooled over a
grid, from a tar of <label>/<image> face crops (as face eval reads). With --mirror the
mirrored crops are added to the training set and averaged in at prediction.
--validation reports the head on another tar (for choosing settings: never train on it).
Point face.head at the file to use it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tarPath == "" || out == "" {
				return usageError{fmt.Errorf("--tar and --out are required")}
			}
			dir, err := face.ModelDir(a.cfg.Face.ModelDir)
			if err != nil {
				return err
			}
			net, err := face.LoadExpressionNet(dir)
			if err != nil {
				return err
			}
			x, y, err := a.faceFeatures(cmd, net, tarPath, cfg.Grid, mirror, cache)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "training on %d crops (grid %d, %d features, hidden %d)\n", len(x), cfg.Grid, len(x[0]), cfg.Hidden)
			head := face.TrainHead(x, y, cfg, func(ep int, loss float64) {
				fmt.Fprintf(w, "epoch %d: loss %.4f\n", ep, loss)
			})
			head.Mirror = mirror
			head.Trained = fmt.Sprintf("%s: %d crops%s; grid %d, hidden %d, %d epochs, lr %g, l2 %g, dropout %g, seed %d",
				filepath.Base(tarPath), len(x), map[bool]string{true: " and their mirror images", false: ""}[mirror],
				cfg.Grid, cfg.Hidden, cfg.Epochs, cfg.LR, cfg.L2, cfg.Dropout, cfg.Seed)
			b, err := json.Marshal(head)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(w, "wrote %s (%d bytes)\n", out, len(b))
			if validation == "" {
				return nil
			}
			vf, err := os.Open(validation)
			if err != nil {
				return err
			}
			defer vf.Close()
			samples, _, err := face.ReadTar(vf, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", validation, err)
			}
			net.Head = head
			imgs, truth := make([]*face.Image, len(samples)), make([]string, len(samples))
			for i, s := range samples {
				imgs[i], truth[i] = s.Image, s.Label
			}
			probs, err := net.ClassifyAll(cmd.Context(), imgs, nil)
			if err != nil {
				return err
			}
			rep := face.Evaluate(probs, truth)
			fmt.Fprintf(w, "%s: n %d, 7-class accuracy %.3f, happy AUC %.3f, recall %v\n", filepath.Base(validation), rep.N, rep.Accuracy, rep.HappyAUC, rep.PerClass)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tarPath, "tar", "", "training tar of <label>/<image> face crops")
	f.StringVar(&out, "out", "", "head file to write")
	f.StringVar(&validation, "validation", "", "a tar to report the trained head on (not trained on)")
	f.StringVar(&cache, "cache", "", "directory to keep the computed features in, for re-runs with other settings")
	f.BoolVar(&mirror, "mirror", true, "train on mirrored crops too, and average them in at prediction")
	f.IntVar(&cfg.Grid, "grid", cfg.Grid, "pooling grid of the 7×7 feature map: 1, 2, 3 or 7")
	f.IntVar(&cfg.Hidden, "hidden", cfg.Hidden, "hidden units (0: linear)")
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam step size")
	f.Float64Var(&cfg.L2, "l2", cfg.L2, "weight decay")
	f.Float64Var(&cfg.Dropout, "dropout", cfg.Dropout, "input dropout")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	return cmd
}

// faceFeatures reads a tar and pools every crop's feature map (and its
// mirror image's), cached in dir when set.
func (a *app) faceFeatures(cmd *cobra.Command, net *face.ExpressionNet, tarPath string, grid int, mirror bool, dir string) ([][]float32, []int, error) {
	key := ""
	if dir != "" {
		st, err := os.Stat(tarPath)
		if err != nil {
			return nil, nil, err
		}
		key = filepath.Join(dir, fmt.Sprintf("%s-%d-g%d-m%v.bin", filepath.Base(tarPath), st.Size(), grid, mirror))
		if x, y, err := readFeatures(key); err == nil {
			return x, y, nil
		}
	}
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, nil, usageError{err}
	}
	defer f.Close()
	samples, _, err := face.ReadTar(f, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", tarPath, err)
	}
	var imgs []*face.Image
	var y []int
	for _, s := range samples {
		imgs = append(imgs, s.Image)
		y = append(y, slices.Index(face.Labels, s.Label))
		if mirror {
			imgs = append(imgs, s.Image.Mirror())
			y = append(y, slices.Index(face.Labels, s.Label))
		}
	}
	bar := a.bar(len(imgs), "feature maps")
	x, err := net.FeatureMapsAll(cmd.Context(), imgs, grid, func(d int) { bar.Set(d) })
	if err != nil {
		return nil, nil, err
	}
	if key != "" {
		os.MkdirAll(dir, 0o755)
		if err := writeFeatures(key, x, y); err != nil {
			return nil, nil, err
		}
	}
	return x, y, nil
}

func writeFeatures(path string, x [][]float32, y []int) error {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(x)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x[0])))
	for i, v := range x {
		b = binary.LittleEndian.AppendUint32(b, uint32(y[i]))
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	return os.WriteFile(path, b, 0o644)
}

func readFeatures(path string) ([][]float32, []int, error) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 8 {
		return nil, nil, fmt.Errorf("no cache")
	}
	n, d := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
	if len(b) != 8+n*(d+1)*4 {
		return nil, nil, fmt.Errorf("%s: truncated", path)
	}
	x, y := make([][]float32, n), make([]int, n)
	off := 8
	for i := range x {
		y[i] = int(binary.LittleEndian.Uint32(b[off:]))
		off += 4
		x[i] = make([]float32, d)
		for j := range x[i] {
			x[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))
			off += 4
		}
	}
	return x, y, nil
}

func (a *app) faceTuneCmd() *cobra.Command {
	var tarPath, out, validation, start string
	var images bool
	cfg := face.DefaultTuneConfig
	jit := face.DefaultJitter
	cmd := &cobra.Command{
		Use:   "tune --tar FILE --out TUNED.json",
		Short: "Fine-tune the expression network's last dense block and classifier on a face corpus (seeded)",
		Long: `Fine-tunes the last of the expression network's four dense blocks and its classifier
on a tar of <label>/<image> face crops (and their mirror images), starting from the shipped
weights; the first three blocks stay as shipped. --validation reports each epoch on another
tar, and the file keeps the epoch that scored best there (validation chooses, it is never
trained on). Point face.head at the file to use it.

--images tunes on the crops themselves, each drawn anew every epoch through a random turn,
scaling, move, mirror, contrast and brightness (--rotate, --scale, --move, --contrast,
--bright): the frozen blocks run on every sample instead of once; with --images, --from 0
tunes all four blocks. --start continues from an earlier tuning ("builtin" for the built-in
one) instead of the shipped weights. --average N keeps the mean of the weights from epoch N
on (--average-every snapshots an epoch) and writes that mean after the last epoch, whatever
--validation says of it. --scratch (with --images --from 0) starts from random weights instead:
a network of the same architecture but its own, which --input N draws the crops for at N×N
(FER2013's own 48 costs a fifth of a 112 view); "face join" puts it beside the built-in one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tarPath == "" || out == "" {
				return usageError{fmt.Errorf("--tar and --out are required")}
			}
			dir, err := face.ModelDir(a.cfg.Face.ModelDir)
			if err != nil {
				return err
			}
			net, err := face.LoadExpressionNet(dir)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			load := func(path string, mirror bool) ([]*face.Image, []int, error) {
				f, err := os.Open(path)
				if err != nil {
					return nil, nil, usageError{err}
				}
				defer f.Close()
				samples, _, err := face.ReadTar(f, nil)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", path, err)
				}
				var imgs []*face.Image
				var y []int
				for _, s := range samples {
					imgs = append(imgs, s.Image)
					y = append(y, slices.Index(face.Labels, s.Label))
					if mirror {
						imgs = append(imgs, s.Image.Mirror())
						y = append(y, slices.Index(face.Labels, s.Label))
					}
				}
				return imgs, y, nil
			}
			switch start {
			case "":
			case "builtin":
				if err := net.UseHead(""); err != nil {
					return err
				}
				if cfg.Start = net.Tuned; cfg.Start == nil {
					return fmt.Errorf("--start builtin: no tuned classifier is built in")
				}
				net.Tuned = nil
			default:
				b, err := os.ReadFile(start)
				if err != nil {
					return usageError{err}
				}
				if cfg.Start, err = face.ParseTuned(b, start, net); err != nil {
					return err
				}
			}
			if cfg.From < 0 || cfg.From > 3 || (cfg.From == 0 && !images) {
				return usageError{fmt.Errorf("--from %d: want 1 to 3, or 0 with --images", cfg.From)}
			}
			own := cfg.Input > 0 && cfg.Input != 112
			switch {
			case own && (!images || cfg.From != 0):
				return usageError{fmt.Errorf("--input %d: a network at its own input size is tuned on the crops (--images) with all four blocks (--from 0)", cfg.Input)}
			case own && cfg.Input < 16 || cfg.Input > 224:
				return usageError{fmt.Errorf("--input %d: want 16 to 224", cfg.Input)}
			case cfg.Scratch && (cfg.Start != nil || !images || cfg.From != 0):
				return usageError{fmt.Errorf("--scratch: all four blocks from random weights: give --images --from 0 and no --start")}
			case own && !cfg.Scratch && cfg.Start == nil:
				return usageError{fmt.Errorf("--input %d: the shipped weights are for 112; give --scratch or --start a tuning at %d", cfg.Input, cfg.Input)}
			}
			if cfg.Start != nil && cfg.Start.From < cfg.From {
				return usageError{fmt.Errorf("--start %s tunes from block %d: give --from %d or less", start, cfg.Start.From, cfg.Start.From)}
			}
			imgs, y, err := load(tarPath, !images)
			if err != nil {
				return err
			}
			var maps []*face.DenseMap
			if !images {
				bar := a.bar(len(imgs), "frozen blocks")
				maps, err = net.DenseAll(cmd.Context(), imgs, cfg.From, func(d int) { bar.Set(d) })
				if err != nil {
					return err
				}
			}
			var vmaps []*face.DenseMap
			var vy []int
			var ownVal []*face.Image
			var ownTruth []string
			if validation != "" && own {
				vimgs, vlab, err := load(validation, false)
				if err != nil {
					return err
				}
				ownVal = vimgs
				for _, l := range vlab {
					ownTruth = append(ownTruth, face.Labels[l])
				}
			} else if validation != "" {
				vimgs, vlab, err := load(validation, true)
				if err != nil {
					return err
				}
				vm, err := net.DenseAll(cmd.Context(), vimgs, cfg.From, nil)
				if err != nil {
					return err
				}
				vmaps, vy = vm, vlab
			}
			provenance := fmt.Sprintf("%s: %d crops and their mirror images; dense blocks %d–3 and classifier fine-tuned %%d of %d epochs, lr %g (cosine %v), l2 %g, batch %d, shift %d, erase %g, mixup %g, smooth %g, seed %d",
				filepath.Base(tarPath), len(imgs)/2, cfg.From, cfg.Epochs, cfg.LR, cfg.Cosine, cfg.L2, cfg.Batch, cfg.Shift, cfg.Erase, cfg.Mixup, cfg.Smooth, cfg.Seed)
			if images {
				cfg.Jitter = jit
				fmt.Fprintf(w, "fine-tuning on %d crops, drawn anew each epoch (turn ±%g°, scale ±%g, move ±%g, mirror %v, contrast ±%g, brightness ±%g), %d epochs\n",
					len(imgs), jit.Rotate, jit.Scale, jit.Move, jit.Flip, jit.Contrast, jit.Bright, cfg.Epochs)
				provenance = fmt.Sprintf("%s: %d crops, each drawn anew every epoch (turn ±%g°, scale ±%g, move ±%g, mirror %v, contrast ±%g, brightness ±%g); dense blocks %d–3 and classifier fine-tuned %%d of %d epochs, lr %g (cosine %v), l2 %g, batch %d, mixup %g, smooth %g, seed %d",
					filepath.Base(tarPath), len(imgs), jit.Rotate, jit.Scale, jit.Move, jit.Flip, jit.Contrast, jit.Bright, cfg.From, cfg.Epochs, cfg.LR, cfg.Cosine, cfg.L2, cfg.Batch, cfg.Mixup, cfg.Smooth, cfg.Seed)
			} else {
				fmt.Fprintf(w, "fine-tuning on %d crops (with mirror images), %d epochs\n", len(maps), cfg.Epochs)
			}
			if own {
				provenance += fmt.Sprintf("; drawn at %d×%d", cfg.Input, cfg.Input)
			}
			if cfg.Scratch {
				provenance += "; all four blocks from random weights"
			}
			if cfg.Start != nil {
				provenance += fmt.Sprintf("; started from %q", cfg.Start.Trained)
			}
			var bar progress = noBar{}
			cfg.Progress = func(d int) { bar.Set(d) }
			newBar := func(ep int) { bar = a.bar(len(imgs), fmt.Sprintf("epoch %d", ep)) }
			newBar(1)
			began := time.Now()
			bestAcc, bestEp := -1.0, 0
			var best []byte
			save := func(t *face.Tuned, ep int) error {
				t.Mirror, t.Trained = true, fmt.Sprintf(provenance, ep)
				b, err := json.Marshal(t)
				if err != nil {
					return err
				}
				best = b
				return os.WriteFile(out, b, 0o644)
			}
			var saveErr error
			run := func(epoch func(t *face.Tuned, ep int, loss float64) bool) error {
				if images {
					_, err := face.TuneImages(cmd.Context(), net, imgs, y, cfg, epoch)
					return err
				}
				_, err := face.Tune(cmd.Context(), net, maps, y, cfg, epoch)
				return err
			}
			validate := func(t *face.Tuned) face.Report {
				if own {
					t.Mirror = true
					probs, err := t.ClassifyOwnAll(cmd.Context(), ownVal)
					if err != nil {
						return face.Report{}
					}
					return face.Evaluate(probs, ownTruth)
				}
				var probs [][]float64
				var truth []string
				for i := 0; i+1 < len(vmaps); i += 2 {
					probs = append(probs, t.PredictMaps(vmaps[i], vmaps[i+1]))
					truth = append(truth, face.Labels[vy[i]])
				}
				return face.Evaluate(probs, truth)
			}
			if cfg.Average > 0 {
				// The mean of the weights after the last epoch is the result,
				// whatever validation says of it: nothing is chosen.
				provenance = strings.Replace(provenance, "fine-tuned %d of", fmt.Sprintf("fine-tuned with the weights averaged from epoch %d on (%d snapshots an epoch), %%d of", cfg.Average, max(1, cfg.AverageEvery)), 1)
				cfg.Averaged = func(t *face.Tuned, ep int) bool {
					if len(vmaps) > 0 || len(ownVal) > 0 {
						rep := validate(t)
						fmt.Fprintf(w, "epoch %d, weights averaged: %s: accuracy %.4f, happy AUC %.4f\n", ep, filepath.Base(validation), rep.Accuracy, rep.HappyAUC)
					}
					bestEp = ep
					saveErr = save(t, ep)
					return saveErr == nil
				}
			}
			err = run(func(t *face.Tuned, ep int, loss float64) bool {
				defer newBar(ep + 1)
				if cfg.Average > 0 && ep >= cfg.Average {
					if len(vmaps) > 0 || len(ownVal) > 0 {
						rep := validate(t)
						fmt.Fprintf(w, "epoch %d: loss %.4f; %s: accuracy %.4f, happy AUC %.4f (%s)\n", ep, loss, filepath.Base(validation), rep.Accuracy, rep.HappyAUC, time.Since(began).Round(time.Second))
					} else {
						fmt.Fprintf(w, "epoch %d: loss %.4f (%s)\n", ep, loss, time.Since(began).Round(time.Second))
					}
					return true
				}
				if len(vmaps) == 0 && len(ownVal) == 0 {
					fmt.Fprintf(w, "epoch %d: loss %.4f (%s)\n", ep, loss, time.Since(began).Round(time.Second))
					saveErr = save(t, ep)
					return saveErr == nil
				}
				rep := validate(t)
				fmt.Fprintf(w, "epoch %d: loss %.4f; %s: accuracy %.4f, happy AUC %.4f (%s)\n", ep, loss, filepath.Base(validation), rep.Accuracy, rep.HappyAUC, time.Since(began).Round(time.Second))
				if rep.Accuracy > bestAcc {
					bestAcc, bestEp = rep.Accuracy, ep
					saveErr = save(t, ep)
				}
				return saveErr == nil
			})
			if err != nil {
				return err
			}
			if saveErr != nil {
				return saveErr
			}
			fmt.Fprintf(w, "wrote %s (%d bytes; epoch %d)\n", out, len(best), bestEp)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tarPath, "tar", "", "training tar of <label>/<image> face crops")
	f.StringVar(&out, "out", "", "file to write")
	f.StringVar(&validation, "validation", "", "a tar to choose the epoch on (never trained on)")
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	f.IntVar(&cfg.From, "from", cfg.From, "first block to tune: 3 (the last), 2 (the last two), 1 (the last three; ~12 GB of cached maps for FER2013 without --images) or 0 (all four, the image's own convolution too; --images only)")
	f.IntVar(&cfg.Shift, "shift", cfg.Shift, "augmentation: move each cached map by up to this many cells each way, drawn every epoch")
	f.Float64Var(&cfg.Erase, "erase", cfg.Erase, "augmentation: zero a random square of up to this share of the map's side")
	f.Float64Var(&cfg.Mixup, "mixup", cfg.Mixup, "augmentation: mix crops and labels with a Beta(a, a) weight (0: off; 0.2 is usual)")
	f.Float64Var(&cfg.Smooth, "smooth", cfg.Smooth, "label smoothing")
	f.BoolVar(&cfg.Cosine, "cosine", cfg.Cosine, "decay the step size to zero over the epochs (half a cosine)")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam step size")
	f.Float64Var(&cfg.L2, "l2", cfg.L2, "weight decay")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "minibatch size")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	f.BoolVar(&images, "images", false, "tune on the crops themselves, jittered anew every epoch (the frozen blocks run every epoch)")
	f.StringVar(&start, "start", "", `continue from a file of "face tune" ("builtin": the built-in one) instead of the shipped weights`)
	f.Float64Var(&jit.Rotate, "rotate", jit.Rotate, "--images: turn each crop by up to this many degrees each way")
	f.Float64Var(&jit.Scale, "scale", jit.Scale, "--images: scale each crop by up to this share each way")
	f.Float64Var(&jit.Move, "move", jit.Move, "--images: move each crop by up to this share of its side each way")
	f.Float64Var(&jit.Contrast, "contrast", jit.Contrast, "--images: change contrast by up to this share each way")
	f.Float64Var(&jit.Bright, "bright", jit.Bright, "--images: change brightness by up to this many grey levels each way")
	f.BoolVar(&jit.Flip, "flip", jit.Flip, "--images: mirror half the crops")
	f.IntVar(&cfg.Average, "average", 0, "average the weights from this epoch on (stochastic weight averaging; best with --cosine=false): the file is the mean after the last epoch, nothing chosen on --validation")
	f.IntVar(&cfg.AverageEvery, "average-every", 4, "--average: snapshots of the weights an epoch")
	f.IntVar(&cfg.Input, "input", 0, "--images --from 0: draw the crops at this side instead of the shipped network's 112 (with --scratch, or --start a tuning at that side)")
	f.BoolVar(&cfg.Scratch, "scratch", false, "--images --from 0: start all four blocks from random weights instead of the shipped ones")
	return cmd
}

func (a *app) faceCalibrateCmd() *cobra.Command {
	var tarPath string
	var frames int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "calibrate --tar FILE",
		Short: "Measure the detector on 640×480 scenes composed from a tar's faces: crop convention, recall and false positives by threshold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := os.Open(tarPath)
			if err != nil {
				return usageError{err}
			}
			defer f.Close()
			samples, _, err := face.ReadTar(f, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", tarPath, err)
			}
			var crops []*face.Image
			for _, s := range samples {
				crops = append(crops, s.Image)
			}
			dir, err := face.ModelDir(a.cfg.Face.ModelDir)
			if err != nil {
				return err
			}
			det, err := face.LoadDetector(dir)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			det.UseHead("none")
			det.BoxScale, det.BoxShift = 1, 0
			det.Scales = face.SceneScales
			det.ScoreThreshold = 0.2
			scale, shift, n := face.Calibrate(det, crops, frames, 640, 480, 60, 220, seed)
			fmt.Fprintf(w, "%d faces matched: face/box size %.3f, centre shift %.3f box heights\n", n, scale, shift)
			det.BoxScale, det.BoxShift = scale, shift
			for _, th := range []float64{0.15, 0.2, 0.25, 0.3, 0.4, 0.5} {
				det.ScoreThreshold = th
				r := face.EvaluateDetector(det, crops, frames, 640, 480, 60, 220, seed+1)
				fmt.Fprintf(w, "threshold %.2f: recall %.3f, %.3f false positives a frame, mean IoU %.3f\n", th, r.Recall, r.FPPerFrame, r.MeanIoU)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tarPath, "tar", "", "tar of <label>/<image> face crops (a training set: never the one you evaluate on)")
	cmd.Flags().IntVar(&frames, "frames", 300, "scenes to compose")
	cmd.Flags().Uint64Var(&seed, "seed", 7, "random seed")
	return cmd
}

func (a *app) faceDetTrainCmd() *cobra.Command {
	var tarPath, out, validation string
	var frames int
	var maxFP float64
	cfg := face.DefaultHeadConfig
	cmd := &cobra.Command{
		Use:   "dettrain --tar FILE --out HEAD.json",
		Short: "Retrain the face detector's last layer on scenes composed from a tar's faces (seeded)",
		Long: `Retrains the detector's head (its last 1×1 layer; the backbone stays as shipped) on
640×480 scenes composed from nine tenths of a tar's face crops, with non-faces pasted beside
them (upside-down and tile-shuffled faces, noise) so that the head learns faces, not pasted
rectangles. Its boxes are then crops as the corpus cuts them. The score threshold and the
input sizes to run at are chosen on scenes of the tar's other tenth (never trained on), at
most --max-fp false positives a frame. --validation reports the result on scenes of another
tar. Point face.detector_head at the file to use it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tarPath == "" || out == "" {
				return usageError{fmt.Errorf("--tar and --out are required")}
			}
			crops, err := readCrops(tarPath)
			if err != nil {
				return err
			}
			if len(crops) < 20 {
				return usageError{fmt.Errorf("%s: %d crops (want at least 20)", tarPath, len(crops))}
			}
			dir, err := face.ModelDir(a.cfg.Face.ModelDir)
			if err != nil {
				return err
			}
			det, err := face.LoadDetector(dir)
			if err != nil {
				return err
			}
			// Every tenth crop is held out to choose the threshold and sizes.
			var train, held []*face.Image
			for i, c := range crops {
				if i%10 == 9 {
					held = append(held, c)
				} else {
					train = append(train, c)
				}
			}
			w := cmd.OutOrStdout()
			var bar progress = noBar{}
			stage := ""
			cfg.Progress = func(s string, done, total int) {
				if s != stage {
					bar, stage = a.bar(total, s), s
				}
				bar.Set(done)
			}
			cfg.Epoch = func(ep int, loss float64) {
				fmt.Fprintf(w, "epoch %d of %d: loss %.4f a scene\n", ep, cfg.Epochs, loss)
			}
			fmt.Fprintf(w, "training the detector head on %d scenes of %d faces (%d held out)\n", cfg.Scenes, len(train), len(held))
			h, err := det.TrainHead(cmd.Context(), train, cfg)
			if err != nil {
				return err
			}
			bestRecall := -1.0
			var best face.DetectorHead
			for _, scales := range [][]int{{416}, {320, 608}, {224, 416, 608}, {224, 320, 416, 608}} {
				c := *h
				c.Scales = scales
				r := det.ChooseHeadThreshold(&c, held, frames, maxFP, cfg.Seed+1)
				fmt.Fprintf(w, "held-out faces, sizes %v: threshold %.2f, recall %.3f, %.3f false positives a frame, mean IoU %.3f\n", scales, c.Threshold, r.Recall, r.FPPerFrame, r.MeanIoU)
				// A larger set of sizes must earn its time: half a point of recall.
				if r.Recall > bestRecall+0.005 {
					bestRecall, best = r.Recall, c
				}
			}
			best.Trained += fmt.Sprintf("; threshold %.2f and sizes %v chosen on scenes of the held-out tenth of the faces (seed %d, %d frames): the lowest threshold at ≤ %g false positives a frame",
				best.Threshold, best.Scales, cfg.Seed+1, frames, maxFP)
			b, err := json.Marshal(&best)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(w, "wrote %s (%d bytes): sizes %v, threshold %.2f\n", out, len(b), best.Scales, best.Threshold)
			if validation != "" {
				vc, err := readCrops(validation)
				if err != nil {
					return err
				}
				det.UseHead(out)
				r := face.EvaluateDetector(det, vc, frames, 640, 480, 60, 220, cfg.Seed+2)
				fmt.Fprintf(w, "%s scenes: recall %.3f, %.3f false positives a frame, mean IoU %.3f\n", filepath.Base(validation), r.Recall, r.FPPerFrame, r.MeanIoU)
				if err := det.UseHead("none"); err == nil {
					r = face.EvaluateDetector(det, vc, frames, 640, 480, 60, 220, cfg.Seed+2)
					fmt.Fprintf(w, "%s scenes, the shipped head: recall %.3f, %.3f false positives a frame, mean IoU %.3f\n", filepath.Base(validation), r.Recall, r.FPPerFrame, r.MeanIoU)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tarPath, "tar", "", "tar of <label>/<image> face crops to compose training scenes from")
	f.StringVar(&out, "out", "", "head file to write")
	f.StringVar(&validation, "validation", "", "a tar to report the head on (never trained on)")
	f.IntVar(&cfg.Scenes, "scenes", cfg.Scenes, "training scenes")
	f.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam step size (cosine decay)")
	f.Float64Var(&cfg.NoObj, "noobj", cfg.NoObj, "weight of the score loss away from faces")
	f.BoolVar(&cfg.Decoys, "decoys", cfg.Decoys, "paste non-faces beside the faces")
	f.IntVar(&cfg.Hidden, "hidden", cfg.Hidden, "units of the head's non-linear correction (0: a linear head, as shipped)")
	f.IntVar(&frames, "frames", 300, "scenes to choose the threshold on and to report")
	f.Float64Var(&maxFP, "max-fp", 0.06, "false positives a frame allowed when choosing the threshold (the target is 0.1: the rest is margin for other faces)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed")
	return cmd
}

func readCrops(path string) ([]*face.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	samples, _, err := face.ReadTar(f, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	crops := make([]*face.Image, len(samples))
	for i, s := range samples {
		crops[i] = s.Image
	}
	return crops, nil
}
