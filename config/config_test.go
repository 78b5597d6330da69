package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"contactd/presence"
)

func TestExampleEqualsDefaults(t *testing.T) {
	c, err := Load("../contactd.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	// YAML gives empty lists where the defaults have nil; compare by content.
	for s, r := range c.Scales {
		dr := d.Scales[s]
		if len(r.Neutral) == 0 && len(dr.Neutral) == 0 {
			r.Neutral, dr.Neutral = nil, nil
			c.Scales[s], d.Scales[s] = r, dr
		}
	}
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("contactd.example.yaml differs from the defaults:\n%+v\n%+v", c, d)
	}
}

func TestEveryEnvVarIsInTheReadme(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range EnvVars() {
		if !strings.Contains(string(b), ev[0]) {
			t.Errorf("README.md does not document %s (%s)", ev[0], ev[1])
		}
	}
}

func write(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedenceDefaultsFileEnv(t *testing.T) {
	p := write(t, "site: north\nsegmenter:\n  merge_gap: 5s\n  debounce: 1s\n")
	c, err := Load(p, []string{"CONTACTD_SEGMENTER_DEBOUNCE=750ms", "CONTACTD_S3_SECURE=true", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Site != "north" || c.Segmenter.MergeGap != 5*time.Second || c.Segmenter.Debounce != 750*time.Millisecond ||
		!c.S3.Secure || c.Segmenter.MinContact != 5*time.Second {
		t.Fatalf("%+v", c)
	}
}

func TestErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		yaml, env, want string
	}{
		{"sgementer: {}\n", "", "field sgementer not found"},
		{"segmenter:\n  merge_gap: soon\n", "", "line 2"},
		{"segmenter:\n  max_contact: 1s\n", "", "segmenter.max_contact"},
		{"store: s3://b/p\n", "", "s3.endpoint"},
		{"scales:\n  4pt: {negative: [0], positive: [2, 3]}\n", "", "scales.4pt: value 1"},
		{"", "CONTACTD_SEGMENTER_MERGE_GAP=abc", "CONTACTD_SEGMENTER_MERGE_GAP"},
		{"", "CONTACTD_SEGMENTR_MERGE_GAP=1s", "not a contactd setting"},
		{"log:\n  level: loud\n", "", "log.level"},
		{"timezone: Mars/Olympus\n", "", "timezone"},
		{"stations: [{id: desk-1, token: desk-1-secret-token-0123, presence: video}]\n", "", "stations[0].presence: video needs"},
		{"presence: {video: {zone: {x: 0.8, y: 0, w: 0.5, h: 1}}}\n", "", "presence.video.zone"},
		{"emotion: {keep: 10m}\n", "", "emotion.keep: 10m0s is shorter than segmenter.max_contact"},
		{"stations: [{id: desk-1, token: desk-1-secret-token-0123, presence: video, zone: {x: 0.7, y: 0, w: 0.5, h: 1}}]\n", "", "stations[0].zone: station desk-1"},
		{"segmenter: {max_contact: 3h}\n", "", "emotion.keep"},
		{"stations: [{id: room-1, token: room-1-secret-token-0123, kind: room, doctor_mic: centre}]\n", "", "stations[0].doctor_mic: \"centre\" is not left or right"},
		{"stations: [{id: desk-1, token: desk-1-secret-token-0123, doctor_mic: left}]\n", "", "stations[0].doctor_mic: only a room"},
	}
	for _, tc := range cases {
		var env []string
		if tc.env != "" {
			env = []string{tc.env}
		}
		_, err := Load(write(t, tc.yaml), env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q: error %v, want it to mention %q", tc.yaml, tc.env, err, tc.want)
		}
	}
}

func FuzzLoadYAML(f *testing.F) {
	b, _ := os.ReadFile("../contactd.example.yaml")
	f.Add(b)
	f.Add([]byte("segmenter: {merge_gap: 1h}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if err := decodeYAML(b, c); err != nil {
			return
		}
		// Whatever decodes must either validate or say why not; never panic.
		_ = c.Validate()
	})
}

// TestStationZone: a station's own patient zone replaces presence.video.zone
// for that station only, and lets it use video presence without a global one.
func TestStationZone(t *testing.T) {
	c, err := Load(write(t, "face: {enabled: true}\npresence: {video: {zone: {x: 0, y: 0, w: 0.5, h: 0.5}}}\nstations:\n"+
		"  - {id: desk-1, token: desk-1-secret-token-0123, presence: video}\n"+
		"  - {id: desk-2, token: desk-2-secret-token-0123, presence: video, zone: {x: 0.5, y: 0.25, w: 0.5, h: 0.75}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if z := c.VideoFor("desk-1").Zone; z != (presence.Zone{W: 0.5, H: 0.5}) {
		t.Errorf("desk-1: zone %+v, want presence.video.zone", z)
	}
	if z := c.VideoFor("desk-2").Zone; z != (presence.Zone{X: 0.5, Y: 0.25, W: 0.5, H: 0.75}) {
		t.Errorf("desk-2: zone %+v, want its own", z)
	}
	if c.VideoFor("desk-2").Fill != c.Presence.Video.Fill {
		t.Error("desk-2 lost the other video settings")
	}
	if _, err := Load(write(t, "face: {enabled: true}\nstations:\n  - {id: desk-2, token: desk-2-secret-token-0123, presence: video, zone: {x: 0.5, y: 0.25, w: 0.5, h: 0.75}}\n"), nil); err != nil {
		t.Errorf("a station's own zone without a global one: %v", err)
	}
}
