package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// benchAllCmd runs every benchmark in one go and prints one table: each
// figure beside the baseline measured in the same run.
func (a *app) benchAllCmd() *cobra.Command {
	var day, audio, tarPath, ingest, video, live, out string
	cmd := &cobra.Command{
		Use:   "all --day DIR --audio FILE --tar FILE",
		Short: "Every benchmark (cutting, ingest, live mirror and clips, voice, face) and one table of results with ratios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rows []benchRow
			a.rows = &rows
			defer func() { a.rows = nil }()
			t0 := time.Now()
			steps := []struct {
				name  string
				cmd   *cobra.Command
				flags map[string]string
			}{
				{"clip cutting", a.benchCutCmd(), map[string]string{"day": day, "rounds": "3"}},
				{"live ingest", a.benchIngestCmd(), map[string]string{"stations": ingest, "video": video, "tar": tarPath, "seconds": "20"}},
				{"live mirror, clips, memory", a.benchLiveCmd(), map[string]string{"stations": live, "seconds": "45", "contacts": "6"}},
				{"voice activity", a.benchVADCmd(), map[string]string{"seconds": "600"}},
				{"voice path", a.benchVoiceCmd(), map[string]string{"audio": audio, "seconds": "300", "stations": "100"}},
				{"face path", a.benchFaceCmd(), map[string]string{"tar": tarPath}},
			}
			for i, s := range steps {
				fmt.Fprintf(a.stderr, "[%d/%d] %s (%s so far)\n", i+1, len(steps), s.name, time.Since(t0).Round(time.Second))
				for k, v := range s.flags {
					if err := s.cmd.Flags().Set(k, v); err != nil {
						return fmt.Errorf("%s: --%s: %w", s.name, k, err)
					}
				}
				s.cmd.SetContext(cmd.Context())
				s.cmd.SetOut(a.stdout)
				if err := s.cmd.RunE(s.cmd, nil); err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
			}
			if a.maxRealtime > 0 {
				rows = append(rows, benchRow{What: "largest number of audio stations measured real-time (voice on, no unit dropped)",
					Ours: fmt.Sprint(a.maxRealtime), Target: "≥ 100", Met: met(a.maxRealtime >= 100)})
			}
			var b strings.Builder
			fmt.Fprintf(&b, "Machine: %s; %d cores; %s; %s; %s\n\n", cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
			printTable(&b, rows)
			fmt.Fprintf(&b, "\nAll of it took %s.\n", time.Since(t0).Round(time.Second))
			fmt.Fprint(a.stdout, "\n"+b.String())
			if out != "" {
				return os.WriteFile(out, []byte(b.String()), 0o644)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&day, "day", "bench/day", "a day made by 'contactd testdata day --video' (clip cutting)")
	cmd.Flags().StringVar(&audio, "audio", "bench/dense.wav", "speech-dense audio (the voice path)")
	cmd.Flags().StringVar(&tarPath, "tar", "../shared/datasets/fer2013/validation.tar", "face crops (the face path)")
	cmd.Flags().StringVar(&ingest, "ingest", "50,100,150", "station counts for the ingest runs")
	cmd.Flags().StringVar(&video, "video", "5,10,20", "station counts for the audio+video ingest runs")
	cmd.Flags().StringVar(&live, "live", "1,100", "station counts for the mirror/clip runs")
	cmd.Flags().StringVar(&out, "out", "", "also write the table to this file")
	return cmd
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	out, _ := exec.Command("uname", "-m").Output()
	return strings.TrimSpace(string(out))
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return "RAM unknown"
}
