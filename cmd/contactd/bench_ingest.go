package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
	"github.com/spf13/cobra"

	"contactd/classifier/face"

	"contactd/capture"
	"contactd/recorder"
	"contactd/rtc"
)

const benchToken = "bench-station-token-%04d"

// benchIngestCmd runs N simulated agents against a receiver in a child
// process and measures the receiver's CPU: first pion's bare
// receive-and-write loop (the floor), then contactd serve.
func (a *app) benchIngestCmd() *cobra.Command {
	var stationsS, videoS, tarPath string
	var seconds int
	cmd := &cobra.Command{
		Use:   "ingest [--stations 25,50,100] [--video 5,10] [--seconds 20]",
		Short: "CPU per audio (and audio+video) station for N simulated agents: contactd serve beside pion's bare receive-and-write loop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, work, ogg, err := benchSetup("ingest")
			if err != nil {
				return err
			}
			defer os.RemoveAll(work)
			type run struct {
				n   int
				ivf string
			}
			var runs []run
			for li, list := range []string{stationsS, videoS} {
				for _, f := range strings.Split(list, ",") {
					if strings.TrimSpace(f) == "" {
						continue
					}
					n, err := strconv.Atoi(strings.TrimSpace(f))
					if err != nil || n < 1 {
						return usageError{fmt.Errorf("--stations/--video: %q", f)}
					}
					runs = append(runs, run{n: n})
					if li == 1 {
						runs[len(runs)-1].ivf = "camera"
					}
				}
			}
			var ivf string
			for i := range runs {
				if runs[i].ivf != "" {
					if ivf == "" {
						if ivf, err = benchCamera(work, tarPath); err != nil {
							return err
						}
					}
					runs[i].ivf = ivf
				}
			}
			row := "%8s  %-12s  %-8s  %9s  %14s  %7s  %7s  %9s  %10s  %9s\n"
			fmt.Fprintf(a.stdout, row, "stations", "media", "receiver", "CPU %core", "CPU ms/stn·s", "vs bare", "dropped", "lost pkts", "audio kept", "real-time")
			for _, rn := range runs {
				n, kind := rn.n, "audio"
				if rn.ivf != "" {
					kind = "audio+video"
				}
				var bare float64
				var bareRT bool
				for _, mode := range []string{"bare", "contactd"} {
					fmt.Fprintf(a.stderr, "bench ingest: %d %s stations, %s receiver\n", n, kind, mode)
					r, err := benchOnce(cmd.Context(), self, mode, n, seconds, ogg, rn.ivf, filepath.Join(work, fmt.Sprintf("%s-%s-%d", mode, kind, n)))
					if err != nil {
						return fmt.Errorf("%s with %d %s stations: %w", mode, n, kind, err)
					}
					perStation := r.cpu.Seconds() * 1000 / (float64(n) * r.window.Seconds())
					ratio := "1.00"
					if mode == "bare" {
						bare, bareRT = perStation, r.realtime
					} else if bare > 0 {
						ratio = fmt.Sprintf("%.2f", perStation/bare)
					}
					if mode == "contactd" {
						what := fmt.Sprintf("live ingest, %d audio stations (voice path on), server CPU per station-second", n)
						if rn.ivf != "" {
							what = fmt.Sprintf("live ingest, %d audio+video stations (voice and face paths on), server CPU per station-second", n)
						}
						a.row(benchRow{What: what,
							Ours:     fmt.Sprintf("%.2f ms (%.0f %% of a core); %d dropped, %.1f %% of audio kept", perStation, 100*r.cpu.Seconds()/r.window.Seconds(), r.dropped, 100*r.kept),
							Baseline: fmt.Sprintf("%.2f ms: pion receive-and-write, real-time %s", bare, met(bareRT)), Ratio: ratio + "× the cost",
							Target: "real-time", Met: met(r.realtime)})
						if r.realtime && rn.ivf == "" {
							a.maxRealtime = max(a.maxRealtime, n)
						}
					}
					rt := "yes"
					if !r.realtime {
						rt = "NO"
					}
					fmt.Fprintf(a.stdout, row, strconv.Itoa(n), kind, mode, fmt.Sprintf("%.1f", 100*r.cpu.Seconds()/r.window.Seconds()),
						fmt.Sprintf("%.3f", perStation), ratio, strconv.Itoa(r.dropped), strconv.Itoa(r.lost),
						fmt.Sprintf("%.1f%%", 100*r.kept), rt)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stationsS, "stations", "25,50,100", "numbers of simulated audio stations, comma-separated")
	cmd.Flags().StringVar(&videoS, "video", "", "numbers of simulated audio+video stations (a desk camera, 640×480 VP8 at 10 fps), comma-separated")
	cmd.Flags().StringVar(&tarPath, "tar", "../shared/datasets/fer2013/validation.tar", "face crops for the simulated desk camera")
	cmd.Flags().IntVar(&seconds, "seconds", 20, "how long each run streams")
	cmd.Flags().StringVar(&profileDir, "profile", "", "save a CPU profile of each contactd run's steady state here (go tool pprof)")
	return cmd
}

// benchCamera makes a desk camera's loop: a validation face in a 640×480
// scene, VP8 at 10 fps, 600 kbit/s, keyframe every second.
func benchCamera(dir, tarPath string) (string, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return "", usageError{fmt.Errorf("--tar: %w", err)}
	}
	defer f.Close()
	n := 0
	samples, _, err := face.ReadTar(f, func(string) bool { n++; return n <= 20 })
	if err != nil {
		return "", err
	}
	if len(samples) == 0 {
		return "", fmt.Errorf("%s: no faces", tarPath)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var raw []byte
	for i := range 10 {
		sc := face.Compose(rng, 640, 480, []*face.Image{samples[i%len(samples)].Image}, 200, 240)
		for range 4 { // each face for 0.4 s
			raw = append(raw, sc.Image.Pix...)
		}
	}
	rawPath, ivf := filepath.Join(dir, "camera.rgb"), filepath.Join(dir, "camera.ivf")
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		return "", err
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "640x480", "-r", "10", "-i", rawPath,
		"-c:v", "libvpx", "-deadline", "realtime", "-g", "10", "-b:v", "600k", "-pix_fmt", "yuv420p", "-f", "ivf", ivf).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg VP8: %v %s", err, out)
	}
	return ivf, nil
}

type benchResult struct {
	cpu, window   time.Duration
	dropped, lost int
	kept          float64 // audio kept / audio sent
	realtime      bool
}

// profileDir, if set (bench ingest --profile), gets a CPU profile of each
// contactd run's steady state.
var profileDir string

// fetchProfile saves what a pprof endpoint serves.
func fetchProfile(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	os.MkdirAll(filepath.Dir(file), 0o755)
	return os.WriteFile(file, b, 0o644)
}

func benchOnce(ctx context.Context, self, mode string, n, seconds int, ogg, ivf, dir string) (*benchResult, error) {
	os.MkdirAll(dir, 0o755)
	debugAddr := ""
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	var recv *exec.Cmd
	if mode == "bare" {
		recv = exec.Command(self, "bench", "bare-receiver", "--listen", addr, "--dir", dir)
	} else {
		var b strings.Builder
		if profileDir != "" {
			debugAddr = freeAddr()
			fmt.Fprintf(&b, "debug_listen: %s\n", debugAddr)
		}
		fmt.Fprintf(&b, "store: %s\nstate_dir: %s\nlisten: %s\nlog: {level: warn}\nwebrtc: {interfaces: [lo], include_loopback: true}\nstations:\n",
			filepath.Join(dir, "store"), filepath.Join(dir, "state"), addr)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  - {id: st-%04d, token: %s}\n", i, fmt.Sprintf(benchToken, i))
		}
		cfg := filepath.Join(dir, "contactd.yaml")
		os.WriteFile(cfg, []byte(b.String()), 0o644)
		recv = exec.Command(self, "serve", "--config", cfg)
	}
	logf, _ := os.Create(filepath.Join(dir, "receiver.log"))
	defer logf.Close()
	recv.Stdout, recv.Stderr = logf, logf
	if err := recv.Start(); err != nil {
		return nil, err
	}
	defer func() { recv.Process.Kill(); recv.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("receiver did not start")
		}
	}
	pubs := exec.CommandContext(ctx, self, "bench", "publishers", "--url", "http://"+addr, "--n", strconv.Itoa(n),
		"--seconds", strconv.Itoa(seconds), "--ogg", ogg, "--ivf", ivf)
	out, _ := pubs.StdoutPipe()
	pubs.Stderr = logf
	if err := pubs.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		pubs.Wait()
		return nil, fmt.Errorf("publishers did not connect (see %s)", logf.Name())
	}
	// Measure the steady state: skip the first two seconds after all are up.
	time.Sleep(2 * time.Second)
	c0, t0 := procCPU(recv.Process.Pid), time.Now()
	if debugAddr != "" {
		// A CPU profile of the steady state, for `go tool pprof`.
		name := filepath.Join(profileDir, fmt.Sprintf("ingest-%s-%d.cpu.pb.gz", filepath.Base(dir), n))
		if err := fetchProfile(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, seconds-5), name); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
		}
	}
	if rest := time.Duration(seconds-4)*time.Second - time.Since(t0); rest > 0 {
		time.Sleep(rest)
	}
	c1, t1 := procCPU(recv.Process.Pid), time.Now()
	var sent int
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "sent "); ok {
			sent, _ = strconv.Atoi(v)
		}
	}
	pubs.Wait()
	res := &benchResult{cpu: c1 - c0, window: t1.Sub(t0)}
	if mode == "contactd" {
		m := scrape("http://" + addr + "/metrics")
		res.dropped, res.lost = int(m["contactd_dropped_units_total"]), int(m["contactd_rtp_packets_lost_total"])
		recv.Process.Signal(syscall.SIGTERM)
		recv.Wait()
		var kept time.Duration
		for i := 0; i < n; i++ {
			segs, _ := recorder.Scan(filepath.Join(dir, "state", "segments", fmt.Sprintf("st-%04d", i)))
			for _, s := range segs {
				kept += s.End.Sub(s.Start)
			}
		}
		res.kept = kept.Seconds() / (float64(sent) * 0.02)
	} else {
		recv.Process.Signal(syscall.SIGTERM)
		recv.Wait()
		b, _ := os.ReadFile(filepath.Join(dir, "packets"))
		got, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		res.kept = float64(got) / float64(sent)
		res.lost = sent - got
	}
	res.realtime = res.dropped == 0 && res.kept > 0.98
	return res, nil
}

// procCPU is a process's user+system CPU time from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// scrape sums each metric family's samples from a Prometheus endpoint.
func scrape(url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			rest = line[strings.LastIndexByte(line, ' ')+1:]
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); ok && err == nil {
			out[name] += v
		}
	}
	return out
}

// benchPublishersCmd is the child process of N simulated agents.
func (a *app) benchPublishersCmd() *cobra.Command {
	var url, ogg, ivf string
	var n, seconds int
	cmd := &cobra.Command{
		Use:    "publishers",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			pubs := make([]*capture.Publisher, n)
			var wg sync.WaitGroup
			errs := make(chan error, n)
			sem := make(chan struct{}, 8)
			for i := range pubs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					p := &capture.Publisher{URL: fmt.Sprintf("%s/whip/st-%04d", url, i), Token: fmt.Sprintf(benchToken, i), Video: ivf != "",
						IncludeLoopback: true, InterfaceFilter: func(s string) bool { return s == "lo" }}
					cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
					defer cancel()
					if err := p.Connect(cctx); err != nil {
						errs <- err
						return
					}
					pubs[i] = p
				}()
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "ready")
			sctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
			defer cancel()
			var sent atomic.Int64
			for _, p := range pubs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					capture.StreamOggCounting(sctx, p.Audio, ogg, &sent)
				}()
				if ivf != "" {
					wg.Add(1)
					go func() {
						defer wg.Done()
						capture.StreamIVF(sctx, p.VideoTr, ivf)
					}()
				}
			}
			wg.Wait()
			time.Sleep(time.Second) // let the last packets arrive
			for _, p := range pubs {
				p.Close(context.Background())
			}
			fmt.Fprintf(a.stdout, "sent %d\n", sent.Load())
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "")
	cmd.Flags().StringVar(&ogg, "ogg", "", "")
	cmd.Flags().StringVar(&ivf, "ivf", "", "also send this VP8 camera loop")
	cmd.Flags().IntVar(&n, "n", 1, "")
	cmd.Flags().IntVar(&seconds, "seconds", 20, "")
	return cmd
}

// benchBareCmd is the baseline: pion receiving WHIP and writing each
// station's Opus packets to an Ogg file, nothing else.
func (a *app) benchBareCmd() *cobra.Command {
	var listen, dir string
	cmd := &cobra.Command{
		Use:    "bare-receiver",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := rtc.NewAPI(rtc.Options{IncludeLoopback: true, InterfaceFilter: func(s string) bool { return s == "lo" }})
			if err != nil {
				return err
			}
			var packets atomic.Int64
			var mu sync.Mutex
			var pcs []*webrtc.PeerConnection
			mux := http.NewServeMux()
			mux.HandleFunc("POST /whip/{station}", func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				pc, err := api.NewPeerConnection(webrtc.Configuration{})
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				station := r.PathValue("station")
				pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
					if t.Kind() == webrtc.RTPCodecTypeVideo {
						vw, err := ivfwriter.New(filepath.Join(dir, station+".ivf"))
						if err != nil {
							return
						}
						defer vw.Close()
						for {
							p, _, err := t.ReadRTP()
							if err != nil {
								return
							}
							vw.WriteRTP(p)
						}
					}
					ow, err := oggwriter.New(filepath.Join(dir, station+".ogg"), 48000, 2)
					if err != nil {
						return
					}
					defer ow.Close()
					for {
						p, _, err := t.ReadRTP()
						if err != nil {
							return
						}
						if ow.WriteRTP(p) == nil {
							packets.Add(1)
						}
					}
				})
				if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(body)}); err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				ans, _ := pc.CreateAnswer(nil)
				g := webrtc.GatheringCompletePromise(pc)
				pc.SetLocalDescription(ans)
				<-g
				mu.Lock()
				pcs = append(pcs, pc)
				mu.Unlock()
				w.Header().Set("Location", "/whip/"+station+"/x")
				w.WriteHeader(201)
				io.WriteString(w, pc.LocalDescription().SDP)
			})
			mux.HandleFunc("DELETE /whip/{station}/{id}", func(w http.ResponseWriter, _ *http.Request) {})
			srv := &http.Server{Addr: listen, Handler: mux}
			go srv.ListenAndServe()
			<-cmd.Context().Done()
			srv.Close()
			mu.Lock()
			for _, pc := range pcs {
				pc.Close()
			}
			mu.Unlock()
			return os.WriteFile(filepath.Join(dir, "packets"), []byte(strconv.FormatInt(packets.Load(), 10)), 0o644)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "")
	cmd.Flags().StringVar(&dir, "dir", "", "")
	return cmd
}
