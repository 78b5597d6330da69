package capture

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gordonklaus/portaudio"
)

var paOnce sync.Once
var paErr error

func initPortAudio() error {
	paOnce.Do(func() { paErr = portaudio.Initialize() })
	return paErr
}

// Device is one PortAudio device.
type Device struct {
	Index      int
	Name       string
	HostAPI    string
	InChannels int
	SampleRate float64
	Default    bool
}

// Devices lists PortAudio's devices that can record.
func Devices() ([]Device, error) {
	if err := initPortAudio(); err != nil {
		return nil, fmt.Errorf("portaudio: %w", err)
	}
	all, err := portaudio.Devices()
	if err != nil {
		return nil, err
	}
	def, _ := portaudio.DefaultInputDevice()
	var out []Device
	for i, d := range all {
		if d.MaxInputChannels < 1 {
			continue
		}
		out = append(out, Device{Index: i, Name: d.Name, HostAPI: d.HostApi.Name, InChannels: d.MaxInputChannels,
			SampleRate: d.DefaultSampleRate, Default: def != nil && d.Name == def.Name})
	}
	return out, nil
}

func findDevice(spec string) (*portaudio.DeviceInfo, error) {
	if err := initPortAudio(); err != nil {
		return nil, fmt.Errorf("portaudio: %w", err)
	}
	if spec == "" || spec == "default" {
		if d, err := portaudio.DefaultInputDevice(); err == nil {
			return d, nil
		}
	}
	all, err := portaudio.Devices()
	if err != nil {
		return nil, err
	}
	if i, err := strconv.Atoi(spec); err == nil {
		if i < 0 || i >= len(all) || all[i].MaxInputChannels < 1 {
			return nil, fmt.Errorf("audio device %d is not an input device ('contact-agent devices' lists them)", i)
		}
		return all[i], nil
	}
	for _, d := range all {
		if d.MaxInputChannels > 0 && (d.Name == spec || strings.Contains(strings.ToLower(d.Name), strings.ToLower(spec))) {
			return d, nil
		}
	}
	return nil, fmt.Errorf("no input device named %q ('contact-agent devices' lists them)", spec)
}

// Microphone reads 20 ms frames of 48 kHz int16 from a PortAudio device:
// mono, or with Channels 2 two microphones interleaved (left, right).
type Microphone struct {
	Device   string
	Channels int // 0 or 1: mono
	stream   *portaudio.Stream
	buf      []int16
}

// Open opens the device.
func (m *Microphone) Open() error {
	d, err := findDevice(m.Device)
	if err != nil {
		return err
	}
	ch := max(1, m.Channels)
	if d.MaxInputChannels < ch {
		return fmt.Errorf("microphone %q has %d input channel(s); audio.channels is %d", d.Name, d.MaxInputChannels, ch)
	}
	m.buf = make([]int16, FrameSamples*ch)
	p := portaudio.LowLatencyParameters(d, nil)
	p.Input.Channels = ch
	p.SampleRate = 48000
	p.FramesPerBuffer = FrameSamples
	m.stream, err = portaudio.OpenStream(p, m.buf)
	if err != nil {
		return fmt.Errorf("opening %q at 48 kHz, %d channel(s): %w", d.Name, ch, err)
	}
	return m.stream.Start()
}

// Run reads frames until ctx ends and hands each (with the wall time of its
// first sample) to fn. The buffer is reused: fn must copy what it keeps.
func (m *Microphone) Run(ctx context.Context, fn func(pcm []int16, at time.Time)) error {
	for ctx.Err() == nil {
		if err := m.stream.Read(); err != nil {
			if err == portaudio.InputOverflowed {
				continue // a frame was lost to a busy machine; go on
			}
			return fmt.Errorf("reading microphone: %w", err)
		}
		fn(m.buf, time.Now().Add(-20*time.Millisecond))
	}
	return nil
}

// Close stops and closes the stream.
func (m *Microphone) Close() {
	if m.stream != nil {
		m.stream.Stop()
		m.stream.Close()
		m.stream = nil
	}
}
