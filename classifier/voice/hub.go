package voice

import (
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"contactd/classifier/audio"
	"contactd/classifier/emotion"
	"contactd/classifier/speaker"
)

// Hub runs the voice path of every station: each has a goroutine that
// decodes its Opus packets, reads them second by second, and keeps the
// readings of the last Keep for contacts, live feeds and metrics. A
// station whose queue is full drops packets (OnDrop) rather than slowing
// ingest.
type Hub struct {
	Models *Models
	// Employee names who is on shift at a station at a time ("" if nobody).
	Employee func(station string, at time.Time) string
	// Voice returns an employee's enrolled voice (nil: none, no attribution).
	Voice func(employee string) *speaker.Voice
	// BaselineDir keeps each employee's running baseline across restarts
	// ({dir}/{employee}.baseline.json; empty: not kept).
	BaselineDir string
	// OnReading is called for each reading (metrics), on the station's goroutine.
	OnReading func(station string, r Reading)
	// OnDrop counts packets dropped by a full queue.
	OnDrop func(station string)
	// RelativeScore is presence.relative_score (see Station).
	RelativeScore float64
	QueueSize     int
	Keep          time.Duration
	Log           *slog.Logger

	mu        sync.Mutex
	baselines map[string]*emotion.RunningBaseline // by employee
	sendMu    sync.RWMutex                        // held for sending, taken by Close before closing queues
	stations  map[string]*hubStation
	closed    bool
	wg        sync.WaitGroup
}

type packet struct {
	data []byte
	wall time.Time
}

type hubStation struct {
	in   chan packet
	mu   sync.Mutex
	log  []logEntry // oldest first
	done time.Time  // readings are complete up to here
	last time.Time  // when the last packet was read (server clock)
	subs map[chan Reading]struct{}
	cond *sync.Cond

	replayMu sync.Mutex
	replay   *Station // reads spooled audio
}

// Push hands a station's Opus packet (20 ms, 48 kHz) to its goroutine,
// starting it on first use. It never blocks.
func (h *Hub) Push(station string, opus []byte, wall time.Time) {
	h.sendMu.RLock()
	defer h.sendMu.RUnlock()
	st := h.station(station)
	if st == nil {
		return
	}
	select {
	case st.in <- packet{data: opus, wall: wall}:
	default:
		if h.OnDrop != nil {
			h.OnDrop(station)
		}
	}
}

func (h *Hub) station(id string) *hubStation {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	if h.stations == nil {
		h.stations = map[string]*hubStation{}
	}
	if st, ok := h.stations[id]; ok {
		return st
	}
	q := h.QueueSize
	if q <= 0 {
		q = 500 // 10 s of 20 ms packets
	}
	st := &hubStation{in: make(chan packet, q), subs: map[chan Reading]struct{}{}}
	st.cond = sync.NewCond(&st.mu)
	h.stations[id] = st
	h.wg.Add(1)
	go h.run(id, st)
	return st
}

func (h *Hub) run(id string, st *hubStation) {
	defer h.wg.Done()
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	dec, err := audio.NewOpusDecoder()
	if err != nil {
		log.Error("voice: no Opus decoder; station not analysed", "station", id, "error", err)
		for range st.in {
		}
		return
	}
	defer dec.Close()
	reader := NewStation(h.Models, nil, nil)
	employee := "\x00" // nobody yet: the first packet sets who works here
	// Spread the stations' seconds over the second by their id.
	f := fnv.New32a()
	f.Write([]byte(id))
	reader.Phase = time.Duration(f.Sum32()%1000) * time.Millisecond
	reader.RelativeScore = h.RelativeScore
	deci := audio.NewDecimator(3)
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var pcm48, pcm16 []float32
	keep := h.Keep
	if keep <= 0 {
		keep = 2 * time.Hour
	}
	for p := range st.in {
		if emp := h.employee(id, p.wall); emp != employee {
			employee = emp
			reader.SetEmployee(h.voice(emp), h.baseline(emp))
		}
		if err := pkt.FromData(p.data); err != nil {
			continue
		}
		pcm48, _ = dec.Decode(pkt, pcm48[:0])
		pkt.Unref()
		if len(pcm48) == 0 {
			continue
		}
		pcm16 = deci.Process(pcm48, pcm16[:0])
		// The decimator's output lags its input by its filter delay.
		at := p.wall.Add(-time.Duration(deci.Delay() * float64(time.Second) / 16000))
		rs := reader.Push(pcm16, at)
		end := p.wall.Add(20 * time.Millisecond)
		st.mu.Lock()
		for _, r := range rs {
			st.log = append(st.log, pack(r))
			for c := range st.subs {
				select {
				case c <- r:
				default: // a slow viewer misses a reading, ingest does not wait
				}
			}
		}
		cut := 0
		for cut < len(st.log) && end.Sub(st.log[cut].start) > keep {
			cut++
		}
		st.log = append(st.log[:0], st.log[cut:]...)
		st.done = end
		st.last = time.Now()
		st.cond.Broadcast()
		st.mu.Unlock()
		if h.OnReading != nil {
			for _, r := range rs {
				h.OnReading(id, r)
			}
		}
	}
}

// Replay reads audio that arrives late — recorded by an agent while the
// server was unreachable — and files its readings among the station's live
// ones, so the contacts in it get their timelines too. x is 16 kHz from
// start. It runs on the caller's goroutine with fresh baselines.
func (h *Hub) Replay(station string, x []float32, start time.Time) int {
	st := h.station(station)
	if st == nil {
		return 0
	}
	// One replay reader per station, so consecutive spooled segments read
	// on as one stream.
	st.replayMu.Lock()
	defer st.replayMu.Unlock()
	if st.replay == nil {
		st.replay = NewStation(h.Models, nil, nil)
		st.replay.RelativeScore = h.RelativeScore
	}
	// The spooled audio is the employee on shift then, with a baseline of
	// its own so the replay does not skew the live one.
	st.replay.SetEmployee(h.voice(h.employee(station, start)), nil)
	reader := st.replay
	var rs []Reading
	for i := 0; i < len(x); i += 320 {
		rs = append(rs, reader.Push(x[i:min(i+320, len(x))], start.Add(time.Duration(i)*time.Second/16000))...)
	}
	st.mu.Lock()
	// Seconds already read live (the agent spools its last seconds again
	// after a disconnect) keep their live reading.
	kept := rs[:0]
	for _, r := range rs {
		dup := false
		for _, l := range st.log {
			if d := r.Start.Sub(l.start); d > -time.Second && d < time.Second {
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, r)
		}
	}
	rs = kept
	for _, r := range rs {
		st.log = append(st.log, pack(r))
	}
	slices.SortStableFunc(st.log, func(a, b logEntry) int { return a.start.Compare(b.start) })
	st.mu.Unlock()
	if h.OnReading != nil {
		for _, r := range rs {
			h.OnReading(station, r)
		}
	}
	return len(rs)
}

// Readings returns a station's readings with Start in [from, to), waiting
// up to wait for the station to have read past `to` (the voice path runs
// about a second behind the audio).
func (h *Hub) Readings(station string, from, to time.Time, wait time.Duration) []Reading {
	h.mu.Lock()
	st := h.stations[station]
	h.mu.Unlock()
	if st == nil {
		return nil
	}
	deadline := time.Now().Add(wait)
	st.mu.Lock()
	defer st.mu.Unlock()
	// Wait only while audio is flowing: a station with no stream has
	// nothing more to say.
	for st.done.Before(to.Add(time.Second)) && time.Now().Before(deadline) && time.Since(st.last) < 2*time.Second {
		// Wake at least every 100 ms to check the deadline.
		t := time.AfterFunc(100*time.Millisecond, st.cond.Broadcast)
		st.cond.Wait()
		t.Stop()
	}
	var out []Reading
	for _, e := range st.log {
		if !e.start.Before(from) && e.start.Before(to) {
			out = append(out, e.reading())
		}
	}
	return out
}

// logEntry is a reading as the hub keeps it for hours: flat, with the
// class probabilities in an array instead of a map (a map and a pointer a
// second per station were most of the voice path's memory).
type logEntry struct {
	start                        time.Time
	who, emotion                 string
	speech, speaker, level       float64
	arousal, valence, confidence float64
	probs                        [maxClasses]float64
	pred                         bool
	other                        *emotion.Prediction // one whose classes are not emotion.Classes
}

const maxClasses = 8

func pack(r Reading) logEntry {
	e := logEntry{start: r.Start, who: r.Who, speech: r.Speech, speaker: r.Speaker, level: r.Level}
	p := r.Prediction
	if p == nil {
		return e
	}
	flat := len(p.Probs) == len(emotion.Classes) && len(emotion.Classes) <= maxClasses
	for i, c := range emotion.Classes {
		v, ok := p.Probs[c]
		if !ok || !flat {
			flat = false
			break
		}
		e.probs[i] = v
	}
	if !flat {
		e.other = p
		return e
	}
	e.pred, e.emotion, e.arousal, e.valence, e.confidence = true, p.Emotion, p.Arousal, p.Valence, p.Confidence
	return e
}

func (e logEntry) reading() Reading {
	r := Reading{Start: e.start, Speech: e.speech, Who: e.who, Speaker: e.speaker, Level: e.level, Prediction: e.other}
	if e.pred {
		probs := make(map[string]float64, len(emotion.Classes))
		for i, c := range emotion.Classes {
			probs[c] = e.probs[i]
		}
		r.Prediction = &emotion.Prediction{Probs: probs, Emotion: e.emotion, Arousal: e.arousal, Valence: e.valence, Confidence: e.confidence}
	}
	return r
}

// Subscribe returns a channel of a station's readings as they come, and a
// function to stop them, which closes the channel.
func (h *Hub) Subscribe(station string) (<-chan Reading, func()) {
	st := h.station(station)
	c := make(chan Reading, 16)
	if st == nil {
		close(c)
		return c, func() {}
	}
	st.mu.Lock()
	st.subs[c] = struct{}{}
	st.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			// Readings are sent under st.mu, so closing under it is safe;
			// the closed channel tells the reader's goroutine to end.
			st.mu.Lock()
			delete(st.subs, c)
			close(c)
			st.mu.Unlock()
		})
	}
}

// Close stops every station's goroutine after its queue drains, and keeps
// the employees' baselines.
func (h *Hub) Close() {
	h.sendMu.Lock()
	h.mu.Lock()
	h.closed = true
	sts := h.stations
	h.mu.Unlock()
	h.sendMu.Unlock()
	for _, st := range sts {
		close(st.in)
	}
	h.wg.Wait()
	h.SaveBaselines()
}

func (h *Hub) employee(station string, at time.Time) string {
	if h.Employee == nil {
		return ""
	}
	return h.Employee(station, at)
}

func (h *Hub) voice(employee string) *speaker.Voice {
	if h.Voice == nil || employee == "" {
		return nil
	}
	return h.Voice(employee)
}

// baseline returns an employee's running baseline, loading it from
// BaselineDir the first time ("" — nobody on shift — gets a fresh one).
func (h *Hub) baseline(employee string) *emotion.RunningBaseline {
	if employee == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.baselines[employee]; ok {
		return b
	}
	if h.baselines == nil {
		h.baselines = map[string]*emotion.RunningBaseline{}
	}
	b := NewEmployeeBaseline()
	if h.BaselineDir != "" {
		if data, err := os.ReadFile(filepath.Join(h.BaselineDir, employee+".baseline.json")); err == nil {
			var saved emotion.RunningBaseline
			if json.Unmarshal(data, &saved) != nil || !b.Restore(&saved) {
				slog.Warn("voice: an employee's saved baseline does not fit this model; starting afresh", "employee", employee)
			}
		}
	}
	h.baselines[employee] = b
	return b
}

// SaveBaselines writes every employee's running baseline to BaselineDir.
func (h *Hub) SaveBaselines() {
	if h.BaselineDir == "" {
		return
	}
	h.mu.Lock()
	snaps := map[string]*emotion.RunningBaseline{}
	for e, b := range h.baselines {
		snaps[e] = b.Snapshot()
	}
	h.mu.Unlock()
	if err := os.MkdirAll(h.BaselineDir, 0o750); err != nil {
		slog.Warn("voice: baselines not kept", "error", err)
		return
	}
	for e, b := range snaps {
		data, _ := json.Marshal(b)
		path := filepath.Join(h.BaselineDir, e+".baseline.json")
		err := os.WriteFile(path+".tmp", data, 0o640)
		if err == nil {
			err = os.Rename(path+".tmp", path)
		}
		if err != nil {
			slog.Warn("voice: baseline not kept", "employee", e, "error", err)
		}
	}
}
