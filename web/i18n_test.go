package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestDictionaries: Russian and English have the same words, and every
// word a template or script asks for is in them.
func TestDictionaries(t *testing.T) {
	ru, en := messages["ru"], messages["en"]
	for k := range ru {
		if en[k] == "" {
			t.Errorf("%q has no English", k)
		}
	}
	for k := range en {
		if ru[k] == "" {
			t.Errorf("%q has no Russian", k)
		}
	}
	used := map[string]string{}
	tmpl := regexp.MustCompile(`index \.T "([a-z0-9_]+)"|index \$\.T "([a-z0-9_]+)"`)
	js := regexp.MustCompile(`\bt\('([a-z0-9_]+)'\)`)
	fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := fs.ReadFile(assets, path)
		re := js
		if strings.HasSuffix(path, ".html") {
			re = tmpl
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			for _, g := range m[1:] {
				if g != "" {
					used[g] = path
				}
			}
		}
		return nil
	})
	if len(used) < 50 {
		t.Fatalf("found only %d words in use: the patterns are wrong", len(used))
	}
	for k, path := range used {
		if _, ok := ru[k]; !ok {
			t.Errorf("%s asks for %q, which is not in the dictionaries", path, k)
		}
	}
	// Words built in scripts from data: sets, emotions, actions, flags, moods.
	for _, k := range []string{"set_negative", "set_neutral", "set_positive", "set_unrated", "emotion_neutral", "emotion_happy",
		"emotion_sad", "emotion_angry", "action_play", "action_download", "action_export", "flag_misuse", "flag_leave_missing",
		"flag_no_media", "mirror_calm", "mirror_warm", "mirror_tense", "mirror_low", "mirror_quiet", "warning_exhaustion", "warning_acute"} {
		if ru[k] == "" {
			t.Errorf("%q is missing", k)
		}
	}
}
