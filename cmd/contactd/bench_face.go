package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"contactd/classifier/face"
)

func (a *app) benchFaceCmd() *cobra.Command {
	var tarPath, ref string
	var crops, frames int
	cmd := &cobra.Command{
		Use:   "face --tar FILE",
		Short: "Face path speed on one core beside @vladmandic/face-api on tfjs wasm (one thread), same crops and frames",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			runtime.GOMAXPROCS(1)
			f, err := os.Open(tarPath)
			if err != nil {
				return usageError{err}
			}
			samples, _, err := face.ReadTar(f, nil)
			f.Close()
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(5, 6))
			var imgs []*face.Image
			for i := 0; i < crops && len(samples) > 0; i++ {
				imgs = append(imgs, samples[rng.IntN(len(samples))].Image)
			}
			var scenes []*face.Image
			for i := 0; i < frames; i++ {
				scenes = append(scenes, face.Compose(rng, 320, 240, []*face.Image{imgs[i%len(imgs)]}, 80, 160).Image)
			}
			dir, err := face.ModelDir(a.cfg.Face.ModelDir)
			if err != nil {
				return err
			}
			net, err := face.LoadExpressionNet(dir)
			if err != nil {
				return err
			}
			det, err := face.LoadDetector(dir)
			if err != nil {
				return err
			}
			det.InputSize = 224
			w := cmd.OutOrStdout()
			rate := func(n int, fn func(i int)) float64 {
				fn(0) // warm-up
				t0 := time.Now()
				for i := 0; i < n; i++ {
					fn(i)
				}
				return float64(n) / time.Since(t0).Seconds()
			}
			goExpr := rate(len(imgs), func(i int) { net.Classify(imgs[i%len(imgs)]) })
			if err := net.UseHead(a.cfg.Face.Head); err != nil {
				return err
			}
			goTuned := rate(len(imgs), func(i int) { net.Classify(imgs[i%len(imgs)]) })
			goDet := rate(len(scenes), func(i int) { det.Detect(scenes[i%len(scenes)]) })
			tmp, err := os.MkdirTemp("", "contactd-bench-face")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			write := func(name string, ms []*face.Image) string {
				var b []byte
				for _, m := range ms {
					b = binary.LittleEndian.AppendUint32(b, uint32(m.W))
					b = binary.LittleEndian.AppendUint32(b, uint32(m.H))
					b = binary.LittleEndian.AppendUint32(b, uint32(m.C))
					b = append(b, m.Pix...)
				}
				p := filepath.Join(tmp, name)
				os.WriteFile(p, b, 0o644)
				return p
			}
			node := func(args ...string) (float64, error) {
				c := exec.Command("node", append([]string{"faceref.js"}, args...)...)
				c.Dir, c.Env = ref, append(os.Environ(), "WASM_THREADS=1")
				out, err := c.Output()
				if err != nil {
					return 0, fmt.Errorf("tools/faceref %s: %w", strings.Join(args, " "), err)
				}
				var r struct {
					Results []struct {
						PerSecond float64 `json:"per_second"`
					}
				}
				if err := json.Unmarshal(out, &r); err != nil || len(r.Results) == 0 {
					return 0, fmt.Errorf("tools/faceref: %v", err)
				}
				return r.Results[0].PerSecond, nil
			}
			nodeExpr, err := node("bench-expression", write("crops.bin", imgs), "1")
			if err != nil {
				return err
			}
			nodeDet, err := node("bench-detect", write("frames.bin", scenes), "224", "1")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "one core; %d FER2013 crops, %d composed 320×240 frames\n", len(imgs), len(scenes))
			fmt.Fprintf(w, "%-52s %10s %10s %8s\n", "", "contactd", "face-api", "ratio")
			fmt.Fprintf(w, "%-52s %10.1f %10.1f %7.2f×\n", "expression, faces/s (the shipped network)", goExpr, nodeExpr, goExpr/nodeExpr)
			fmt.Fprintf(w, "%-52s %10.1f %10s\n", "expression, faces/s (face.head in use, with mirror)", goTuned, "—")
			fmt.Fprintf(w, "%-52s %10.1f %10.1f %7.2f×\n", "detection at input 224, frames/s", goDet, nodeDet, goDet/nodeDet)
			return nil
		},
	}
	cmd.Flags().StringVar(&tarPath, "tar", "../shared/datasets/fer2013/validation.tar", "tar of face crops")
	cmd.Flags().StringVar(&ref, "faceref", "tools/faceref", "the face-api reference harness (scripts/setup.sh installs it)")
	cmd.Flags().IntVar(&crops, "crops", 400, "crops to classify")
	cmd.Flags().IntVar(&frames, "frames", 100, "frames to search")
	return cmd
}
