package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"contactd/capture"
	"contactd/config"
	"contactd/internal/testenv"
	"contactd/recorder"
)

// TestControlledRecordingWritesOnlyContacts: a desk in controlled mode
// (record: contacts) streams audio and video for half a minute with one
// contact in the middle. Nothing reaches the disk before the contact's
// pre-roll; every segment ever written lies inside the contact's reach
// (pre-roll before the arrive to post-roll and merge gap after the leave);
// the clip still has its pre-roll, from memory.
func TestControlledRecordingWritesOnlyContacts(t *testing.T) {
	ogg, ivf := media(t)
	state := t.TempDir()
	ts := startServer(t, state, t.TempDir(), func(c *config.Config) {
		c.Stations[0].Record = "contacts"
		c.Segmenter.RatingWindow = 2 * time.Second
	})
	segDir := filepath.Join(state, "segments", "desk-1")
	var mu sync.Mutex
	var written []recorder.Segment // every segment the recorder closes, even if removed later
	r, _ := ts.srv.Recorder("desk-1")
	r.OnSegment = func(s recorder.Segment) { mu.Lock(); written = append(written, s); mu.Unlock() }
	onDisk := func() []string {
		var files []string
		filepath.Walk(segDir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && strings.HasSuffix(p, ".mkv") {
				files = append(files, p)
			}
			return nil
		})
		return files
	}

	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, Video: true, InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	sctx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the staff talk before, during and after: the file in a loop
		defer wg.Done()
		for sctx.Err() == nil {
			capture.StreamOgg(sctx, pub.Audio, ogg)
		}
	}()
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			capture.StreamIVF(sctx, pub.VideoTr, ivf)
		}
	}()
	defer func() { stopStream(); wg.Wait() }()

	time.Sleep(8 * time.Second) // staff conversation, no patient
	if f := onDisk(); len(f) != 0 {
		t.Fatalf("controlled recording wrote %v with no contact", f)
	}
	arrive := time.Now().UTC()
	pub.Send(map[string]any{"type": "arrive", "at": arrive})
	time.Sleep(6 * time.Second)
	leave := time.Now().UTC()
	pub.Send(map[string]any{"type": "leave", "at": leave})
	scs := waitSidecars(t, ts.store, 1, 30*time.Second)
	time.Sleep(8 * time.Second) // more staff talk after the contact
	stopStream()
	wg.Wait()
	ts.stop()

	if len(scs) != 1 {
		t.Fatalf("%d contacts stored, want 1", len(scs))
	}
	c := scs[0]
	cfg := ts.srv.Config.Segmenter
	from, to := arrive.Add(-cfg.PreRoll), leave.Add(cfg.PostRoll+cfg.MergeGap)
	mu.Lock()
	defer mu.Unlock()
	if len(written) == 0 {
		t.Fatal("no segment written at all")
	}
	var total time.Duration
	for _, s := range written {
		total += s.End.Sub(s.Start)
		if s.Start.Before(from.Add(-30*time.Millisecond)) || s.End.After(to.Add(30*time.Millisecond)) {
			t.Errorf("segment %s–%s lies outside the contact's reach %s–%s", s.Start.Format("15:04:05.000"), s.End.Format("15:04:05.000"),
				from.Format("15:04:05.000"), to.Format("15:04:05.000"))
		}
	}
	t.Logf("%d segments, %.1f s of media written for a contact of %.1f s (reach %.1f s) in %.0f s of streaming",
		len(written), total.Seconds(), leave.Sub(arrive).Seconds(), to.Sub(from).Seconds(), time.Since(arrive.Add(-8*time.Second)).Seconds())
	if d := c.ClipStart.Sub(from); d.Abs() > 100*time.Millisecond {
		t.Errorf("clip starts %v after arrive − pre-roll: the pre-roll held in memory did not reach it", d)
	}
	if d := c.ClipEnd.Sub(leave.Add(cfg.PostRoll)); d.Abs() > 100*time.Millisecond {
		t.Errorf("clip ends %v off leave + post-roll", d)
	}
	dur, codecs := testenv.Probe(t, filepath.Join(ts.store, c.Clip))
	if len(codecs) != 2 || dur < leave.Sub(arrive).Seconds()+cfg.PostRoll.Seconds() {
		t.Errorf("clip %.2f s %v", dur, codecs)
	}
}
