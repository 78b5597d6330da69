package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentChannels: audio.channels is 1 by default, 2 from the file or
// the environment (the environment winning), and anything else is named.
func TestAgentChannels(t *testing.T) {
	dir := t.TempDir()
	base := "server: http://127.0.0.1:8080\nstation: room-1\ntoken: room-1-secret-token-0123\n"
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, err := LoadAgent(write("one.yaml", base), nil)
	if err != nil || a.Audio.Channels != 1 {
		t.Fatalf("default: %v, channels %v", err, a)
	}
	two := write("two.yaml", base+"audio: {channels: 2}\n")
	if a, err = LoadAgent(two, nil); err != nil || a.Audio.Channels != 2 {
		t.Fatalf("file: %v %+v", err, a)
	}
	if a, err = LoadAgent(two, []string{AgentEnvPrefix + "AUDIO_CHANNELS=1"}); err != nil || a.Audio.Channels != 1 {
		t.Fatalf("environment: %v %+v", err, a)
	}
	_, err = LoadAgent(write("three.yaml", base+"audio: {channels: 3}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "audio.channels: 3") || !strings.Contains(err.Error(), "three.yaml") {
		t.Errorf("three channels: %v", err)
	}
}
