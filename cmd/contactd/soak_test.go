package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"contactd/internal/testenv"
	"contactd/storage"
)

// soak is how long TestSoak streams: CONTACTD_FAULT_SOAK=10m runs the full
// ten minutes.
func soak(t *testing.T) time.Duration {
	if v := os.Getenv("CONTACTD_FAULT_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute {
			t.Fatalf("CONTACTD_FAULT_SOAK=%q: want a duration of at least 1m", v)
		}
		return d
	}
	return 90 * time.Second
}

// TestSoak: 50 simulated stations stream speech in real time to a
// `contactd serve` process (voice path on) while each has a contact every
// 40 s; every scripted contact lands, the server's memory stays flat, and
// its goroutines come back to where they were once the stations leave.
func TestSoak(t *testing.T) {
	const stations = 50
	const period = 40 * time.Second
	dur := soak(t)
	bin := buildBinary(t)
	ogg := speechOgg(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	debug := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	// Readings are kept 3 minutes, not the default 2 hours, so the one
	// buffer that is meant to grow fills inside the run: what grows after
	// that is a leak.
	var b strings.Builder
	fmt.Fprintf(&b, "debug_listen: %s\nstore: %s\nstate_dir: %s\nlisten: %s\nlog: {level: warn}\nwebrtc: {interfaces: [lo], include_loopback: true}\nsegmenter: {rating_window: 5s, max_contact: 2m}\nemotion: {keep: 3m}\nstations:\n",
		debug, filepath.Join(dir, "store"), filepath.Join(dir, "state"), addr)
	for i := range stations {
		fmt.Fprintf(&b, "  - {id: st-%04d, token: %s}\n", i, fmt.Sprintf(benchToken, i))
	}
	cfg := filepath.Join(dir, "contactd.yaml")
	os.WriteFile(cfg, []byte(b.String()), 0o644)
	logPath := filepath.Join(dir, "serve.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log (tail):\n%s", b[max(0, len(b)-8000):])
		}
	})
	srv := startServe(t, bin, cfg, addr, logPath)
	pid := srv.cmd.Process.Pid
	time.Sleep(2 * time.Second)
	goroutines0 := scrape(srv.url + "/metrics")["go_goroutines"]

	ctx, cancel := context.WithTimeout(context.Background(), dur+3*time.Minute)
	defer cancel()
	pubs := exec.CommandContext(ctx, bin, "bench", "publishers", "--url", srv.url, "--n", strconv.Itoa(stations),
		"--seconds", strconv.Itoa(int(dur.Seconds())), "--ogg", ogg)
	pubs.Env = childEnv()
	out, _ := pubs.StdoutPipe()
	pubs.Stderr = srv.logf
	if err := pubs.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		pubs.Wait()
		t.Fatal("publishers did not connect")
	}
	start := time.Now()
	type sample struct {
		at         time.Duration
		rss        int64
		heap       float64 // Go heap in use
		sys        float64 // all memory the Go runtime holds from the OS (the rest of RSS is C: FFmpeg, Opus)
		cUsed      float64 // the C allocator's memory in use: a C leak grows it
		cFree      float64 // freed and still held by it: fragmentation grows it
		goroutines float64
		threads    int64 // OS threads
	}
	// Heap profiles after the first minute and at the end, for
	// `go tool pprof -base soak-heap-1m.pb.gz soak-heap-end.pb.gz`.
	profiles, _ := filepath.Abs(filepath.Join("..", "..", "artifacts", "soak"))
	if a := os.Getenv("CONTACTD_ARTIFACTS"); a != "" {
		profiles = filepath.Join(a, "soak")
	}
	os.MkdirAll(profiles, 0o755)
	heapProfile := func(name string) {
		if err := fetchProfile("http://"+debug+"/debug/pprof/heap?gc=1", filepath.Join(profiles, name+".pb.gz")); err != nil {
			t.Logf("heap profile: %v", err)
		}
		// The process's mappings beside it: Go's arenas against C's heaps.
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid)); err == nil {
			os.WriteFile(filepath.Join(profiles, name+".smaps"), b, 0o644)
		}
	}
	var samples []sample
	scripted := 0
	// Station i's visits start at offset i·period/stations in each period:
	// arrive, then leave 10 s later. Only visits that end in time count.
	next := make([]time.Duration, stations)
	inside := make([]bool, stations)
	for i := range next {
		next[i] = time.Duration(i) * period / stations
	}
	event := func(i int, typ string) {
		code, body := postEvent(t, srv.url, fmt.Sprintf(benchToken, i), fmt.Sprintf(`{"station":"st-%04d","type":%q,"at":%q}`, i, typ, time.Now().UTC().Format(time.RFC3339Nano)))
		if code != 202 {
			t.Errorf("station %d %s: %d %s", i, typ, code, body)
		}
	}
	lastSample := time.Duration(-time.Hour)
	for el := time.Since(start); el < dur-time.Second; el = time.Since(start) {
		for i := range next {
			if el < next[i] {
				continue
			}
			if !inside[i] {
				if next[i]+10*time.Second > dur-2*time.Second {
					next[i] = time.Hour // no visit that cannot end while streaming
					continue
				}
				event(i, "arrive")
				inside[i], next[i] = true, next[i]+10*time.Second
			} else {
				event(i, "leave")
				scripted++
				inside[i], next[i] = false, next[i]-10*time.Second+period
			}
		}
		if el-lastSample >= 10*time.Second {
			lastSample = el
			m := scrape(srv.url + "/metrics")
			samples = append(samples, sample{el, rssOf(pid), m["go_memstats_heap_inuse_bytes"], m["go_memstats_sys_bytes"],
				m["contactd_c_heap_inuse_bytes"], m["contactd_c_heap_free_bytes"], m["go_goroutines"], procStatus(pid, "Threads:")})
			if len(samples) == 7 {
				heapProfile("soak-heap-1m")
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	heapProfile("soak-heap-end")
	for sc.Scan() {
	}
	pubs.Wait()

	a := &storage.Archive{Store: mustLocal(t, filepath.Join(dir, "store"))}
	landed := 0
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		landed = 0
		for k := range a.Store.List(context.Background(), "clips/") {
			if strings.HasSuffix(k, ".json") {
				landed++
			}
		}
		if landed >= scripted {
			break
		}
	}
	time.Sleep(5 * time.Second)
	m := scrape(srv.url + "/metrics")
	goroutines1 := m["go_goroutines"]
	// The stations come back for 20 s and leave again: every goroutine a
	// session started ends with it (those left after the first round are
	// each station's own voice path, kept for the station).
	again := exec.CommandContext(ctx, bin, "bench", "publishers", "--url", srv.url, "--n", strconv.Itoa(stations), "--seconds", "20", "--ogg", ogg)
	again.Stderr, again.Env = srv.logf, childEnv()
	if out, err := again.Output(); err != nil {
		t.Fatalf("second round of stations: %v %s", err, out)
	}
	time.Sleep(5 * time.Second)
	goroutines2 := scrape(srv.url + "/metrics")["go_goroutines"]

	var curve []string
	for _, s := range samples {
		curve = append(curve, fmt.Sprintf("%.0fs:%.0f/%.0f/%.0f/%.0f/%.0fMB/%.0f/%d", s.at.Seconds(), float64(s.rss)/(1<<20), s.sys/(1<<20), s.heap/(1<<20),
			s.cUsed/(1<<20), s.cFree/(1<<20), s.goroutines, s.threads))
	}
	t.Logf("%d stations for %s: %d contacts scripted, %d landed; dropped units %.0f; goroutines %.0f before the stations came, %.0f after they left, %.0f after a second round",
		stations, dur, scripted, landed, m["contactd_dropped_units_total"], goroutines0, goroutines1, goroutines2)
	t.Logf("RSS/Go runtime's memory/Go heap in use/C in use/C freed but held (MB)/goroutines/threads every 10 s: %s", strings.Join(curve, " "))
	if landed != scripted {
		t.Errorf("%d contacts landed, %d scripted", landed, scripted)
	}
	// Flat memory: the last third of the run is not above the middle third
	// by more than a quarter (the first third is warm-up: models, buffers).
	if n := len(samples); n >= 6 {
		mean := func(ss []sample, f func(sample) float64) float64 {
			var s float64
			for _, x := range ss {
				s += f(x)
			}
			return s / float64(len(ss))
		}
		mid, last := mean(samples[n/3:2*n/3], func(x sample) float64 { return float64(x.rss) }), mean(samples[2*n/3:], func(x sample) float64 { return float64(x.rss) })
		if last > 1.25*mid {
			t.Errorf("RSS grows: middle third %.0f MB, last third %.0f MB", mid/(1<<20), last/(1<<20))
		}
		// The C side's memory in use (FFmpeg, libopus) is flat once every
		// station's decoders exist: growth there is a leak, not the heap goal.
		cMid, cLast := mean(samples[n/3:2*n/3], func(x sample) float64 { return x.cUsed }), mean(samples[2*n/3:], func(x sample) float64 { return x.cUsed })
		if cMid == 0 {
			t.Error("contactd_c_heap_inuse_bytes is missing from the server's metrics")
		} else if cLast > 1.1*cMid+2<<20 {
			t.Errorf("C memory in use grows: middle third %.1f MB, last third %.1f MB", cMid/(1<<20), cLast/(1<<20))
		}
	}
	if goroutines1 > goroutines0+2*stations {
		t.Errorf("goroutines: %.0f before the stations, %.0f after they left: more than each station's own", goroutines0, goroutines1)
	}
	if goroutines2 > goroutines1+5 {
		t.Errorf("goroutines: %.0f after the first round of sessions, %.0f after the second: sessions leak them", goroutines1, goroutines2)
	}
	if m["contactd_dropped_units_total"] > 0 {
		t.Errorf("%.0f media units dropped: the server did not keep up", m["contactd_dropped_units_total"])
	}
}

func postEvent(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
