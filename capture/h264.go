package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asticode/go-astiav"

	"contactd/rtc"
)

// CanPassthrough reports whether the camera's stream can be sent as it is:
// H.264 without reordered pictures (B-frames), which WebRTC's RTP timing and
// the server's stream-copy recorder both assume. It reads the first packets
// of the input to find out; reason says why not.
func (c *Camera) CanPassthrough() (ok bool, reason string, err error) {
	in, vs, err := c.open()
	if err != nil {
		return false, "", err
	}
	defer in.Free()
	defer in.CloseInput()
	if id := vs.CodecParameters().CodecID(); id != astiav.CodecIDH264 {
		return false, fmt.Sprintf("the camera sends %s, not H.264", id), nil
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	for n := 0; n < 60; {
		if err := in.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			return false, "", fmt.Errorf("camera %s: %w", c.Input, err)
		}
		if pkt.StreamIndex() == vs.Index() {
			n++
			if pkt.Pts() != astiav.NoPtsValue && pkt.Dts() != astiav.NoPtsValue && pkt.Pts() != pkt.Dts() {
				pkt.Unref()
				return false, "the camera's H.264 has B-frames", nil
			}
		}
		pkt.Unref()
	}
	return true, "", nil
}

// copyH264 sends the input's H.264 access units in Annex B form, with the
// parameter sets in front of every IDR picture so the receiver can start at
// any keyframe (many RTSP cameras send them only once, out of band).
func (c *Camera) copyH264(ctx context.Context, in *astiav.FormatContext, vs *astiav.Stream, live bool, fn func([]byte, time.Duration, bool)) error {
	bsf, err := astiav.AllocBitStreamFilterContext(astiav.FindBitStreamFilterByName("h264_mp4toannexb"))
	if err != nil {
		return fmt.Errorf("h264_mp4toannexb: %w", err)
	}
	defer bsf.Free()
	if err := vs.CodecParameters().Copy(bsf.InputCodecParameters()); err != nil {
		return err
	}
	bsf.SetInputTimeBase(vs.TimeBase())
	if err := bsf.Initialize(); err != nil {
		return fmt.Errorf("h264_mp4toannexb: %w", err)
	}
	var params []byte // SPS and PPS with start codes, from the stream or its extradata
	if sps, pps := rtc.H264ParamSets(vs.CodecParameters().ExtraData()); sps != nil && pps != nil {
		params = annexB(sps, pps)
	}
	pkt, out := astiav.AllocPacket(), astiav.AllocPacket()
	defer pkt.Free()
	defer out.Free()
	tb := astiav.NewRational(1, 1_000_000)
	def := time.Second / time.Duration(max(c.FPS, 1))
	var first, prev time.Duration = -1, -1
	t0 := time.Now()
	send := func() {
		au := append([]byte(nil), out.Data()...)
		at := time.Duration(astiav.RescaleQ(out.Pts(), vs.TimeBase(), tb)) * time.Microsecond
		key := out.Flags().Has(astiav.PacketFlagKey) || rtc.H264Keyframe(au)
		if sps, pps := rtc.H264ParamSets(au); sps != nil && pps != nil {
			params = annexB(sps, pps)
		} else if key && params != nil {
			au = append(append([]byte(nil), params...), au...)
		}
		dur := def
		if out.Duration() > 0 {
			dur = time.Duration(astiav.RescaleQ(out.Duration(), vs.TimeBase(), tb)) * time.Microsecond
		} else if prev >= 0 && at > prev {
			dur = at - prev
		}
		prev = at
		if first < 0 {
			first = at
		}
		if !live { // a file plays at its own pace
			if d := time.Until(t0.Add(at - first)); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		fn(au, dur, key)
	}
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
		err := bsf.SendPacket(pkt)
		pkt.Unref()
		if err != nil {
			continue // a damaged packet: skip it
		}
		for bsf.ReceivePacket(out) == nil {
			send()
			out.Unref()
		}
	}
	return nil
}

func annexB(nals ...[]byte) []byte {
	var b bytes.Buffer
	for _, n := range nals {
		b.Write([]byte{0, 0, 0, 1})
		b.Write(n)
	}
	return b.Bytes()
}
