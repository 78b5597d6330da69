// Package config loads contactd's configuration: built-in defaults, then a
// YAML file (unknown keys rejected), then CONTACTD_* environment variables,
// then validation. The reference is in README.md; contactd.example.yaml at
// the repository root holds the defaults and a test keeps the two equal.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"contactd/consult"
	"contactd/contact"
	"contactd/presence"
	"contactd/segmenter"
	"contactd/storage"
)

// Config is everything contactd can be told.
type Config struct {
	// Site names the clinic; it is the first segment of every clip key.
	Site string `yaml:"site"`
	// Node names this server when several share one store (a clinic chain
	// or a large site): each keeps its own index, the lists merge them.
	Node string `yaml:"node"`
	// Timezone decides the calendar day in the clip layout (IANA name).
	Timezone string `yaml:"timezone"`
	// Store is a directory or s3://bucket/prefix.
	Store string           `yaml:"store"`
	S3    storage.S3Config `yaml:"s3"`
	// StoreKeyFile encrypts a directory store's objects (AES-256-GCM) with
	// the 256-bit key in this file; an s3:// store uses s3.sse instead.
	StoreKeyFile string `yaml:"store_key_file"`
	// Listen is the address of `contactd serve`.
	Listen string `yaml:"listen"`
	// DebugListen, if set, serves Go's profiles (/debug/pprof/) there; a
	// loopback address only, as profiles show the process's insides.
	DebugListen string `yaml:"debug_listen"`
	// StateDir holds the live server's working files: segments and journals.
	StateDir string   `yaml:"state_dir"`
	Recorder Recorder `yaml:"recorder"`
	WebRTC   WebRTC   `yaml:"webrtc"`
	// Stations may stream to and post events for this server.
	Stations []Station `yaml:"stations"`
	// Shifts say who works at a station when (weekly), overriding the
	// station's employee; POST /api/v1/shifts adds one-off ones.
	Shifts []Shift `yaml:"shifts"`
	// Users log in to the web pages; station tokens are only for agents.
	Users []User `yaml:"users"`
	// Schedulers are clinic information systems that push appointments
	// (POST /api/v1/appointments with their token).
	Schedulers []Scheduler `yaml:"schedulers"`
	// Monitor configures the supervisor's view.
	Monitor Monitor `yaml:"monitor"`
	// Review configures the quality officer's review page.
	Review    Review           `yaml:"review"`
	Emotion   Emotion          `yaml:"emotion"`
	Face      Face             `yaml:"face"`
	Log       Log              `yaml:"log"`
	Segmenter segmenter.Config `yaml:"segmenter"`
	// Consult holds the consulting rooms' rules.
	Consult consult.Config `yaml:"consult"`
	// Presence holds the rule that finds presence from the voices.
	Presence presence.Config `yaml:"presence"`
	// Scales maps each rating scale's values to sets and boxes.
	Scales contact.SetRules `yaml:"scales"`
	// TLS serves the pages, the API and WHIP over HTTPS.
	TLS TLS `yaml:"tls"`
	// Evidence signs each day's clips so alterations can be shown.
	Evidence Evidence `yaml:"evidence"`
	// Retention says how long contacts are kept, by set.
	Retention Retention `yaml:"retention"`
}

// TLS names the server's certificate and key (PEM files); both empty: plain HTTP.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// HashToken is the token_hash of a token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(h[:])
}

// validTokenHash reports whether s looks like HashToken's output.
func validTokenHash(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// Hash is the station's token hash, from token_hash or the clear token.
func (s Station) Hash() string {
	if s.TokenHash != "" {
		return strings.ToLower(s.TokenHash)
	}
	return HashToken(s.Token)
}

// Enabled reports whether the server speaks HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Evidence names the Ed25519 keys of the day manifests.
type Evidence struct {
	// SigningKey is the private key file (contactd evidence keygen); empty:
	// days are not signed (clips still carry their SHA-256).
	SigningKey string `yaml:"signing_key"`
	// PublicKey verifies on a machine that must not hold the signing key.
	PublicKey string `yaml:"public_key"`
}

// Retention is how long after it ends a contact of each set is kept; 0
// keeps it for ever. A legal hold keeps a contact whatever its set says.
type Retention struct {
	Positive time.Duration `yaml:"positive"`
	Neutral  time.Duration `yaml:"neutral"`
	Negative time.Duration `yaml:"negative"`
	Unrated  time.Duration `yaml:"unrated"`
}

// For returns the retention of a set.
func (r Retention) For(set contact.Set) time.Duration {
	switch set {
	case contact.Positive:
		return r.Positive
	case contact.Neutral:
		return r.Neutral
	case contact.Negative:
		return r.Negative
	}
	return r.Unrated
}

// Station is one desk or room with its capture agent's token.
type Station struct {
	ID string `yaml:"id"`
	// Token is the agent's secret in clear; TokenHash ("sha256:" and 64 hex
	// digits, from `contactd station token`) keeps it out of the file.
	Token     string `yaml:"token"`
	TokenHash string `yaml:"token_hash"`
	Employee  string `yaml:"employee"`
	// Kind is "desk" (the default: contacts from presence events) or
	// "room" (a consulting room: contacts from its appointments).
	Kind string `yaml:"kind"`
	// Record is "always" (the default: continuous segments, kept for
	// recorder.retention), "contacts" (controlled recording at a desk: media
	// reaches the disk only inside contacts, the pre-roll held in memory) or,
	// for a room whose consent rules say so, "appointments": only inside its
	// bookings (from consult.early before to consult.max_overrun after).
	Record string `yaml:"record"`
	// Presence is "sensor" (the default: presence events from the agent's
	// sensor or buttons), "auto": a desk without a sensor, its contacts
	// found from the voices (see presence.*), or "both": the sensor decides
	// and the voices check it (flags sensor_missed, not_heard, sensor_stuck),
	// "video": a desk without a sensor, its contacts found from the
	// camera's patient zone (presence.video; needs face.enabled, whose
	// decoded frames it looks at), or "voices+video": from both, someone
	// being there while either says so.
	Presence string `yaml:"presence"`
	// Zone is the patient zone of this station's camera for video
	// presence, when it differs from presence.video.zone (every camera
	// sees its desk from its own angle).
	Zone *presence.Zone `yaml:"zone"`
	// DoctorMic, for a room whose agent sends two microphones as the two
	// channels of its audio: "left" or "right" is the channel of the
	// doctor's own (lapel or headset) microphone, the other the room's.
	// The microphones then tell the voices apart with no enrolled voice,
	// and hear both while they speak at once (turns.FindTwo: analyze
	// --schedule and the server's consultation metrics). The agent sends
	// them with audio.channels: 2. Empty: one microphone.
	DoctorMic string `yaml:"doctor_mic"`
}

// DoctorChannel is the audio channel of the room's doctor's microphone
// (0 left, 1 right), -1 for a room with one microphone.
func (s Station) DoctorChannel() int {
	switch s.DoctorMic {
	case "left":
		return 0
	case "right":
		return 1
	}
	return -1
}

// VideoFor is the video presence settings of a station: presence.video
// with the station's own zone when it has one.
func (c *Config) VideoFor(station string) presence.VideoConfig {
	v := c.Presence.Video
	for _, st := range c.Stations {
		if st.ID == station && st.Zone != nil {
			v.Zone = *st.Zone
		}
	}
	return v
}

// IsRoom reports whether the station is a consulting room.
func (s Station) IsRoom() bool { return s.Kind == "room" }

// Scheduler is a clinic information system allowed to push appointments.
type Scheduler struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
}

// User is a person who logs in: a quality officer, a supervisor, an
// employee (who sees only their own mirror) or an admin.
type User struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"` // quality, supervisor, employee, admin
	// PasswordHash is bcrypt (`contactd user hash` makes one).
	PasswordHash string `yaml:"password_hash"`
	// Employee links an employee login to the employee id of stations and shifts.
	Employee string `yaml:"employee"`
	Lang     string `yaml:"lang"` // ru (default) or en
}

// Monitor says where the supervisor's view finds baselines and warnings.
type Monitor struct {
	// PrometheusURL is the Prometheus that evaluates deploy/prometheus/rules.yml
	// (e.g. http://127.0.0.1:9090); empty: the monitor shows contactd's own
	// figures of today only.
	PrometheusURL string `yaml:"prometheus_url"`
}

// Review holds the causes a quality officer can tag a contact with.
type Review struct {
	Causes []Cause `yaml:"causes"`
}

// Cause is one reason a contact went wrong, named in both page languages.
type Cause struct {
	ID string `yaml:"id"`
	RU string `yaml:"ru"`
	EN string `yaml:"en"`
}

// DefaultCauses are the usual reasons a reception contact goes wrong.
func DefaultCauses() []Cause {
	return []Cause{
		{"waited", "Долгое ожидание", "Waited too long"},
		{"rudeness", "Грубость", "Rudeness"},
		{"unclear", "Непонятная информация", "Unclear information"},
		{"price", "Цена", "Price"},
		{"cleanliness", "Чистота", "Cleanliness"},
		{"appointment", "Запись на приём", "Appointment booking"},
		{"documents", "Документы и оплата", "Documents and payment"},
		{"other", "Другое", "Other"},
	}
}

// Roles a user can have.
var Roles = []string{"quality", "supervisor", "employee", "admin"}

// Shift is a weekly slot: employee works at station on days from..to
// (local times "HH:MM" in the site's timezone; to before from crosses midnight).
type Shift struct {
	Station  string   `yaml:"station"`
	Employee string   `yaml:"employee"`
	Days     []string `yaml:"days"` // mon … sun; empty: every day
	From     string   `yaml:"from"`
	To       string   `yaml:"to"`
}

// Weekdays are the names Shift.Days takes.
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseClock reads "HH:MM" as minutes after midnight.
func ParseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Employees lists every employee the configuration names (stations and
// shifts): the only values the employee label can take.
func (c *Config) Employees() []string {
	seen := map[string]bool{}
	var out []string
	add := func(e string) {
		if e != "" && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for _, st := range c.Stations {
		add(st.Employee)
	}
	for _, sh := range c.Shifts {
		add(sh.Employee)
	}
	return out
}

// Recorder configures the continuous segments of live streams.
type Recorder struct {
	SegmentLength time.Duration `yaml:"segment_length"`
	// Retention: segments no contact needs are removed after this long.
	Retention time.Duration `yaml:"retention"`
	QueueSize int           `yaml:"queue_size"`
	// MinFreeBytes: below this much free space on the state directory's
	// disk, segments no pending contact needs are evicted early, oldest
	// first (the upload queue's clips never are).
	MinFreeBytes int64 `yaml:"min_free_bytes"`
}

// WebRTC configures the WHIP ingest.
type WebRTC struct {
	// PLIInterval asks video senders for a keyframe this often.
	PLIInterval time.Duration `yaml:"pli_interval"`
	// Interfaces limits ICE to these network interfaces (empty: all).
	Interfaces []string `yaml:"interfaces"`
	// IncludeLoopback offers loopback candidates: agents on the server itself.
	IncludeLoopback bool `yaml:"include_loopback"`
}

// Emotion locates the emotion models.
type Emotion struct {
	// VADModel is silero_vad_v5.onnx (empty: the one scripts/setup.sh installed).
	VADModel string `yaml:"vad_model"`
	// VoiceModel is a model from `contactd emotion train` (empty: built in).
	VoiceModel string `yaml:"voice_model"`
	// Keep is how long each station's per-second voice readings stay in
	// memory: contacts, consultations and a backlog replayed after an
	// agent's outage are measured from them, so it bounds both the memory
	// (about 190 bytes a station-second) and the longest outage whose
	// contacts still get voice timelines.
	Keep time.Duration `yaml:"keep"`
}

// Face configures face expression from the stations' cameras.
type Face struct {
	// Enabled samples the video of stations that send it.
	Enabled bool `yaml:"enabled"`
	// FPS is how many frames a second are looked at per station.
	FPS float64 `yaml:"fps"`
	// InputSize is the detector's input square (a multiple of 32).
	InputSize int `yaml:"input_size"`
	// ModelDir holds face-api's weight manifests (empty: installed by scripts/setup.sh).
	ModelDir string `yaml:"model_dir"`
	// Head is the expression head: empty for the built-in one trained on
	// FER2013, "none" for the network's own last layer, or a file from
	// `contactd face train`.
	Head string `yaml:"head"`
	// DetectorHead is the face detector's last layer: empty for the
	// built-in one retrained on scenes of FER2013 training faces, "none"
	// for the network's own, or a file from `contactd face dettrain`.
	DetectorHead string `yaml:"detector_head"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Default returns the built-in configuration: local disk, no servers.
func Default() *Config {
	return &Config{
		Site:      "default",
		Timezone:  "UTC",
		Store:     "./data",
		S3:        storage.S3Config{Region: "us-east-1"},
		Listen:    "127.0.0.1:8080",
		StateDir:  "./state",
		Recorder:  Recorder{SegmentLength: 10 * time.Second, Retention: 24 * time.Hour, QueueSize: 1024, MinFreeBytes: 2 << 30},
		WebRTC:    WebRTC{PLIInterval: 2 * time.Second, Interfaces: []string{}},
		Stations:  []Station{},
		Shifts:    []Shift{},
		Users:     []User{},
		Review:    Review{Causes: DefaultCauses()},
		Emotion:   Emotion{Keep: 2 * time.Hour},
		Face:      Face{Enabled: true, FPS: 4, InputSize: 224},
		Log:       Log{Level: "info", Format: "text"},
		Segmenter: segmenter.DefaultConfig(),
		Consult:   consult.DefaultConfig(),
		Presence:  presence.DefaultConfig(),
		Retention: Retention{Positive: 30 * 24 * time.Hour, Neutral: 30 * 24 * time.Hour, Negative: 180 * 24 * time.Hour, Unrated: 30 * 24 * time.Hour},
		Scales:    contact.DefaultSetRules(),
	}
}

// EnvPrefix starts every environment override.
const EnvPrefix = "CONTACTD_"

// EnvFile names the configuration file when --config is not given; it is
// not a setting itself.
const EnvFile = EnvPrefix + "CONFIG_FILE"

// Load builds the configuration from defaults, the YAML file at path (none
// if empty) and the environment (os.Environ form), and validates it.
func Load(path string, environ []string) (*Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(b, c); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(c, EnvPrefix, environ); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

func decodeYAML(b []byte, c any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // an empty file sets nothing
		return err
	}
	return nil
}

// Location is the configured time zone.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Validate names every setting that is wrong, by its YAML path.
func (c *Config) Validate() error {
	var errs []error
	if !contact.ValidStation(c.Site) {
		errs = append(errs, fmt.Errorf("site: %q is not an id (letters, digits, '.', '_', '-')", c.Site))
	}
	if c.Node != "" && !contact.ValidStation(c.Node) {
		errs = append(errs, fmt.Errorf("node: %q is not an id (letters, digits, '.', '_', '-')", c.Node))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("timezone: %w", err))
	}
	if c.Store == "" {
		errs = append(errs, errors.New("store: must not be empty"))
	}
	if c.DebugListen != "" {
		host, _, err := net.SplitHostPort(c.DebugListen)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			errs = append(errs, fmt.Errorf("debug_listen: %q: want a loopback host:port such as 127.0.0.1:6060", c.DebugListen))
		}
	}
	if strings.HasPrefix(c.Store, "s3://") && c.S3.Endpoint == "" {
		errs = append(errs, errors.New("s3.endpoint: required when store is s3://"))
	}
	if c.StoreKeyFile != "" && strings.HasPrefix(c.Store, "s3://") {
		errs = append(errs, errors.New("store_key_file: encrypts a directory store; for s3:// use s3.sse"))
	}
	switch c.S3.SSE {
	case "", "s3":
	case "c":
		if c.S3.SSECKeyFile == "" {
			errs = append(errs, errors.New("s3.sse_c_key_file: required with s3.sse c"))
		}
		if !c.S3.Secure {
			errs = append(errs, errors.New("s3.secure: SSE-C sends the key with every request, so it needs HTTPS (s3.secure: true)"))
		}
	default:
		errs = append(errs, fmt.Errorf("s3.sse: %q (want s3, c, or empty for none)", c.S3.SSE))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q (want debug, info, warn or error)", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q (want text or json)", c.Log.Format))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("state_dir: must not be empty"))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("tls: cert_file and key_file go together"))
	}
	for set, d := range map[string]time.Duration{"positive": c.Retention.Positive, "neutral": c.Retention.Neutral,
		"negative": c.Retention.Negative, "unrated": c.Retention.Unrated} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("retention.%s: %v is negative (0 keeps for ever)", set, d))
		} else if d > 0 && d < 24*time.Hour {
			errs = append(errs, fmt.Errorf("retention.%s: %v is under a day: a complaint takes longer than that to arrive", set, d))
		}
	}
	if c.Recorder.SegmentLength < time.Second {
		errs = append(errs, fmt.Errorf("recorder.segment_length: %v is shorter than 1s", c.Recorder.SegmentLength))
	}
	if c.Recorder.Retention < c.Segmenter.MaxContact {
		errs = append(errs, fmt.Errorf("recorder.retention: %v is shorter than segmenter.max_contact %v", c.Recorder.Retention, c.Segmenter.MaxContact))
	}
	if need := c.Segmenter.MaxContact + c.Segmenter.RatingWindow; c.Emotion.Keep < need {
		errs = append(errs, fmt.Errorf("emotion.keep: %v is shorter than segmenter.max_contact + rating_window (%v): a contact's voice readings would be gone before it is cut", c.Emotion.Keep, need))
	}
	if c.Recorder.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("recorder.min_free_bytes: %d is negative (0: no early eviction)", c.Recorder.MinFreeBytes))
	}
	if c.Recorder.QueueSize < 16 {
		errs = append(errs, fmt.Errorf("recorder.queue_size: %d is below 16", c.Recorder.QueueSize))
	}
	if c.WebRTC.PLIInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("webrtc.pli_interval: %v is below 100ms", c.WebRTC.PLIInterval))
	}
	seen := map[string]bool{}
	for i, st := range c.Stations {
		switch {
		case !contact.ValidStation(st.ID):
			errs = append(errs, fmt.Errorf("stations[%d].id: %q is not a station id", i, st.ID))
		case seen[st.ID]:
			errs = append(errs, fmt.Errorf("stations[%d].id: %q appears twice", i, st.ID))
		case st.Token != "" && st.TokenHash != "":
			errs = append(errs, fmt.Errorf("stations[%d]: station %s has both token and token_hash; keep token_hash only", i, st.ID))
		case st.TokenHash != "" && !validTokenHash(st.TokenHash):
			errs = append(errs, fmt.Errorf("stations[%d].token_hash: station %s: want \"sha256:\" and 64 hex digits (contactd station token makes one)", i, st.ID))
		case st.TokenHash == "" && len(st.Token) < 16:
			errs = append(errs, fmt.Errorf("stations[%d].token: station %s needs a token of at least 16 characters (or a token_hash)", i, st.ID))
		case st.Kind != "" && st.Kind != "desk" && st.Kind != "room":
			errs = append(errs, fmt.Errorf("stations[%d].kind: %q (want desk or room)", i, st.Kind))
		case st.Record != "" && st.Record != "always" && st.Record != "appointments" && st.Record != "contacts":
			errs = append(errs, fmt.Errorf("stations[%d].record: %q (want always, contacts or appointments)", i, st.Record))
		case st.Record == "contacts" && (st.IsRoom() || st.Presence == "auto" || st.Presence == "video" || st.Presence == "voices+video"):
			errs = append(errs, fmt.Errorf("stations[%d].record: contacts needs a desk with a presence sensor (a room: appointments)", i))
		case st.Presence != "" && st.Presence != "sensor" && st.Presence != "auto" && st.Presence != "both" && st.Presence != "video" && st.Presence != "voices+video":
			errs = append(errs, fmt.Errorf("stations[%d].presence: %q (want sensor, auto, both, video or voices+video)", i, st.Presence))
		case st.Zone != nil && !st.Zone.Inside():
			errs = append(errs, fmt.Errorf("stations[%d].zone: station %s: %+v must lie inside the frame (x, y ≥ 0, w, h > 0, x+w ≤ 1, y+h ≤ 1)", i, st.ID, *st.Zone))
		case (st.Presence == "video" || st.Presence == "voices+video") && (!c.Face.Enabled || !c.VideoFor(st.ID).Zone.On()):
			errs = append(errs, fmt.Errorf("stations[%d].presence: %s needs face.enabled (its frames) and a patient zone (the station's zone or presence.video.zone)", i, st.Presence))
		case (st.Presence == "auto" || st.Presence == "both" || st.Presence == "video" || st.Presence == "voices+video") && st.IsRoom():
			errs = append(errs, fmt.Errorf("stations[%d].presence: a room's contacts come from its appointments, not auto presence", i))
		case st.Record == "appointments" && !st.IsRoom():
			errs = append(errs, fmt.Errorf("stations[%d].record: only a room (kind: room) records by its appointments", i))
		case st.DoctorMic != "" && st.DoctorMic != "left" && st.DoctorMic != "right":
			errs = append(errs, fmt.Errorf("stations[%d].doctor_mic: %q is not left or right", i, st.DoctorMic))
		case st.DoctorMic != "" && !st.IsRoom():
			errs = append(errs, fmt.Errorf("stations[%d].doctor_mic: only a room (kind: room) has a doctor's microphone", i))
		}
		seen[st.ID] = true
	}
	for i, sc := range c.Schedulers {
		switch {
		case !contact.ValidStation(sc.Name):
			errs = append(errs, fmt.Errorf("schedulers[%d].name: %q is not an id", i, sc.Name))
		case len(sc.Token) < 16:
			errs = append(errs, fmt.Errorf("schedulers[%d].token: scheduler %s needs a token of at least 16 characters", i, sc.Name))
		case slices.ContainsFunc(c.Stations, func(st Station) bool { return st.Hash() == HashToken(sc.Token) }):
			errs = append(errs, fmt.Errorf("schedulers[%d].token: scheduler %s shares a station's token", i, sc.Name))
		}
	}
	for i, st := range c.Stations {
		if st.Employee != "" && !contact.ValidStation(st.Employee) {
			errs = append(errs, fmt.Errorf("stations[%d].employee: %q is not an id (letters, digits, '.', '_', '-')", i, st.Employee))
		}
	}
	for i, sh := range c.Shifts {
		if !seen[sh.Station] {
			errs = append(errs, fmt.Errorf("shifts[%d].station: %q is not a configured station", i, sh.Station))
		}
		if !contact.ValidStation(sh.Employee) {
			errs = append(errs, fmt.Errorf("shifts[%d].employee: %q is not an id", i, sh.Employee))
		}
		for _, d := range sh.Days {
			if !slices.Contains(Weekdays, d) {
				errs = append(errs, fmt.Errorf("shifts[%d].days: %q (want mon, tue, wed, thu, fri, sat or sun)", i, d))
			}
		}
		from, err1 := ParseClock(sh.From)
		to, err2 := ParseClock(sh.To)
		switch {
		case err1 != nil:
			errs = append(errs, fmt.Errorf("shifts[%d].from: %w", i, err1))
		case err2 != nil:
			errs = append(errs, fmt.Errorf("shifts[%d].to: %w", i, err2))
		case from == to:
			errs = append(errs, fmt.Errorf("shifts[%d]: from and to are both %s", i, sh.From))
		}
	}
	if u := c.Monitor.PrometheusURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		errs = append(errs, fmt.Errorf("monitor.prometheus_url: %q is not an http(s) URL", u))
	}
	if c.Face.FPS <= 0 || c.Face.FPS > 30 {
		errs = append(errs, fmt.Errorf("face.fps: %v (want more than 0, at most 30)", c.Face.FPS))
	}
	if c.Face.InputSize < 128 || c.Face.InputSize > 608 || c.Face.InputSize%32 != 0 {
		errs = append(errs, fmt.Errorf("face.input_size: %d (want a multiple of 32 from 128 to 608)", c.Face.InputSize))
	}
	causes := map[string]bool{}
	for i, c := range c.Review.Causes {
		switch {
		case !contact.ValidStation(c.ID):
			errs = append(errs, fmt.Errorf("review.causes[%d].id: %q is not an id (letters, digits, '.', '_', '-')", i, c.ID))
		case causes[c.ID]:
			errs = append(errs, fmt.Errorf("review.causes[%d].id: %q appears twice", i, c.ID))
		case c.RU == "" || c.EN == "":
			errs = append(errs, fmt.Errorf("review.causes[%d]: cause %s needs both ru and en names", i, c.ID))
		}
		causes[c.ID] = true
	}
	users := map[string]bool{}
	for i, u := range c.Users {
		switch {
		case !contact.ValidStation(u.Name):
			errs = append(errs, fmt.Errorf("users[%d].name: %q is not an id", i, u.Name))
		case users[u.Name]:
			errs = append(errs, fmt.Errorf("users[%d].name: %q appears twice", i, u.Name))
		}
		users[u.Name] = true
		if !slices.Contains(Roles, u.Role) {
			errs = append(errs, fmt.Errorf("users[%d].role: %q (want quality, supervisor, employee or admin)", i, u.Role))
		}
		if !strings.HasPrefix(u.PasswordHash, "$2a$") && !strings.HasPrefix(u.PasswordHash, "$2b$") && !strings.HasPrefix(u.PasswordHash, "$2y$") {
			errs = append(errs, fmt.Errorf("users[%d].password_hash: not a bcrypt hash (make one with 'contactd user hash')", i))
		}
		if u.Role == "employee" && !slices.Contains(c.Employees(), u.Employee) {
			errs = append(errs, fmt.Errorf("users[%d].employee: %q is not an employee of stations or shifts", i, u.Employee))
		}
		if u.Lang != "" && u.Lang != "ru" && u.Lang != "en" {
			errs = append(errs, fmt.Errorf("users[%d].lang: %q (want ru or en)", i, u.Lang))
		}
	}
	if err := c.Segmenter.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Consult.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Presence.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Scales.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// EnvVars lists every environment variable Load understands, with the YAML
// path it overrides, in declaration order (for the reference and tests).
func EnvVars() [][2]string { return envVars(Default(), EnvPrefix) }

func envVars(c any, prefix string) [][2]string {
	var out [][2]string
	walk(reflect.ValueOf(c).Elem(), prefix, "", func(env, path string, _ reflect.Value) {
		out = append(out, [2]string{env, path})
	})
	return out
}

// walk visits every scalar field, naming it PREFIX_A_B and a.b.
func walk(v reflect.Value, prefix, path string, fn func(env, path string, f reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		p := tag
		if path != "" {
			p = path + "." + tag
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			walk(f, prefix, p, fn)
			continue
		}
		switch f.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
			fn(prefix+strings.ToUpper(strings.ReplaceAll(p, ".", "_")), p, f)
		}
	}
}

func applyEnv(c any, prefix string, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, prefix) && k != prefix+"CONFIG_FILE" {
			env[k] = v
		}
	}
	var errs []error
	walk(reflect.ValueOf(c).Elem(), prefix, "", func(name, path string, f reflect.Value) {
		s, ok := env[name]
		if !ok {
			return
		}
		delete(env, name)
		var err error
		switch {
		case f.Type() == reflect.TypeOf(time.Duration(0)):
			var d time.Duration
			if d, err = time.ParseDuration(s); err == nil {
				f.SetInt(int64(d))
			}
		case f.Kind() == reflect.String:
			f.SetString(s)
		case f.Kind() == reflect.Bool:
			var b bool
			if b, err = strconv.ParseBool(s); err == nil {
				f.SetBool(b)
			}
		case f.Kind() == reflect.Float64:
			var x float64
			if x, err = strconv.ParseFloat(s, 64); err == nil {
				f.SetFloat(x)
			}
		default:
			var n int64
			if n, err = strconv.ParseInt(s, 10, 64); err == nil {
				f.SetInt(n)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("environment %s (%s): %q: %w", name, path, s, err))
		}
	})
	// A misspelt variable would otherwise be silently ignored.
	for k := range env {
		errs = append(errs, fmt.Errorf("environment %s: not a contactd setting", k))
	}
	return errors.Join(errs...)
}
