package recorder

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// opusSilence is a valid 20 ms Opus packet (CELT, code 0, silence).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

func push(r *Recorder, start time.Time, from, n int) {
	for i := from; i < from+n; i++ {
		r.Push(Frame{Kind: Audio, Data: opusSilence, RTP: uint32(i * 960), Wall: start.Add(time.Duration(i) * 20 * time.Millisecond),
			Dur: 20 * time.Millisecond})
	}
}

func TestRotationScanRemove(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := &Recorder{Dir: dir, Station: "desk-1", SegmentLength: 2 * time.Second}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	push(r, start, 0, 350) // 7 s
	r.Flush(start.Add(7*time.Second), time.Second)
	segs := r.Segments(start, start.Add(time.Hour))
	if len(segs) != 4 {
		t.Fatalf("%d segments for 7 s at 2 s each, want 4", len(segs))
	}
	for i, s := range segs {
		if want := start.Add(time.Duration(i) * 2 * time.Second); !s.Start.Equal(want) {
			t.Errorf("segment %d starts %s, want %s", i, s.Start, want)
		}
	}
	if !segs[3].End.Equal(start.Add(7 * time.Second)) {
		t.Errorf("last segment ends %s", segs[3].End)
	}
	if got := r.Segments(start.Add(3*time.Second), start.Add(5*time.Second)); len(got) != 2 {
		t.Errorf("segments overlapping 3–5 s: %d, want 2", len(got))
	}
	// A segment torn by a crash (no meta, no trailer) comes back on Scan.
	push(r, start, 350, 100)
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	torn := r.cur.seg.Path
	r.mu.Unlock()
	r.Close()
	os.Remove(metaPath(torn))
	again, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	last := again[len(again)-1]
	if last.Path != torn || last.End.Sub(start) < 8*time.Second {
		t.Errorf("torn segment not recovered: %+v", last)
	}
	// Retention: everything ending before 5 s goes.
	r2 := &Recorder{Dir: dir, Station: "desk-1"}
	if err := r2.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if n := r2.Remove(start.Add(5 * time.Second)); n != 2 {
		t.Errorf("removed %d, want 2", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.mkv"))
	if len(files) != 3 {
		t.Errorf("%d files left, want 3", len(files))
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	// A writer that is not draining (a stalled disk): the queue takes 16
	// frames, the rest are dropped and counted, and Push never blocks.
	dropped := 0
	r := &Recorder{OnDrop: func() { dropped++ }, frames: make(chan Frame, 16)}
	ok := 0
	for i := 0; i < 100; i++ {
		if r.Push(Frame{Kind: Audio, Data: opusSilence}) {
			ok++
		}
	}
	if ok != 16 || dropped != 84 {
		t.Fatalf("queued %d, dropped %d; want 16 and 84", ok, dropped)
	}
}
