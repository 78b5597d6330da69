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

// quietFFmpeg routes FFmpeg's own log lines (errors only) into slog.
func quietFFmpeg() {
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
	quietFFmpeg()
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

// Span is where a cut clip really starts and ends, as offsets from the
// start of the recording.
type Span struct {
	Start, End time.Duration
}

func toDur(ts int64, tb astiav.Rational) time.Duration {
	return time.Duration(astiav.RescaleQ(ts, tb, usec)) * time.Microsecond
}

// Cut writes the part [from, to) of the recording (offsets from its start)
// to out. Audio packets overlapping the range are copied whole; with video,
// the clip starts at the keyframe at or before from, and audio from there
// too, so picture and sound begin together.
func (c *Cutter) Cut(from, to time.Duration, out string) (Span, error) {
	if c.in == nil {
		return Span{}, errors.New("clip: cutter is closed")
	}
	if to <= from {
		return Span{}, fmt.Errorf("clip: empty range %v..%v", from, to)
	}
	from = max(from, 0)
	target := c.start + from.Microseconds()
	end := c.start + to.Microseconds()
	if err := c.in.SeekFrame(-1, target, astiav.NewSeekFlags(astiav.SeekFlagBackward)); err != nil {
		return Span{}, fmt.Errorf("%s: seeking to %v: %w", c.path, from, err)
	}

	format, _ := c.info.Container()
	w, err := newWriter(out, format, c.in, c.streams)
	if err != nil {
		return Span{}, err
	}
	defer w.free()

	// Until the video keyframe is seen the clip start is unknown, so audio
	// read before it waits in pending.
	startUS := int64(-1)
	if c.video < 0 {
		startUS = target
	}
	var pending []*astiav.Packet
	defer func() {
		for _, p := range pending {
			p.Free()
		}
	}()
	done := make(map[int]bool)
	lastEnd := int64(-1)
	write := func(p *astiav.Packet) error {
		s := c.streams[p.StreamIndex()]
		ptsUS := astiav.RescaleQ(p.Pts(), s.TimeBase(), usec)
		durUS := astiav.RescaleQ(p.Duration(), s.TimeBase(), usec)
		if s.Index() != c.video && ptsUS+durUS <= startUS {
			return nil // audio wholly before the clip
		}
		if s.Index() == c.video && ptsUS+durUS > end {
			// The last picture is shown only until the clip end, so the clip
			// is as long as its audio, not a frame longer.
			durUS = end - ptsUS
			p.SetDuration(astiav.RescaleQ(durUS, usec, s.TimeBase()))
		}
		if e := ptsUS + durUS; e > lastEnd {
			lastEnd = e
		}
		return w.write(p, startUS)
	}

	for len(done) < len(c.info.Streams) {
		if err := c.in.ReadFrame(c.pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			return Span{}, fmt.Errorf("%s: reading: %w", c.path, err)
		}
		idx := c.pkt.StreamIndex()
		if idx >= len(c.streams) || c.streams[idx] == nil || c.pkt.Pts() == astiav.NoPtsValue {
			c.pkt.Unref()
			continue
		}
		s := c.streams[idx]
		ptsUS := astiav.RescaleQ(c.pkt.Pts(), s.TimeBase(), usec)
		if ptsUS >= end {
			done[idx] = true
			c.pkt.Unref()
			continue
		}
		if startUS < 0 { // waiting for the video keyframe
			if idx == c.video {
				if !c.pkt.Flags().Has(astiav.PacketFlagKey) {
					c.pkt.Unref()
					continue
				}
				startUS = min(ptsUS, target)
				for _, p := range pending {
					if err := write(p); err != nil {
						return Span{}, err
					}
				}
			} else {
				pending = append(pending, c.pkt.Clone())
				c.pkt.Unref()
				continue
			}
		}
		err := write(c.pkt)
		c.pkt.Unref()
		if err != nil {
			return Span{}, err
		}
	}
	if startUS < 0 || lastEnd < 0 {
		return Span{}, fmt.Errorf("%s: nothing to cut in %v..%v", c.path, from, to)
	}
	if err := w.finish(); err != nil {
		return Span{}, err
	}
	return Span{Start: time.Duration(startUS-c.start) * time.Microsecond, End: time.Duration(lastEnd-c.start) * time.Microsecond}, nil
}

// writer is one output clip being muxed.
type writer struct {
	out     *astiav.FormatContext
	io      *astiav.IOContext
	streams map[int]*astiav.Stream // output stream by input index
	in      map[int]*astiav.Stream
	started bool
}

func newWriter(path, format string, in *astiav.FormatContext, streams []*astiav.Stream) (*writer, error) {
	out, err := astiav.AllocOutputFormatContext(nil, format, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w := &writer{out: out, streams: map[int]*astiav.Stream{}, in: map[int]*astiav.Stream{}}
	for _, is := range streams {
		if is == nil {
			continue
		}
		os := out.NewStream(nil)
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
		w.streams[is.Index()] = os
		w.in[is.Index()] = is
	}
	if !out.OutputFormat().Flags().Has(astiav.IOFormatFlagNofile) {
		w.io, err = astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
		if err != nil {
			w.free()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out.SetPb(w.io)
	}
	if err := out.WriteHeader(nil); err != nil {
		w.free()
		return nil, fmt.Errorf("%s: writing header: %w", path, err)
	}
	w.started = true
	return w, nil
}

// write rebases p so the clip starts at startUS and muxes it.
func (w *writer) write(p *astiav.Packet, startUS int64) error {
	is, os := w.in[p.StreamIndex()], w.streams[p.StreamIndex()]
	shift := astiav.RescaleQ(startUS, usec, is.TimeBase())
	p.SetPts(p.Pts() - shift)
	if p.Dts() != astiav.NoPtsValue {
		p.SetDts(p.Dts() - shift)
	}
	p.RescaleTs(is.TimeBase(), os.TimeBase())
	p.SetStreamIndex(os.Index())
	p.SetPos(-1)
	if err := w.out.WriteInterleavedFrame(p); err != nil {
		return fmt.Errorf("clip: writing packet: %w", err)
	}
	return nil
}

func (w *writer) finish() error {
	err := w.out.WriteTrailer()
	w.started = false
	if err != nil {
		return fmt.Errorf("clip: writing trailer: %w", err)
	}
	return nil
}

func (w *writer) free() {
	if w.io != nil {
		_ = w.io.Close()
		w.io = nil
	}
	if w.out != nil {
		w.out.Free()
		w.out = nil
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
