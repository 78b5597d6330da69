package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asticode/go-astiav"

	"contactd/clip"
)

// Camera reads any FFmpeg video input — a V4L2 camera (/dev/video0), an RTSP
// IP camera, or a file for demos and tests — and encodes it to VP8 at a
// modest size and rate for the desk view.
type Camera struct {
	// Input is a device path, rtsp:// URL or file.
	Input string
	// Width, Height and FPS of the VP8 stream (defaults 640×360, 10 fps).
	Width, Height, FPS int
	Bitrate            int // bit/s, default 300000
	// Passthrough sends the camera's own H.264 unchanged (no decoding, its
	// size and rate); set it only when CanPassthrough says yes.
	Passthrough bool
}

// Run reads and encodes until ctx ends (a file loops), handing each VP8
// frame to fn.
func (c *Camera) Run(ctx context.Context, fn func(frame []byte, dur time.Duration, key bool)) error {
	clip.QuietFFmpeg()
	if c.Width == 0 {
		c.Width, c.Height = 640, 360
	}
	if c.FPS == 0 {
		c.FPS = 10
	}
	if c.Bitrate == 0 {
		c.Bitrate = 300000
	}
	var enc *vp8Encoder
	if !c.Passthrough {
		var err error
		if enc, err = newVP8Encoder(c.Width, c.Height, c.FPS, c.Bitrate); err != nil {
			return err
		}
		defer enc.close()
	}
	live := strings.HasPrefix(c.Input, "/dev/") || strings.Contains(c.Input, "://")
	for ctx.Err() == nil {
		if err := c.once(ctx, enc, live, fn); err != nil {
			return err
		}
		if live {
			return errors.New("camera stream ended")
		}
	}
	return nil
}

// open opens the input and finds its video stream; the caller closes in.
func (c *Camera) open() (*astiav.FormatContext, *astiav.Stream, error) {
	in := astiav.AllocFormatContext()
	var inFmt *astiav.InputFormat
	opts := astiav.NewDictionary()
	defer opts.Free()
	switch {
	case strings.HasPrefix(c.Input, "/dev/video"):
		inFmt = astiav.FindInputFormat("video4linux2")
		_ = opts.Set("framerate", fmt.Sprint(c.FPS), astiav.NewDictionaryFlags())
	case strings.HasPrefix(c.Input, "rtsp://"):
		_ = opts.Set("rtsp_transport", "tcp", astiav.NewDictionaryFlags())
	}
	if err := in.OpenInput(c.Input, inFmt, opts); err != nil {
		in.Free()
		return nil, nil, fmt.Errorf("camera %s: %w", c.Input, err)
	}
	if err := in.FindStreamInfo(nil); err != nil {
		in.CloseInput()
		in.Free()
		return nil, nil, fmt.Errorf("camera %s: %w", c.Input, err)
	}
	for _, s := range in.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			return in, s, nil
		}
	}
	in.CloseInput()
	in.Free()
	return nil, nil, fmt.Errorf("camera %s: no video stream", c.Input)
}

// once reads the input from the start to its end (or ctx).
func (c *Camera) once(ctx context.Context, enc *vp8Encoder, live bool, fn func([]byte, time.Duration, bool)) error {
	in, vs, err := c.open()
	if err != nil {
		return err
	}
	defer in.Free()
	defer in.CloseInput()
	if c.Passthrough {
		return c.copyH264(ctx, in, vs, live, fn)
	}
	codec := astiav.FindDecoder(vs.CodecParameters().CodecID())
	if codec == nil {
		return fmt.Errorf("camera %s: no decoder for %s", c.Input, vs.CodecParameters().CodecID())
	}
	dec := astiav.AllocCodecContext(codec)
	defer dec.Free()
	if err := vs.CodecParameters().ToCodecContext(dec); err != nil {
		return err
	}
	if err := dec.Open(codec, nil); err != nil {
		return fmt.Errorf("camera %s: opening decoder: %w", c.Input, err)
	}
	pkt, frame := astiav.AllocPacket(), astiav.AllocFrame()
	defer pkt.Free()
	defer frame.Free()
	frameDur := time.Second / time.Duration(c.FPS)
	var next time.Duration = -1 // input time of the next frame to keep
	t0 := time.Now()
	for ctx.Err() == nil {
		if err := in.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("camera %s: %w", c.Input, err)
		}
		if pkt.StreamIndex() != vs.Index() {
			pkt.Unref()
			continue
		}
		err := dec.SendPacket(pkt)
		pkt.Unref()
		if err != nil && !errors.Is(err, astiav.ErrEagain) {
			continue // a damaged packet: skip it
		}
		for dec.ReceiveFrame(frame) == nil {
			at := time.Duration(astiav.RescaleQ(frame.Pts(), vs.TimeBase(), astiav.NewRational(1, 1_000_000))) * time.Microsecond
			if next >= 0 && at < next {
				frame.Unref()
				continue // more frames than the target rate
			}
			if next < 0 {
				next = at
			}
			next += frameDur
			if !live { // a file plays at its own pace
				if d := time.Until(t0.Add(next - frameDur)); d > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(d):
					}
				}
			}
			err := enc.encode(frame, func(b []byte, key bool) { fn(b, frameDur, key) })
			frame.Unref()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// vp8Encoder scales decoded pictures and encodes them with libvpx.
type vp8Encoder struct {
	cc     *astiav.CodecContext
	sws    *astiav.SoftwareScaleContext
	scaled *astiav.Frame
	pkt    *astiav.Packet
	w, h   int
	pts    int64
}

func newVP8Encoder(w, h, fps, bitrate int) (*vp8Encoder, error) {
	codec := astiav.FindEncoderByName("libvpx")
	if codec == nil {
		return nil, errors.New("libvpx (VP8) encoder not found in FFmpeg")
	}
	cc := astiav.AllocCodecContext(codec)
	cc.SetWidth(w)
	cc.SetHeight(h)
	cc.SetPixelFormat(astiav.PixelFormatYuv420P)
	cc.SetTimeBase(astiav.NewRational(1, fps))
	cc.SetFramerate(astiav.NewRational(fps, 1))
	cc.SetBitRate(int64(bitrate))
	cc.SetGopSize(2 * fps) // a keyframe every 2 s at least; PLIs ask for more
	opts := astiav.NewDictionary()
	defer opts.Free()
	for k, v := range map[string]string{"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "error-resilient": "1"} {
		_ = opts.Set(k, v, astiav.NewDictionaryFlags())
	}
	if err := cc.Open(codec, opts); err != nil {
		cc.Free()
		return nil, fmt.Errorf("opening libvpx: %w", err)
	}
	return &vp8Encoder{cc: cc, scaled: astiav.AllocFrame(), pkt: astiav.AllocPacket(), w: w, h: h}, nil
}

func (e *vp8Encoder) encode(f *astiav.Frame, out func([]byte, bool)) error {
	if e.sws == nil {
		var err error
		e.sws, err = astiav.CreateSoftwareScaleContext(f.Width(), f.Height(), f.PixelFormat(), e.w, e.h,
			astiav.PixelFormatYuv420P, astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
		if err != nil {
			return err
		}
	}
	e.scaled.Unref()
	if err := e.sws.ScaleFrame(f, e.scaled); err != nil {
		return err
	}
	e.scaled.SetPts(e.pts)
	e.pts++
	if err := e.cc.SendFrame(e.scaled); err != nil {
		return err
	}
	for {
		if err := e.cc.ReceivePacket(e.pkt); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return err
		}
		out(append([]byte(nil), e.pkt.Data()...), e.pkt.Flags().Has(astiav.PacketFlagKey))
		e.pkt.Unref()
	}
}

func (e *vp8Encoder) close() {
	if e.sws != nil {
		e.sws.Free()
	}
	e.scaled.Free()
	e.pkt.Free()
	e.cc.Free()
}
