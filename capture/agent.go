package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"contactd/config"
	"contactd/recorder"
)

// Agent is contact-agent: microphone → Opus → WHIP to contactd, presence and
// rating sources → the "events" data channel, and store-and-forward: while
// the server cannot be reached, audio goes to a local spool and messages to
// an outbox, both sent when it is back.
type Agent struct {
	Config *config.Agent
	Log    *slog.Logger
	// InterfaceFilter and IncludeLoopback limit ICE (tests: loopback only).
	InterfaceFilter func(string) bool
	IncludeLoopback bool
	// Client talks to the server (nil: http.DefaultClient).
	Client *http.Client

	mu     sync.Mutex
	pub    *Publisher // nil while disconnected
	ring   []spooled  // the last seconds sent live, spooled too if the link turns out dead
	spool  *recorder.Recorder
	outbox *outbox
	rtp    uint32
	wake   chan struct{}
	// paused: the server said this station may not be recorded now (a
	// consulting room outside its bookings); nothing is sent or spooled.
	paused atomic.Bool
}

type spooled struct {
	data []byte
	at   time.Time
}

// ringLen is how much recently sent audio is kept in case the connection was
// already dead (ICE notices within about 2 s).
const ringLen = 4 * time.Second

// Run captures and publishes until ctx ends.
func (a *Agent) Run(ctx context.Context, mic interface {
	Run(context.Context, func([]int16, time.Time)) error
}) error {
	cfg := a.Config
	if a.Log == nil {
		a.Log = slog.Default()
	}
	a.wake = make(chan struct{}, 1)
	// audio.bitrate is per channel: two microphones need twice the bits.
	ch := max(1, cfg.Audio.Channels)
	enc, err := NewOpusEncoderChannels(cfg.Audio.Bitrate*ch, ch)
	if err != nil {
		return err
	}
	defer enc.Close()
	a.spool = &recorder.Recorder{Dir: filepath.Join(cfg.Spool.Dir, "segments"), Station: cfg.Station,
		SegmentLength: cfg.Spool.SegmentLength, Log: a.Log, OnSegment: func(recorder.Segment) { a.evict() }}
	if err := a.spool.Initialize(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer a.spool.Close()
	if a.outbox, err = openOutbox(filepath.Join(cfg.Spool.Dir, "outbox.jsonl")); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer a.outbox.close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	httpSrv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); httpSrv.Serve(ln) }()
	go func() { defer wg.Done(); a.connectLoop(ctx) }()
	if cfg.Buttons.Device != "" {
		wg.Add(1)
		go func() { defer wg.Done(); a.buttons(ctx) }()
	}
	a.Log.Info("agent running", "station", cfg.Station, "server", cfg.Server, "listen", ln.Addr().String())

	err = mic.Run(ctx, func(pcm []int16, at time.Time) {
		pkts, err := enc.Encode(pcm)
		if err != nil {
			a.Log.Error("encoding audio", "error", err)
			return
		}
		for _, p := range pkts {
			a.audio(p, at)
		}
	})
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	httpSrv.Shutdown(sctx)
	wg.Wait()
	return err
}

// audio sends a packet live, or spools it while the server is away.
func (a *Agent) audio(pkt []byte, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rtp += FrameSamples
	if a.paused.Load() {
		return
	}
	if a.pub != nil {
		if err := a.pub.Audio.WriteSample(media.Sample{Data: pkt, Duration: 20 * time.Millisecond}); err == nil {
			a.ring = append(a.ring, spooled{pkt, at})
			for len(a.ring) > 0 && at.Sub(a.ring[0].at) > ringLen {
				a.ring = a.ring[1:]
			}
			return
		}
	}
	a.spool.Push(recorder.Frame{Kind: recorder.Audio, Data: pkt, RTP: a.rtp, Wall: at, Dur: 20 * time.Millisecond})
}

func (a *Agent) connectLoop(ctx context.Context) {
	cfg := a.Config
	backoff := cfg.Reconnect.Min
	cam := &Camera{Input: cfg.Video.Input, Width: cfg.Video.Width, Height: cfg.Video.Height, FPS: cfg.Video.FPS, Bitrate: cfg.Video.Bitrate}
	decided := false
	for ctx.Err() == nil {
		if cam.Input != "" && cfg.Video.Passthrough && !decided {
			// Once the camera answers, decide for good whether its H.264 goes as it is.
			ok, why, err := cam.CanPassthrough()
			switch {
			case err != nil:
				a.Log.Warn("camera not readable yet; video as VP8 for now", "input", cam.Input, "error", err)
			case ok:
				decided, cam.Passthrough = true, true
				a.Log.Info("camera H.264 sent as it is", "input", cam.Input)
			default:
				decided = true
				a.Log.Info("camera encoded to VP8", "input", cam.Input, "reason", why)
			}
		}
		mime := webrtc.MimeTypeVP8
		if cam.Passthrough {
			mime = webrtc.MimeTypeH264
		}
		pub := &Publisher{URL: cfg.Server + "/whip/" + cfg.Station, Token: cfg.Token, Video: cfg.Video.Input != "", VideoMime: mime,
			InterfaceFilter: a.InterfaceFilter, IncludeLoopback: a.IncludeLoopback, Log: a.Log, OnReply: a.serverMessage, Client: a.Client}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := pub.Connect(cctx)
		cancel()
		if err != nil {
			a.Log.Warn("server unreachable; spooling", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, cfg.Reconnect.Max)
			continue
		}
		backoff = cfg.Reconnect.Min
		a.Log.Info("connected", "server", cfg.Server)
		a.mu.Lock()
		a.pub = pub
		a.mu.Unlock()
		var vwg sync.WaitGroup
		vctx, vstop := context.WithCancel(ctx)
		if cfg.Video.Input != "" {
			vwg.Add(1)
			go func() {
				defer vwg.Done()
				err := cam.Run(vctx, func(frame []byte, dur time.Duration, _ bool) {
					_ = pub.VideoTr.WriteSample(media.Sample{Data: frame, Duration: dur})
				})
				if err != nil && vctx.Err() == nil {
					a.Log.Error("camera", "input", cfg.Video.Input, "error", err)
				}
			}()
		}
		a.uploadSpool(ctx)
		a.outbox.sendAll(pub)
	wait:
		for {
			select {
			case <-ctx.Done():
				break wait
			case <-pub.Done():
				break wait
			case <-a.wake:
				a.outbox.sendAll(pub)
			case <-time.After(5 * time.Second):
				a.outbox.sendAll(pub) // unacknowledged messages go again
			}
		}
		vstop()
		vwg.Wait()
		a.mu.Lock()
		a.pub = nil
		// What went out in the last seconds may never have arrived: spool it too
		// (the server keeps the first copy of any overlap).
		for _, s := range a.ring {
			a.rtp += FrameSamples
			a.spool.Push(recorder.Frame{Kind: recorder.Audio, Data: s.data, RTP: a.rtp, Wall: s.at, Dur: 20 * time.Millisecond})
		}
		a.ring = nil
		a.mu.Unlock()
		pub.Close(context.Background())
		if ctx.Err() == nil {
			a.Log.Warn("connection lost; spooling until the server is back")
		}
	}
}

// uploadSpool closes the open spool segment and uploads every closed one,
// oldest first, deleting each once the server has it.
func (a *Agent) uploadSpool(ctx context.Context) {
	a.spool.Flush(time.Time{}, 0)
	for _, s := range a.spool.Segments(time.Time{}, time.Now().Add(time.Hour)) {
		if err := a.upload(ctx, s); err != nil {
			a.Log.Error("uploading spooled segment", "segment", s.Path, "error", err)
			return
		}
		a.spool.RemoveSegment(s.Path)
		a.Log.Info("spooled segment uploaded", "start", s.Start, "end", s.End)
	}
}

func (a *Agent) upload(ctx context.Context, s recorder.Segment) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Config.Server+"/api/v1/segments/"+a.Config.Station, f)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Config.Token)
	req.Header.Set("Content-Type", "video/x-matroska")
	req.Header.Set("X-Segment-Start", s.Start.Format(time.RFC3339Nano))
	client := a.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var b [512]byte
		n, _ := resp.Body.Read(b[:])
		return fmt.Errorf("%s: %s", resp.Status, b[:n])
	}
	return nil
}

// evict keeps the spool under its size: oldest segments first, but not those
// near a message still waiting in the outbox (they may hold a contact).
func (a *Agent) evict() {
	segs := a.spool.Segments(time.Time{}, time.Now().Add(time.Hour))
	var total int64
	sizes := map[string]int64{}
	for _, s := range segs {
		if st, err := os.Stat(s.Path); err == nil {
			sizes[s.Path] = st.Size()
			total += st.Size()
		}
	}
	pending := a.outbox.times()
	near := func(s recorder.Segment) bool {
		return slices.ContainsFunc(pending, func(t time.Time) bool {
			return t.After(s.Start.Add(-10*time.Minute)) && t.Before(s.End.Add(10*time.Minute))
		})
	}
	for _, pass := range []bool{false, true} {
		for _, s := range segs {
			if total <= a.Config.Spool.MaxBytes {
				return
			}
			if sizes[s.Path] == 0 || (!pass && near(s)) {
				continue
			}
			a.spool.RemoveSegment(s.Path)
			total -= sizes[s.Path]
			sizes[s.Path] = 0
			a.Log.Warn("spool full: oldest audio evicted", "segment", s.Path, "covers_contact", near(s))
		}
	}
}

// buttons turns key presses of a USB button box into events and ratings,
// reopening the device when it is unplugged and plugged back.
func (a *Agent) buttons(ctx context.Context) {
	cfg := a.Config
	for ctx.Err() == nil {
		err := ReadKeys(ctx, cfg.Buttons.Device, func(k KeyPress) {
			typ, value, err := cfg.ButtonAction(int(k.Code))
			if err != nil {
				a.Log.Debug("unmapped key", "code", k.Code)
				return
			}
			m := map[string]any{"at": k.At.Format(time.RFC3339Nano)}
			if typ != "" {
				m["type"], m["source"] = typ, "button"
			} else {
				m["value"], m["scale"] = value, cfg.Terminal.Scale
			}
			if err := a.message(m); err != nil {
				a.Log.Error("button", "error", err)
			}
		})
		if ctx.Err() != nil {
			return
		}
		a.Log.Warn("button device unavailable; retrying", "device", cfg.Buttons.Device, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// message queues a presence event or rating for the server.
func (a *Agent) message(m map[string]any) error {
	if err := a.outbox.add(m); err != nil {
		return err
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return nil
}

// Connected reports whether the server is reachable now.
func (a *Agent) Connected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pub != nil
}

// outbox keeps messages on disk until the server acknowledges them.
type outbox struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	next    int
	pending map[int]map[string]any
}

func openOutbox(path string) (*outbox, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	o := &outbox{path: path, pending: map[int]map[string]any{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			id, _ := m["id"].(float64)
			if done, _ := m["done"].(bool); done {
				delete(o.pending, int(id))
				continue
			}
			o.pending[int(id)] = m
			o.next = max(o.next, int(id))
		}
		f.Close()
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	o.f = f
	return o, nil
}

func (o *outbox) write(m map[string]any) error {
	b, _ := json.Marshal(m)
	if _, err := o.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return o.f.Sync()
}

func (o *outbox) add(m map[string]any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.next++
	m["id"] = o.next
	if err := o.write(m); err != nil {
		return err
	}
	o.pending[o.next] = m
	return nil
}

// serverMessage handles what the server says on the data channel: the
// recording state, or an answer to one of the agent's messages.
func (a *Agent) serverMessage(b []byte) {
	var m struct {
		Type      string `json:"type"`
		Recording bool   `json:"recording"`
	}
	if json.Unmarshal(b, &m) == nil && m.Type == "recording" {
		if was := !a.paused.Swap(!m.Recording); was != m.Recording {
			if m.Recording {
				a.Log.Info("recording: the server records this station again")
			} else {
				a.Log.Warn("recording paused: the server may not record this station now (outside its bookings); nothing is sent or kept")
			}
		}
		return
	}
	a.outbox.reply(b)
}

// Recording reports whether the agent sends (or spools) what it hears.
func (a *Agent) Recording() bool { return !a.paused.Load() }

// reply handles the server's answer on the data channel.
func (o *outbox) reply(b []byte) {
	var r struct {
		ID    int    `json:"id"`
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		// Retry: not taken for now (the server's rate limit); send again.
		Retry bool `json:"retry"`
	}
	if json.Unmarshal(b, &r) != nil || r.ID == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.pending[r.ID]; !ok || r.Retry {
		return
	}
	delete(o.pending, r.ID)
	if r.Error != "" {
		slog.Warn("the server refused a message", "id", r.ID, "error", r.Error)
	}
	_ = o.write(map[string]any{"id": r.ID, "done": true})
	if len(o.pending) == 0 { // nothing pending: start the file afresh
		o.f.Close()
		if f, err := os.Create(o.path); err == nil {
			o.f = f
		}
	}
}

func (o *outbox) sendAll(p *Publisher) {
	o.mu.Lock()
	ids := make([]int, 0, len(o.pending))
	for id := range o.pending {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	msgs := make([]map[string]any, len(ids))
	for i, id := range ids {
		msgs[i] = o.pending[id]
	}
	o.mu.Unlock()
	for _, m := range msgs {
		if err := p.Send(m); err != nil {
			return
		}
	}
}

func (o *outbox) times() []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []time.Time
	for _, m := range o.pending {
		if s, ok := m["at"].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				out = append(out, t)
			}
		}
	}
	return out
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

func (o *outbox) close() { o.f.Close() }

// ErrNoServer is what check reports when the server cannot be reached.
var ErrNoServer = errors.New("server unreachable")
