// Package recorder writes a station's live media as continuous Matroska
// segments by stream copy (go-astiav), each placed on the wall clock, so
// that clips can be cut from them later. It never decodes or re-encodes.
package recorder

import (
	"encoding/binary"
	"encoding/json"

	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"contactd/clip"
	"contactd/rtc"
)

// Kind is the kind of a frame.
type Kind int

const (
	Audio Kind = iota
	Video
)

// Frame is one media unit received from a station: an Opus packet or a whole
// VP8 frame, with its RTP time and its wall-clock time.
type Frame struct {
	Kind Kind
	Data []byte
	RTP  uint32
	Wall time.Time
	Dur  time.Duration
	Key  bool // video keyframe
	// Codec of a video frame: "vp8" (default) or "h264" (Annex B access unit).
	Codec string
}

// Segment is one closed segment file on the wall clock.
type Segment struct {
	Path  string    `json:"path"`
	Start time.Time `json:"start"` // wall time of the file's timestamp zero
	End   time.Time `json:"end"`
	Video bool      `json:"video"`
	// VideoCodec is "vp8" or "h264" when Video.
	VideoCodec string `json:"video_codec,omitempty"`
	Frames     int    `json:"frames"`
	// FirstRTP maps the segment to the RTP clocks: the RTP time of its first
	// audio and video frame.
	FirstRTP map[string]uint32 `json:"first_rtp"`
}

// Recorder writes one station's frames into segments. Push never blocks: a
// full queue drops the frame and counts it.
type Recorder struct {
	Dir           string        // the station's segment directory
	Station       string        //
	SegmentLength time.Duration // rotate after this much media (at a keyframe when there is video)
	QueueSize     int           // frames waiting to be written
	Log           *slog.Logger
	// OnDrop is called for every frame dropped because the queue was full.
	OnDrop func()
	// OnNeedKeyframe asks the sender for a keyframe (a PLI) after a rotation.
	OnNeedKeyframe func()
	// OnSegment is called after a segment is closed.
	OnSegment func(Segment)
	// Gate, if set, is controlled recording: only frames whose wall time it
	// accepts reach the disk. Each frame waits Hold in memory first, so a
	// contact announced up to Hold after its clip starts (its pre-roll)
	// still gets the frames before the announcement; the rest are dropped
	// and never written.
	Gate func(wall time.Time) bool
	Hold time.Duration

	frames    chan Frame
	flushReq  chan flushReq
	terminate chan struct{}
	done      chan struct{}

	mu       sync.Mutex
	segments []Segment
	high     time.Time // wall time up to which media was received

	// owned by run()
	pending     []Frame   // controlled recording: frames waiting for the gate, oldest first
	lastWritten time.Time // controlled recording: the newest frame written
	cur         *segWriter
	video       videoParams // of the latest keyframe; zero until one came
}

// videoParams is what a segment's video stream header needs.
type videoParams struct {
	codec string // "vp8", "h264"
	w, h  int
	extra string // H.264 SPS and PPS, Annex B
}

// paramsOf reads the stream parameters from a keyframe.
func paramsOf(f Frame) (videoParams, bool) {
	if f.Codec == "h264" {
		sps, pps := rtc.H264ParamSets(f.Data)
		if sps == nil || pps == nil {
			return videoParams{}, false
		}
		w, h, err := rtc.H264Size(sps)
		if err != nil {
			return videoParams{}, false
		}
		start := []byte{0, 0, 0, 1}
		extra := append(append(append(append([]byte{}, start...), sps...), start...), pps...)
		return videoParams{codec: "h264", w: w, h: h, extra: string(extra)}, true
	}
	w, h, ok := VP8Size(f.Data)
	return videoParams{codec: "vp8", w: w, h: h}, ok
}

type flushReq struct {
	until time.Time
	reply chan struct{}
}

// Initialize scans the directory for earlier segments (a restart) and starts
// the writer.
func (r *Recorder) Initialize() error {
	if r.Log == nil {
		r.Log = slog.Default()
	}
	clip.QuietFFmpeg()
	if r.SegmentLength <= 0 {
		r.SegmentLength = 10 * time.Second
	}
	if r.QueueSize <= 0 {
		r.QueueSize = 1024
	}
	if err := os.MkdirAll(r.Dir, 0o750); err != nil {
		return err
	}
	segs, err := Scan(r.Dir)
	if err != nil {
		return err
	}
	r.segments = segs
	r.frames = make(chan Frame, r.QueueSize)
	r.flushReq = make(chan flushReq)
	r.terminate = make(chan struct{})
	r.done = make(chan struct{})
	go r.run()
	return nil
}

// Close writes the open segment's trailer and stops. Safe to call twice.
func (r *Recorder) Close() {
	select {
	case <-r.terminate:
	default:
		close(r.terminate)
	}
	<-r.done
}

// Push queues a frame; false means it was dropped (queue full).
func (r *Recorder) Push(f Frame) bool {
	select {
	case r.frames <- f:
		return true
	default:
		if r.OnDrop != nil {
			r.OnDrop()
		}
		return false
	}
}

// Flush waits until the frames up to wall time until are in closed segments,
// or until timeout passes, whichever is first; then it closes the open
// segment so a clip can be cut from it.
func (r *Recorder) Flush(until time.Time, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && r.HighWater().Before(until) {
		time.Sleep(20 * time.Millisecond)
	}
	req := flushReq{until: until, reply: make(chan struct{})}
	select {
	case r.flushReq <- req:
		<-req.reply
	case <-r.done:
	}
}

// HighWater is the wall time of the newest frame received.
func (r *Recorder) HighWater() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.high
}

// Segments returns the closed segments overlapping [from, to), oldest first.
func (r *Recorder) Segments(from, to time.Time) []Segment {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Segment
	for _, s := range r.segments {
		if s.End.After(from) && s.Start.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// Remove deletes closed segments that ended before t; it returns how many.
func (r *Recorder) Remove(before time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := r.segments[:0]
	n := 0
	for _, s := range r.segments {
		if s.End.Before(before) {
			os.Remove(s.Path)
			os.Remove(metaPath(s.Path))
			n++
			continue
		}
		keep = append(keep, s)
	}
	r.segments = keep
	return n
}

func (r *Recorder) run() {
	defer close(r.done)
	for {
		select {
		case f := <-r.frames:
			r.take(f)
		case req := <-r.flushReq:
			// Drain what is queued first, then close the segment.
			for drained := false; !drained; {
				select {
				case f := <-r.frames:
					r.take(f)
				default:
					drained = true
				}
			}
			r.release(req.until)
			r.rotate()
			close(req.reply)
		case <-r.terminate:
			for {
				select {
				case f := <-r.frames:
					r.take(f)
					continue
				default:
				}
				break
			}
			r.release(time.Time{})
			r.rotate()
			return
		}
	}
}

// maxPending bounds the frames held for the gate whatever the clocks do.
const maxPending = 8192

// take writes a frame, or with a gate holds it until Hold has passed.
func (r *Recorder) take(f Frame) {
	if r.Gate == nil {
		r.write(f)
		return
	}
	r.received(f)
	r.pending = append(r.pending, f)
	r.release(f.Wall.Add(-r.Hold))
}

// release passes the held frames older than until (all of them when until
// is zero, or beyond maxPending) through the gate: written or dropped.
func (r *Recorder) release(until time.Time) {
	n := 0
	for n < len(r.pending) && (until.IsZero() || r.pending[n].Wall.Before(until) || len(r.pending)-n > maxPending) {
		f := r.pending[n]
		r.pending[n] = Frame{}
		n++
		// Audio and video frames come interleaved, not in strict wall
		// order: at the gate's edges a frame from just before the last one
		// written must neither close the segment nor open a new one.
		if r.Gate(f.Wall) {
			if r.cur != nil || f.Wall.After(r.lastWritten) {
				r.write(f)
				r.lastWritten = maxTime(r.lastWritten, f.Wall)
			}
			continue
		}
		if r.cur != nil && f.Wall.After(r.lastWritten) {
			r.rotate() // past the gate's end: a segment never spans media outside it
		}
		if f.Kind == Video && f.Key { // the next segment's video stream header
			if p, ok := paramsOf(f); ok {
				r.video = p
			}
		}
	}
	r.pending = r.pending[n:]
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (r *Recorder) received(f Frame) {
	r.mu.Lock()
	if end := f.Wall.Add(f.Dur); end.After(r.high) {
		r.high = end
	}
	r.mu.Unlock()
}

func (r *Recorder) write(f Frame) {
	r.received(f)
	if f.Kind == Video && f.Key {
		if p, ok := paramsOf(f); ok {
			r.video = p
		}
	}
	if r.cur != nil {
		// Rotate on length (at a keyframe when there is video), when a
		// camera's first keyframe comes to an audio-only segment or its
		// stream changed, or when the wall clock jumped (sender clock
		// mapping changed).
		long := f.Wall.Sub(r.cur.seg.Start) >= r.SegmentLength
		switch {
		case f.Kind == Video && f.Key && r.video.codec != "" && r.video != r.cur.video:
			r.rotate()
		case long && (!r.cur.seg.Video || (f.Kind == Video && f.Key)):
			r.rotate()
		case long && r.cur.seg.Video && f.Wall.Sub(r.cur.seg.Start) > 3*r.SegmentLength:
			r.rotate() // no keyframe for too long: rotate anyway
		case f.Wall.Before(r.cur.seg.Start.Add(-time.Second)):
			r.rotate()
		}
	}
	if r.cur == nil {
		if f.Kind == Video && !f.Key {
			return // a segment's video starts at a keyframe
		}
		video := r.video.codec != ""
		w, err := openSegment(r.Dir, f.Wall, r.video)
		if err != nil {
			r.Log.Error("opening segment", "station", r.Station, "error", err)
			return
		}
		r.cur = w
		if video && f.Kind == Audio && r.OnNeedKeyframe != nil {
			r.OnNeedKeyframe()
		}
	}
	if f.Kind == Video {
		if !r.cur.seg.Video || f.codec() != r.cur.video.codec {
			return
		}
		if !r.cur.sawVKey && !f.Key {
			return
		}
		r.cur.sawVKey = true
	}
	if err := r.cur.write(f); err != nil {
		r.Log.Warn("writing frame", "station", r.Station, "error", err)
	}
}

// rotate closes the open segment, if any.
func (r *Recorder) rotate() {
	if r.cur == nil {
		return
	}
	seg, err := r.cur.close()
	r.cur = nil
	if err != nil {
		r.Log.Error("closing segment", "station", r.Station, "error", err)
		return
	}
	if seg.Frames == 0 {
		os.Remove(seg.Path)
		return
	}
	if err := writeMeta(seg); err != nil {
		r.Log.Error("writing segment meta", "station", r.Station, "error", err)
	}
	r.mu.Lock()
	r.segments = append(r.segments, seg)
	r.mu.Unlock()
	if r.OnSegment != nil {
		r.OnSegment(seg)
	}
}

func metaPath(seg string) string { return strings.TrimSuffix(seg, ".mkv") + ".json" }

func writeMeta(s Segment) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := metaPath(s.Path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, metaPath(s.Path))
}

// Scan lists the segments in dir, oldest first. A segment without its meta
// file was being written when the process died: its end is read from the
// file itself (Matroska stays readable without its trailer) and the meta is
// written, so the media is not lost.
func Scan(dir string) ([]Segment, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.mkv"))
	if err != nil {
		return nil, err
	}
	var out []Segment
	for _, p := range files {
		var s Segment
		if b, err := os.ReadFile(metaPath(p)); err == nil && json.Unmarshal(b, &s) == nil {
			s.Path = p
			out = append(out, s)
			continue
		}
		ns, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(p), ".mkv"), 10, 64)
		if err != nil {
			continue // not ours
		}
		info, err := clip.Probe(p)
		var end time.Duration
		if err == nil {
			end, err = clip.Extent(p)
		}
		if err != nil || end <= 0 {
			os.Remove(p) // nothing usable was written
			continue
		}
		s = Segment{Path: p, Start: time.Unix(0, ns).UTC(), Video: info.HasVideo()}
		s.End = s.Start.Add(end)
		s.Frames = -1
		_ = writeMeta(s)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	return out, nil
}

func (f Frame) codec() string {
	if f.Codec == "" {
		return "vp8"
	}
	return f.Codec
}

// segWriter is the open segment.
type segWriter struct {
	seg     Segment
	video   videoParams
	ctx     *astiav.FormatContext
	io      *astiav.IOContext
	audio   *astiav.Stream
	vstream *astiav.Stream
	pkt     *astiav.Packet
	last    map[Kind]int64 // last pts µs, to keep them rising
	sawVKey bool
}

var usec = astiav.NewRational(1, 1_000_000)

// openSegment creates {dir}/{start unix ns}.mkv with an Opus stream and,
// when vp names a codec, a video stream.
func openSegment(dir string, start time.Time, vp videoParams) (*segWriter, error) {
	video := vp.codec != ""
	path := filepath.Join(dir, fmt.Sprintf("%d.mkv", start.UnixNano()))
	ctx, err := astiav.AllocOutputFormatContext(nil, "matroska", path)
	if err != nil {
		return nil, err
	}
	sw := &segWriter{seg: Segment{Path: path, Start: start, End: start, Video: video, VideoCodec: vp.codec, FirstRTP: map[string]uint32{}},
		ctx: ctx, video: vp, last: map[Kind]int64{Audio: -1, Video: -1}}
	sw.audio = ctx.NewStream(nil)
	cp := sw.audio.CodecParameters()
	cp.SetMediaType(astiav.MediaTypeAudio)
	cp.SetCodecID(astiav.CodecIDOpus)
	cp.SetSampleRate(48000)
	cp.SetChannelLayout(astiav.ChannelLayoutStereo)
	if err := cp.SetExtraData(opusHead(2)); err != nil {
		sw.free()
		return nil, err
	}
	sw.audio.SetTimeBase(astiav.NewRational(1, 48000))
	if video {
		sw.vstream = ctx.NewStream(nil)
		cp := sw.vstream.CodecParameters()
		cp.SetMediaType(astiav.MediaTypeVideo)
		cp.SetWidth(vp.w)
		cp.SetHeight(vp.h)
		if vp.codec == "h264" {
			// Annex B parameter sets: the Matroska muxer turns them (and the
			// frames) into the avcC form it stores.
			cp.SetCodecID(astiav.CodecIDH264)
			if err := cp.SetExtraData([]byte(vp.extra)); err != nil {
				sw.free()
				return nil, err
			}
		} else {
			cp.SetCodecID(astiav.CodecIDVp8)
		}
		sw.vstream.SetTimeBase(astiav.NewRational(1, 90000))
	}
	if sw.io, err = astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite)); err != nil {
		sw.free()
		return nil, err
	}
	ctx.SetPb(sw.io)
	// Close a cluster every second and flush after each packet, so a crash
	// (even SIGKILL) loses at most about a second of media.
	opts := astiav.NewDictionary()
	defer opts.Free()
	_ = opts.Set("cluster_time_limit", "1000", astiav.NewDictionaryFlags())
	_ = opts.Set("flush_packets", "1", astiav.NewDictionaryFlags())
	if err := ctx.WriteHeader(opts); err != nil {
		sw.free()
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	sw.pkt = astiav.AllocPacket()
	return sw, nil
}

// opusHead is the Opus identification header Matroska keeps as CodecPrivate
// (RFC 7845 §5.1): no pre-skip, since RTP Opus starts playing at once.
func opusHead(channels int) []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8] = 1
	b[9] = byte(channels)
	binary.LittleEndian.PutUint32(b[12:], 48000)
	return b
}

// VP8Size reads the picture size of a VP8 keyframe (RFC 6386 §9.1).
func VP8Size(b []byte) (w, h int, ok bool) {
	if len(b) < 10 || b[0]&1 != 0 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return 0, 0, false
	}
	w = int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff)
	h = int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff)
	return w, h, w > 0 && h > 0
}

func (sw *segWriter) write(f Frame) error {
	st := sw.audio
	name := "audio"
	if f.Kind == Video {
		st, name = sw.vstream, "video"
	}
	if _, ok := sw.seg.FirstRTP[name]; !ok {
		sw.seg.FirstRTP[name] = f.RTP
	}
	pts := f.Wall.Sub(sw.seg.Start).Microseconds()
	if pts <= sw.last[f.Kind] {
		pts = sw.last[f.Kind] + 1
	}
	sw.last[f.Kind] = pts
	if err := sw.pkt.FromData(f.Data); err != nil {
		return err
	}
	defer sw.pkt.Unref()
	tb := st.TimeBase()
	sw.pkt.SetPts(astiav.RescaleQ(pts, usec, tb))
	sw.pkt.SetDts(sw.pkt.Pts())
	sw.pkt.SetDuration(astiav.RescaleQ(f.Dur.Microseconds(), usec, tb))
	sw.pkt.SetStreamIndex(st.Index())
	if f.Key {
		sw.pkt.SetFlags(sw.pkt.Flags().Add(astiav.PacketFlagKey))
	}
	if err := sw.ctx.WriteInterleavedFrame(sw.pkt); err != nil {
		return err
	}
	sw.seg.Frames++
	if end := sw.seg.Start.Add(time.Duration(pts)*time.Microsecond + f.Dur); end.After(sw.seg.End) {
		sw.seg.End = end
	}
	return nil
}

func (sw *segWriter) close() (Segment, error) {
	err := sw.ctx.WriteTrailer()
	sw.free()
	return sw.seg, err
}

func (sw *segWriter) free() {
	if sw.pkt != nil {
		sw.pkt.Free()
		sw.pkt = nil
	}
	if sw.io != nil {
		_ = sw.io.Close()
		sw.io = nil
	}
	if sw.ctx != nil {
		sw.ctx.Free()
		sw.ctx = nil
	}
}

// Import adds a segment recorded elsewhere (an agent's spool, uploaded after
// an outage) whose timestamp zero is at start. The file is checked and moved
// into the station's directory; importing the same start twice is a no-op.
func (r *Recorder) Import(file string, start time.Time) (Segment, error) {
	info, err := clip.Probe(file)
	if err != nil {
		return Segment{}, err
	}
	hasAudio := false
	for _, s := range info.Streams {
		hasAudio = hasAudio || s.Type == "audio" && s.Codec == "opus"
	}
	if !hasAudio {
		return Segment{}, fmt.Errorf("segment has no Opus audio (streams %v)", info.Codecs())
	}
	end, err := clip.Extent(file)
	if err != nil {
		return Segment{}, err
	}
	dst := filepath.Join(r.Dir, fmt.Sprintf("%d.mkv", start.UnixNano()))
	seg := Segment{Path: dst, Start: start.UTC(), End: start.UTC().Add(end), Video: info.HasVideo(), Frames: -1}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.segments {
		if s.Path == dst {
			return s, nil
		}
	}
	if err := os.Rename(file, dst); err != nil {
		return Segment{}, err
	}
	if err := writeMeta(seg); err != nil {
		return Segment{}, err
	}
	r.segments = append(r.segments, seg)
	slices.SortFunc(r.segments, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	return seg, nil
}

// RemoveSegment deletes one closed segment (an agent's spool after upload).
func (r *Recorder) RemoveSegment(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.segments = slices.DeleteFunc(r.segments, func(s Segment) bool {
		if s.Path == path {
			os.Remove(s.Path)
			os.Remove(metaPath(s.Path))
			return true
		}
		return false
	})
}
