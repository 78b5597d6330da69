// Package vision is the live face path of every station: it decodes the
// video a station sends (VP8 or H.264, as WebRTC delivers it), looks at a
// few frames a second, finds the largest face (the employee faces the desk
// camera), reads its expression, and keeps the readings for contacts, the
// mirror and the metrics. No picture is kept: only the readings.
package vision

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"

	"contactd/classifier/face"
)

// Decoder turns a station's compressed video frames into pictures.
type Decoder struct {
	cc           *astiav.CodecContext
	frame, rgb   *astiav.Frame
	pkt          *astiav.Packet
	sws          *astiav.SoftwareScaleContext
	swsW, swsH   int
	width        int // pictures are scaled to this width (height kept in proportion)
	lastW, lastH int
}

// NewDecoder opens a decoder for "vp8" or "h264"; pictures come out at most
// width pixels wide.
func NewDecoder(codec string, width int) (*Decoder, error) {
	id := astiav.CodecIDVp8
	if codec == "h264" {
		id = astiav.CodecIDH264
	} else if codec != "vp8" {
		return nil, fmt.Errorf("video codec %q: want vp8 or h264", codec)
	}
	c := astiav.FindDecoder(id)
	if c == nil {
		return nil, fmt.Errorf("no %s decoder in FFmpeg", codec)
	}
	cc := astiav.AllocCodecContext(c)
	cc.SetThreadCount(1) // one station, one core at most
	if err := cc.Open(c, nil); err != nil {
		cc.Free()
		return nil, fmt.Errorf("opening the %s decoder: %w", codec, err)
	}
	return &Decoder{cc: cc, frame: astiav.AllocFrame(), rgb: astiav.AllocFrame(), pkt: astiav.AllocPacket(), width: width}, nil
}

// Decode feeds one frame's data; when picture is set and the decoder yields
// a picture, it is returned as RGB. Every frame must be fed (later frames
// refer to earlier ones) but only wanted pictures are converted.
func (d *Decoder) Decode(data []byte, picture bool) (*face.Image, error) {
	if err := d.pkt.FromData(data); err != nil {
		return nil, err
	}
	defer d.pkt.Unref()
	if err := d.cc.SendPacket(d.pkt); err != nil && !errors.Is(err, astiav.ErrEagain) {
		return nil, nil // a damaged frame: skip it, the next keyframe recovers
	}
	var img *face.Image
	for {
		err := d.cc.ReceiveFrame(d.frame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return img, nil
		}
		if err != nil {
			return img, err
		}
		if picture && img == nil {
			img, err = d.toRGB()
		}
		d.frame.Unref()
		if err != nil {
			return nil, err
		}
	}
}

func (d *Decoder) toRGB() (*face.Image, error) {
	w, h := d.frame.Width(), d.frame.Height()
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("decoded picture of %d×%d", w, h)
	}
	ow, oh := w, h
	if ow > d.width {
		ow, oh = d.width, (h*d.width/w)&^1
	}
	if d.sws == nil || d.lastW != w || d.lastH != h {
		if d.sws != nil {
			d.sws.Free()
		}
		var err error
		d.sws, err = astiav.CreateSoftwareScaleContext(w, h, d.frame.PixelFormat(), ow, oh, astiav.PixelFormatRgb24,
			astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBilinear))
		if err != nil {
			return nil, err
		}
		d.lastW, d.lastH, d.swsW, d.swsH = w, h, ow, oh
	}
	d.rgb.Unref()
	if err := d.sws.ScaleFrame(d.frame, d.rgb); err != nil {
		return nil, err
	}
	b, err := d.rgb.Data().Bytes(1)
	if err != nil {
		return nil, err
	}
	if len(b) < d.swsW*d.swsH*3 {
		return nil, fmt.Errorf("scaled picture: %d bytes for %d×%d RGB", len(b), d.swsW, d.swsH)
	}
	return &face.Image{W: d.swsW, H: d.swsH, C: 3, Pix: b[:d.swsW*d.swsH*3]}, nil
}

// Close frees the decoder.
func (d *Decoder) Close() {
	if d.sws != nil {
		d.sws.Free()
	}
	d.rgb.Free()
	d.frame.Free()
	d.pkt.Free()
	d.cc.Free()
}
