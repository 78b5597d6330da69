// Package server assembles `contactd serve`: WHIP ingest, one recorder per
// station, the live contact engine, the events/ratings API, the contact list
// and Prometheus metrics, behind one HTTP listener.
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"contactd/appointments"
	"contactd/auth"
	"contactd/classifier/audio"
	"contactd/classifier/emotion"
	"contactd/classifier/face"
	"contactd/classifier/features"
	"contactd/classifier/speaker"
	"contactd/classifier/vad"
	"contactd/classifier/vision"
	"contactd/classifier/voice"
	"contactd/config"
	"contactd/contact"
	"contactd/history"
	"contactd/ingest"
	"contactd/internal/cmem"
	"contactd/limit"
	"contactd/live"
	"contactd/metrics"
	"contactd/presence"
	"contactd/recorder"
	"contactd/review"
	"contactd/shifts"
	"contactd/storage"
	"contactd/web"
)

// MaxAPIBody bounds an events or ratings POST.
const MaxAPIBody = 1 << 20

// Limits per station: far above what a desk does (a contact is two events
// and a rating), low enough that a runaway or hostile agent cannot flood
// the journal. Over them the request is refused (429) and nothing is lost:
// agents keep unacknowledged messages and send them again.
const (
	SessionsPerMinute = 6  // WHIP sessions opened
	MessagesPerSecond = 20 // data-channel messages (burst 5×)
	RequestsPerSecond = 10 // events/ratings/shifts/segments POSTs per token (burst 5×)
)

// Server is a running contactd.
type Server struct {
	Config   *config.Config
	Archive  *storage.Archive
	Log      *slog.Logger
	Registry *prometheus.Registry
	// IncludeLoopback offers loopback ICE candidates (tests, one-host setups).
	IncludeLoopback bool
	// DiskFree reports the free bytes on a path's disk (nil: statfs).
	DiskFree func(path string) (uint64, error)

	ingest *ingest.Server
	engine *live.Engine

	presenceMu sync.Mutex
	presence   map[string]*presence.Detector      // stations with presence: auto
	seen       map[string]*presence.VideoDetector // stations with presence: video or voices+video
	union      map[string]*presence.LiveUnion     // stations with presence: voices+video
	voice      *voice.Hub
	vision     *vision.Hub               // nil when face.enabled is off
	voices     map[string]*speaker.Voice // enrolled employees by id
	pipeline   *metrics.Pipeline
	emotion    *metrics.Emotion
	imetrics   *metrics.Ingest
	stations   map[string]config.Station
	rota       *shifts.Rota
	auth       *auth.Manager
	reviews    *review.Journal
	schedule   *appointments.Book
	two        twoSpeech // the two-microphone rooms' readings
	audit      *review.Audit

	history *history.Book // employees' speech day by day

	tlsConfig  *tls.Config    // nil: plain HTTP
	requests   *limit.Buckets // station-token POSTs
	diskFree   prometheus.Gauge
	diskLow    prometheus.Gauge
	wasLow     bool // owned by housekeeping
	revMu      sync.Mutex
	revoked    map[string]revocation // by token hash
	revFile    *os.File
	signingKey ed25519.PrivateKey // nil: days are not signed
	signed     map[string]bool    // days whose manifest exists

	lastMu      sync.Mutex
	lastReading map[string]time.Time // station → its latest voice reading

	mu        sync.Mutex
	recorders map[string]*recorder.Recorder

	terminate chan struct{}
	done      chan struct{}
}

// Initialize starts the engine and the ingest; Handler serves them.
func (s *Server) Initialize() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
		s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	cfg := s.Config
	s.pipeline = metrics.NewPipeline(s.Registry)
	s.pipeline.Rules = cfg.Scales
	s.emotion = metrics.NewEmotion(s.Registry, cfg.Site)
	s.imetrics = metrics.NewIngest(s.Registry, cfg.Site)
	s.imetrics.Known = func(id string) bool { _, ok := s.stations[id]; return ok }
	s.stations = map[string]config.Station{}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return err
	}
	rota, err := shifts.New(cfg, filepath.Join(cfg.StateDir, "shifts.jsonl"))
	if err != nil {
		return err
	}
	s.rota = rota
	s.auth = auth.New(cfg.Users)
	if s.reviews, err = review.Open(filepath.Join(cfg.StateDir, "reviews.jsonl"), s.Log); err != nil {
		return err
	}
	if s.audit, err = review.OpenAudit(filepath.Join(cfg.StateDir, "audit.jsonl")); err != nil {
		return err
	}
	if s.schedule, err = appointments.Open(filepath.Join(cfg.StateDir, "appointments.jsonl"), func(line int, err error) {
		s.Log.Warn("appointments: line skipped", "file", "appointments.jsonl", "line", line, "error", err)
	}); err != nil {
		return err
	}
	if s.history, err = history.Open(filepath.Join(cfg.StateDir, "history.jsonl"), s.Log); err != nil {
		return err
	}
	s.lastReading = map[string]time.Time{}
	for _, sh := range cfg.Shifts { // weekly shift employees' series start at zero too
		s.pipeline.InitStation(cfg.Site, sh.Station, sh.Employee)
		s.emotion.InitStation(sh.Station, sh.Employee)
	}
	for _, st := range cfg.Stations {
		s.stations[st.ID] = st
		s.pipeline.InitStation(cfg.Site, st.ID, st.Employee)
		s.emotion.InitStation(st.ID, st.Employee)
		s.imetrics.SetStreamUp(st.ID, false)
	}
	s.recorders = map[string]*recorder.Recorder{}
	// Segments left on disk by an earlier run (even one killed) come back
	// before the journals are replayed, so recovered contacts find them.
	for _, st := range cfg.Stations {
		if _, err := s.Recorder(st.ID); err != nil {
			return err
		}
	}
	if err := s.startVoice(); err != nil {
		return err
	}
	if err := s.startFace(); err != nil {
		return err
	}
	s.pipeline.EmployeeOf = s.employeeOf
	s.engine = &live.Engine{
		Employee: s.employeeOf,
		Voice: func(station string, from, to time.Time) *contact.Voice {
			v := voice.ContactVoice(s.voice.Readings(station, from, to, 3*time.Second))
			if v != nil && v.Patient != nil {
				s.emotion.PatientNegative.WithLabelValues(cfg.Site, station, s.employeeOf(station, from)).Observe(v.Patient.NegativeShare)
			}
			return v
		},
		Face: func(station string, from, to time.Time) *contact.Face {
			if s.vision == nil {
				return nil
			}
			return vision.ContactFace(s.vision.Readings(station, from, to))
		},
		Rooms: s.rooms(),
		Checked: func(station string) bool {
			st, ok := s.stations[station]
			return ok && st.Presence == "both"
		},
		StuckAfter: cfg.Presence.StuckAfter,
		Site:       cfg.Site, Segmenter: cfg.Segmenter, Rules: cfg.Scales, Archive: s.Archive, Metrics: s.pipeline, Log: s.Log,
		JournalDir: filepath.Join(cfg.StateDir, "journal"),
		Recorder: func(id string) *recorder.Recorder {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.recorders[id]
		},
	}
	if err := s.engine.Initialize(); err != nil {
		return err
	}
	s.ingest = &ingest.Server{
		Authorize: s.authorize, Sink: sink{s}, Stats: s.imetrics, Log: s.Log, Consent: s.consentFunc(),
		PLIInterval: cfg.WebRTC.PLIInterval, IncludeLoopback: s.IncludeLoopback || cfg.WebRTC.IncludeLoopback,
		SessionLimit: &limit.Buckets{Rate: SessionsPerMinute / 60, Burst: SessionsPerMinute},
		Messages:     &limit.Buckets{Rate: MessagesPerSecond, Burst: 5 * MessagesPerSecond},
	}
	if len(cfg.WebRTC.Interfaces) > 0 {
		allowed := slices.Clone(cfg.WebRTC.Interfaces)
		s.ingest.InterfaceFilter = func(name string) bool { return slices.Contains(allowed, name) }
	}
	if err := s.ingest.Initialize(); err != nil {
		return err
	}
	s.queueMetrics()
	s.cMemoryMetrics()
	s.diskMetrics()
	s.requests = &limit.Buckets{Rate: RequestsPerSecond, Burst: 5 * RequestsPerSecond}
	if err := s.loadSigningKey(); err != nil {
		return err
	}
	if err := s.openRevoked(filepath.Join(cfg.StateDir, "revoked-tokens.jsonl")); err != nil {
		return err
	}
	for _, st := range cfg.Stations {
		if st.Token != "" {
			s.Log.Warn("station token kept in clear in the configuration: put its token_hash there instead (contactd station token)", "station", st.ID)
		}
	}
	if cfg.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("tls.cert_file %s, tls.key_file %s: %w", cfg.TLS.CertFile, cfg.TLS.KeyFile, err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	s.terminate = make(chan struct{})
	s.done = make(chan struct{})
	go s.housekeeping()
	return nil
}

// Close drains gracefully: new sessions are refused, contacts whose leave
// has come are cut and stored, then sessions and recorders close.
func (s *Server) Close() {
	close(s.terminate)
	<-s.done
	s.engine.Close()
	s.ingest.Close()
	s.voice.Close()
	if s.vision != nil {
		s.vision.Close()
	}
	s.mu.Lock()
	recs := s.recorders
	s.recorders = map[string]*recorder.Recorder{}
	s.mu.Unlock()
	for _, r := range recs {
		r.Close()
	}
	s.reviews.Close()
	s.audit.Close()
	s.revFile.Close()
	s.schedule.Close()
	if err := s.history.Close(); err != nil {
		s.Log.Error("history not saved", "error", err)
	}
}

// cMemoryMetrics exports what the C allocator (FFmpeg, libopus) holds, in
// use and freed-but-held, so a growing RSS can be told apart: Go's own
// figures are go_memstats_*, a C leak grows the first, fragmentation the
// second.
func (s *Server) cMemoryMetrics() {
	site := prometheus.Labels{"site": s.Config.Site}
	s.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "contactd_c_heap_inuse_bytes", ConstLabels: site,
			Help: "Memory the C allocator has handed out to FFmpeg and libopus and not had back."},
			func() float64 { return float64(cmem.Read().InUse) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "contactd_c_heap_free_bytes", ConstLabels: site,
			Help: "Memory freed by FFmpeg and libopus that the C allocator still holds (fragmentation)."},
			func() float64 { return float64(cmem.Read().Free) }))
}

// queueMetrics exports the upload queue's backlog when the store has one.
func (s *Server) queueMetrics() {
	q, ok := s.Archive.Store.(*storage.Queue)
	if !ok {
		return
	}
	site := prometheus.Labels{"site": s.Config.Site}
	gauge := func(name, help string, f func(storage.QueueStats) float64) {
		s.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: site},
			func() float64 { return f(q.Stats()) }))
	}
	gauge("contactd_upload_queue_objects", "Clips, sidecars and index writes on local disk waiting for the store.",
		func(st storage.QueueStats) float64 { return float64(st.Objects) })
	gauge("contactd_upload_queue_bytes", "Bytes waiting in the upload queue.",
		func(st storage.QueueStats) float64 { return float64(st.Bytes) })
	gauge("contactd_upload_queue_oldest_seconds", "Age of the oldest object waiting in the upload queue (0 when empty).",
		func(st storage.QueueStats) float64 {
			if st.Oldest.IsZero() {
				return 0
			}
			return time.Since(st.Oldest).Seconds()
		})
	gauge("contactd_upload_failures", "Consecutive failed uploads to the store (0 once one succeeds).",
		func(st storage.QueueStats) float64 { return float64(st.Failures) })
	s.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "contactd_uploaded_total",
		Help: "Objects the upload queue delivered to the store since start.", ConstLabels: site},
		func() float64 { return float64(q.Stats().Uploaded) }))
}

// uploading reports whether a clip is still in the upload queue.
func (s *Server) uploading(key string) bool {
	q, ok := s.Archive.Store.(*storage.Queue)
	return ok && key != "" && q.Pending(key)
}

// housekeeping removes segments past their retention that no pending contact needs.
func (s *Server) housekeeping() {
	defer close(s.done)
	t := time.NewTicker(diskEvery)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.terminate; cancel() }()
	var curated, swept time.Time
	for {
		select {
		case <-s.terminate:
			return
		case <-t.C:
		}
		s.checkDisk()
		if time.Since(swept) < time.Minute {
			continue
		}
		swept = time.Now()
		if time.Since(curated) >= curateEvery {
			curated = time.Now()
			s.curate(ctx, curated)
		}
		before := time.Now().Add(-s.Config.Recorder.Retention)
		keep := s.engine.KeepAfter()
		if keep.Before(before) {
			before = keep
		}
		s.mu.Lock()
		for id, r := range s.recorders {
			b := before
			if r.Gate != nil {
				b = keep // controlled: nothing kept once no pending contact needs it
			}
			if n := r.Remove(b); n > 0 {
				s.Log.Info("segments removed after retention", "station", id, "count", n)
			}
			s.imetrics.SegmentsOnDisk.WithLabelValues(s.Config.Site, id).Set(float64(len(r.Segments(time.Time{}, time.Now().Add(time.Hour)))))
		}
		s.mu.Unlock()
		if err := s.history.Flush(); err != nil {
			s.Log.Error("history not saved", "error", err)
		}
	}
}

// employeeOf names the employee on shift at a station at a time.
func (s *Server) employeeOf(station string, at time.Time) string {
	if st, ok := s.stations[station]; ok && st.IsRoom() && s.schedule != nil {
		// In a consulting room, the doctor of the booking under way.
		for _, a := range s.schedule.In(station, at, at.Add(time.Nanosecond)) {
			if !a.Cancelled {
				return a.Doctor
			}
		}
	}
	return s.rota.EmployeeAt(station, at)
}

// authorize checks a station's token in constant time.
func (s *Server) authorize(station, token string) error {
	st, ok := s.stations[station]
	if !ok {
		return ingest.ErrUnknownStation
	}
	if token == "" || !s.tokenOK(st, token) {
		return ingest.ErrBadToken
	}
	return nil
}

// scheduler names the clinic information system a token belongs to,
// comparing every one in constant time.
func (s *Server) scheduler(token string) (string, bool) {
	name := ""
	for _, sc := range s.Config.Schedulers {
		if subtle.ConstantTimeCompare([]byte(token), []byte(sc.Token)) == 1 {
			name = sc.Name
		}
	}
	return name, token != "" && name != ""
}

// knownToken reports whether token is some station's, comparing every one in
// constant time.
func (s *Server) knownToken(token string) bool {
	found := false
	for _, st := range s.stations {
		found = s.tokenOK(st, token) || found // every one compared
	}
	return token != "" && found
}

// Recorder returns (creating) a station's recorder.
func (s *Server) Recorder(id string) (*recorder.Recorder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.recorders[id]; ok {
		return r, nil
	}
	r := &recorder.Recorder{
		Dir: filepath.Join(s.Config.StateDir, "segments", id), Station: id,
		SegmentLength: s.Config.Recorder.SegmentLength, QueueSize: s.Config.Recorder.QueueSize, Log: s.Log,
		OnDrop: func() { s.imetrics.AddDropped(id, "recorder") },
	}
	if st, ok := s.stations[id]; ok && st.Record == "contacts" {
		// Controlled recording: frames wait in memory for the pre-roll and
		// the time an arrive takes to come; only a contact's reach the disk.
		r.Gate = func(t time.Time) bool { return s.engine != nil && s.engine.Covered(id, t) }
		r.Hold = s.Config.Segmenter.PreRoll + 2*time.Second
	}
	if err := r.Initialize(); err != nil {
		return nil, err
	}
	s.recorders[id] = r
	return r, nil
}

type sink struct{ s *Server }

func (k sink) Recorder(id string) (*recorder.Recorder, error) { return k.s.Recorder(id) }
func (k sink) Event(e contact.Event) error                    { return k.s.engine.Event(e) }
func (k sink) Rating(r contact.Rating) error                  { return k.s.engine.Rating(r) }
func (k sink) Audio(station string, opus []byte, wall time.Time) {
	k.s.voice.Push(station, opus, wall)
}
func (k sink) Video(station, codec string, frame []byte, key bool, wall time.Time) {
	if k.s.vision != nil {
		k.s.vision.Push(station, codec, frame, key, wall)
	}
}

// startFace loads the face models and starts the face path (face.enabled).
func (s *Server) startFace() error {
	fc := s.Config.Face
	if !fc.Enabled {
		return nil
	}
	dir, err := face.ModelDir(fc.ModelDir)
	if err != nil {
		return err
	}
	det, err := face.LoadDetector(dir)
	if err != nil {
		return err
	}
	if err := det.UseHead(fc.DetectorHead); err != nil {
		return err
	}
	// A desk camera: one face, large; one input size is enough.
	det.Scales, det.InputSize = nil, fc.InputSize
	net, err := face.LoadExpressionNet(dir)
	if err != nil {
		return err
	}
	if err := net.UseHead(fc.Head); err != nil {
		return err
	}
	s.vision = &vision.Hub{
		Detector: det, Net: net, FPS: fc.FPS, Keep: s.Config.Segmenter.MaxContact + time.Minute, Log: s.Log,
		OnDrop:    func(station string) { s.imetrics.AddDropped(station, "face") },
		OnPicture: s.seePresence,
		OnReading: func(station string, r vision.Reading) {
			emp := s.employeeOf(station, r.Start)
			if !r.Face || emp == "" {
				return
			}
			sec := 1 / fc.FPS
			s.emotion.ObserveFace(station, emp, sec, r.Expression, r.Happy, r.Arousal, r.Valence)
			s.history.AddFace(emp, r.Start.In(s.Config.Location()).Format(time.DateOnly), sec, r.Happy > 0.5)
		},
	}
	return nil
}

// startVoice loads the models and starts the voice path; employees'
// enrolled voices are read from {state_dir}/voices/{employee}.json.
func (s *Server) startVoice() error {
	cfg := s.Config
	vm, err := vad.LoadInstalled(cfg.Emotion.VADModel)
	if err != nil {
		return err
	}
	em := (*emotion.Model)(nil)
	if cfg.Emotion.VoiceModel != "" {
		em, err = emotion.Load(cfg.Emotion.VoiceModel)
	} else {
		em, err = emotion.Default()
	}
	if err != nil {
		return err
	}
	bg, err := speaker.DefaultBackground()
	if err != nil {
		return err
	}
	s.voices = map[string]*speaker.Voice{}
	for _, employee := range cfg.Employees() {
		path := filepath.Join(cfg.StateDir, "voices", employee+".json")
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			s.Log.Info("no enrolled voice: this employee's speech is not told from patients'", "employee", employee,
				"enrol", "contactd speaker enroll --name "+employee+" --out "+path+" RECORDING…")
			continue
		}
		if err != nil {
			return err
		}
		var v speaker.Voice
		if err := json.Unmarshal(b, &v); err != nil || v.GMM == nil {
			return fmt.Errorf("%s: not an enrolled voice (%v)", path, err)
		}
		s.voices[employee] = &v
	}
	s.voice = &voice.Hub{
		Models:        &voice.Models{VAD: vm, Emotion: em, Background: bg},
		Employee:      s.employeeOf,
		Voice:         func(employee string) *speaker.Voice { return s.voices[employee] },
		BaselineDir:   filepath.Join(cfg.StateDir, "voices"),
		Keep:          cfg.Emotion.Keep,
		RelativeScore: cfg.Presence.RelativeScore,
		OnDrop:        func(station string) { s.imetrics.AddDropped(station, "voice") },
		OnReading: func(station string, r voice.Reading) {
			s.lastMu.Lock()
			s.lastReading[station] = r.Start
			s.lastMu.Unlock()
			s.hearPresence(station, r)
			if r.Prediction == nil {
				return
			}
			emp := s.employeeOf(station, r.Start)
			s.emotion.ObserveSecond(station, emp, r.Who, r.Speech, r.Emotion, r.Arousal, r.Valence)
			if r.Who == voice.Employee && emp != "" {
				s.countToday(emp, r)
			}
		},
		Log: s.Log,
	}
	return nil
}

// Handler serves every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.ingest.Routes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	reviewers := []string{auth.Quality, auth.Supervisor, auth.Admin}
	players := []string{auth.Quality, auth.Admin} // only they hear and see patients
	mux.HandleFunc("GET /api/v1/contacts", s.auth.Require(reviewers, s.contacts))
	mux.HandleFunc("GET /api/v1/contacts/{id}", s.auth.Require(reviewers, s.contactDetail))
	mux.HandleFunc("GET /api/v1/contacts/{id}/clip", s.auth.Require(players, s.clip))
	mux.HandleFunc("PUT /api/v1/contacts/{id}/review", s.auth.Require(players, s.putReview))
	mux.HandleFunc("GET /api/v1/review/causes", s.auth.Require(reviewers, s.causes))
	mux.HandleFunc("GET /api/v1/review/pareto", s.auth.Require(reviewers, s.pareto))
	mux.HandleFunc("POST /api/v1/export", s.auth.Require(players, s.export))
	mux.HandleFunc("PUT /api/v1/contacts/{id}/hold", s.auth.Require(players, s.putHold))
	mux.HandleFunc("DELETE /api/v1/contacts/{id}/hold", s.auth.Require([]string{auth.Admin}, s.deleteHold))
	mux.HandleFunc("GET /api/v1/holds", s.auth.Require(players, s.listHolds))
	mux.HandleFunc("POST /api/v1/stations/{station}/revoke", s.auth.Require([]string{auth.Admin}, s.revokeToken))
	mux.HandleFunc("GET /api/v1/audit", s.auth.Require([]string{auth.Admin}, s.auditLog))
	mux.HandleFunc("POST /api/v1/me/lang", s.auth.Require(auth.AllRoles, s.setLang))
	adminAppointments := s.auth.Require([]string{auth.Admin}, func(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
		s.postAppointments(w, r, "user "+sess.User.Name)
	})
	mux.HandleFunc("POST /api/v1/appointments", func(w http.ResponseWriter, r *http.Request) {
		// A clinic information system pushes with its token; an admin
		// uploads from a session.
		if tok := ingest.BearerToken(r); tok != "" {
			name, ok := s.scheduler(tok)
			if !ok {
				s.imetrics.AddRejected("", "bad_token")
				w.Header().Set("WWW-Authenticate", `Bearer realm="contactd"`)
				http.Error(w, "unknown scheduler token", http.StatusUnauthorized)
				return
			}
			s.postAppointments(w, r, "scheduler "+name)
			return
		}
		adminAppointments(w, r)
	})
	mux.HandleFunc("GET /api/v1/appointments", s.auth.Require(reviewers, s.getAppointments))
	mux.HandleFunc("POST /api/v1/events", s.postLines("events"))
	mux.HandleFunc("POST /api/v1/ratings", s.postLines("ratings"))
	stations := s.auth.Require(auth.AllRoles, func(w http.ResponseWriter, r *http.Request, _ *auth.Session) { s.listStations(w, r, "") })
	mux.HandleFunc("GET /api/v1/stations", func(w http.ResponseWriter, r *http.Request) {
		// An agent checking its setup sees its own station, by its token.
		if tok := ingest.BearerToken(r); tok != "" {
			for id := range s.stations {
				if s.authorize(id, tok) == nil {
					s.listStations(w, r, id)
					return
				}
			}
			http.Error(w, "unknown station token", http.StatusUnauthorized)
			return
		}
		stations(w, r)
	})
	mux.HandleFunc("POST /api/v1/segments/{station}", s.postSegment)
	mux.HandleFunc("GET /api/v1/stations/{station}/voice", s.voiceFeed)
	mux.HandleFunc("POST /api/v1/shifts", s.postShift)
	mux.HandleFunc("POST /api/v1/login", s.login)
	mux.HandleFunc("POST /api/v1/logout", s.auth.Require(auth.AllRoles, s.logout))
	mux.HandleFunc("GET /api/v1/me", s.auth.Require(auth.AllRoles, s.me))
	mux.HandleFunc("GET /api/v1/mirror/{employee}/stream", s.auth.Require([]string{auth.Employee, auth.Admin}, s.mirror))
	mux.HandleFunc("GET /api/v1/mirror/{employee}/today", s.auth.Require([]string{auth.Employee, auth.Admin}, s.mirrorToday))
	mux.HandleFunc("GET /api/v1/monitor", s.auth.Require([]string{auth.Supervisor, auth.Admin}, s.monitor))
	mux.HandleFunc("GET /api/v1/shifts", s.auth.Require(auth.AllRoles,
		func(w http.ResponseWriter, r *http.Request, _ *auth.Session) { s.getShift(w, r) }))
	web.Routes(mux, func(id string) bool { _, ok := s.stations[id]; return ok })
	web.Pages{Session: s.auth.FromRequest, Employees: s.Config.Employees,
		Causes: func() []config.Cause { return s.Config.Review.Causes }}.Routes(mux)
	return mux
}

// postLines takes JSON Lines of events or ratings (the offline schema) from a
// sensor or terminal with its station's token. Every valid line of a station
// the token belongs to is accepted; the rest are listed with line and field.
func (s *Server) postLines(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := ingest.BearerToken(r)
		if !s.knownToken(token) {
			s.imetrics.AddRejected("", "bad_token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="contactd"`)
			http.Error(w, "missing or unknown station token (Authorization: Bearer …)", http.StatusUnauthorized)
			return
		}
		if ok, wait := s.requests.Allow(config.HashToken(token)); !ok {
			s.imetrics.AddRejected("", "rate_limited")
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			http.Error(w, fmt.Sprintf("over %d requests a second with this station token: retry in %s", RequestsPerSecond, wait.Round(time.Millisecond)), http.StatusTooManyRequests)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAPIBody))
		if err != nil {
			s.imetrics.AddRejected("", "too_large")
			http.Error(w, fmt.Sprintf("body over %d bytes", MaxAPIBody), http.StatusRequestEntityTooLarge)
			return
		}
		type rejection struct {
			Line  int    `json:"line"`
			Field string `json:"field,omitempty"`
			Error string `json:"error"`
		}
		var rejected []rejection
		accepted := 0
		reject := func(ie *contact.InputError) {
			rejected = append(rejected, rejection{Line: ie.Line, Field: ie.Field, Error: ie.Msg})
		}
		deliver := func(line int, station string, put func() error) {
			if err := s.authorize(station, token); err != nil {
				s.imetrics.AddRejected("", "bad_token")
				reject(&contact.InputError{Line: line, Field: "station", Msg: fmt.Sprintf("the token is not station %s's", station)})
				return
			}
			if err := put(); err != nil {
				reject(&contact.InputError{Line: line, Msg: err.Error()})
				return
			}
			accepted++
		}
		var bad []*contact.InputError
		if kind == "events" {
			var evs []contact.Event
			evs, bad, _ = contact.ParseEvents(strings.NewReader(string(body)), "body")
			for i, e := range evs {
				deliver(i+1, e.Station, func() error { return sink{s}.Event(e) })
			}
		} else {
			var rs []contact.Rating
			rs, bad, _ = contact.ParseRatings(strings.NewReader(string(body)), "body")
			for i, rt := range rs {
				deliver(i+1, rt.Station, func() error { return s.engine.Rating(rt) })
			}
		}
		for _, ie := range bad {
			reject(ie)
		}
		for range bad {
			s.imetrics.AddRejected("", "bad_"+kind)
		}
		status := http.StatusAccepted
		if accepted == 0 && len(rejected) > 0 {
			status = http.StatusBadRequest
		}
		if rejected == nil {
			rejected = []rejection{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"accepted": accepted, "rejected": rejected})
	}
}

// postShift adds a one-off shift ({"station","employee","start","end"},
// RFC 3339) with the station's token: who works there then, for the
// metrics' employee label.
func (s *Server) postShift(w http.ResponseWriter, r *http.Request) {
	var p shifts.Posted
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		http.Error(w, "body: want {\"station\",\"employee\",\"start\",\"end\"} (RFC 3339 times): "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.authorize(p.Station, ingest.BearerToken(r)); err != nil {
		code := http.StatusUnauthorized
		if errors.Is(err, ingest.ErrUnknownStation) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
		return
	}
	if err := s.rota.Post(p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.pipeline.InitStation(s.Config.Site, p.Station, p.Employee)
	s.emotion.InitStation(p.Station, p.Employee)
	s.Log.Info("shift posted", "station", p.Station, "employee", p.Employee, "start", p.Start, "end", p.End)
	w.WriteHeader(http.StatusCreated)
}

// getShift says who is on shift at ?station= at ?at= (default now).
func (s *Server) getShift(w http.ResponseWriter, r *http.Request) {
	station := r.URL.Query().Get("station")
	if _, ok := s.stations[station]; !ok {
		http.Error(w, fmt.Sprintf("station %q is not configured", station), http.StatusNotFound)
		return
	}
	at := time.Now()
	if v := r.URL.Query().Get("at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			http.Error(w, fmt.Sprintf("query parameter at: %q is not an RFC 3339 time", v), http.StatusBadRequest)
			return
		}
		at = t
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"station": station, "at": at.UTC(), "employee": s.rota.EmployeeAt(station, at)})
}

// voiceFeed streams a station's voice readings as server-sent events, one
// a second: the live emotion mirror of whoever works there. It takes the
// station's token.
func (s *Server) voiceFeed(w http.ResponseWriter, r *http.Request) {
	station := r.PathValue("station")
	token := ingest.BearerToken(r)
	if token == "" {
		token = r.URL.Query().Get("token") // EventSource cannot set headers
	}
	if err := s.authorize(station, token); err != nil {
		code := http.StatusUnauthorized
		if errors.Is(err, ingest.ErrUnknownStation) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
		return
	}
	send, ok := startEvents(w)
	if !ok {
		return
	}
	c, stop := s.voice.Subscribe(station)
	defer stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.terminate:
			return
		case rd, ok := <-c:
			if !ok {
				return
			}
			send(rd)
		}
	}
}

// startEvents begins a server-sent event stream; send writes one
// "reading" event. ok is false (and the client told) when the connection
// cannot stream.
func startEvents(w http.ResponseWriter) (send func(v any), ok bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	return func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: reading\ndata: %s\n\n", b)
		fl.Flush()
	}, true
}

// MaxSegmentBytes bounds one uploaded spool segment.
const MaxSegmentBytes = 256 << 20

// postSegment takes a segment an agent recorded while it could not reach the
// server (Matroska, Opus audio), placed on the wall clock by X-Segment-Start.
func (s *Server) postSegment(w http.ResponseWriter, r *http.Request) {
	station := r.PathValue("station")
	if err := s.authorize(station, ingest.BearerToken(r)); err != nil {
		code := http.StatusUnauthorized
		if errors.Is(err, ingest.ErrUnknownStation) {
			code, station = http.StatusNotFound, ""
		}
		s.imetrics.AddRejected(station, "segment_auth")
		http.Error(w, err.Error(), code)
		return
	}
	start, err := time.Parse(time.RFC3339Nano, r.Header.Get("X-Segment-Start"))
	if err != nil {
		s.imetrics.AddRejected(station, "segment_start")
		http.Error(w, "header X-Segment-Start: want the segment's wall-clock start in RFC 3339", http.StatusBadRequest)
		return
	}
	if !s.consent(station, start) {
		// Spooled while the agent could not hear the server say so: not
		// kept. 200, so that the agent does not send it again.
		s.Log.Info("spooled segment discarded: outside the room's recording windows", "station", station, "start", start)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"discarded":"outside the room's recording windows"}`)
		return
	}
	rec, err := s.Recorder(station)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tmp, err := os.CreateTemp(rec.Dir, ".upload-*.mkv")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, http.MaxBytesReader(w, r.Body, MaxSegmentBytes))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.imetrics.AddRejected(station, "segment_body")
		http.Error(w, fmt.Sprintf("segment body: %v (at most %d bytes)", err, MaxSegmentBytes), http.StatusRequestEntityTooLarge)
		return
	}
	seg, err := rec.Import(tmp.Name(), start)
	if err != nil {
		s.imetrics.AddRejected(station, "segment_media")
		http.Error(w, "segment: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.Log.Info("spooled segment imported", "station", station, "start", seg.Start, "end", seg.End)
	// Its speech is heard as if it had come live.
	if x, err := audio.DecodeFile(seg.Path, features.Rate); err != nil {
		s.Log.Warn("spooled segment not analysed", "station", station, "error", err)
	} else {
		s.voice.Replay(station, x, seg.Start)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(seg)
}

// listStations lists the configured stations (only one, if only is set).
func (s *Server) listStations(w http.ResponseWriter, _ *http.Request, only string) {
	live := s.ingest.Sessions()
	type st struct {
		ID       string `json:"id"`
		Employee string `json:"employee,omitempty"`
		Live     bool   `json:"live"`
	}
	var out []st
	for _, c := range s.Config.Stations {
		if only == "" || c.ID == only {
			out = append(out, st{ID: c.ID, Employee: c.Employee, Live: slices.Contains(live, c.ID)})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"stations": out})
}

// ContactsHandler lists indexed contacts: ?set=&station=&from=&to= (RFC 3339).
func ContactsHandler(arc *storage.Archive) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := storage.Filter{Set: contact.Set(q.Get("set")), Station: q.Get("station")}
		for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
			if v := q.Get(name); v != "" {
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					http.Error(w, fmt.Sprintf("query parameter %s: %q is not an RFC 3339 time", name, v), http.StatusBadRequest)
					return
				}
				*dst = t
			}
		}
		ix, err := arc.LoadIndex(r.Context())
		if errors.Is(err, storage.ErrNotFound) {
			ix = &storage.Index{}
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := ix.Query(f)
		if out == nil {
			out = []storage.Entry{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"contacts": out})
	}
}

// Serve runs the HTTP server on ln until ctx is done, then drains: the
// listener closes, contacts that have closed are cut, everything stops.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	if s.tlsConfig != nil {
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	trimDone := make(chan struct{})
	trimCtx, stopTrim := context.WithCancel(ctx)
	go func() { // owned here: stopped before Serve returns
		defer close(trimDone)
		trimCMemory(trimCtx)
	}()
	defer func() { stopTrim(); <-trimDone }()
	if s.Config.DebugListen != "" {
		dbg, err := s.debugServer()
		if err != nil {
			srv.Close()
			<-errc
			s.Close()
			return err
		}
		defer dbg.Close()
	}
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down: finishing closed contacts")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.Close()
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// trimCMemory keeps the C allocator's memory (FFmpeg, libopus) from
// creeping up over days: few arenas, and what is free given back every
// minute. Measured in the soak test's memory mappings.
func trimCMemory(ctx context.Context) {
	cmem.LimitArenas(2)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cmem.Trim()
		}
	}
}

// debugServer serves Go's profiles on debug_listen (loopback only, checked
// by the config), for finding what costs CPU or memory in a running server.
func (s *Server) debugServer() (*http.Server, error) {
	ln, err := net.Listen("tcp", s.Config.DebugListen)
	if err != nil {
		return nil, fmt.Errorf("debug_listen: %w", err)
	}
	// Its own mux on its own listener: none of this is on the main one
	// (the access matrix checks that /debug/pprof/ is not found there).
	prof := http.NewServeMux()
	prof.HandleFunc("/debug/pprof/", pprof.Index)
	prof.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	prof.HandleFunc("/debug/pprof/profile", pprof.Profile)
	prof.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	prof.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: prof, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) // stopped by the caller's Close
	s.Log.Info("profiles served", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return srv, nil
}

// seePresence finds presence from the camera's patient zone at a station
// configured so (presence: video) and hands its events to the live
// engine, as a sensor's. It looks at the face path's pictures.
func (s *Server) seePresence(station string, wall time.Time, img *face.Image) {
	st, ok := s.stations[station]
	if !ok || st.Presence != "video" && st.Presence != "voices+video" {
		return
	}
	grey := make([]byte, img.W*img.H)
	for i := range grey {
		p := img.Pix[i*img.C:]
		if img.C >= 3 {
			grey[i] = byte((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000)
		} else {
			grey[i] = p[0]
		}
	}
	s.presenceMu.Lock()
	if s.seen == nil {
		s.seen = map[string]*presence.VideoDetector{}
	}
	d := s.seen[station]
	if d == nil {
		d = presence.NewVideoDetector(s.Config.VideoFor(station), station)
		s.seen[station] = d
	}
	evs := d.Push(wall, grey, img.W, img.H)
	if st.Presence == "voices+video" {
		evs = s.unite(station, presence.FromVideo, evs)
	}
	s.presenceMu.Unlock()
	for _, ev := range evs {
		if err := s.engine.Event(ev); err != nil {
			s.Log.Error("presence from the camera: event not accepted", "station", station, "type", ev.Type, "at", ev.At, "error", err)
			continue
		}
		s.Log.Info("presence from the camera", "station", station, "type", ev.Type, "at", ev.At)
	}
}

// unite passes one source's events through the station's union of voices
// and camera (presence: voices+video); s.presenceMu is held.
func (s *Server) unite(station string, src int, evs []contact.Event) []contact.Event {
	if s.union == nil {
		s.union = map[string]*presence.LiveUnion{}
	}
	u := s.union[station]
	if u == nil {
		u = &presence.LiveUnion{Station: station}
		s.union[station] = u
	}
	var out []contact.Event
	for _, e := range evs {
		out = append(out, u.Push(src, e)...)
	}
	return out
}

// hearPresence finds presence from the voices at a station configured so
// (presence: auto) and hands its events to the live engine, as a sensor's.
func (s *Server) hearPresence(station string, r voice.Reading) {
	st, ok := s.stations[station]
	if !ok || (st.Presence != "auto" && st.Presence != "both" && st.Presence != "voices+video") {
		return
	}
	s.presenceMu.Lock()
	if s.presence == nil {
		s.presence = map[string]*presence.Detector{}
	}
	d := s.presence[station]
	if d == nil {
		d = &presence.Detector{Config: s.Config.Presence, Station: station}
		s.presence[station] = d
	}
	evs := d.Push(r)
	if st.Presence == "voices+video" {
		evs = s.unite(station, presence.FromVoices, evs)
	}
	s.presenceMu.Unlock()
	for _, ev := range evs {
		if st.Presence == "both" { // the sensor decides; the voices check it
			if err := s.engine.Heard(ev); err != nil {
				s.Log.Error("presence from the voices: not taken", "station", station, "error", err)
			}
			continue
		}
		if err := s.engine.Event(ev); err != nil {
			s.Log.Error("presence from the voices: event not accepted", "station", station, "type", ev.Type, "at", ev.At, "error", err)
			continue
		}
		s.Log.Info("presence from the voices", "station", station, "type", ev.Type, "at", ev.At)
	}
}
