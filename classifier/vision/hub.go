package vision

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"contactd/classifier/face"
	"contactd/contact"
)

// Reading is one look at a station's camera.
type Reading struct {
	Start time.Time `json:"start"`
	// Face is false when no face was found.
	Face bool      `json:"face"`
	Box  *face.Box `json:"box,omitempty"` // in the sampled picture's pixels
	// Expression is the most likely class (face.Labels), Probs all of them.
	Expression string             `json:"expression,omitempty"`
	Probs      map[string]float64 `json:"probs,omitempty"`
	// Happy is the probability of a smile: the mirror's and monitor's smile share.
	Happy float64 `json:"happy"`
	// Valence and Arousal place the expression on the circumplex (-1..1).
	Valence float64 `json:"valence"`
	Arousal float64 `json:"arousal"`
}

// circumplex places each expression on valence and arousal, after
// Russell's circumplex model of affect (approximate positions).
var circumplex = map[string][2]float64{
	"neutral": {0, 0}, "happy": {0.8, 0.5}, "sad": {-0.7, -0.4}, "angry": {-0.6, 0.7},
	"fear": {-0.6, 0.6}, "disgust": {-0.7, 0.3}, "surprise": {0.2, 0.8},
}

// FromProbs fills a reading's expression fields from class probabilities
// (face.Labels order): valence and arousal are their expectation.
func FromProbs(r *Reading, p []float64) {
	r.Probs = map[string]float64{}
	best := 0
	for i, l := range face.Labels {
		r.Probs[l] = p[i]
		if p[i] > p[best] {
			best = i
		}
		r.Valence += p[i] * circumplex[l][0]
		r.Arousal += p[i] * circumplex[l][1]
	}
	r.Expression, r.Happy, r.Face = face.Labels[best], p[1], true
}

// Hub runs the face path of every station: a goroutine each, decoding all
// frames and analysing FPS of them a second, keeping the readings of the
// last Keep. A full queue drops frames (OnDrop) rather than slowing ingest;
// the decoder then waits for the next keyframe.
type Hub struct {
	Detector *face.Detector
	Net      *face.ExpressionNet
	FPS      float64
	// Width is the width pictures are analysed at (default 320).
	Width     int
	Keep      time.Duration
	QueueSize int
	// OnReading is called for each reading, on the station's goroutine.
	OnReading func(station string, r Reading)
	// OnPicture, if set, sees each picture looked at before it is
	// analysed, on the station's goroutine (presence from the camera); it
	// must not keep img.
	OnPicture func(station string, wall time.Time, img *face.Image)
	OnDrop    func(station string)
	Log       *slog.Logger

	mu       sync.Mutex
	stations map[string]*station
	closed   bool
	wg       sync.WaitGroup
}

type videoFrame struct {
	codec string
	data  []byte
	key   bool
	wall  time.Time
}

type station struct {
	q        chan videoFrame
	mu       sync.Mutex
	readings []Reading
	subs     map[int]chan Reading
	nextSub  int
}

func (h *Hub) station(id string) *station {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	if h.stations == nil {
		h.stations = map[string]*station{}
	}
	st := h.stations[id]
	if st == nil {
		n := h.QueueSize
		if n <= 0 {
			n = 120
		}
		st = &station{q: make(chan videoFrame, n), subs: map[int]chan Reading{}}
		h.stations[id] = st
		h.wg.Add(1)
		go h.run(id, st)
	}
	return st
}

// Push hands one compressed frame to the station's worker; it never blocks.
func (h *Hub) Push(stationID, codec string, data []byte, key bool, wall time.Time) {
	st := h.station(stationID)
	if st == nil {
		return
	}
	select {
	case st.q <- videoFrame{codec, data, key, wall}:
	default:
		if h.OnDrop != nil {
			h.OnDrop(stationID)
		}
	}
}

func (h *Hub) run(id string, st *station) {
	defer h.wg.Done()
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	var dec *Decoder
	codec := ""
	defer func() {
		if dec != nil {
			dec.Close()
		}
		st.mu.Lock()
		for k, c := range st.subs {
			close(c)
			delete(st.subs, k)
		}
		st.mu.Unlock()
	}()
	width := h.Width
	if width <= 0 {
		width = 320
	}
	period := time.Duration(float64(time.Second) / max(h.FPS, 0.1))
	var next time.Time
	synced := false
	for f := range st.q {
		if f.codec != codec || dec == nil {
			if dec != nil {
				dec.Close()
			}
			var err error
			if dec, err = NewDecoder(f.codec, width); err != nil {
				log.Warn("face path: no decoder", "station", id, "error", err)
				dec, codec = nil, ""
				continue
			}
			codec, synced = f.codec, false
		}
		if !synced && !f.key {
			continue // decoding starts at a keyframe
		}
		synced = true
		want := !f.wall.Before(next)
		img, err := dec.Decode(f.data, want)
		if err != nil {
			log.Warn("face path: decoding failed; waiting for a keyframe", "station", id, "error", err)
			synced = false
			continue
		}
		if img == nil {
			continue
		}
		next = f.wall.Add(period)
		if len(st.q) > cap(st.q)/2 {
			continue // behind: decode on, analyse when caught up
		}
		if h.OnPicture != nil {
			h.OnPicture(id, f.wall, img)
		}
		r := h.analyse(img)
		r.Start = f.wall
		if h.OnReading != nil {
			h.OnReading(id, r)
		}
		st.mu.Lock()
		st.readings = append(st.readings, r)
		keep := h.Keep
		if keep <= 0 {
			keep = time.Hour
		}
		cut := 0
		for cut < len(st.readings) && st.readings[cut].Start.Before(r.Start.Add(-keep)) {
			cut++
		}
		st.readings = st.readings[cut:]
		for _, c := range st.subs {
			select {
			case c <- r:
			default: // a slow subscriber misses a reading, not the station
			}
		}
		st.mu.Unlock()
	}
}

// analyse finds the largest face and reads its expression.
func (h *Hub) analyse(img *face.Image) Reading {
	boxes := h.Detector.Detect(img)
	if len(boxes) == 0 {
		return Reading{}
	}
	best := boxes[0]
	for _, b := range boxes[1:] {
		if b.W*b.H > best.W*best.H {
			best = b
		}
	}
	crop, err := img.Crop(best)
	if err != nil {
		return Reading{}
	}
	r := Reading{Box: &best}
	FromProbs(&r, h.Net.Classify(crop))
	return r
}

// Subscribe returns a channel of the station's readings as they come, and
// a function to stop; the channel is closed when the hub closes.
func (h *Hub) Subscribe(stationID string) (<-chan Reading, func()) {
	st := h.station(stationID)
	c := make(chan Reading, 16)
	if st == nil {
		close(c)
		return c, func() {}
	}
	st.mu.Lock()
	k := st.nextSub
	st.nextSub++
	st.subs[k] = c
	st.mu.Unlock()
	return c, func() {
		st.mu.Lock()
		if _, ok := st.subs[k]; ok {
			delete(st.subs, k)
			close(c)
		}
		st.mu.Unlock()
	}
}

// Readings returns the station's readings in [from, to).
func (h *Hub) Readings(stationID string, from, to time.Time) []Reading {
	h.mu.Lock()
	st := h.stations[stationID]
	h.mu.Unlock()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []Reading
	for _, r := range st.readings {
		if !r.Start.Before(from) && r.Start.Before(to) {
			out = append(out, r)
		}
	}
	return slices.Clip(out)
}

// Close stops every station's worker.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for _, st := range h.stations {
		close(st.q)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// ContactFace summarises a contact's readings; nil without any.
func ContactFace(rs []Reading) *contact.Face {
	if len(rs) == 0 {
		return nil
	}
	f := &contact.Face{Samples: len(rs), ExpressionShare: map[string]float64{}, Timeline: []contact.FaceSample{}}
	smiles := 0
	for _, r := range rs {
		f.Timeline = append(f.Timeline, contact.FaceSample{At: r.Start, Face: r.Face, Expression: r.Expression, Happy: r.Happy, Valence: r.Valence})
		if !r.Face {
			continue
		}
		f.Seen++
		f.MeanHappy += r.Happy
		f.MeanValence += r.Valence
		f.ExpressionShare[r.Expression]++
		if r.Happy > 0.5 {
			smiles++
		}
	}
	if f.Seen > 0 {
		f.MeanHappy /= float64(f.Seen)
		f.MeanValence /= float64(f.Seen)
		f.SmileShare = float64(smiles) / float64(f.Seen)
		for k := range f.ExpressionShare {
			f.ExpressionShare[k] /= float64(f.Seen)
		}
	}
	return f
}
