package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/spf13/cobra"

	"contactd/classifier/audio"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/voice"
)

// oggPackets reads the Opus packets of an Ogg file (one per page, as
// ffmpeg writes them with -page_duration 20000).
func oggPackets(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, _, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out [][]byte
	for {
		page, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(page) > 0 && hdr.GranulePosition > 0 {
			out = append(out, page)
		}
	}
}

func (a *app) benchVoiceCmd() *cobra.Command {
	var audioPath string
	var seconds, stations int
	cmd := &cobra.Command{
		Use:   "voice --audio FILE",
		Short: "The live voice path (VAD + features + emotion + attribution) beside merely decoding the same Opus audio; latency at N stations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if audioPath == "" {
				return usageError{errors.New("--audio FILE is required (speech; any format FFmpeg reads)")}
			}
			vm, err := a.vadModel()
			if err != nil {
				return err
			}
			em, err := a.voiceModel("")
			if err != nil {
				return err
			}
			bg, err := speaker.DefaultBackground()
			if err != nil {
				return err
			}
			m := &voice.Models{VAD: vm, Emotion: em, Background: bg}
			// The audio as the server receives it: Opus packets, 20 ms each.
			tmp, err := os.MkdirTemp("", "contactd-bench-voice-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			ogg := tmp + "/in.ogg"
			if out, err := exec.Command("ffmpeg", "-v", "error", "-i", audioPath, "-vn", "-ac", "1", "-ar", "48000", "-c:a", "libopus",
				"-b:a", "32k", "-frame_duration", "20", "-page_duration", "20000", ogg).CombinedOutput(); err != nil {
				return fmt.Errorf("encoding %s to Opus: %v %s", audioPath, err, out)
			}
			pkts, err := oggPackets(ogg)
			if err != nil {
				return err
			}
			n := seconds * 50
			// Baseline: decoding only.
			dec, err := audio.NewOpusDecoder()
			if err != nil {
				return err
			}
			pkt := astiav.AllocPacket()
			var pcm []float32
			c0 := cpuTime()
			var pcm16 []float32
			deci := audio.NewDecimator(3)
			all16 := make([]float32, 0, seconds*16000)
			for i := 0; i < n; i++ {
				pkt.FromData(pkts[i%len(pkts)])
				pcm, _ = dec.Decode(pkt, pcm[:0])
				pkt.Unref()
				pcm16 = deci.Process(pcm, pcm16[:0])
				all16 = append(all16, pcm16...)
			}
			decodeCPU := cpuTime() - c0
			dec.Close()
			pkt.Free()
			// Enrol from the first 30 s of speech in the audio, as a clinic would.
			var frames [][]float64
			ext, det := features.NewExtractor(), vm.NewDetector()
			for i := 0; i < len(all16) && len(frames) < 3000; i += 30 * 16000 {
				frames = append(frames, speaker.SpeechFrames(ext, det, all16[i:min(i+30*16000, len(all16))])...)
			}
			v, err := bg.Enroll("bench", frames)
			if err != nil {
				return err
			}
			run := func(noGate bool) (time.Duration, int, int) {
				st := voice.NewStation(m, v, nil)
				st.SetNoGate(noGate)
				t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
				readings, speech := 0, 0
				c := cpuTime()
				for i := 0; i+320 <= len(all16); i += 320 {
					for _, r := range st.Push(all16[i:i+320], t0.Add(time.Duration(i)*time.Second/16000)) {
						readings++
						if r.Prediction != nil {
							speech++
						}
					}
				}
				return cpuTime() - c, readings, speech
			}
			pathCPU, readings, speech := run(false)
			noGateCPU, _, _ := run(true)
			audioS := float64(len(all16)) / 16000
			fmt.Fprintf(a.stdout, "audio: %s as Opus, %d s (%d readings, %d with speech)\n", audioPath, int(audioS), readings, speech)
			fmt.Fprintf(a.stdout, "decoding only (Opus → 16 kHz):          %7.3f s CPU  %6.0fx real time per core\n",
				decodeCPU.Seconds(), audioS/decodeCPU.Seconds())
			fmt.Fprintf(a.stdout, "voice path (VAD, features, emotion, attribution): %7.3f s CPU  %6.0fx real time per core (%.1fx the cost of decoding)\n",
				pathCPU.Seconds(), audioS/pathCPU.Seconds(), pathCPU.Seconds()/decodeCPU.Seconds())
			fmt.Fprintf(a.stdout, "voice path without the energy gate:      %7.3f s CPU  %6.0fx real time per core (gate saves %.0f%%)\n",
				noGateCPU.Seconds(), audioS/noGateCPU.Seconds(), 100*(1-pathCPU.Seconds()/noGateCPU.Seconds()))
			fmt.Fprintf(a.stdout, "whole path including decoding:           %6.0fx real time per core\n",
				audioS/(pathCPU+decodeCPU).Seconds())
			a.row(benchRow{What: fmt.Sprintf("voice path (VAD, features, emotion, attribution), speech-dense audio, %d s, × real time per core", int(audioS)),
				Ours: fmt.Sprintf("%.0f×", audioS/pathCPU.Seconds()), Baseline: fmt.Sprintf("%.0f×: Opus decoding only", audioS/decodeCPU.Seconds()),
				Ratio: fmt.Sprintf("%.1f× decoding's cost", pathCPU.Seconds()/decodeCPU.Seconds()), Target: "≥ 200× real time", Met: met(audioS/pathCPU.Seconds() >= 200)})
			if stations > 0 {
				return a.benchVoiceLatency(m, v, pkts, stations)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&audioPath, "audio", "", "speech to run through the path (repeated to --seconds)")
	cmd.Flags().IntVar(&seconds, "seconds", 300, "seconds of audio")
	cmd.Flags().IntVar(&stations, "stations", 100, "then stream to this many stations in real time for 30 s and report latency (0: skip)")
	return cmd
}

// benchVoiceLatency streams the packets to n stations of a Hub in real
// time and reports, for each reading, the time from the end of its second
// to its result.
func (a *app) benchVoiceLatency(m *voice.Models, v *speaker.Voice, pkts [][]byte, n int) error {
	var mu sync.Mutex
	var lat []time.Duration
	var dropped int
	hub := &voice.Hub{Models: m, Employee: func(string, time.Time) string { return "bench" },
		Voice: func(string) *speaker.Voice { return v },
		OnReading: func(_ string, r voice.Reading) {
			d := time.Since(r.Start.Add(time.Second))
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		},
		OnDrop: func(string) { mu.Lock(); dropped++; mu.Unlock() },
	}
	const secs = 30
	start := time.Now()
	c0 := cpuTime()
	tick := time.NewTicker(20 * time.Millisecond)
	for i := 0; i < secs*50; i++ {
		<-tick.C
		wall := start.Add(time.Duration(i) * 20 * time.Millisecond)
		for s := 0; s < n; s++ {
			// Stations start at different points of the audio.
			hub.Push(fmt.Sprintf("desk-%d", s), pkts[(i+s*37)%len(pkts)], wall)
		}
	}
	tick.Stop()
	cpu := cpuTime() - c0
	hub.Close()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		return errors.New("no readings")
	}
	q := func(p float64) time.Duration { return lat[min(int(p*float64(len(lat))), len(lat)-1)] }
	fmt.Fprintf(a.stdout, "%d stations streaming in real time for %d s: %d readings, latency from the end of a second to its result: p50 %v, p95 %v, max %v; %d packets dropped; CPU %.0f%% of one core\n",
		n, secs, len(lat), q(0.5).Round(time.Millisecond), q(0.95).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), dropped,
		100*cpu.Seconds()/time.Since(start).Seconds())
	a.row(benchRow{What: fmt.Sprintf("voice hub alone, %d stations in real time: end of a second → its reading (p50 / p95)", n),
		Ours: ms(q(0.5)) + " / " + ms(q(0.95)), Target: "p95 ≤ 500 ms", Met: met(q(0.95) <= 500*time.Millisecond && dropped == 0)})
	return nil
}
