package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"contactd/rtc"
)

// Publisher sends a station's audio (Opus), optional video (VP8) and events
// to contactd over WHIP (RFC 9725), with an "events" data channel.
type Publisher struct {
	URL   string // http(s)://server/whip/{station}
	Token string
	Video bool
	// VideoMime is the video codec sent (default VP8; H.264 for cameras
	// that encode it themselves).
	VideoMime string
	// InterfaceFilter and IncludeLoopback limit ICE like the server's options.
	InterfaceFilter func(string) bool
	IncludeLoopback bool
	Log             *slog.Logger
	// OnReply receives the server's answers on the data channel.
	OnReply func([]byte)
	// Client makes the WHIP requests (nil: http.DefaultClient); it carries
	// the trust for a clinic's own certificate.
	Client *http.Client

	pc       *webrtc.PeerConnection
	Audio    *webrtc.TrackLocalStaticSample
	VideoTr  *webrtc.TrackLocalStaticSample
	events   *webrtc.DataChannel
	location string
	opened   chan struct{}
	down     chan struct{}
	downOnce sync.Once
}

// Done is closed when the connection is lost (disconnected, failed or closed).
func (p *Publisher) Done() <-chan struct{} { return p.down }

// Connect offers, posts the offer and applies the answer; it returns once
// the peer connection and the events channel are up.
func (p *Publisher) Connect(ctx context.Context) (err error) {
	defer func() {
		if err != nil && p.pc != nil {
			p.pc.Close()
		}
	}()
	if p.Log == nil {
		p.Log = slog.Default()
	}
	api, err := rtc.NewAPI(rtc.Options{InterfaceFilter: p.InterfaceFilter, IncludeLoopback: p.IncludeLoopback, QuickFailure: true})
	if err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	p.pc = pc
	connected := make(chan struct{})
	var connOnce sync.Once
	p.down = make(chan struct{})
	failed := p.down
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			connOnce.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateClosed:
			p.downOnce.Do(func() { close(p.down) })
		}
	})
	p.Audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "contact-agent")
	if err != nil {
		return err
	}
	if _, err := pc.AddTransceiverFromTrack(p.Audio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		return err
	}
	if p.Video {
		mime := p.VideoMime
		if mime == "" {
			mime = webrtc.MimeTypeVP8
		}
		p.VideoTr, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000}, "video", "contact-agent")
		if err != nil {
			return err
		}
		if _, err := pc.AddTransceiverFromTrack(p.VideoTr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return err
		}
	}
	p.events, err = pc.CreateDataChannel("events", nil)
	if err != nil {
		return err
	}
	p.opened = make(chan struct{})
	p.events.OnOpen(func() { close(p.opened) })
	p.events.OnMessage(func(msg webrtc.DataChannelMessage) {
		if p.OnReply != nil {
			p.OnReply(msg.Data)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader([]byte(pc.LocalDescription().SDP)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := p.client().Do(req)
	if err != nil {
		return fmt.Errorf("WHIP %s: %w", p.URL, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("WHIP %s: %s: %s", p.URL, resp.Status, bytes.TrimSpace(body))
	}
	if loc, err := url.Parse(p.URL); err == nil {
		if l, err := loc.Parse(resp.Header.Get("Location")); err == nil {
			p.location = l.String()
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return fmt.Errorf("WHIP answer: %w", err)
	}
	for _, ch := range []chan struct{}{connected, p.opened} {
		select {
		case <-ch:
		case <-failed:
			return errors.New("WebRTC connection failed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Send puts one JSON message on the events channel.
func (p *Publisher) Send(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return p.events.SendText(string(b))
}

// Close ends the WHIP session (DELETE) and the peer connection.
func (p *Publisher) Close(ctx context.Context) error {
	var err error
	if p.location != "" {
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, p.location, nil)
		req.Header.Set("Authorization", "Bearer "+p.Token)
		if resp, e := p.client().Do(req); e == nil {
			resp.Body.Close()
		} else {
			err = e
		}
	}
	if p.pc != nil {
		err = errors.Join(err, p.pc.Close())
	}
	return err
}

// StreamOgg sends an Ogg Opus file (one packet per page, e.g. made with
// ffmpeg -page_duration 20000) in real time, looping, until ctx ends.
func StreamOgg(ctx context.Context, track *webrtc.TrackLocalStaticSample, path string) error {
	return StreamOggCounting(ctx, track, path, nil)
}

// StreamOggCounting is StreamOgg counting the packets sent into sent.
func StreamOggCounting(ctx context.Context, track *webrtc.TrackLocalStaticSample, path string, sent *atomic.Int64) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r, _, err := oggreader.NewWith(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		var last uint64
		for {
			page, hdr, err := r.ParseNextPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(page) == 0 || hdr.GranulePosition == 0 {
				continue
			}
			dur := time.Duration(hdr.GranulePosition-last) * time.Second / 48000
			last = hdr.GranulePosition
			if dur <= 0 || dur > 120*time.Millisecond {
				dur = 20 * time.Millisecond
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			if err := track.WriteSample(media.Sample{Data: page, Duration: dur}); err != nil {
				return err
			}
			if sent != nil {
				sent.Add(1)
			}
		}
	}
}

// StreamIVF sends a VP8 IVF file in real time, looping, until ctx ends.
func StreamIVF(ctx context.Context, track *webrtc.TrackLocalStaticSample, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for {
		r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		frameDur := time.Second * time.Duration(hdr.TimebaseNumerator) / time.Duration(hdr.TimebaseDenominator)
		tick := time.NewTicker(frameDur)
		for {
			frame, _, err := r.ParseNextFrame()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tick.Stop()
				return fmt.Errorf("%s: %w", path, err)
			}
			select {
			case <-ctx.Done():
				tick.Stop()
				return nil
			case <-tick.C:
			}
			if err := track.WriteSample(media.Sample{Data: frame, Duration: frameDur}); err != nil {
				tick.Stop()
				return err
			}
		}
		tick.Stop()
	}
}

// StreamH264 sends an Annex B H.264 file (one slice per picture) in real
// time at fps, looping, until ctx ends: an IP camera that sends H.264.
func StreamH264(ctx context.Context, track *webrtc.TrackLocalStaticSample, path string, fps int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var aus [][]byte
	var cur []byte
	for _, n := range rtc.SplitAnnexB(data) {
		if len(n) == 0 {
			continue
		}
		cur = append(append(cur, 0, 0, 0, 1), n...)
		if t := n[0] & 0x1f; t == rtc.NALSlice || t == rtc.NALIDR {
			aus = append(aus, cur)
			cur = nil
		}
	}
	if len(aus) == 0 {
		return fmt.Errorf("%s: no H.264 pictures", path)
	}
	dur := time.Second / time.Duration(fps)
	tick := time.NewTicker(dur)
	defer tick.Stop()
	for {
		for _, au := range aus {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			if err := track.WriteSample(media.Sample{Data: au, Duration: dur}); err != nil {
				return err
			}
		}
	}
}

func (p *Publisher) client() *http.Client {
	if p.Client != nil {
		return p.Client
	}
	return http.DefaultClient
}
