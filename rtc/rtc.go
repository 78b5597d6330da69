// Package rtc holds what both ends of contactd's WebRTC links share: how a
// pion API is set up, and codec facts read from the bitstream.
package rtc

import (
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// Options shape a pion API.
type Options struct {
	// RecordedOnly registers just the codecs contactd records (Opus; VP8,
	// then H.264 for cameras that send it), so that a browser's offer
	// settles on them; otherwise pion's defaults.
	RecordedOnly bool
	// InterfaceFilter limits ICE to some network interfaces (nil: all).
	InterfaceFilter func(string) bool
	// IncludeLoopback offers loopback candidates.
	IncludeLoopback bool
	// QuickFailure notices a dead peer within about two seconds (agents,
	// which then spool) instead of pion's default of tens of seconds.
	QuickFailure bool
}

// NewAPI builds a pion API with the default interceptors (NACK, RTCP
// reports) and no mDNS (no multicast on the clinic LAN).
func NewAPI(o Options) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if o.RecordedOnly {
		fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
			webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
		for i, profile := range []string{"42e01f", "42001f", "4d001f", "640c1f", "64001f"} {
			if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: fb,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile},
				PayloadType: webrtc.PayloadType(102 + 2*i)}, webrtc.RTPCodecTypeVideo); err != nil {
				return nil, err
			}
		}
	} else if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if o.InterfaceFilter != nil {
		se.SetInterfaceFilter(o.InterfaceFilter)
	}
	se.SetIncludeLoopbackCandidate(o.IncludeLoopback)
	if o.QuickFailure {
		se.SetICETimeouts(2*time.Second, 4*time.Second, 500*time.Millisecond)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// OpusDuration reads a packet's duration from its TOC byte (RFC 6716 §3.1).
func OpusDuration(p []byte) time.Duration {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	cfg := toc >> 3
	var frame time.Duration
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = []time.Duration{10, 20, 40, 60}[cfg%4] * time.Millisecond
	case cfg < 16: // hybrid: 10, 20 ms
		frame = []time.Duration{10, 20}[cfg%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []time.Duration{2500, 5000, 10000, 20000}[cfg%4] * time.Microsecond
	}
	n := 1
	switch toc & 3 {
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 {
			return frame
		}
		n = int(p[1] & 0x3f)
	}
	return frame * time.Duration(n)
}
