// Package audio turns any audio FFmpeg reads into mono float32 samples at
// the rate the classifiers want: decoding with go-astiav, mixing down and
// resampling in Go.
package audio

/*
#cgo pkg-config: libavutil
#include <libavutil/frame.h>
#include <libavutil/samplefmt.h>

static int frame_channels(AVFrame *f) { return f->ch_layout.nb_channels; }
static uint8_t *frame_plane(AVFrame *f, int i) { return f->extended_data[i]; }
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"

	"contactd/clip"
)

// ErrNoAudio is returned for inputs without an audio stream.
var ErrNoAudio = errors.New("no audio stream")

// DecodeFile decodes the first audio stream of path to mono at rate Hz.
func DecodeFile(path string, rate int) ([]float32, error) { return DecodeChannel(path, rate, -1) }

// DecodeChannel decodes one channel (0: the first) of the first audio
// stream of path at rate Hz; -1 mixes them all down.
func DecodeChannel(path string, rate, channel int) ([]float32, error) {
	clip.QuietFFmpeg()
	in := astiav.AllocFormatContext()
	if in == nil {
		return nil, errors.New("audio: cannot allocate a format context")
	}
	defer in.Free()
	if err := in.OpenInput(path, nil, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer in.CloseInput()
	if err := in.FindStreamInfo(nil); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var st *astiav.Stream
	for _, s := range in.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeAudio {
			st = s
			break
		}
	}
	if st == nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNoAudio)
	}
	d, err := NewDecoder(st.CodecParameters())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer d.Close()
	d.channel = channel
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var pcm []float32
	for {
		if err := in.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if pkt.StreamIndex() == st.Index() {
			pcm, err = d.Decode(pkt, pcm)
			if err != nil {
				pkt.Unref()
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		pkt.Unref()
	}
	pcm, err = d.Decode(nil, pcm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.Rate() == 0 {
		return nil, fmt.Errorf("%s: no audio decoded", path)
	}
	return Resample(pcm, d.Rate(), rate), nil
}

// Decoder decodes packets of one stream to mono float32 at the stream's own
// rate (Rate, known after the first frame).
type Decoder struct {
	cc    *astiav.CodecContext
	frame *astiav.Frame
	rate  int
	// channel is the one Decode keeps; -1 mixes all.
	channel int
}

// NewDecoder opens a decoder for a stream's codec parameters.
func NewDecoder(cp *astiav.CodecParameters) (*Decoder, error) {
	codec := astiav.FindDecoder(cp.CodecID())
	if codec == nil {
		return nil, fmt.Errorf("no decoder for %s", cp.CodecID())
	}
	cc := astiav.AllocCodecContext(codec)
	if err := cp.ToCodecContext(cc); err != nil {
		cc.Free()
		return nil, err
	}
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return nil, fmt.Errorf("opening the %s decoder: %w", cp.CodecID(), err)
	}
	return &Decoder{cc: cc, frame: astiav.AllocFrame(), channel: -1}, nil
}

// NewOpusDecoder decodes a bare Opus stream (WebRTC packets) at 48 kHz.
func NewOpusDecoder() (*Decoder, error) {
	codec := astiav.FindDecoder(astiav.CodecIDOpus)
	if codec == nil {
		return nil, errors.New("no Opus decoder in FFmpeg")
	}
	cc := astiav.AllocCodecContext(codec)
	cc.SetSampleRate(48000)
	cc.SetChannelLayout(astiav.ChannelLayoutMono)
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return nil, fmt.Errorf("opening the Opus decoder: %w", err)
	}
	return &Decoder{cc: cc, frame: astiav.AllocFrame(), channel: -1}, nil
}

// Rate is the sample rate of what Decode returns (0 before the first frame).
func (d *Decoder) Rate() int { return d.rate }

// Decode sends a packet (nil to drain) and appends the mono samples of the
// frames it yields to dst. A damaged packet is skipped, not an error.
func (d *Decoder) Decode(pkt *astiav.Packet, dst []float32) ([]float32, error) {
	if err := d.cc.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEagain) && !errors.Is(err, astiav.ErrEof) {
		if pkt == nil {
			return dst, nil
		}
		return dst, nil // invalid data in one packet: skip it
	}
	for {
		err := d.cc.ReceiveFrame(d.frame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		dst, err = d.appendMono(dst)
		d.frame.Unref()
		if err != nil {
			return dst, err
		}
	}
}

// Close frees the decoder.
func (d *Decoder) Close() {
	d.frame.Free()
	d.cc.Free()
}

func (d *Decoder) appendMono(dst []float32) ([]float32, error) {
	f := (*C.AVFrame)(d.frame.UnsafePointer())
	n := int(f.nb_samples)
	ch := int(C.frame_channels(f))
	if ch < 1 || n < 0 {
		return dst, fmt.Errorf("decoded frame with %d channels", ch)
	}
	if d.rate == 0 {
		d.rate = int(f.sample_rate)
	} else if int(f.sample_rate) != d.rate {
		return dst, fmt.Errorf("sample rate changed from %d to %d Hz", d.rate, f.sample_rate)
	}
	format := C.enum_AVSampleFormat(f.format)
	planar := C.av_sample_fmt_is_planar(format) != 0
	size := int(C.av_get_bytes_per_sample(format))
	if size == 0 {
		return dst, fmt.Errorf("unknown sample format %d", f.format)
	}
	read := func(b []byte, i int) float32 {
		switch format {
		case C.AV_SAMPLE_FMT_FLT, C.AV_SAMPLE_FMT_FLTP:
			return *(*float32)(unsafe.Pointer(&b[4*i]))
		case C.AV_SAMPLE_FMT_DBL, C.AV_SAMPLE_FMT_DBLP:
			return float32(*(*float64)(unsafe.Pointer(&b[8*i])))
		case C.AV_SAMPLE_FMT_S16, C.AV_SAMPLE_FMT_S16P:
			return float32(*(*int16)(unsafe.Pointer(&b[2*i]))) / 32768
		case C.AV_SAMPLE_FMT_S32, C.AV_SAMPLE_FMT_S32P:
			return float32(*(*int32)(unsafe.Pointer(&b[4*i]))) / 2147483648
		case C.AV_SAMPLE_FMT_U8, C.AV_SAMPLE_FMT_U8P:
			return (float32(b[i]) - 128) / 128
		}
		return 0
	}
	if d.channel >= ch {
		return dst, fmt.Errorf("channel %d asked of audio with %d", d.channel+1, ch)
	}
	start := len(dst)
	dst = append(dst, make([]float32, n)...)
	out := dst[start:]
	scale := 1 / float32(ch)
	lo, hi := 0, ch
	if d.channel >= 0 {
		lo, hi, scale = d.channel, d.channel+1, 1
	}
	if planar {
		for c := lo; c < hi; c++ {
			b := unsafe.Slice((*byte)(C.frame_plane(f, C.int(c))), n*size)
			for i := range out {
				out[i] += read(b, i) * scale
			}
		}
	} else {
		b := unsafe.Slice((*byte)(C.frame_plane(f, 0)), n*size*ch)
		for i := range out {
			var s float32
			for c := lo; c < hi; c++ {
				s += read(b, i*ch+c)
			}
			out[i] = s * scale
		}
	}
	return dst, nil
}
