// Package clip cuts contact clips out of a station's recording by stream
// copy with FFmpeg's libraries (go-astiav): never re-encoded, audio exact to
// the packet, video from the keyframe at or before the clip start.
package clip

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
)

var usec = astiav.NewRational(1, 1_000_000) // FFmpeg's AV_TIME_BASE

var logOnce sync.Once

// QuietFFmpeg routes FFmpeg's own log lines (errors only) into slog.
func QuietFFmpeg() {
	logOnce.Do(func() {
		astiav.SetLogLevel(astiav.LogLevelError)
		astiav.SetLogCallback(func(_ astiav.Classer, l astiav.LogLevel, _, msg string) {
			if l <= astiav.LogLevelError {
				slog.Warn("ffmpeg", "msg", strings.TrimSpace(msg))
			}
		})
	})
}

// Stream describes one stream of a recording.
type Stream struct {
	Index int    `json:"index"`
	Type  string `json:"type"` // "audio" or "video"
	Codec string `json:"codec"`
}

// Info is what Probe learns of a recording.
type Info struct {
	Duration time.Duration
	Streams  []Stream
	// CreationTime is the container's creation_time tag, zero if absent.
	CreationTime time.Time
}

// HasVideo reports whether a video stream is present.
func (i *Info) HasVideo() bool {
	for _, s := range i.Streams {
		if s.Type == "video" {
			return true
		}
	}
	return false
}

// Codecs lists the codec names in stream order.
func (i *Info) Codecs() []string {
	var out []string
	for _, s := range i.Streams {
		out = append(out, s.Codec)
	}
	return out
}

// Container is the output container for clips of these streams: WebM when
// every codec is allowed in it (VP8/VP9/AV1, Opus/Vorbis), Matroska otherwise.
func (i *Info) Container() (format, ext string) {
	for _, s := range i.Streams {
		switch s.Codec {
		case "vp8", "vp9", "av1", "opus", "vorbis":
		default:
			return "matroska", "mkv"
		}
	}
	return "webm", "webm"
}

// Cutter holds a recording open so that many clips are cut from it without
// reopening and re-probing the file each time.
type Cutter struct {
	path    string
	in      *astiav.FormatContext
	pkt     *astiav.Packet
	info    Info
	streams []*astiav.Stream // audio and video streams kept, by input index (nil: dropped)
	start   int64            // media start in µs
	video   int              // index of the video stream, -1 if none
}

// Open opens and probes a recording.
func Open(path string) (*Cutter, error) {
	QuietFFmpeg()
	c := &Cutter{path: path, video: -1}
	c.in = astiav.AllocFormatContext()
	if c.in == nil {
		return nil, errors.New("clip: cannot allocate format context")
	}
	if err := c.in.OpenInput(path, nil, nil); err != nil {
		c.in.Free()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.in.FindStreamInfo(nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: reading stream info: %w", path, err)
	}
	for _, s := range c.in.Streams() {
		cp := s.CodecParameters()
		var typ string
		switch cp.MediaType() {
		case astiav.MediaTypeAudio:
			typ = "audio"
		case astiav.MediaTypeVideo:
			typ = "video"
			if c.video >= 0 {
				continue // one camera per station; extra video streams are dropped
			}
			c.video = s.Index()
		default:
			continue
		}
		for len(c.streams) <= s.Index() {
			c.streams = append(c.streams, nil)
		}
		c.streams[s.Index()] = s
		c.info.Streams = append(c.info.Streams, Stream{Index: s.Index(), Type: typ, Codec: cp.CodecID().Name()})
	}
	if len(c.info.Streams) == 0 {
		c.Close()
		return nil, fmt.Errorf("%s: no audio or video stream", path)
	}
	// Offsets count from the first timestamp. A negative start is codec delay
	// (Opus pre-skip): those samples are never played, so zero is the start.
	if st := c.in.StartTime(); st != astiav.NoPtsValue && st > 0 {
		c.start = st
	}
	if d := c.in.Duration(); d > 0 {
		c.info.Duration = time.Duration(d) * time.Microsecond
	}
	c.info.CreationTime = creationTime(c.in)
	c.pkt = astiav.AllocPacket()
	return c, nil
}

// Probe opens a recording only to describe it.
func Probe(path string) (*Info, error) {
	c, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	info := c.info
	return &info, nil
}

// Info describes the open recording.
func (c *Cutter) Info() *Info { return &c.info }

// Close releases the recording. It is safe to call twice.
func (c *Cutter) Close() {
	if c.pkt != nil {
		c.pkt.Free()
		c.pkt = nil
	}
	if c.in != nil {
		c.in.CloseInput()
		c.in.Free()
		c.in = nil
	}
}

// Span is where a cut clip really starts and ends, as offsets on the
// timeline the range was given in.
type Span struct {
	Start, End time.Duration
	// Streams of the clip written (from every source for CutSources).
	Streams []Stream
}

// Cut writes the part [from, to) of the recording (offsets from its start)
// to out. Audio packets overlapping the range are copied whole; with video,
// the clip starts at the keyframe at or before from, and audio from there
// too, so picture and sound begin together.
func (c *Cutter) Cut(from, to time.Duration, out string) (Span, error) {
	if c.in == nil {
		return Span{}, errors.New("clip: cutter is closed")
	}
	j, err := newJob(from, to, out)
	if err != nil {
		return Span{}, err
	}
	defer j.free()
	format, _ := c.info.Container()
	if j.w, err = newWriter(out, format, c.streams); err != nil {
		return Span{}, err
	}
	if err := j.feed(c, -c.start, true); err != nil {
		return Span{}, err
	}
	return j.finish()
}

// Source is one file of a continuous recording split in segments, placed on
// a common timeline: Offset is where the file's timestamp zero falls.
type Source struct {
	Path   string
	Offset time.Duration
}

// CutSources cuts [from, to) of the timeline out of consecutive segments into
// one clip, as Cut does for one file. The first source defines the streams;
// later sources' packets go to the stream of the same kind.
func CutSources(srcs []Source, from, to time.Duration, out string) (Span, error) {
	if len(srcs) == 0 {
		return Span{}, errors.New("clip: no segments cover the range")
	}
	j, err := newJob(from, to, out)
	if err != nil {
		return Span{}, err
	}
	defer j.free()
	cutters := make([]*Cutter, 0, len(srcs))
	defer func() {
		for _, c := range cutters {
			c.Close()
		}
	}()
	// The clip has audio and video if any segment has them: a camera may
	// come on after the first segment of the range.
	var audio, video *astiav.Stream
	var codecs []Stream
	for _, src := range srcs {
		c, err := Open(src.Path)
		if err != nil {
			return Span{}, err
		}
		cutters = append(cutters, c)
		for _, st := range c.streams {
			if st == nil {
				continue
			}
			if kindOf(st) == "video" && video == nil {
				video = st
				codecs = append(codecs, Stream{Type: "video", Codec: st.CodecParameters().CodecID().Name()})
			} else if kindOf(st) == "audio" && audio == nil {
				audio = st
				codecs = append(codecs, Stream{Type: "audio", Codec: st.CodecParameters().CodecID().Name()})
			}
		}
	}
	format, _ := (&Info{Streams: codecs}).Container()
	if j.w, err = newWriter(out, format, []*astiav.Stream{audio, video}); err != nil {
		return Span{}, err
	}
	for i, c := range cutters {
		if err := j.feed(c, srcs[i].Offset.Microseconds(), i == 0); err != nil {
			return Span{}, err
		}
		if j.complete {
			break
		}
	}
	span, err := j.finish()
	span.Streams = codecs
	return span, err
}

// job is one clip being cut, fed from one or more open recordings.
type job struct {
	out           string
	fromUS, endUS int64 // timeline range
	startUS       int64 // clip start on the timeline, -1 until known
	w             *writer
	sawKey        bool // a video keyframe has been written
	pending       []pendingPacket
	lastEnd       int64
	complete      bool             // every stream has passed the end
	last          map[string]int64 // timeline µs of the last packet written, by kind
}

type pendingPacket struct {
	p     *astiav.Packet
	s     *astiav.Stream
	shift int64
}

func newJob(from, to time.Duration, out string) (*job, error) {
	if to <= from {
		return nil, fmt.Errorf("clip: empty range %v..%v", from, to)
	}
	from = max(from, 0)
	return &job{out: out, fromUS: from.Microseconds(), endUS: to.Microseconds(), startUS: -1, lastEnd: -1,
		last: map[string]int64{}}, nil
}

func (j *job) free() {
	for _, p := range j.pending {
		p.p.Free()
	}
	j.pending = nil
	if j.w != nil {
		j.w.free()
	}
}

// feed reads the range out of one recording; shift turns its packet times
// (µs on the file's own clock) into timeline µs. The first feed seeks; later
// ones read from the start.
func (j *job) feed(c *Cutter, shift int64, first bool) error {
	if first {
		// With video from the start, the clip starts at its keyframe; a
		// clip whose first segment has none starts exactly at from.
		if c.video < 0 {
			j.startUS = j.fromUS
		}
		// A Cutter may have read elsewhere before: always seek.
		target := max(j.fromUS-shift, c.start)
		if err := c.in.SeekFrame(-1, target, astiav.NewSeekFlags(astiav.SeekFlagBackward)); err != nil {
			return fmt.Errorf("%s: seeking to %v: %w", c.path, time.Duration(target)*time.Microsecond, err)
		}
	}
	done := map[string]bool{}
	kinds := 0
	for _, s := range c.streams {
		if s != nil {
			kinds++
		}
	}
	for len(done) < kinds {
		if err := c.in.ReadFrame(c.pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("%s: reading: %w", c.path, err)
		}
		idx := c.pkt.StreamIndex()
		if idx >= len(c.streams) || c.streams[idx] == nil || c.pkt.Pts() == astiav.NoPtsValue {
			c.pkt.Unref()
			continue
		}
		s := c.streams[idx]
		kind := kindOf(s)
		if j.w.out[kind] == nil { // a stream the clip does not have
			c.pkt.Unref()
			continue
		}
		t := astiav.RescaleQ(c.pkt.Pts(), s.TimeBase(), usec) + shift
		if t >= j.endUS {
			done[kind] = true
			c.pkt.Unref()
			continue
		}
		if last, ok := j.last[kind]; ok && !first && t <= last {
			// Segments may overlap (an agent's spool beside what arrived
			// live): the first copy of a moment wins.
			c.pkt.Unref()
			continue
		}
		if j.startUS < 0 { // waiting for the video keyframe
			if kind != "video" {
				j.pending = append(j.pending, pendingPacket{c.pkt.Clone(), s, shift})
				c.pkt.Unref()
				continue
			}
			if !c.pkt.Flags().Has(astiav.PacketFlagKey) {
				c.pkt.Unref()
				continue
			}
			j.startUS = min(t, j.fromUS)
			for _, pp := range j.pending {
				err := j.write(pp.p, pp.s, pp.shift)
				pp.p.Free()
				if err != nil {
					j.pending = nil
					return err
				}
			}
			j.pending = nil
		}
		if kind == "video" && !j.sawKey {
			if !c.pkt.Flags().Has(astiav.PacketFlagKey) {
				c.pkt.Unref()
				continue // video that joins later starts at a keyframe
			}
			j.sawKey = true
		}
		err := j.write(c.pkt, s, shift)
		c.pkt.Unref()
		if err != nil {
			return err
		}
	}
	j.complete = true
	return nil
}

// write drops audio wholly before the clip start, trims the last picture's
// duration to the clip end, and muxes the packet on the clip's timeline.
func (j *job) write(p *astiav.Packet, s *astiav.Stream, shift int64) error {
	kind := kindOf(s)
	t := astiav.RescaleQ(p.Pts(), s.TimeBase(), usec) + shift
	dur := astiav.RescaleQ(p.Duration(), s.TimeBase(), usec)
	if kind == "audio" && t+dur <= j.startUS {
		return nil
	}
	if kind == "video" && t+dur > j.endUS {
		// The last picture is shown only until the clip end, so the clip is
		// as long as its audio, not a frame longer.
		dur = j.endUS - t
	}
	if e := t + dur; e > j.lastEnd {
		j.lastEnd = e
	}
	j.last[kind] = t
	dts := p.Dts()
	if dts != astiav.NoPtsValue {
		dts = astiav.RescaleQ(dts, s.TimeBase(), usec) + shift - j.startUS
	}
	return j.w.write(p, kind, t-j.startUS, dts, dur)
}

func (j *job) finish() (Span, error) {
	if j.startUS < 0 || j.lastEnd < 0 {
		return Span{}, fmt.Errorf("clip: nothing to cut in %v..%v", time.Duration(j.fromUS)*time.Microsecond,
			time.Duration(j.endUS)*time.Microsecond)
	}
	if err := j.w.finish(); err != nil {
		return Span{}, err
	}
	return Span{Start: time.Duration(j.startUS) * time.Microsecond, End: time.Duration(j.lastEnd) * time.Microsecond}, nil
}

func kindOf(s *astiav.Stream) string {
	if s.CodecParameters().MediaType() == astiav.MediaTypeVideo {
		return "video"
	}
	return "audio"
}

// writer is one output clip being muxed: at most one audio and one video stream.
type writer struct {
	ctx *astiav.FormatContext
	io  *astiav.IOContext
	out map[string]*astiav.Stream // by kind
}

func newWriter(path, format string, streams []*astiav.Stream) (*writer, error) {
	ctx, err := astiav.AllocOutputFormatContext(nil, format, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w := &writer{ctx: ctx, out: map[string]*astiav.Stream{}}
	for _, is := range streams {
		if is == nil || w.out[kindOf(is)] != nil {
			continue
		}
		os := ctx.NewStream(nil)
		if os == nil {
			w.free()
			return nil, errors.New("clip: cannot add output stream")
		}
		if err := is.CodecParameters().Copy(os.CodecParameters()); err != nil {
			w.free()
			return nil, err
		}
		os.CodecParameters().SetCodecTag(0)
		os.SetTimeBase(is.TimeBase())
		w.out[kindOf(is)] = os
	}
	if !ctx.OutputFormat().Flags().Has(astiav.IOFormatFlagNofile) {
		w.io, err = astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
		if err != nil {
			w.free()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		ctx.SetPb(w.io)
	}
	if err := ctx.WriteHeader(nil); err != nil {
		w.free()
		return nil, fmt.Errorf("%s: writing header: %w", path, err)
	}
	return w, nil
}

// write muxes p on stream kind with times given in clip µs.
func (w *writer) write(p *astiav.Packet, kind string, ptsUS, dtsUS, durUS int64) error {
	os := w.out[kind]
	tb := os.TimeBase()
	p.SetPts(astiav.RescaleQ(ptsUS, usec, tb))
	if dtsUS != astiav.NoPtsValue {
		p.SetDts(astiav.RescaleQ(dtsUS, usec, tb))
	}
	p.SetDuration(astiav.RescaleQ(durUS, usec, tb))
	p.SetStreamIndex(os.Index())
	p.SetPos(-1)
	if err := w.ctx.WriteInterleavedFrame(p); err != nil {
		return fmt.Errorf("clip: writing packet: %w", err)
	}
	return nil
}

func (w *writer) finish() error {
	if err := w.ctx.WriteTrailer(); err != nil {
		return fmt.Errorf("clip: writing trailer: %w", err)
	}
	return nil
}

func (w *writer) free() {
	if w.io != nil {
		_ = w.io.Close()
		w.io = nil
	}
	if w.ctx != nil {
		w.ctx.Free()
		w.ctx = nil
	}
}

// creationTime reads the creation_time tag of the container, or of its first
// stream that has one (Ogg keeps tags per stream).
func creationTime(fc *astiav.FormatContext) time.Time {
	dicts := []*astiav.Dictionary{fc.Metadata()}
	for _, s := range fc.Streams() {
		dicts = append(dicts, s.Metadata())
	}
	for _, d := range dicts {
		if d == nil {
			continue
		}
		if e := d.Get("creation_time", nil, astiav.NewDictionaryFlags()); e != nil {
			if t, err := time.Parse(time.RFC3339Nano, e.Value()); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// Extent reads every packet of a file and returns the end of the last one on
// the file's own clock. It serves files whose writer died before the trailer
// (no duration in the header); a torn last packet ends the read quietly.
func Extent(path string) (time.Duration, error) {
	c, err := Open(path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var end int64 = -1
	for {
		if err := c.in.ReadFrame(c.pkt); err != nil {
			break
		}
		idx := c.pkt.StreamIndex()
		if idx < len(c.streams) && c.streams[idx] != nil && c.pkt.Pts() != astiav.NoPtsValue {
			tb := c.streams[idx].TimeBase()
			if e := astiav.RescaleQ(c.pkt.Pts()+c.pkt.Duration(), tb, usec); e > end {
				end = e
			}
		}
		c.pkt.Unref()
	}
	if end < 0 {
		return 0, fmt.Errorf("%s: no packets", path)
	}
	return time.Duration(end) * time.Microsecond, nil
}
