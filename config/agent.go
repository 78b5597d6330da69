package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"contactd/contact"
)

// AgentEnvPrefix starts every contact-agent environment override.
const AgentEnvPrefix = "CONTACT_AGENT_"

// Agent is the configuration of contact-agent, the capture agent at a desk.
type Agent struct {
	// Server is contactd's base URL, e.g. http://clinic-server:8080.
	Server string `yaml:"server"`
	// ServerCA is a PEM certificate (or CA) to trust for an https:// server,
	// e.g. the clinic's self-signed one; empty: the system's roots.
	ServerCA string `yaml:"server_ca"`
	Station  string `yaml:"station"`
	Token    string `yaml:"token"`
	Audio    struct {
		// Device is a PortAudio input device name or index ("default": the
		// system default input).
		Device string `yaml:"device"`
		// Bitrate is Opus's, per channel (bit/s).
		Bitrate int `yaml:"bitrate"`
		// Channels: 1, or 2 for a consulting room with two microphones on
		// one stereo input — the doctor's lapel on one side, the room's on
		// the other (the server's stations[].doctor_mic says which).
		Channels int `yaml:"channels"`
	} `yaml:"audio"`
	Video struct {
		// Input is the camera: a V4L2 device (/dev/video0), an RTSP URL, or a
		// file played in a loop (demos, tests); empty for audio only.
		Input   string `yaml:"input"`
		Width   int    `yaml:"width"`
		Height  int    `yaml:"height"`
		FPS     int    `yaml:"fps"`
		Bitrate int    `yaml:"bitrate"`
		// Passthrough sends an H.264 camera's own stream unchanged (no
		// decoding, the camera's size and rate) when it has no B-frames.
		Passthrough bool `yaml:"passthrough"`
	} `yaml:"video"`
	// Listen serves the sensor endpoint (POST /events) and the rating
	// terminal page (/terminal) for a tablet at the desk.
	Listen   string `yaml:"listen"`
	Terminal struct {
		Scale contact.Scale `yaml:"scale"`
	} `yaml:"terminal"`
	// Buttons is a USB button box (a Linux input device) whose keys mean
	// arrive, leave or a rating.
	Buttons struct {
		Device string `yaml:"device"` // e.g. /dev/input/by-id/usb-…-event-kbd
		// Keys maps key codes (linux/input-event-codes.h) to "arrive",
		// "leave" or "rating:N" (N on terminal.scale).
		Keys map[int]string `yaml:"keys"`
	} `yaml:"buttons"`
	Spool struct {
		Dir           string        `yaml:"dir"`
		MaxBytes      int64         `yaml:"max_bytes"`
		SegmentLength time.Duration `yaml:"segment_length"`
	} `yaml:"spool"`
	WebRTC struct {
		Interfaces      []string `yaml:"interfaces"`
		IncludeLoopback bool     `yaml:"include_loopback"`
	} `yaml:"webrtc"`
	Reconnect struct {
		Min time.Duration `yaml:"min"`
		Max time.Duration `yaml:"max"`
	} `yaml:"reconnect"`
	Log Log `yaml:"log"`
}

// DefaultAgent is the agent's built-in configuration.
func DefaultAgent() *Agent {
	a := &Agent{Server: "http://127.0.0.1:8080", Listen: "127.0.0.1:8090", Log: Log{Level: "info", Format: "text"}}
	a.Audio.Device = "default"
	a.Audio.Bitrate = 32000
	a.Audio.Channels = 1
	a.Video.Width, a.Video.Height, a.Video.FPS, a.Video.Bitrate = 640, 360, 10, 300000
	a.Video.Passthrough = true
	a.Terminal.Scale = contact.Scale4pt
	a.Spool.Dir = "./spool"
	a.Spool.MaxBytes = 2 << 30
	a.Spool.SegmentLength = 10 * time.Second
	a.Reconnect.Min = time.Second
	a.Reconnect.Max = 30 * time.Second
	return a
}

// HTTPClient is the client the agent talks to the server with: it trusts
// ServerCA when set.
func (a *Agent) HTTPClient() (*http.Client, error) {
	if a.ServerCA == "" {
		return &http.Client{}, nil
	}
	b, err := os.ReadFile(a.ServerCA)
	if err != nil {
		return nil, fmt.Errorf("server_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("server_ca %s: no PEM certificate in it", a.ServerCA)
	}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// AgentEnvVars lists the agent's environment variables.
func AgentEnvVars() [][2]string { return envVars(DefaultAgent(), AgentEnvPrefix) }

// LoadAgent reads defaults → YAML file → CONTACT_AGENT_* environment → validation.
func LoadAgent(path string, environ []string) (*Agent, error) {
	a := DefaultAgent()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(b, a); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(a, AgentEnvPrefix, environ); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return a, nil
}

// Validate names every wrong setting by its path.
func (a *Agent) Validate() error {
	var errs []error
	if u, err := url.Parse(a.Server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("server: %q is not an http(s) URL", a.Server))
	}
	if !contact.ValidStation(a.Station) {
		errs = append(errs, fmt.Errorf("station: %q is not a station id", a.Station))
	}
	if len(a.Token) < 16 {
		errs = append(errs, errors.New("token: the station token (at least 16 characters) is required"))
	}
	if a.Audio.Bitrate < 6000 || a.Audio.Bitrate > 510000 {
		errs = append(errs, fmt.Errorf("audio.bitrate: %d is outside Opus's 6000..510000", a.Audio.Bitrate))
	}
	if a.Audio.Channels != 1 && a.Audio.Channels != 2 {
		errs = append(errs, fmt.Errorf("audio.channels: %d is not 1 (one microphone) or 2 (two, left and right)", a.Audio.Channels))
	}
	if a.Video.Width < 16 || a.Video.Height < 16 || a.Video.Width%2 != 0 || a.Video.Height%2 != 0 {
		errs = append(errs, fmt.Errorf("video: %dx%d: width and height must be even and at least 16", a.Video.Width, a.Video.Height))
	}
	if a.Video.FPS < 1 || a.Video.FPS > 30 {
		errs = append(errs, fmt.Errorf("video.fps: %d is outside 1..30", a.Video.FPS))
	}
	if _, ok := a.Terminal.Scale.Max(); !ok {
		errs = append(errs, fmt.Errorf("terminal.scale: %q (want 2pt, 3pt, 4pt, 5pt or nps)", a.Terminal.Scale))
	}
	for code, what := range a.Buttons.Keys {
		if _, _, err := a.ButtonAction(code); err != nil {
			errs = append(errs, fmt.Errorf("buttons.keys.%d: %q: %w", code, what, err))
		}
	}
	if a.Buttons.Device != "" && len(a.Buttons.Keys) == 0 {
		errs = append(errs, errors.New("buttons.keys: a button device needs its key map"))
	}
	if a.Spool.Dir == "" || a.Spool.MaxBytes < 1<<20 {
		errs = append(errs, errors.New("spool: dir must be set and max_bytes at least 1 MiB"))
	}
	if a.Spool.SegmentLength < time.Second {
		errs = append(errs, fmt.Errorf("spool.segment_length: %v is shorter than 1s", a.Spool.SegmentLength))
	}
	if a.Reconnect.Min <= 0 || a.Reconnect.Max < a.Reconnect.Min {
		errs = append(errs, errors.New("reconnect: want 0 < min <= max"))
	}
	switch a.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q", a.Log.Level))
	}
	return errors.Join(errs...)
}

// ButtonAction decodes what a key means: an event type, or a rating value.
func (a *Agent) ButtonAction(code int) (event contact.EventType, rating int, err error) {
	what, ok := a.Buttons.Keys[code]
	if !ok {
		return "", 0, fmt.Errorf("key %d is not mapped", code)
	}
	switch {
	case what == string(contact.Arrive) || what == string(contact.Leave):
		return contact.EventType(what), 0, nil
	case strings.HasPrefix(what, "rating:"):
		v, err := strconv.Atoi(strings.TrimPrefix(what, "rating:"))
		max, _ := a.Terminal.Scale.Max()
		if err != nil || v < 0 || v > max {
			return "", 0, fmt.Errorf("want rating:0..%d for scale %s", max, a.Terminal.Scale)
		}
		return "", v, nil
	}
	return "", 0, errors.New(`want "arrive", "leave" or "rating:N"`)
}
