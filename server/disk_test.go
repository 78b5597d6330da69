package server

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"contactd/capture"
	"contactd/config"
)

// du is the bytes of the files under dir.
func du(dir string) uint64 {
	var n uint64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += uint64(fi.Size())
		}
		return nil
	})
	return n
}

// TestDiskNearlyFull: on a disk (of a size the test sets) nearly full,
// segments no contact needs go first, oldest first and only as many as
// needed; the segments of a contact still open are kept however little
// room is left; the condition is a metric.
func TestDiskNearlyFull(t *testing.T) {
	ogg, _ := media(t)
	state := t.TempDir()
	var capacity atomic.Uint64
	capacity.Store(1 << 40)
	serverHook = func(s *Server) {
		s.DiskFree = func(string) (uint64, error) { return capacity.Load() - min(capacity.Load(), du(state)), nil }
	}
	defer func() { serverHook = nil }()
	const minFree = 1 << 20
	ts := startServer(t, state, t.TempDir(), func(c *config.Config) { c.Recorder.MinFreeBytes = minFree })

	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			capture.StreamOgg(sctx, pub.Audio, ogg)
		}
	}()
	time.Sleep(10 * time.Second) // staff talk: segments no contact needs
	arrive := time.Now().UTC()
	pub.Send(map[string]any{"type": "arrive", "at": arrive})
	time.Sleep(6 * time.Second) // a contact under way
	stop()
	wg.Wait()
	r, _ := ts.srv.Recorder("desk-1")
	r.Flush(time.Now(), time.Second)
	segs := r.Segments(time.Time{}, time.Now().Add(time.Hour))
	need := arrive.Add(-ts.srv.Config.Segmenter.PreRoll)
	var free []string // segments no contact needs, oldest first
	for _, s := range segs {
		if s.End.Before(need) {
			free = append(free, s.Path)
		}
	}
	if len(free) < 3 || len(free) == len(segs) {
		t.Fatalf("%d segments, %d before the contact: the test needs both kinds", len(segs), len(free))
	}

	// Just under the minimum: the oldest segment goes, and nothing else.
	capacity.Store(du(state) + minFree - 1)
	ts.srv.checkDisk()
	after := r.Segments(time.Time{}, time.Now().Add(time.Hour))
	if len(after) != len(segs)-1 || after[0].Path != segs[1].Path {
		t.Errorf("just under the minimum: %d of %d segments left, want all but the oldest", len(after), len(segs))
	}
	if _, err := os.Stat(segs[0].Path); err == nil {
		t.Error("the evicted segment is still on disk")
	}
	if v := metric(t, ts.url, "contactd_disk_low"); v != 1 {
		t.Errorf("contactd_disk_low %v, want 1", v)
	}

	// Far under: every segment no contact needs goes; the open contact's stay.
	capacity.Store(du(state))
	ts.srv.checkDisk()
	after = r.Segments(time.Time{}, time.Now().Add(time.Hour))
	if len(after) != len(segs)-len(free) {
		t.Errorf("full disk: %d segments left, want the %d the open contact needs", len(after), len(segs)-len(free))
	}
	for _, s := range after {
		if s.End.Before(need) {
			t.Errorf("segment %s (no contact needs it) survived", s.Path)
		}
	}
	capacity.Store(1 << 40)
	ts.srv.checkDisk()
	if v := metric(t, ts.url, "contactd_disk_low"); v != 0 {
		t.Errorf("contactd_disk_low %v with room again, want 0", v)
	}
}

// metric reads a gauge without station labels from /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + `\{[^}]*\} (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s not in /metrics", name)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
