package capture

/*
#cgo pkg-config: libavutil
#include <libavutil/frame.h>
#include <string.h>

// copy_samples fills an allocated audio frame's first plane; astiav has no
// setter for audio sample data.
static int copy_samples(AVFrame *f, const void *src, int n) {
	// The encoder may still hold a reference to the last frame's buffer.
	if (av_frame_make_writable(f) < 0) return -1;
	if (f->data[0] == NULL || f->linesize[0] < n) return -1;
	memcpy(f->data[0], src, n);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"

	"contactd/clip"
)

// FrameSamples is one 20 ms Opus frame of 48 kHz audio, per channel.
const FrameSamples = 960

// OpusEncoder encodes 20 ms frames of 48 kHz int16 PCM (mono, or two
// channels interleaved) with libopus through go-astiav.
type OpusEncoder struct {
	cc       *astiav.CodecContext
	frame    *astiav.Frame
	pkt      *astiav.Packet
	pts      int64
	channels int
}

// NewOpusEncoder opens libopus at the given bit rate (bit/s) for mono.
func NewOpusEncoder(bitrate int) (*OpusEncoder, error) { return NewOpusEncoderChannels(bitrate, 1) }

// NewOpusEncoderChannels opens libopus for 1 or 2 channels. Two channels
// are two microphones, not a stereo image: the level difference between
// them is what tells the voices apart, so phase inversion (intensity
// stereo) is off.
func NewOpusEncoderChannels(bitrate, channels int) (*OpusEncoder, error) {
	layout := astiav.ChannelLayoutMono
	switch channels {
	case 1:
	case 2:
		layout = astiav.ChannelLayoutStereo
	default:
		return nil, fmt.Errorf("opus: %d channels: want 1 or 2", channels)
	}
	clip.QuietFFmpeg()
	codec := astiav.FindEncoderByName("libopus")
	if codec == nil {
		return nil, errors.New("libopus encoder not found in FFmpeg")
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, errors.New("cannot allocate the Opus encoder")
	}
	cc.SetSampleRate(48000)
	cc.SetSampleFormat(astiav.SampleFormatS16)
	cc.SetChannelLayout(layout)
	cc.SetBitRate(int64(bitrate))
	cc.SetTimeBase(astiav.NewRational(1, 48000))
	opts := astiav.NewDictionary()
	defer opts.Free()
	_ = opts.Set("application", "voip", astiav.NewDictionaryFlags())
	_ = opts.Set("frame_duration", "20", astiav.NewDictionaryFlags())
	if channels == 2 {
		_ = opts.Set("apply_phase_inv", "0", astiav.NewDictionaryFlags())
	}
	if err := cc.Open(codec, opts); err != nil {
		cc.Free()
		return nil, fmt.Errorf("opening libopus: %w", err)
	}
	e := &OpusEncoder{cc: cc, frame: astiav.AllocFrame(), pkt: astiav.AllocPacket(), channels: channels}
	e.frame.SetNbSamples(FrameSamples)
	e.frame.SetSampleFormat(astiav.SampleFormatS16)
	e.frame.SetChannelLayout(layout)
	e.frame.SetSampleRate(48000)
	if err := e.frame.AllocBuffer(0); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Encode takes exactly FrameSamples samples per channel (interleaved) and
// returns the Opus packets that came out (normally one; none while the
// encoder fills its delay).
func (e *OpusEncoder) Encode(pcm []int16) ([][]byte, error) {
	if len(pcm) != FrameSamples*e.channels {
		return nil, fmt.Errorf("opus: want %d samples, got %d", FrameSamples*e.channels, len(pcm))
	}
	if C.copy_samples((*C.AVFrame)(e.frame.UnsafePointer()), unsafe.Pointer(&pcm[0]), C.int(2*len(pcm))) != 0 {
		return nil, errors.New("opus: frame buffer too small")
	}
	e.frame.SetPts(e.pts)
	e.pts += FrameSamples
	if err := e.cc.SendFrame(e.frame); err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		if err := e.cc.ReceivePacket(e.pkt); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return out, nil
			}
			return out, err
		}
		out = append(out, append([]byte(nil), e.pkt.Data()...))
		e.pkt.Unref()
	}
}

// Close frees the encoder.
func (e *OpusEncoder) Close() {
	if e.pkt != nil {
		e.pkt.Free()
		e.pkt = nil
	}
	if e.frame != nil {
		e.frame.Free()
		e.frame = nil
	}
	if e.cc != nil {
		e.cc.Free()
		e.cc = nil
	}
}
