package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"contactd/auth"
	"contactd/storage"
)

// liveResult is one run of `bench live`: a contactd serve with N stations
// streaming speech in real time, the voice path on, clips going to MinIO.
type liveResult struct {
	Stations int `json:"stations"`
	// Mirror latency: from the end of a reading's second to its event on
	// an employee's mirror stream (SSE), as the page receives it.
	MirrorN   int           `json:"mirror_events"`
	MirrorP50 time.Duration `json:"mirror_p50"`
	MirrorP95 time.Duration `json:"mirror_p95"`
	MirrorMax time.Duration `json:"mirror_max"`
	// Clip availability: from the leave event to the contact's sidecar in
	// MinIO (the sidecar goes after the clip: the clip is complete by then).
	Contacts   int             `json:"contacts"`
	Landed     int             `json:"landed"`
	Available  []time.Duration `json:"available"`
	PostRoll   time.Duration   `json:"post_roll"`
	CPUms      float64         `json:"cpu_ms_per_station_second"`
	CPUCore    float64         `json:"cpu_core_share"`
	RSSIdle    int64           `json:"rss_idle"`
	RSSLive    int64           `json:"rss_live"`
	Dropped    int             `json:"dropped_units"`
	Readings   float64         `json:"readings"`
	RealTime   bool            `json:"real_time"`
	ServerLogs string          `json:"-"`
}

func (r *liveResult) memPerStation() float64 {
	return float64(r.RSSLive-r.RSSIdle) / float64(r.Stations)
}

func (a *app) benchLiveCmd() *cobra.Command {
	var stationsS string
	var seconds, contacts int
	cmd := &cobra.Command{
		Use:   "live [--stations 1,100] [--seconds 40] [--contacts 6]",
		Short: "contactd serve with N real-time stations (voice on) and MinIO: mirror latency, clip availability, CPU and memory per station",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, work, ogg, err := benchSetup("live")
			if err != nil {
				return err
			}
			defer os.RemoveAll(work)
			for _, f := range strings.Split(stationsS, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || n < 1 {
					return usageError{fmt.Errorf("--stations: %q", f)}
				}
				fmt.Fprintf(a.stderr, "bench live: %d stations for %d s\n", n, seconds)
				r, err := benchLiveOnce(cmd.Context(), self, n, seconds, min(contacts, n), ogg, filepath.Join(work, strconv.Itoa(n)))
				if err != nil {
					return fmt.Errorf("%d stations: %w", n, err)
				}
				a.printLive(r)
				a.addLiveRows(r)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stationsS, "stations", "1,100", "numbers of simulated stations, comma-separated")
	cmd.Flags().IntVar(&seconds, "seconds", 40, "how long each run streams")
	cmd.Flags().IntVar(&contacts, "contacts", 6, "contacts scripted per run (arrive, 12 s, leave), on stations spread over the run")
	return cmd
}

func (a *app) printLive(r *liveResult) {
	av := slices.Clone(r.Available)
	slices.Sort(av)
	med, worst := time.Duration(0), time.Duration(0)
	if len(av) > 0 {
		med, worst = av[len(av)/2], av[len(av)-1]
	}
	fmt.Fprintf(a.stdout, "%d stations: mirror p50 %v p95 %v max %v (%d events); clips %d/%d, leave → MinIO median %v max %v (post-roll %v); CPU %.0f%% of a core, %.3f ms per station-second; RSS %.0f MB idle, %.0f MB live (%.2f MB a station); dropped %d; real-time %v\n",
		r.Stations, r.MirrorP50.Round(time.Millisecond), r.MirrorP95.Round(time.Millisecond), r.MirrorMax.Round(time.Millisecond), r.MirrorN,
		r.Landed, r.Contacts, med.Round(10*time.Millisecond), worst.Round(10*time.Millisecond), r.PostRoll,
		100*r.CPUCore, r.CPUms, float64(r.RSSIdle)/(1<<20), float64(r.RSSLive)/(1<<20), r.memPerStation()/(1<<20), r.Dropped, r.RealTime)
}

// benchSetup returns this program (the simulated agents and the server
// are its children), a work directory to remove, and the agents' speech.
func benchSetup(name string) (self, work, ogg string, err error) {
	if self, err = os.Executable(); err != nil {
		return "", "", "", err
	}
	if work, err = os.MkdirTemp("", "contactd-bench-"+name+"-"); err != nil {
		return "", "", "", err
	}
	if ogg, err = benchSpeechOgg(work); err != nil {
		os.RemoveAll(work)
		return "", "", "", err
	}
	return self, work, ogg, nil
}

// benchSpeechOgg makes the speech every simulated agent sends: espeak-ng,
// Opus 32 kbit/s in 20 ms pages.
func benchSpeechOgg(dir string) (string, error) {
	ogg := filepath.Join(dir, "speech.ogg")
	wav := filepath.Join(dir, "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", wav, "Good morning, how can I help you? Please take a seat, the doctor will see you shortly.").CombinedOutput(); err != nil {
		return "", fmt.Errorf("espeak-ng: %v %s", err, out)
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", wav, "-c:a", "libopus", "-b:a", "32k", "-ar", "48000",
		"-page_duration", "20000", "-frame_duration", "20", ogg).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %v %s", err, out)
	}
	return ogg, nil
}

// benchMinIO runs a MinIO server on 127.0.0.1 with its data in dir.
func benchMinIO(dir string) (storage.S3Config, func(), error) {
	bin, err := exec.LookPath("minio")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "minio")
		if _, err := os.Stat(bin); err != nil {
			return storage.S3Config{}, nil, errors.New("minio not found on PATH or in GOPATH/bin: run scripts/setup.sh")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return storage.S3Config{}, nil, err
	}
	addr, caddr := freeAddr(), freeAddr()
	cfg := storage.S3Config{Endpoint: addr, AccessKey: "contactd-bench", SecretKey: "contactd-bench-secret", Region: "us-east-1"}
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", caddr, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+cfg.AccessKey, "MINIO_ROOT_PASSWORD="+cfg.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return cfg, nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return cfg, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() }
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/minio/health/cluster"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cfg, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return cfg, nil, fmt.Errorf("minio did not come up (see %s)", logf.Name())
		}
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// rssOf is a process's resident set size in bytes.
func rssOf(pid int) int64 { return procStatus(pid, "VmRSS:") << 10 }

// procStatus reads a number from /proc/PID/status (kB for sizes).
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func benchLiveOnce(ctx context.Context, self string, n, seconds, contacts int, ogg, dir string) (*liveResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s3cfg, stopMinIO, err := benchMinIO(filepath.Join(dir, "minio"))
	if err != nil {
		return nil, err
	}
	defer stopMinIO()
	const password = "bench admin password"
	hash, err := auth.Hash(password)
	if err != nil {
		return nil, err
	}
	addr := freeAddr()
	var b strings.Builder
	fmt.Fprintf(&b, "store: s3://contactd-bench\ns3: {endpoint: %q, access_key: %q, secret_key: %q}\nstate_dir: %s\nlisten: %s\n",
		s3cfg.Endpoint, s3cfg.AccessKey, s3cfg.SecretKey, filepath.Join(dir, "state"), addr)
	fmt.Fprintf(&b, "log: {level: warn}\nwebrtc: {interfaces: [lo], include_loopback: true}\nsegmenter: {rating_window: 5s}\n")
	fmt.Fprintf(&b, "users:\n  - {name: bench, role: admin, password_hash: %q, lang: en}\nstations:\n", hash)
	for i := range n {
		fmt.Fprintf(&b, "  - {id: st-%04d, token: %s, employee: e%04d}\n", i, fmt.Sprintf(benchToken, i), i)
	}
	cfgPath := filepath.Join(dir, "contactd.yaml")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	srv := exec.Command(self, "serve", "--config", cfgPath)
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("contactd serve did not start (see %s)", logf.Name())
		}
	}
	time.Sleep(2 * time.Second)
	res := &liveResult{Stations: n, PostRoll: 3 * time.Second, RSSIdle: rssOf(srv.Process.Pid)}

	// The mirror of station 0's employee, as the page gets it.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Post(base+"/api/v1/login", "application/json", strings.NewReader(`{"name":"bench","password":"`+password+`"}`))
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("login: %s", resp.Status)
	}
	mctx, stopMirror := context.WithCancel(ctx)
	defer stopMirror()
	var mu sync.Mutex
	var lat []time.Duration
	var mirrorWG sync.WaitGroup
	req, _ := http.NewRequestWithContext(mctx, "GET", base+"/api/v1/mirror/e0000/stream", nil)
	mresp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if mresp.StatusCode != 200 {
		mresp.Body.Close()
		return nil, fmt.Errorf("mirror stream: %s", mresp.Status)
	}
	mirrorWG.Add(1)
	go func() {
		defer mirrorWG.Done()
		defer mresp.Body.Close()
		sc := bufio.NewScanner(mresp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			now := time.Now()
			var ev struct {
				Reading *struct {
					Start time.Time `json:"start"`
				} `json:"reading"`
			}
			if json.Unmarshal([]byte(data), &ev) != nil || ev.Reading == nil {
				continue
			}
			mu.Lock()
			lat = append(lat, now.Sub(ev.Reading.Start.Add(time.Second)))
			mu.Unlock()
		}
	}()

	pubs := exec.CommandContext(ctx, self, "bench", "publishers", "--url", base, "--n", strconv.Itoa(n),
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
	// Contacts: on stations spread over 0..n-1, arrive at 5 s + k·2 s,
	// leave 12 s later; all end well before the stream does.
	var visits []benchVisit
	for k := range contacts {
		i := k * n / max(contacts, 1)
		visits = append(visits, benchVisit{station: fmt.Sprintf("st-%04d", i), token: fmt.Sprintf(benchToken, i)})
	}
	post := func(v benchVisit, typ string) error {
		body := fmt.Sprintf(`{"station":%q,"type":%q,"at":%q}`, v.station, typ, time.Now().UTC().Format(time.RFC3339Nano))
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+v.token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			return fmt.Errorf("event %s at %s: %s", typ, v.station, resp.Status)
		}
		return nil
	}
	if seconds < 5+2*contacts+12+10 {
		return nil, fmt.Errorf("--seconds %d is too short for %d contacts (want at least %d)", seconds, contacts, 5+2*contacts+12+10)
	}
	time.Sleep(5 * time.Second)
	c0, t0 := procCPU(srv.Process.Pid), time.Now()
	for k := range visits {
		if err := post(visits[k], "arrive"); err != nil {
			return nil, err
		}
		time.Sleep(2 * time.Second)
	}
	time.Sleep(12*time.Second - 2*time.Second*time.Duration(len(visits)) + 2*time.Second)
	// MinIO is polled every 100 ms for the contacts' sidecars, from the
	// first leave on, by its own goroutine.
	store, err := storage.NewS3(s3cfg, "contactd-bench", "")
	if err != nil {
		return nil, err
	}
	var leaveMu sync.Mutex
	leaves := make([]time.Time, len(visits))
	seen := make([]time.Duration, len(visits))
	pollDone := make(chan struct{})
	pctx, stopPoll := context.WithCancel(ctx)
	go func() {
		defer close(pollDone)
		for pctx.Err() == nil {
			leaveMu.Lock()
			ls := slices.Clone(leaves)
			leaveMu.Unlock()
			got := 0
			for i, v := range visits {
				if seen[i] > 0 {
					got++
					continue
				}
				if ls[i].IsZero() {
					continue
				}
				for k, err := range store.List(pctx, "clips/default/"+v.station+"/") {
					if err == nil && strings.HasSuffix(k, ".json") {
						seen[i] = time.Since(ls[i])
						got++
						break
					}
				}
			}
			if got == len(visits) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for k := range visits {
		leaveMu.Lock()
		leaves[k] = time.Now()
		leaveMu.Unlock()
		if err := post(visits[k], "leave"); err != nil {
			stopPoll()
			return nil, err
		}
		time.Sleep(2 * time.Second)
	}
	select {
	case <-pollDone:
	case <-time.After(30 * time.Second):
	}
	stopPoll()
	<-pollDone
	res.RSSLive = rssOf(srv.Process.Pid)
	c1, t1 := procCPU(srv.Process.Pid), time.Now()
	for sc.Scan() {
	}
	pubs.Wait()
	m := scrape(base + "/metrics")
	res.Dropped = int(m["contactd_dropped_units_total"])
	stopMirror()
	mirrorWG.Wait()
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	res.CPUCore = (c1 - c0).Seconds() / t1.Sub(t0).Seconds()
	res.CPUms = (c1 - c0).Seconds() * 1000 / (float64(n) * t1.Sub(t0).Seconds())
	res.Contacts = len(visits)
	for _, d := range seen {
		if d > 0 {
			res.Landed++
			res.Available = append(res.Available, d)
		}
	}
	mu.Lock()
	slices.Sort(lat)
	res.MirrorN = len(lat)
	if len(lat) > 0 {
		q := func(p float64) time.Duration { return lat[min(int(p*float64(len(lat))), len(lat)-1)] }
		res.MirrorP50, res.MirrorP95, res.MirrorMax = q(0.5), q(0.95), lat[len(lat)-1]
	}
	mu.Unlock()
	res.RealTime = res.Dropped == 0
	return res, nil
}

// benchVisit is one scripted contact of `bench live`.
type benchVisit struct{ station, token string }

func (a *app) addLiveRows(r *liveResult) {
	av := slices.Clone(r.Available)
	slices.Sort(av)
	a.row(benchRow{What: fmt.Sprintf("mirror latency, end of a second → its SSE event, %d stations streaming (p50 / p95 of %d events)", r.Stations, r.MirrorN),
		Ours: ms(r.MirrorP50) + " / " + ms(r.MirrorP95), Target: "p95 ≤ 500 ms", Met: met(r.MirrorN > 0 && r.MirrorP95 <= 500*time.Millisecond)})
	if len(av) > 0 {
		limit := r.PostRoll + 2*time.Second
		a.row(benchRow{What: fmt.Sprintf("clip availability, leave → sidecar in MinIO, %d stations (median / max of %d/%d contacts)", r.Stations, r.Landed, r.Contacts),
			Ours: ms(av[len(av)/2]) + " / " + ms(av[len(av)-1]), Target: "≤ post-roll + 2 s = " + ms(limit),
			Met: met(r.Landed == r.Contacts && av[len(av)-1] <= limit)})
	}
	a.row(benchRow{What: fmt.Sprintf("memory per station (RSS streaming − idle) ÷ %d, voice on", r.Stations),
		Ours: fmt.Sprintf("%.2f MB", r.memPerStation()/(1<<20))})
	a.row(benchRow{What: fmt.Sprintf("server CPU per audio station, voice on, %d stations", r.Stations),
		Ours: fmt.Sprintf("%.2f ms per station-second (%.0f %% of a core)", r.CPUms, 100*r.CPUCore), Target: "no unit dropped", Met: met(r.RealTime)})
}
