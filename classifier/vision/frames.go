package vision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asticode/go-astiav"

	"contactd/clip"
)

// ErrNoVideo: the recording has no video stream.
var ErrNoVideo = errors.New("no video stream")

// ReadFrames decodes a recording's video (VP8 or H.264) and calls fn with
// fps pictures a second, in grey, at most width pixels wide; at is the
// picture's time from the recording's start. Every frame is decoded
// (later ones refer to earlier ones), only the sampled ones converted.
func ReadFrames(ctx context.Context, path string, fps float64, width int, fn func(at time.Duration, grey []byte, w, h int) error) error {
	if fps <= 0 {
		return fmt.Errorf("frames a second: %v", fps)
	}
	clip.QuietFFmpeg()
	in := astiav.AllocFormatContext()
	if in == nil {
		return errors.New("video: cannot allocate a format context")
	}
	defer in.Free()
	if err := in.OpenInput(path, nil, nil); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer in.CloseInput()
	if err := in.FindStreamInfo(nil); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var st *astiav.Stream
	for _, s := range in.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			st = s
			break
		}
	}
	if st == nil {
		return fmt.Errorf("%s: %w", path, ErrNoVideo)
	}
	codec := ""
	switch st.CodecParameters().CodecID() {
	case astiav.CodecIDVp8:
		codec = "vp8"
	case astiav.CodecIDH264:
		codec = "h264"
	default:
		return fmt.Errorf("%s: video codec %s (want VP8 or H.264, as stations send)", path, st.CodecParameters().CodecID())
	}
	d, err := NewDecoder(codec, width)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer d.Close()
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	tb := st.TimeBase().Float64()
	step := time.Duration(float64(time.Second) / fps)
	next := time.Duration(0)
	var grey []byte
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := in.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		if pkt.StreamIndex() != st.Index() {
			pkt.Unref()
			continue
		}
		at := time.Duration(float64(pkt.Pts()) * tb * float64(time.Second))
		want := at >= next
		img, err := d.Decode(pkt.Data(), want)
		pkt.Unref()
		if err != nil {
			return fmt.Errorf("%s at %v: %w", path, at, err)
		}
		if img == nil {
			continue
		}
		for next <= at {
			next += step
		}
		grey = grey[:0]
		for i := 0; i+2 < len(img.Pix); i += 3 {
			// ITU-R BT.601 luma.
			grey = append(grey, byte((299*int(img.Pix[i])+587*int(img.Pix[i+1])+114*int(img.Pix[i+2]))/1000))
		}
		if err := fn(at, grey, img.W, img.H); err != nil {
			return err
		}
	}
}
