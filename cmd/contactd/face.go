package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"contactd/classifier/face"
)

func (a *app) faceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "face", Short: "Face expression: evaluate on a corpus, detect faces in an image"}
	cmd.AddCommand(a.faceEvalCmd(), a.faceDetectCmd())
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
	if a.cfg.Face.Head != "none" {
		if n.Head, err = face.LoadHead(a.cfg.Face.Head); err != nil {
			return nil, err
		}
	}
	return n, nil
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
			feats, err := net.FeaturesAll(cmd.Context(), imgs, func(d int) { bar.Set(d) })
			if err != nil {
				return err
			}
			probs := make([][]float64, len(feats))
			for i, ft := range feats {
				probs[i] = net.FromFeatures(ft)
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
			det.InputSize = size
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
	cmd.Flags().IntVar(&size, "input-size", 416, "the detector's input square (a multiple of 32: 224 fast, 416 default, 608 small faces)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {width, height, faces:[{X,Y,W,H,Score}]}")
	return cmd
}
