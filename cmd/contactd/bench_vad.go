package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"contactd/classifier/audio"
	"contactd/classifier/models"
	"contactd/classifier/vad"
)

// cpuTime is the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (a *app) benchVADCmd() *cobra.Command {
	var audioPath, model, harness string
	var seconds int
	cmd := &cobra.Command{
		Use:   "vad --audio FILE",
		Short: "Silero VAD: contactd's Go forward pass beside onnxruntime (tools/ortref) on the same audio",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mp, err := models.Find(models.SileroVAD, model)
			if err != nil {
				return err
			}
			m, err := vad.Load(mp)
			if err != nil {
				return err
			}
			x, err := audio.DecodeFile(audioPath, vad.Rate)
			if err != nil {
				return usageError{fmt.Errorf("--audio: %w", err)}
			}
			if len(x) < vad.ChunkSize {
				return usageError{fmt.Errorf("--audio %s: shorter than one 32 ms step", audioPath)}
			}
			long := make([]float32, seconds*vad.Rate)
			for i := 0; i < len(long); i += len(x) {
				copy(long[i:], x)
			}
			d := m.NewDetector()
			c0, w0 := cpuTime(), time.Now()
			var speech int
			for i := 0; i+vad.ChunkSize <= len(long); i += vad.ChunkSize {
				if d.Step(long[i:i+vad.ChunkSize]) > 0.5 {
					speech++
				}
			}
			goCPU, goWall := cpuTime()-c0, time.Since(w0)
			steps := len(long) / vad.ChunkSize
			fmt.Fprintf(a.stdout, "audio: %s repeated to %d s (%d steps of 32 ms, %.0f%% speech)\n", audioPath, seconds, steps, 100*float64(speech)/float64(steps))
			fmt.Fprintf(a.stdout, "contactd Go forward pass: %7.3f s CPU (%.3f s wall)  %6.0fx real time per core\n",
				goCPU.Seconds(), goWall.Seconds(), float64(seconds)/goCPU.Seconds())
			// The baseline: onnxruntime on the same samples, one thread.
			f, err := os.CreateTemp("", "contactd-vad-*.f32")
			if err != nil {
				return err
			}
			defer os.Remove(f.Name())
			buf := make([]byte, 4*len(x))
			for i, v := range x {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			f.Write(buf)
			f.Close()
			out, err := exec.CommandContext(cmd.Context(), "node", filepath.Join(harness, "vad.js"), mp, f.Name(), "--bench", fmt.Sprint(seconds)).Output()
			if err != nil {
				return fmt.Errorf("onnxruntime harness (%s; scripts/setup.sh installs it): %w", harness, err)
			}
			var ort struct {
				CPU float64 `json:"cpu_s"`
			}
			if err := json.Unmarshal(out, &ort); err != nil {
				return fmt.Errorf("onnxruntime harness said %q: %w", out, err)
			}
			fmt.Fprintf(a.stdout, "onnxruntime 1.30 (node, 1 thread):  %7.3f s CPU          %6.0fx real time per core\n",
				ort.CPU, float64(seconds)/ort.CPU)
			fmt.Fprintf(a.stdout, "ratio: contactd %.2fx the speed of onnxruntime\n", ort.CPU/goCPU.Seconds())
			a.row(benchRow{What: fmt.Sprintf("voice activity (Silero VAD v5), %d s of speech, × real time per core", seconds),
				Ours: fmt.Sprintf("%.0f×", float64(seconds)/goCPU.Seconds()), Baseline: fmt.Sprintf("%.0f×: onnxruntime 1.30, one thread", float64(seconds)/ort.CPU),
				Ratio: fmt.Sprintf("%.2f× faster", ort.CPU/goCPU.Seconds())})
			return nil
		},
	}
	cmd.Flags().StringVar(&audioPath, "audio", "classifier/vad/testdata/speech.wav", "audio file (any format FFmpeg reads)")
	cmd.Flags().IntVar(&seconds, "seconds", 600, "seconds of audio to process (the file repeated)")
	cmd.Flags().StringVar(&model, "model", "", "silero_vad_v5.onnx (default: the installed one)")
	cmd.Flags().StringVar(&harness, "harness", "tools/ortref", "directory of the onnxruntime harness")
	return cmd
}
