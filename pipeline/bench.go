package pipeline

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"contactd/clip"
)

// Range is one clip to cut, as offsets from the recording start.
type Range struct{ From, To time.Duration }

// CutBench compares cutting clips with the Cutter (one open recording,
// stream copy) against the baseline of one `ffmpeg -ss -to -c copy` process
// per clip, on the same ranges in the same run.
type CutBench struct {
	Clips     int
	Rounds    int
	Ours      time.Duration // median over rounds, all clips
	FFmpeg    time.Duration // median over rounds, all clips
	OursBytes int64
}

// Ratio is how many times faster the Cutter is than the baseline.
func (b CutBench) Ratio() float64 { return b.FFmpeg.Seconds() / b.Ours.Seconds() }

// BenchCut runs both ways rounds times and keeps the medians.
func BenchCut(ctx context.Context, media string, ranges []Range, rounds int) (*CutBench, error) {
	if len(ranges) == 0 {
		return nil, fmt.Errorf("no clips to cut")
	}
	work, err := os.MkdirTemp("", "contactd-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	_, ext := func() (string, string) {
		info, err := clip.Probe(media)
		if err != nil {
			return "", "mkv"
		}
		return info.Container()
	}()
	res := &CutBench{Clips: len(ranges), Rounds: rounds}
	var ours, base []time.Duration
	for round := 0; round < rounds; round++ {
		t0 := time.Now()
		c, err := clip.Open(media)
		if err != nil {
			return nil, err
		}
		res.OursBytes = 0
		for i, r := range ranges {
			out := filepath.Join(work, fmt.Sprintf("ours-%d.%s", i, ext))
			if _, err := c.Cut(r.From, r.To, out); err != nil {
				c.Close()
				return nil, err
			}
			if st, err := os.Stat(out); err == nil {
				res.OursBytes += st.Size()
			}
		}
		c.Close()
		ours = append(ours, time.Since(t0))

		t0 = time.Now()
		for i, r := range ranges {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			out := filepath.Join(work, fmt.Sprintf("ffmpeg-%d.%s", i, ext))
			cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-y", "-ss", secs(r.From), "-to", secs(r.To),
				"-i", media, "-c", "copy", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("ffmpeg: %v: %s", err, b)
			}
		}
		base = append(base, time.Since(t0))
	}
	res.Ours, res.FFmpeg = median(ours), median(base)
	return res, nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
