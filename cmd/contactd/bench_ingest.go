package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
	"github.com/spf13/cobra"

	"contactd/capture"
	"contactd/recorder"
	"contactd/rtc"
)

const benchToken = "bench-station-token-%04d"

// benchIngestCmd runs N simulated agents against a receiver in a child
// process and measures the receiver's CPU: first pion's bare
// receive-and-write loop (the floor), then contactd serve.
func (a *app) benchIngestCmd() *cobra.Command {
	var stationsS string
	var seconds int
	cmd := &cobra.Command{
		Use:   "ingest [--stations 25,50,100] [--seconds 20]",
		Short: "CPU per audio station for N simulated agents: contactd serve beside pion's bare receive-and-write loop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			work, err := os.MkdirTemp("", "contactd-bench-ingest-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(work)
			ogg := filepath.Join(work, "speech.ogg")
			wav := filepath.Join(work, "speech.wav")
			if out, err := exec.Command("espeak-ng", "-w", wav, "Good morning, how can I help you? Please take a seat, the doctor will see you shortly.").CombinedOutput(); err != nil {
				return fmt.Errorf("espeak-ng: %v %s", err, out)
			}
			if out, err := exec.Command("ffmpeg", "-v", "error", "-i", wav, "-c:a", "libopus", "-b:a", "32k", "-ar", "48000",
				"-page_duration", "20000", "-frame_duration", "20", ogg).CombinedOutput(); err != nil {
				return fmt.Errorf("ffmpeg: %v %s", err, out)
			}
			row := "%8s  %-8s  %9s  %14s  %7s  %7s  %9s  %10s  %9s\n"
			fmt.Fprintf(a.stdout, row, "stations", "receiver", "CPU %core", "CPU ms/stn·s", "vs bare", "dropped", "lost pkts", "audio kept", "real-time")
			for _, f := range strings.Split(stationsS, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || n < 1 {
					return usageError{fmt.Errorf("--stations: %q", f)}
				}
				var bare float64
				for _, mode := range []string{"bare", "contactd"} {
					r, err := benchOnce(cmd.Context(), self, mode, n, seconds, ogg, filepath.Join(work, fmt.Sprintf("%s-%d", mode, n)))
					if err != nil {
						return fmt.Errorf("%s with %d stations: %w", mode, n, err)
					}
					perStation := r.cpu.Seconds() * 1000 / (float64(n) * r.window.Seconds())
					ratio := "1.00"
					if mode == "bare" {
						bare = perStation
					} else if bare > 0 {
						ratio = fmt.Sprintf("%.2f", perStation/bare)
					}
					rt := "yes"
					if !r.realtime {
						rt = "NO"
					}
					fmt.Fprintf(a.stdout, row, strconv.Itoa(n), mode, fmt.Sprintf("%.1f", 100*r.cpu.Seconds()/r.window.Seconds()),
						fmt.Sprintf("%.3f", perStation), ratio, strconv.Itoa(r.dropped), strconv.Itoa(r.lost),
						fmt.Sprintf("%.1f%%", 100*r.kept), rt)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stationsS, "stations", "25,50,100", "numbers of simulated stations, comma-separated")
	cmd.Flags().IntVar(&seconds, "seconds", 20, "how long each run streams")
	return cmd
}

type benchResult struct {
	cpu, window   time.Duration
	dropped, lost int
	kept          float64 // audio kept / audio sent
	realtime      bool
}

func benchOnce(ctx context.Context, self, mode string, n, seconds int, ogg, dir string) (*benchResult, error) {
	os.MkdirAll(dir, 0o755)
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
		"--seconds", strconv.Itoa(seconds), "--ogg", ogg)
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
	time.Sleep(time.Duration(seconds-4) * time.Second)
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
	var url, ogg string
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
					p := &capture.Publisher{URL: fmt.Sprintf("%s/whip/st-%04d", url, i), Token: fmt.Sprintf(benchToken, i),
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
