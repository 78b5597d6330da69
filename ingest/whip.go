// Package ingest receives the stations' media over WebRTC: a WHIP endpoint
// (RFC 9725) built on pion, one session per station, RTP depacketized into
// frames for the station's recorder, and the agent's "events" data channel.
package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"contactd/contact"
	"contactd/limit"
	"contactd/recorder"
	"contactd/rtc"
)

// MaxSDPBytes bounds a WHIP offer.
const MaxSDPBytes = 64 << 10

// Errors an Authorizer returns.
var (
	ErrUnknownStation = errors.New("unknown station")
	ErrBadToken       = errors.New("wrong or missing station token")
)

// Sink is where a session delivers what it receives.
type Sink interface {
	// Recorder returns (creating it) the station's recorder.
	Recorder(station string) (*recorder.Recorder, error)
	Event(contact.Event) error
	Rating(contact.Rating) error
	// Audio hands every Opus packet, on the sender's clock, to the voice
	// path; it must not block.
	Audio(station string, opus []byte, wall time.Time)
	// Video hands every reassembled video frame ("vp8" or "h264") to the
	// face path; it must not block.
	Video(station, codec string, frame []byte, key bool, wall time.Time)
}

// Stats are the ingest counters the server exports.
type Stats interface {
	SetStreamUp(station string, up bool)
	AddPacketsLost(station string, n int)
	AddRejected(station, reason string)
}

// Server is the WHIP endpoint.
type Server struct {
	// Authorize checks a station's bearer token.
	Authorize func(station, token string) error
	Sink      Sink
	Stats     Stats // optional
	Log       *slog.Logger
	// PLIInterval asks every video sender for a keyframe this often, so any
	// segment can be cut near its start.
	PLIInterval time.Duration
	// InterfaceFilter limits the network interfaces ICE gathers on (nil: all).
	InterfaceFilter func(string) bool
	// IncludeLoopback offers loopback candidates (tests, single-host setups).
	IncludeLoopback bool
	// Consent, if set, says whether a station may be recorded at a time
	// (a consulting room that records only inside its bookings). Outside
	// it, media is dropped before the recorder and the analysis, and the
	// agent is told over the data channel: {"type":"recording","recording":false}.
	Consent func(station string, at time.Time) bool
	// Sessions limits how often a station may open a WHIP session, and
	// Messages its data-channel messages (nil: no limit).
	SessionLimit, Messages *limit.Buckets

	api       *webrtc.API
	mu        sync.Mutex
	sessions  map[string]*session // by id
	byStation map[string]*session
	closed    bool
}

// Initialize builds the WebRTC API: Opus, VP8 and H.264, default
// interceptors (NACK, RTCP reports), no mDNS.
func (s *Server) Initialize() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.PLIInterval <= 0 {
		s.PLIInterval = 2 * time.Second
	}
	// Only what the recorder stores is offered, so browsers pick Opus and VP8.
	api, err := rtc.NewAPI(rtc.Options{RecordedOnly: true, InterfaceFilter: s.InterfaceFilter, IncludeLoopback: s.IncludeLoopback})
	if err != nil {
		return err
	}
	s.api = api
	s.sessions = map[string]*session{}
	s.byStation = map[string]*session{}
	return nil
}

// Close ends every session.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	var all []*session
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.close()
	}
}

// Routes registers POST /whip/{station} and DELETE /whip/{station}/{session}.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /whip/{station}", s.handlePost)
	mux.HandleFunc("DELETE /whip/{station}/{session}", s.handleDelete)
	mux.HandleFunc("OPTIONS /whip/{station}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Accept-Post", "application/sdp")
		w.WriteHeader(http.StatusNoContent)
	})
}

// problem answers with a plain-text error that says what is wrong.
func (s *Server) problem(w http.ResponseWriter, station string, code int, what, msg string) {
	if s.Stats != nil {
		s.Stats.AddRejected(station, what)
	}
	s.Log.Warn("whip request rejected", "station", station, "status", code, "error", msg)
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="contactd"`)
	}
	http.Error(w, msg, code)
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request, station string) bool {
	switch err := s.Authorize(station, BearerToken(r)); {
	case errors.Is(err, ErrUnknownStation):
		s.problem(w, "", http.StatusNotFound, "unknown_station", fmt.Sprintf("unknown station %q", station))
	case err != nil:
		s.problem(w, station, http.StatusUnauthorized, "bad_token", fmt.Sprintf("station %s: %v", station, err))
	default:
		return true
	}
	return false
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	station := r.PathValue("station")
	if !contact.ValidStation(station) {
		s.problem(w, "", http.StatusNotFound, "unknown_station", fmt.Sprintf("%q is not a station id", station))
		return
	}
	if !s.authorize(w, r, station) {
		return
	}
	if s.SessionLimit != nil {
		if ok, wait := s.SessionLimit.Allow(station); !ok {
			if s.Stats != nil {
				s.Stats.AddRejected(station, "rate_limited")
			}
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			s.problem(w, station, http.StatusTooManyRequests, "rate_limited",
				fmt.Sprintf("station %s opened sessions too often (over %.0f a minute): retry in %s", station, s.SessionLimit.Rate*60, wait.Round(time.Second)))
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/sdp") {
		s.problem(w, station, http.StatusUnsupportedMediaType, "content_type", fmt.Sprintf("Content-Type %q: want application/sdp", ct))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSDPBytes))
	if err != nil {
		s.problem(w, station, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("SDP offer over %d bytes", MaxSDPBytes))
		return
	}
	if err := checkOffer(body); err != nil {
		s.problem(w, station, http.StatusBadRequest, "bad_sdp", "SDP offer: "+err.Error())
		return
	}
	ss, answer, err := s.newSession(r.Context(), station, string(body))
	if err != nil {
		s.problem(w, station, http.StatusBadRequest, "bad_sdp", "SDP offer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/whip/"+station+"/"+ss.id)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answer)
}

// checkOffer parses the SDP and requires an Opus audio section.
func checkOffer(b []byte) error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(string(b)); err != nil {
		return err
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" && strings.Contains(strings.ToLower(a.Value), "opus/48000") {
				return nil
			}
		}
	}
	return errors.New("no Opus audio section (Opus audio is required)")
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	station := r.PathValue("station")
	if !s.authorize(w, r, station) {
		return
	}
	s.mu.Lock()
	ss := s.sessions[r.PathValue("session")]
	s.mu.Unlock()
	if ss == nil || ss.station != station {
		s.problem(w, station, http.StatusNotFound, "unknown_session", "no such session")
		return
	}
	ss.close()
	w.WriteHeader(http.StatusOK)
}

// CloseStation ends a station's live sessions (its token was revoked).
func (s *Server) CloseStation(station string) int {
	s.mu.Lock()
	var ss []*session
	for _, x := range s.sessions {
		if x.station == station {
			ss = append(ss, x)
		}
	}
	s.mu.Unlock()
	for _, x := range ss {
		x.close()
	}
	return len(ss)
}

// Sessions lists the stations with a live session.
func (s *Server) Sessions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for st := range s.byStation {
		out = append(out, st)
	}
	return out
}

// session is one station's peer connection and the goroutines it owns.
type session struct {
	srv     *Server
	id      string
	station string
	pc      *webrtc.PeerConnection
	rec     *recorder.Recorder
	wg      sync.WaitGroup
	stop    chan struct{}
	once    sync.Once

	recording atomic.Bool // consent now (always true without Server.Consent)
	dcMu      sync.Mutex
	dc        *webrtc.DataChannel // the agent's events channel, once open
	told      int8                // what the agent was last told: -1 nothing, 0 off, 1 on
}

// watchConsent re-reads the station's consent every second and tells the
// agent when it changes (and once the channel opens).
func (ss *session) watchConsent() {
	defer ss.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ss.recording.Store(ss.srv.Consent(ss.station, time.Now()))
		ss.tell()
		select {
		case <-ss.stop:
			return
		case <-tick.C:
		}
	}
}

// tell sends the recording state to the agent if it changed since it was
// last told.
func (ss *session) tell() {
	ss.dcMu.Lock()
	defer ss.dcMu.Unlock()
	now := int8(0)
	if ss.recording.Load() {
		now = 1
	}
	if ss.dc == nil || ss.dc.ReadyState() != webrtc.DataChannelStateOpen || ss.told == now {
		return
	}
	b, _ := json.Marshal(map[string]any{"type": "recording", "recording": now == 1, "at": time.Now().UTC()})
	if ss.dc.SendText(string(b)) == nil {
		ss.told = now
		ss.srv.Log.Info("recording state sent to the agent", "station", ss.station, "recording", now == 1)
	}
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) newSession(ctx context.Context, station, offer string) (*session, string, error) {
	rec, err := s.Sink.Recorder(station)
	if err != nil {
		return nil, "", err
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	ss := &session{srv: s, id: newID(), station: station, pc: pc, rec: rec, stop: make(chan struct{}), told: -1}
	ss.recording.Store(s.Consent == nil || s.Consent(station, time.Now()))
	pc.OnTrack(ss.onTrack)
	pc.OnDataChannel(ss.onDataChannel)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.Log.Info("webrtc", "station", station, "session", ss.id, "state", st.String())
		switch st {
		case webrtc.PeerConnectionStateConnected:
			if s.Stats != nil {
				s.Stats.SetStreamUp(station, true)
			}
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			go ss.close()
		}
	})
	fail := func(err error) (*session, string, error) {
		pc.Close()
		return nil, "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(err)
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fail(errors.New("server is shutting down"))
	}
	old := s.byStation[station]
	s.sessions[ss.id] = ss
	s.byStation[station] = ss
	s.mu.Unlock()
	if s.Consent != nil {
		ss.wg.Add(1)
		go ss.watchConsent() // stopped by close, with the track readers
	}
	if old != nil {
		s.Log.Info("new session replaces the old one", "station", station, "old", old.id, "new", ss.id)
		go old.close()
	}
	return ss, pc.LocalDescription().SDP, nil
}

func (ss *session) close() {
	ss.once.Do(func() {
		close(ss.stop)
		ss.pc.Close()
		ss.wg.Wait()
		s := ss.srv
		s.mu.Lock()
		delete(s.sessions, ss.id)
		current := s.byStation[ss.station] == ss
		if current {
			delete(s.byStation, ss.station)
		}
		s.mu.Unlock()
		if current && s.Stats != nil {
			s.Stats.SetStreamUp(ss.station, false)
		}
		s.Log.Info("session closed", "station", ss.station, "session", ss.id)
	})
}

func (ss *session) onTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	codec := strings.ToLower(t.Codec().MimeType)
	log := ss.srv.Log.With("station", ss.station, "session", ss.id, "codec", codec)
	clk := &clock{rate: t.Codec().ClockRate}
	ss.wg.Add(1)
	go func() { // RTCP: sender reports map RTP time to the sender's wall clock.
		defer ss.wg.Done()
		for {
			pkts, _, err := recv.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == uint32(t.SSRC()) {
					clk.senderReport(sr.NTPTime, sr.RTPTime)
				}
			}
		}
	}()
	switch codec {
	case strings.ToLower(webrtc.MimeTypeOpus):
		log.Info("audio track")
		ss.wg.Add(1)
		go ss.readAudio(t, clk, log)
	case strings.ToLower(webrtc.MimeTypeVP8), strings.ToLower(webrtc.MimeTypeH264):
		log.Info("video track")
		ss.wg.Add(2)
		go ss.readVideo(t, clk, codec == strings.ToLower(webrtc.MimeTypeH264))
		go ss.askKeyframes(t)
	default:
		log.Warn("track ignored: only Opus audio and VP8 or H.264 video are recorded")
	}
}

func (ss *session) readAudio(t *webrtc.TrackRemote, clk *clock, log *slog.Logger) {
	defer ss.wg.Done()
	var lastSeq uint16
	first := true
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		if !first {
			if gap := p.SequenceNumber - lastSeq - 1; gap > 0 && gap < 1000 && ss.srv.Stats != nil {
				ss.srv.Stats.AddPacketsLost(ss.station, int(gap))
			}
		}
		first, lastSeq = false, p.SequenceNumber
		if len(p.Payload) == 0 {
			continue
		}
		if !ss.recording.Load() {
			continue // no consent: nothing kept, nothing analysed
		}
		wall := clk.wall(p.Timestamp, time.Now())
		data := append([]byte(nil), p.Payload...)
		ss.rec.Push(recorder.Frame{Kind: recorder.Audio, Data: data, RTP: p.Timestamp, Wall: wall, Dur: rtc.OpusDuration(p.Payload)})
		ss.srv.Sink.Audio(ss.station, data, wall)
	}
}

// readVideo reassembles frames (VP8, or H.264 access units in Annex B) and
// hands them to the recorder, stream copy.
func (ss *session) readVideo(t *webrtc.TrackRemote, clk *clock, h264 bool) {
	defer ss.wg.Done()
	var dep rtp.Depacketizer = &codecs.VP8Packet{}
	name := "vp8"
	if h264 {
		dep, name = &codecs.H264Packet{}, "h264"
	}
	sb := samplebuilder.New(256, dep, 90000)
	waitKey := false // after a pause, video resumes at a keyframe
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		sb.Push(p)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			if len(s.Data) == 0 {
				continue
			}
			key := s.Data[0]&1 == 0
			if h264 {
				key = rtc.H264Keyframe(s.Data)
			}
			if !ss.recording.Load() {
				waitKey = true
				continue
			}
			if waitKey && !key {
				continue
			}
			waitKey = false
			wall := clk.wall(s.PacketTimestamp, time.Now())
			ss.rec.Push(recorder.Frame{Kind: recorder.Video, Codec: name, Data: s.Data, RTP: s.PacketTimestamp,
				Wall: wall, Dur: s.Duration, Key: key})
			ss.srv.Sink.Video(ss.station, name, s.Data, key, wall)
		}
	}
}

func (ss *session) askKeyframes(t *webrtc.TrackRemote) {
	defer ss.wg.Done()
	tick := time.NewTicker(ss.srv.PLIInterval)
	defer tick.Stop()
	for {
		select {
		case <-ss.stop:
			return
		case <-tick.C:
			if err := ss.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}}); err != nil {
				return
			}
		}
	}
}

func (ss *session) onDataChannel(dc *webrtc.DataChannel) {
	if dc.Label() != "events" {
		ss.srv.Log.Warn("data channel ignored", "station", ss.station, "label", dc.Label())
		return
	}
	ss.dcMu.Lock()
	ss.dc = dc
	ss.dcMu.Unlock()
	if ss.srv.Consent != nil {
		dc.OnOpen(ss.tell)
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		reply := map[string]any{}
		var id struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(msg.Data, &id) == nil && len(id.ID) > 0 {
			reply["id"] = id.ID
		}
		m, perr := contact.ParseMessage(msg.Data, ss.station)
		var err error
		limited := false
		if lim := ss.srv.Messages; lim != nil && perr == nil {
			if ok, _ := lim.Allow(ss.station); !ok {
				// Not acknowledged: the agent's outbox sends it again later.
				limited = true
				err = fmt.Errorf("rate limit: over %.0f messages a second from station %s; not taken, send again", lim.Rate, ss.station)
			}
		}
		switch {
		case limited:
		case perr != nil:
			err = perr
		case m.Event != nil:
			err = ss.srv.Sink.Event(*m.Event)
		default:
			err = ss.srv.Sink.Rating(*m.Rating)
		}
		if limited {
			reply["retry"] = true // the agent keeps it and sends it again
		}
		if err != nil {
			reply["error"] = err.Error()
			if ss.srv.Stats != nil {
				ss.srv.Stats.AddRejected(ss.station, "data_channel")
			}
			ss.srv.Log.Warn("data channel message rejected", "station", ss.station, "error", err)
		} else {
			reply["ok"] = true
		}
		b, _ := json.Marshal(reply)
		_ = dc.SendText(string(b))
	})
}
