package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/spf13/cobra"

	"contactd/classifier/face"
	"contactd/classifier/vision"
)

// benchVP8Decode encodes the frames to VP8 (keyframe every 2 s at 4 fps,
// as a desk camera's stream is looked at) and returns how many frames a
// second the live decoder turns back into pictures, on this core.
func benchVP8Decode(dir string, frames []*face.Image) (float64, error) {
	raw := filepath.Join(dir, "frames.rgb")
	var b []byte
	for _, f := range frames {
		b = append(b, f.Pix...)
	}
	if err := os.WriteFile(raw, b, 0o644); err != nil {
		return 0, err
	}
	ivf := filepath.Join(dir, "frames.ivf")
	size := fmt.Sprintf("%dx%d", frames[0].W, frames[0].H)
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", "4", "-i", raw,
		"-c:v", "libvpx", "-b:v", "300k", "-g", "8", ivf).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("ffmpeg VP8: %v %s", err, out)
	}
	f, err := os.Open(ivf)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		return 0, err
	}
	var pkts [][]byte
	for {
		p, _, err := r.ParseNextFrame()
		if err != nil {
			break
		}
		pkts = append(pkts, p)
	}
	if len(pkts) == 0 {
		return 0, errors.New("no VP8 frames")
	}
	const rounds = 5
	t0 := time.Now()
	for range rounds {
		dec, err := vision.NewDecoder("vp8", frames[0].W)
		if err != nil {
			return 0, err
		}
		for _, p := range pkts {
			if _, err := dec.Decode(p, true); err != nil {
				dec.Close()
				return 0, err
			}
		}
		dec.Close()
	}
	return float64(rounds*len(pkts)) / time.Since(t0).Seconds(), nil
}

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
			if err := det.UseHead(a.cfg.Face.DetectorHead); err != nil {
				return err
			}
			det.Scales, det.InputSize = nil, 224
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
			decode, err := benchVP8Decode(tmp, scenes)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "one core; %d FER2013 crops, %d composed 320×240 frames\n", len(imgs), len(scenes))
			fmt.Fprintf(w, "%-52s %10s %10s %8s\n", "", "contactd", "face-api", "ratio")
			fmt.Fprintf(w, "%-52s %10.1f %10.1f %7.2f×\n", "expression, faces/s (the shipped network)", goExpr, nodeExpr, goExpr/nodeExpr)
			fmt.Fprintf(w, "%-52s %10.1f %10.1f %7.2f×\n", "expression, faces/s (face.head in use, as live)", goTuned, nodeExpr, goTuned/nodeExpr)
			fmt.Fprintf(w, "%-52s %10.1f %10.1f %7.2f×\n", "detection at input 224, frames/s", goDet, nodeDet, goDet/nodeDet)
			a.row(benchRow{What: "face expression (shipped network), faces/s on one core", Ours: fmt.Sprintf("%.0f", goExpr),
				Baseline: fmt.Sprintf("%.0f: face-api, tfjs wasm, one thread", nodeExpr), Ratio: fmt.Sprintf("%.2f×", goExpr/nodeExpr), Target: "≥ 1×", Met: met(goExpr >= nodeExpr)})
			a.row(benchRow{What: "face expression as used live (face.head: the tuned classifier, its views and networks), faces/s on one core", Ours: fmt.Sprintf("%.0f", goTuned),
				Baseline: fmt.Sprintf("%.0f: face-api, tfjs wasm, one thread", nodeExpr), Ratio: fmt.Sprintf("%.2f×", goTuned/nodeExpr), Target: "≥ 1×", Met: met(goTuned >= nodeExpr)})
			// A looked-at frame costs its decoding, the detector and one classification.
			perFrame := 1 / (1/goDet + 1/goTuned)
			fmt.Fprintf(w, "%-52s %10.1f %10.1f %7.2f×\n", "face path per frame vs VP8 decoding only, frames/s", perFrame, decode, perFrame/decode)
			a.row(benchRow{What: "face path per looked-at 320×240 frame (detection + tuned expression), frames/s on one core", Ours: fmt.Sprintf("%.0f", perFrame),
				Baseline: fmt.Sprintf("%.0f: VP8 decoding of the same frames only", decode), Ratio: fmt.Sprintf("%.1f× decoding's cost", decode/perFrame)})
			a.row(benchRow{What: "face detection at input 224 on 320×240 frames, frames/s on one core", Ours: fmt.Sprintf("%.0f", goDet),
				Baseline: fmt.Sprintf("%.0f: face-api, tfjs wasm, one thread", nodeDet), Ratio: fmt.Sprintf("%.2f×", goDet/nodeDet), Target: "≥ 20 frames/s", Met: met(goDet >= 20)})
			return nil
		},
	}
	cmd.Flags().StringVar(&tarPath, "tar", "../shared/datasets/fer2013/validation.tar", "tar of face crops")
	cmd.Flags().StringVar(&ref, "faceref", "tools/faceref", "the face-api reference harness (scripts/setup.sh installs it)")
	cmd.Flags().IntVar(&crops, "crops", 400, "crops to classify")
	cmd.Flags().IntVar(&frames, "frames", 100, "frames to search")
	return cmd
}
